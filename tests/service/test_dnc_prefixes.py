"""Prefix entries of DNC lists (``+1201`` blocks every number under it) against a real redis-server: they block
every number under them and nothing else, in internal and campaign lists (never registries), beside exact
entries that still work; ``dnc check`` says which prefix lists a number; a live decision reserves nothing for a
number a prefix blocks; the admin's edits are audited."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.engine.facts import ListState
from screener.engine.prefixes import matching_prefix, prefix_reasons
from screener.reasons import ReasonCode as R
from screener.service.dnc import BadNumber, DncAdmin, DncError, ImportOptions, import_file
from screener.service.numbers_input import prefix_of
from screener.service.screening import Screener, connect
from screener.store import audit, keys
from screener.store.dnc.lists import read_list_states
from screener.store.dnc.prefixes import MAX_PREFIXES, PrefixLimit, edit_prefix
from tests.factories import StaticHolder, make_settings

WED_3PM_NY = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
ACTOR = "test:prefixes"


def test_the_longest_prefix_a_number_falls_under() -> None:
    prefixes = {"+1201", "+120155", "+86138"}
    assert matching_prefix("+12015550123", prefixes) == "+120155"
    assert matching_prefix("+12014440123", prefixes) == "+1201"
    assert matching_prefix("+8613812345678", prefixes) == "+86138"
    assert matching_prefix("+12025550123", prefixes) is None
    assert matching_prefix("+1201", {"+1201"}) == "+1201"  # the number itself counts
    assert matching_prefix("+12015550123", set()) is None


def test_only_internal_and_campaign_lists_block_by_prefix() -> None:
    settings = make_settings()
    states = {name: ListState(name, "1", prefixes=frozenset({"+1201"})) for name in settings.lists}
    reasons = prefix_reasons("+12015550123", ("internal", "camp-list", "registry"), settings.lists, states)
    assert [(r.code, r.detail) for r in reasons] == [(R.DNC_INTERNAL, "internal (prefix +1201)"),
                                                     (R.DNC_CAMPAIGN, "camp-list (prefix +1201)")]
    assert prefix_reasons("+12025550123", ("internal",), settings.lists, states) == []


@pytest.mark.parametrize(("typed", "region", "prefix"), [("+1 201", "US", "+1201"), ("201", "US", "+1201"),
                                                          ("1-201", "US", "+1201"), ("+86138", "CN", "+86138"),
                                                          ("138", "CN", "+86138"), ("020 7946", "GB", "+44207946")])
def test_prefixes_are_read_like_numbers(typed: str, region: str, prefix: str) -> None:
    assert prefix_of(typed, region) == prefix


@pytest.mark.parametrize(("typed", "problem"), [("+1", "digits after the country code"), ("+1201x", "only digits"),
                                                ("+12015550123", "is a whole number"), ("+999123", "no country code"),
                                                ("+123456789012345", "at most 14")])
def test_a_bad_prefix_is_refused_naming_it(typed: str, problem: str) -> None:
    with pytest.raises(BadNumber, match=problem):
        prefix_of(typed, "US")


@pytest.fixture
async def screener(redis_server: EmbeddedRedis, redis_client: aioredis.Redis) -> AsyncIterator[Screener]:
    await redis_client.hset(keys.dnc_meta_key("registry"), mapping={"version": "0", "imported_at": 2e9})
    s = Screener(StaticHolder(make_settings()), connect(redis_server.url, 0.15))  # type: ignore[arg-type]
    yield s
    await s.aclose()


async def decide(s: Screener, campaign: str, number: str, commit: bool = False) -> Any:
    s.invalidate_list_states()
    return await s.screen(ScreenRequest(dialed=number, campaign=campaign, at=None if commit else WED_3PM_NY,
                                        commit=commit))


async def test_a_prefix_blocks_every_number_under_it_and_nothing_else(screener: Screener, redis_server: EmbeddedRedis,
                                                                     redis_client: aioredis.Redis) -> None:
    async with DncAdmin.open(redis_server.url, make_settings()) as admin:
        await admin.add_prefix("internal", "+1201555", actor=ACTOR)
        await admin.add_prefix("camp-list", "+1305", actor=ACTOR)
        await admin.add("internal", "+12125550142", actor=ACTOR)  # an exact entry beside them
        with pytest.raises(DncError, match="registry list"):
            await admin.add_prefix("registry", "+1415", actor=ACTOR)
    rng = random.Random(5)
    under = [f"+1201555{rng.randrange(10_000):04d}" for _ in range(20)] + ["+12015550000", "+12015559999"]
    for number in under:
        d = await decide(screener, "open", number)
        assert d.codes == (R.DNC_INTERNAL,) and d.reasons[0].detail == "internal (prefix +1201555)", number
    for number in ("+12015540000", "+12015569999", "+12025550123", "+13055550123"):
        assert (await decide(screener, "open", number)).allowed, number  # beside the prefix, or another list
    d = await decide(screener, "all-lists", "+13055550123")
    assert d.codes == (R.DNC_CAMPAIGN,) and d.reasons[0].detail == "camp-list (prefix +1305)"
    assert (await decide(screener, "all-lists", "+12125550142")).codes == (R.DNC_INTERNAL,)  # exact still works
    assert (await decide(screener, "open", "+12125550143")).allowed
    # a live decision blocked by a prefix reserves no attempt
    assert not (await decide(screener, "open", "+12015550123", commit=True)).allowed
    assert await redis_client.exists(keys.attempts_key("+12015550123")) == 0
    # a registry's metadata with prefixes (not made by the screener) is ignored: registries are exact
    await redis_client.hset(keys.dnc_meta_key("registry"), "prefixes", "+1415")
    assert (await decide(screener, "all-lists", "+14155550123")).allowed


async def test_dnc_check_says_which_prefix_lists_a_number_and_edits_are_audited(redis_server: EmbeddedRedis,
                                                                               redis_client: aioredis.Redis) -> None:
    async with DncAdmin.open(redis_server.url, make_settings()) as admin:
        added = await admin.add_prefix("internal", "+86 138", actor=ACTOR, source="complaint 12")
        assert added.prefix and added.changed and added.number == "+86138"
        assert not (await admin.add_prefix("internal", "+86138", actor=ACTOR)).changed
        check = await admin.check("internal", "13812345678", region="CN")
        assert check.listed and check.by_prefix == "+86138"
        assert not (await admin.check("internal", "13912345678", region="CN")).listed
        with pytest.raises(DncError, match="give the reason"):
            await admin.remove_prefix("internal", "+86138", actor=ACTOR)
        removed = await admin.remove_prefix("internal", "+86138", actor=ACTOR, reason="range reassigned")
        assert removed.changed and not (await admin.check("internal", "13812345678", region="CN")).listed
        [row] = [r for r in await admin.lists() if r.name == "internal"]
        assert row.prefixes == ()
    entries = [e.fields for e in await audit.tail(redis_client, 10) if e.kind == audit.DNC_CHANGE]
    assert [(e["action"], e["prefix"], e["added"], e["removed"], e["reason"]) for e in entries] == [
        ("add_prefix", "+86138", "1", "0", ""), ("add_prefix", "+86138", "0", "0", ""),
        ("remove_prefix", "+86138", "0", "1", "range reassigned")]
    assert entries[0]["source"] == "complaint 12" and entries[0]["actor"] == ACTOR


async def test_a_replace_keeps_the_prefixes_and_a_list_holds_a_bounded_number(redis_client: aioredis.Redis,
                                                                               tmp_path: Path) -> None:
    await edit_prefix(redis_client, "l", "+1201", add=True)
    path = tmp_path / "l.txt"
    for _ in range(2):  # a first import, then a replace: new versions, the same prefix entries
        path.write_text("2025550100\n")
        result = await import_file(redis_client, "l", path, ImportOptions(replace=True, grace_s=0))
        state = (await read_list_states(redis_client, ["l"]))["l"]
        assert state.version == result.version and state.prefixes == {"+1201"} and state.count == 1
    for i in range(MAX_PREFIXES - 1):
        await edit_prefix(redis_client, "l", f"+1{300 + i}", add=True)
    with pytest.raises(PrefixLimit, match=f"holds {MAX_PREFIXES} prefixes"):
        await edit_prefix(redis_client, "l", "+44", add=True)
