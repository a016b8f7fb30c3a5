"""Typed settings: load, validate, watch, version."""

from screener.config.errors import ConfigError
from screener.config.load import load_settings
from screener.config.settings import Campaign, DncList, Policy, Settings

__all__ = ["Campaign", "ConfigError", "DncList", "Policy", "Settings", "load_settings"]
