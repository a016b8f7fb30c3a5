"""What every subcommand shares: finding the config, connecting to Redis, printing errors."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import redis.asyncio as aioredis

from screener.config.errors import ConfigError
from screener.config.settings import Settings
from screener.embedded_redis import EmbeddedRedisError, ensure_daemon

DEFAULT_CONFIG = "config/screener.toml"


class UsageError(Exception):
    """Bad command-line input: printed as ``screener: error: ...`` with exit status 2."""


def config_path(args: argparse.Namespace) -> str:
    return str(getattr(args, "config", None) or os.environ.get("SCREENER_CONFIG") or DEFAULT_CONFIG)


def load_cli_settings(args: argparse.Namespace) -> Settings:
    """Load and validate the config named by --config / SCREENER_CONFIG / the default."""
    from screener.config.load import load_settings

    path = config_path(args)
    if not Path(path).exists():
        raise ConfigError(path, "", "no such config file (use --config PATH or SCREENER_CONFIG)")
    return load_settings(path)


def redis_url(args: argparse.Namespace, settings: Settings) -> str:
    """--redis, else SCREENER_REDIS_URL, else the config's redis_url, else the private redis-server."""
    url = getattr(args, "redis", None) or os.environ.get("SCREENER_REDIS_URL") or settings.redis_url
    if url:
        return str(url)
    return ensure_daemon(state_dir(settings))


def state_dir(settings: Settings) -> Path:
    """The state folder; a relative one is taken from the project folder when the config sits in config/."""
    path = Path(settings.state_dir)
    if path.is_absolute():
        return path
    config_dir = Path(settings.path).resolve().parent
    base = config_dir.parent if config_dir.name == "config" else config_dir
    return base / path


def open_redis(url: str, *, timeout_s: float = 5.0) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)


def fail(message: str, status: int = 2) -> int:
    print(f"screener: error: {message}", file=sys.stderr)
    return status


__all__ = ["ConfigError", "EmbeddedRedisError", "UsageError", "config_path", "fail", "load_cli_settings",
           "open_redis", "redis_url"]
