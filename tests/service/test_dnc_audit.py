"""Every change of a DNC list is an audit entry (who, what, source, counts, versions before and after; the masked
number and its keyed hash for one number), removing from the internal list needs a reason, and a list name the
config does not know (or, with no config, that Redis does not have) is an error naming the known lists. Real
redis-server."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis.asyncio as aioredis

from screener.embedded_redis import EmbeddedRedis
from screener.numbers import mask
from screener.service.audit_fields import number_hash
from screener.service.dnc import DncAdmin, DncError, ImportOptions, UnknownList
from screener.store import audit
from tests.dnc_files import lines_of, write
from tests.factories import make_settings

ACTOR = "cli:alice"


async def entries(redis: aioredis.Redis) -> list[dict[str, str]]:
    return [e.fields for e in await audit.tail(redis, 100) if e.kind == audit.DNC_CHANGE]


async def test_add_and_remove_are_audited_with_actor_number_hash_and_versions(redis_server: EmbeddedRedis,
                                                                              redis_client: aioredis.Redis) -> None:
    settings = make_settings()
    async with DncAdmin.open(redis_server.url, settings) as admin:
        await admin.add("camp-list", "(202) 555-0123", actor=ACTOR, source="ticket 7")
        await admin.remove("camp-list", "2025550123", actor="api:supervisor-token", source="ticket 8")
    add, remove = await entries(redis_client)
    e164 = "+12025550123"
    assert add["actor"] == ACTOR and add["action"] == "add" and add["list"] == "camp-list"
    assert add["source"] == "ticket 7" and (add["added"], add["removed"], add["count"]) == ("1", "0", "1")
    assert add["number"] == mask(e164) and add["number_hash"] == number_hash(e164, settings.audit_salt.value)
    assert (add["version_before"], add["version_after"]) == ("0", "0")
    assert add["config_version"] == settings.version and add["at"]
    assert remove["actor"] == "api:supervisor-token" and remove["action"] == "remove"
    assert (remove["added"], remove["removed"]) == ("0", "1") and remove["number_hash"] == add["number_hash"]


async def test_removing_from_the_internal_list_needs_a_reason_that_is_recorded(redis_server: EmbeddedRedis,
                                                                               redis_client: aioredis.Redis) -> None:
    async with DncAdmin.open(redis_server.url, make_settings()) as admin:
        await admin.add("internal", "+12025550123", actor=ACTOR)
        with pytest.raises(DncError, match="give the reason"):
            await admin.remove("internal", "+12025550123", actor=ACTOR)
        assert (await admin.check("internal", "+12025550123")).listed  # refused: nothing changed
        await admin.remove("internal", "+12025550123", actor=ACTOR, reason="opted out by mistake; callee asked")
    removal = (await entries(redis_client))[-1]
    assert removal["action"] == "remove" and removal["reason"] == "opted out by mistake; callee asked"
    # without a config, a list named "internal" (or recorded as internal) is the internal list
    async with DncAdmin.open(redis_server.url) as admin:
        await admin.add("internal", "+12025550124", actor=ACTOR)
        with pytest.raises(DncError, match="give the reason"):
            await admin.remove("internal", "+12025550124", actor=ACTOR)


async def test_imports_replaces_and_change_lists_are_audited_and_failures_are_not(redis_server: EmbeddedRedis,
                                                                                  redis_client: aioredis.Redis,
                                                                                  tmp_path: Path) -> None:
    settings = make_settings()
    first = write(tmp_path / "first", lines_of([2015550100, 2015550101], "ftc"), "plain")
    more = write(tmp_path / "more", lines_of([2015550102], "ftc"), "gz")
    changes = write(tmp_path / "changes", ["2015550103,A", "2015550100,D"], "plain")
    async with DncAdmin.open(redis_server.url, settings) as admin:
        await admin.import_file("registry", first, ImportOptions(grace_s=0), actor=ACTOR)
        await admin.import_file("registry", more, ImportOptions(grace_s=0, source="FTC 2026-12-01"), actor=ACTOR)
        await admin.import_file("registry", changes, ImportOptions(grace_s=0, changes=True), actor=ACTOR)
        await admin.import_file("registry", first, ImportOptions(grace_s=0, replace=True), actor="api:ops")
        before = len(await entries(redis_client))
        with pytest.raises(DncError, match="the list was not changed"):
            await admin.import_file("registry", write(tmp_path / "bad", ["x"], "plain").with_suffix(".txt"),
                                    ImportOptions(grace_s=0, region="XX"), actor=ACTOR)
        assert len(await entries(redis_client)) == before  # nothing changed, nothing recorded
    full, added, changed, replaced = await entries(redis_client)
    assert (full["action"], full["version_before"], full["version_after"], full["added"]) == ("replace", "0", "1",
                                                                                              "2")
    assert full["file"] == "first.txt" and full["source"] == "first.txt" and full["lines"] == "2"
    assert full["number"] == "" and full["number_hash"] == ""  # no single number
    assert (added["action"], added["version_before"], added["version_after"], added["added"]) == ("import", "1", "2",
                                                                                                 "1")
    assert added["source"] == "FTC 2026-12-01" and added["file"] == "more.txt.gz"
    assert (changed["action"], changed["added"], changed["removed"]) == ("changes", "1", "1")
    assert (changed["version_before"], changed["version_after"]) == ("2", "3")
    assert replaced["actor"] == "api:ops" and replaced["version_before"] == "3" and replaced["version_after"] == "4"


async def test_a_list_the_config_does_not_name_is_an_error_naming_the_known_ones(redis_server: EmbeddedRedis,
                                                                                 redis_client: aioredis.Redis,
                                                                                 tmp_path: Path) -> None:
    path = write(tmp_path / "l", ["2015550100"], "plain")
    async with DncAdmin.open(redis_server.url, make_settings()) as admin:
        for attempt in (admin.add("nosuchlist", "+12025550123", actor=ACTOR, create=True),
                        admin.remove("nosuchlist", "+12025550123", actor=ACTOR, reason="r"),
                        admin.check("nosuchlist", "+12025550123"),
                        admin.import_file("nosuchlist", path, actor=ACTOR, create=True)):
            with pytest.raises(UnknownList, match=r"unknown list 'nosuchlist': the config .* names camp-list, "
                                                  r"internal, registry"):
                await attempt
        with pytest.raises(UnknownList):
            [n async for n in admin.export("nosuchlist")]
    assert await redis_client.dbsize() == 0  # no list made, no entry written


async def test_without_a_config_only_lists_in_redis_are_known_unless_created(redis_server: EmbeddedRedis,
                                                                             redis_client: aioredis.Redis) -> None:
    async with DncAdmin.open(redis_server.url) as admin:
        with pytest.raises(UnknownList, match=r"no list named 'internal' in Redis \(lists there: none\)"):
            await admin.add("internal", "+12025550123", actor=ACTOR)
        assert await redis_client.dbsize() == 0
        await admin.add("internal", "+12025550123", actor=ACTOR, create=True)
        await admin.add("internal", "+12025550124", actor=ACTOR)  # it exists now
        with pytest.raises(UnknownList, match=r"no list named 'intrenal' in Redis \(lists there: internal\)"):
            await admin.check("intrenal", "+12025550123")
    fields = (await entries(redis_client))[0]
    # no config: no salt to key the number's hash with, and no config version
    assert fields["number"] == mask("+12025550123") and fields["number_hash"] == "" and fields["config_version"] == ""
