"""Paths named in the config: a relative one is taken from the project folder when the config sits in
config/ (the shipped layout), else from the config's own folder."""

from __future__ import annotations

from pathlib import Path

from screener.config.settings import Settings


def project_path(settings: Settings, value: str) -> Path:
    """``value`` from the config as a path (see the module's doc)."""
    path = Path(value)
    if path.is_absolute():
        return path
    config_dir = Path(settings.path).resolve().parent
    base = config_dir.parent if config_dir.name == "config" else config_dir
    return base / path


def archive_dir(settings: Settings) -> Path:
    """The audit archive's folder (``[audit] archive_dir``)."""
    return project_path(settings, settings.audit.archive_dir)
