"""Every config version that made decisions, kept so that ``screener config show VERSION`` prints that exact
config and ``screener audit why`` replays its rules: stored content-addressed in Redis by the first screener
that loads it (its files' text, secrets masked: ``config/redact.py``), with an entry of kind ``config`` in the
global group's audit stream, and copied into the audit archive by every archive run."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from screener.config.errors import ConfigError
from screener.config.load import load_settings
from screener.config.redact import redacted_sources, redacted_text
from screener.config.settings import Settings
from screener.service.audit_fields import CONFIG, plain_fields
from screener.service.errors import NotFound
from screener.store import audit, config_versions, keys
from screener.store.audit_archive import ArchiveDir, ArchiveError


@dataclass(frozen=True)
class StoredConfig:
    """The files of one config version (the main file first), as stored."""

    version: str
    files: tuple[tuple[str, str], ...]
    #: "redis" or "archive"
    where: str

    def settings(self) -> Settings:
        """The version's settings, loaded from its stored files (``ConfigError`` when they do not load here)."""
        texts = {path: text.encode() for path, text in self.files}
        return load_settings(self.files[0][0], texts)


async def record(redis: Any, settings: Settings, *, source: str = "screener",
                 groups: audit.AuditGroups | None = None) -> bool:
    """Store the running version once (True when this call stored it: then its ``config`` entry is appended).
    A settings object with no file texts (built in code) is not stored."""
    if not settings.source_contents or await config_versions.is_listed(redis, settings.version):
        return False  # (one cheap read: a process AGI call does not parse its config again to learn this)
    texts = redacted_sources(settings.source_contents)
    await config_versions.save(redis, settings.version, texts)
    fields = plain_fields(CONFIG, settings, at=datetime.now(UTC), source=source, action="loaded",
                          files=",".join(path for path, _ in texts), host=socket.gethostname())
    await (groups or audit.AuditGroups()).ensure(redis, keys.AUDIT_GLOBAL_GROUP)
    await audit.append(redis, keys.AUDIT_GLOBAL_GROUP, fields)
    await config_versions.listed(redis, settings.version)  # last: a failure before it is tried again
    return True


async def stored(redis: Any, version: str, archive_dir: Path | None = None) -> StoredConfig:
    """A stored version, from Redis or else from the archive; ``NotFound`` when neither has it."""
    version = version.strip().lower()
    raw = await config_versions.load_json(redis, version)
    where = "redis"
    if raw is None and archive_dir is not None:
        try:
            raw = ArchiveDir(archive_dir).load_config(version)
        except ArchiveError as exc:
            raise NotFound(str(exc)) from None
        where = "archive"
    if raw is None:
        raise NotFound(f"config version {version!r} is not stored (in Redis or the archive): only versions a "
                       "screener loaded since this feature exists are kept")
    found, files = config_versions.decode(raw)
    # masked again as shown: a text stored by an earlier masking that missed a secret never shows it
    return StoredConfig(found, tuple((path, redacted_text(text.encode())) for path, text in files), where)


async def replayable(redis: Any, version: str, archive_dir: Path | None) -> tuple[Settings | None, str]:
    """The settings of a stored version, or None and why not."""
    try:
        return (await stored(redis, version, archive_dir)).settings(), ""
    except NotFound as exc:
        return None, str(exc)
    except ConfigError as exc:
        return None, f"config version {version} does not load here: {exc}"
