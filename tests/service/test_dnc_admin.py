"""The DNC use cases every front end calls (DncAdmin) against a real redis-server: numbers read once, typed
errors, provenance, staleness, and records that serialize."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from screener.embedded_redis import EmbeddedRedis
from screener.service.dnc import BadImportFile, BadNumber, DncAdmin, DncError, ImportBusy, ImportOptions
from screener.store import dnc
from screener.store.dnc.versions import begin_build
from tests.factories import make_settings

DAY = 86_400
ACTOR = "test:dnc-admin"


async def test_numbers_are_read_once_and_changes_say_what_they_did(redis_server: EmbeddedRedis,
                                                                   redis_client: aioredis.Redis) -> None:
    async with DncAdmin.open(redis_server.url) as admin:
        added = await admin.add("internal", "(202) 555-0123", actor=ACTOR, source="support ticket 7", create=True)
        assert (added.number, added.changed, added.action) == ("+12025550123", True, "add")
        assert json.loads(json.dumps(added.to_json())) == {"list": "internal", "number": "+12025550123",
                                                           "action": "add", "changed": True, "version": "0",
                                                           "audit_id": added.audit_id, "prefix": False}
        assert not (await admin.add("internal", "+12025550123", actor=ACTOR)).changed
        check = await admin.check("internal", "202.555.0123")
        assert check.listed and check.to_json()["listed"] is True
        assert (await admin.add("tps", "020 7946 0123", actor=ACTOR, region="GB", create=True)).number == \
            "+442079460123"
        removed = await admin.remove("internal", "2025550123", actor=ACTOR, reason="added by mistake")
        assert removed.changed and removed.action == "remove"
        assert not (await admin.remove("internal", "2025550123", actor=ACTOR, reason="again")).changed
        assert not (await admin.check("internal", "2025550123")).listed
    info = (await dnc.read_list_infos(redis_client, ["internal"]))["internal"]
    assert info.last_change_source == "support ticket 7"


async def test_bad_and_emergency_numbers_are_refused_before_redis_is_touched(redis_server: EmbeddedRedis,
                                                                             redis_client: aioredis.Redis) -> None:
    async with DncAdmin.open(redis_server.url) as admin:
        with pytest.raises(BadNumber, match="invalid number 'not-a-number'"):
            await admin.add("internal", "not-a-number", actor=ACTOR, create=True)
        with pytest.raises(BadNumber, match="emergency number"):
            await admin.add("internal", "911", actor=ACTOR, create=True)
        with pytest.raises(BadNumber, match="invalid number '12'"):
            await admin.check("internal", "12")
    assert await redis_client.dbsize() == 0


async def test_lists_join_redis_and_the_config_and_say_which_are_stale(redis_server: EmbeddedRedis,
                                                                       redis_client: aioredis.Redis,
                                                                       tmp_path: Path) -> None:
    settings = make_settings()  # registry: max age 31 days; internal and camp-list: never stale
    path = tmp_path / "reg.txt"
    path.write_text("2015550100\n2015550101\n")
    async with DncAdmin.open(redis_server.url) as admin:  # no config: a list of Redis's own
        await admin.import_file("unconfigured", path, ImportOptions(grace_s=0, kind="registry"), actor=ACTOR,
                                create=True)
    async with DncAdmin.open(redis_server.url, settings) as admin:
        result = await admin.import_file("registry", path, ImportOptions(grace_s=0), actor=ACTOR)
        await admin.add("internal", "+12025550123", actor=ACTOR)
        now = time.time()
        rows = {row.name: row for row in await admin.lists(now=now)}
        later = {row.name: row for row in await admin.lists(now=now + 32 * DAY)}
    assert set(rows) == {"internal", "camp-list", "registry", "unconfigured"}
    registry = rows["registry"]
    # the config's kind, the file's name as the source, the count and version of the import
    assert (registry.kind, registry.source, registry.count, registry.version) == ("registry", "reg.txt", 2,
                                                                                  result.version)
    assert registry.stale is False and registry.max_age_days == 31 and registry.age_s is not None
    assert later["registry"].stale is True
    assert rows["camp-list"].stale is None and rows["camp-list"].imported_at is None
    assert rows["camp-list"].source == "campaign list"  # from the config: never imported
    assert rows["internal"].stale is None and rows["internal"].count == 1
    # a registry that is not in the config is stale after 31 days
    assert rows["unconfigured"].max_age_days == 31 and later["unconfigured"].stale is True
    assert json.loads(json.dumps(registry.to_json()))["count"] == 2
    assert (await dnc.read_list_infos(redis_client, ["registry"]))["registry"].kind == "registry"


async def test_import_errors_are_typed_and_change_nothing(redis_server: EmbeddedRedis, redis_client: aioredis.Redis,
                                                          tmp_path: Path) -> None:
    good = tmp_path / "l.txt"
    good.write_text("2015550100\n")
    broken = tmp_path / "l.txt.gz"
    data = gzip.compress("".join(f"{2025550000 + i}\n" for i in range(5000)).encode())
    broken.write_bytes(data[: len(data) // 2])
    async with DncAdmin.open(redis_server.url) as admin:
        result = await admin.import_file("reg", good, ImportOptions(grace_s=0), actor=ACTOR, create=True)
        assert json.loads(json.dumps(result.to_json()))["added"] == 1
        with pytest.raises(BadImportFile, match="no such file"):
            await admin.import_file("reg", tmp_path / "missing.txt", actor=ACTOR)
        with pytest.raises(BadImportFile, match="the list was not changed"):
            await admin.import_file("reg", broken, ImportOptions(replace=True, grace_s=0), actor=ACTOR)
        await begin_build(redis_client, "reg")  # another import is running
        with pytest.raises(ImportBusy, match="another import of list 'reg'"):
            await admin.import_file("reg", good, ImportOptions(replace=True, grace_s=0), actor=ACTOR)
        assert (await admin.check("reg", "2015550100")).listed
        assert not (await admin.check("reg", "2025550000")).listed


async def test_export_writes_e164_or_ftc_lines(redis_server: EmbeddedRedis, redis_client: aioredis.Redis) -> None:
    async with DncAdmin.open(redis_server.url) as admin:
        for number in ("+12025550124", "+12025550123", "+442079460123"):
            await admin.add("l", number, actor=ACTOR, create=True)
        assert [n async for n in admin.export("l")] == ["+12025550123", "+12025550124", "+442079460123"]
        assert [n async for n in admin.export("l", "ftc")] == ["2025550123", "2025550124", "+442079460123"]
        with pytest.raises(DncError, match="unknown export format"):
            [n async for n in admin.export("l", "csv")]
