"""Every config version that made decisions, stored content-addressed: ``scr:config:<version>`` holds the text
of its files (secrets masked, JSON), written once (``SET NX``) by the first screener that loads it, and
``scr:config:versions`` lists them with the time each was first stored."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from screener.store import keys
from screener.store.client import text


def encode(version: str, files: Sequence[tuple[str, str]]) -> str:
    """The stored form: {"version", "files": [{"path", "text"}, ...]} (the main file first, then its includes)."""
    return json.dumps({"version": version, "files": [{"path": p, "text": t} for p, t in files]}, ensure_ascii=False)


def decode(raw: str) -> tuple[str, list[tuple[str, str]]]:
    data = json.loads(raw)
    return str(data["version"]), [(str(f["path"]), str(f["text"])) for f in data["files"]]


async def save(redis: Any, version: str, files: Sequence[tuple[str, str]]) -> None:
    """Store a version's files once (``SET NX``). The caller, having found it not ``is_listed``, appends its
    audit entry, then calls ``listed`` (a failure in between is tried again by the next call, not lost)."""
    await redis.set(keys.config_version_key(version), encode(version, files), nx=True)


async def is_listed(redis: Any, version: str) -> bool:
    return await redis.zscore(keys.CONFIG_VERSIONS_KEY, version) is not None


async def listed(redis: Any, version: str) -> None:
    """List the version (with the time it was first listed) once its audit entry is appended."""
    await redis.zadd(keys.CONFIG_VERSIONS_KEY, {version: int(time.time() * 1000)}, nx=True)


async def load_json(redis: Any, version: str) -> str | None:
    raw = await redis.get(keys.config_version_key(version))
    return None if raw is None else text(raw)


async def versions(redis: Any) -> list[str]:
    """Every stored version, oldest first."""
    return [text(v) for v in await redis.zrange(keys.CONFIG_VERSIONS_KEY, 0, -1)]
