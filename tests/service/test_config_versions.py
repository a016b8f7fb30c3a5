"""Every loaded config version is stored once, its secrets masked, with its `config` audit entry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.config.load import load_settings
from screener.service import config_versions
from screener.store import audit, keys
from tests.cli.lab_config import write_config

pytestmark = pytest.mark.asyncio


async def config_entries(redis: aioredis.Redis) -> list[dict[bytes, bytes]]:
    stream = keys.audit_stream_key(keys.AUDIT_GLOBAL_GROUP)
    return [f for _, f in await redis.xrange(stream) if f.get(b"kind") == b"config"]


async def test_a_version_is_stored_masked_and_an_append_that_failed_is_tried_again(
        tmp_path: Path, redis_client: aioredis.Redis, monkeypatch: Any) -> None:
    path = write_config(tmp_path / "config", "redis://127.0.0.1:1/0")
    settings = load_settings(str(path))
    salt = settings.audit_salt.value
    assert salt and settings.source_contents

    real_append = audit.append

    async def failing(*args: Any, **kwargs: Any) -> str:
        raise ConnectionError("Redis went away after the files were stored")

    monkeypatch.setattr(audit, "append", failing)
    with pytest.raises(ConnectionError):
        await config_versions.record(redis_client, settings)
    assert await redis_client.exists(keys.config_version_key(settings.version))  # the files are there...
    assert await config_entries(redis_client) == []  # ...but neither its entry...
    assert await redis_client.zscore(keys.CONFIG_VERSIONS_KEY, settings.version) is None  # ...nor its listing

    monkeypatch.setattr(audit, "append", real_append)
    assert await config_versions.record(redis_client, settings) is True  # tried again: now whole
    assert len(await config_entries(redis_client)) == 1
    assert await redis_client.zscore(keys.CONFIG_VERSIONS_KEY, settings.version) is not None
    assert await config_versions.record(redis_client, settings) is False  # once
    assert len(await config_entries(redis_client)) == 1

    stored = await config_versions.stored(redis_client, settings.version)
    text = "".join(t for _, t in stored.files)
    assert salt not in text and 'audit_salt = "***"' in text
