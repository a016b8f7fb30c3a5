"""Abandoned-call accounting against a real redis-server: answered calls counted per campaign, the rolling
rate blocking a campaign over its limit with abandonment_limit (or only warning), the per-number lock-out
read by decide.lua, the audit entries, and the spool when Redis is down."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.config.settings import AbandonmentRule, Policy, Rules
from screener.decision import AnsweredCall, ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.reasons import ReasonCode as R
from screener.reasons import Verdict
from screener.service.screening import Screener, connect
from screener.store import abandonment, audit
from tests.factories import StaticHolder, campaign, hours, make_settings

LOCKOUT_S = 72 * 3600


def abandonment_settings() -> Any:
    base = make_settings()
    policies = {
        **base.policies,
        "tsr": Policy("tsr", Rules(hours=hours("00:00", "24:00")), abandonment=AbandonmentRule(
            connect_within_s=2, max_rate_percent=3.0, source="16 CFR 310.4(b)(4)(i)")),
        "tsr-warn": Policy("tsr-warn", Rules(hours=hours("00:00", "24:00")), abandonment=AbandonmentRule(
            max_rate_percent=3.0, action="warn")),
        "ofcom": Policy("ofcom", Rules(hours=hours("00:00", "24:00")), abandonment=AbandonmentRule(
            lockout_s=LOCKOUT_S, source="Ofcom 72 h")),
    }
    campaigns = {**base.campaigns, "tsr": campaign("tsr", policy="tsr"),
                 "tsr-warn": campaign("tsr-warn", policy="tsr-warn"), "ofcom": campaign("ofcom", policy="ofcom"),
                 "ofcom-2": campaign("ofcom-2", policy="ofcom")}
    return replace(base, policies=policies, campaigns=campaigns)


@pytest.fixture
async def screener(redis_server: EmbeddedRedis, redis_client: aioredis.Redis) -> AsyncIterator[Screener]:
    s = Screener(StaticHolder(abandonment_settings()), connect(redis_server.url, 0.5))  # type: ignore[arg-type]
    yield s
    await s.aclose()


def call(number: str, camp: str, *, connected_after_s: float | None, disclosure: str = "DONE",
         answered_at: datetime | None = None) -> AnsweredCall:
    answered = answered_at or datetime.now(UTC) - timedelta(seconds=30)
    handed_over = answered + timedelta(seconds=6) if disclosure == "DONE" else None
    connected = None if connected_after_s is None or handed_over is None else \
        handed_over + timedelta(seconds=connected_after_s)
    return AnsweredCall(number=number, campaign=camp, call_id=f"call-{number[-4:]}", answered_at=answered,
                        disclosure=disclosure, handed_over_at=handed_over, connected_at=connected)


async def screen(s: Screener, number: str, camp: str, at: datetime | None = None) -> Any:
    return await s.screen(ScreenRequest(dialed=number, campaign=camp, commit=False, at=at))


async def test_answered_calls_are_counted_per_campaign_hour_and_each_outcome_is_audited(
        screener: Screener, redis_client: aioredis.Redis) -> None:
    at = datetime.now(UTC) - timedelta(seconds=30)  # one hour bucket for the four
    await screener.record_answered_call(call("+12125550101", "open", connected_after_s=0.05, answered_at=at))
    await screener.record_answered_call(call("+12125550102", "open", connected_after_s=2.5, answered_at=at))
    await screener.record_answered_call(call("+12125550103", "open", connected_after_s=None, answered_at=at))
    await screener.record_answered_call(call("+12125550104", "open", connected_after_s=None, disclosure="OPTOUT",
                                             answered_at=at))
    buckets = (await abandonment.read_buckets(redis_client, ["open"]))["open"]
    assert list(buckets.values()) == [(4, 2)]
    entries = [e for e in await audit.tail(redis_client, 10) if e.kind == "call_outcome"]
    assert [(e.fields["outcome"], e.fields["abandoned"]) for e in entries] == [
        ("connected", "0"), ("connected_late", "1"), ("not_connected", "1"), ("opted_out", "0")]
    first = entries[0].fields
    assert first["number"] != "+12125550101" and "2125550101" not in str(first)  # masked and hashed only
    assert first["connect_delay_ms"] == "50" and first["connect_within_s"] == "2" and first["campaign"] == "open"


async def test_a_campaign_over_its_limit_blocks_its_new_calls_with_abandonment_limit(
        screener: Screener, redis_server: EmbeddedRedis) -> None:
    assert (await screen(screener, "+12125550110", "tsr")).verdict is Verdict.ALLOW
    for i in range(33):
        await screener.record_answered_call(call(f"+1212555{1000 + i}", "tsr", connected_after_s=0.1))
    await screener.record_answered_call(call("+12125552000", "tsr", connected_after_s=None))
    # 1 of 34 answered: 2.9 %, within 3 %
    assert (await screen(screener, "+12125550111", "tsr")).verdict is Verdict.ALLOW
    await screener.record_answered_call(call("+12125552001", "tsr", connected_after_s=3.0))
    # 2 of 35: 5.7 % > 3 %: every new call of the campaign blocks, whatever the number
    d = await screen(screener, "+12125550112", "tsr")
    assert d.verdict is Verdict.BLOCK and d.codes == (R.ABANDONMENT_LIMIT,)
    assert d.reasons[0].detail == ("campaign tsr: 2 of 35 answered calls abandoned in 30d (5.7 %, limit 3 %) "
                                   "(16 CFR 310.4(b)(4)(i))")
    # the other campaigns are not touched
    assert (await screen(screener, "+12125550112", "open")).verdict is Verdict.ALLOW
    # another screener process sees the same rate (Redis holds it)
    other = Screener(StaticHolder(abandonment_settings()), connect(redis_server.url, 0.5))  # type: ignore[arg-type]
    try:
        assert (await screen(other, "+12125550113", "tsr")).codes == (R.ABANDONMENT_LIMIT,)
    finally:
        await other.aclose()


async def test_a_warn_policy_only_logs_the_campaign_over_its_limit(
        screener: Screener, caplog: pytest.LogCaptureFixture) -> None:
    await screener.record_answered_call(call("+12125550120", "tsr-warn", connected_after_s=None))
    with caplog.at_level(logging.WARNING, logger="screener.service"):
        d = await screen(screener, "+12125550121", "tsr-warn")
    assert d.verdict is Verdict.ALLOW
    assert any("over its abandoned-call limit" in r.getMessage() for r in caplog.records)


async def test_after_an_abandoned_call_the_campaign_does_not_call_that_number_for_the_lockout(
        screener: Screener, caplog: pytest.LogCaptureFixture) -> None:
    number = "+12125550130"
    await screener.record_answered_call(call(number, "ofcom", connected_after_s=0.1))
    assert (await screen(screener, number, "ofcom")).verdict is Verdict.ALLOW  # connected: no lock-out
    await screener.record_answered_call(call(number, "ofcom", connected_after_s=None))
    with caplog.at_level(logging.ERROR, logger="screener.service"):
        d = await screen(screener, number, "ofcom")
    assert d.verdict is Verdict.BLOCK and d.codes == (R.ABANDONMENT_LIMIT,)
    assert d.reasons[0].detail == "abandoned call: no call by this campaign for 3d (Ofcom 72 h)"
    assert not [r for r in caplog.records if "disagreement" in r.getMessage()]  # decide.lua and the engine agree
    # the lock-out is per campaign and per number
    assert (await screen(screener, number, "ofcom-2")).verdict is Verdict.ALLOW
    assert (await screen(screener, "+12125550131", "ofcom")).verdict is Verdict.ALLOW
    # a campaign whose policy has no lock-out is not blocked by it; and 72 h later the number is callable again
    assert (await screen(screener, number, "open")).verdict is Verdict.ALLOW
    later = datetime.now(UTC) + timedelta(seconds=LOCKOUT_S + 60)
    assert (await screen(screener, number, "ofcom", at=later)).verdict is Verdict.ALLOW
    just_before = datetime.now(UTC) + timedelta(seconds=LOCKOUT_S - 600)
    assert (await screen(screener, number, "ofcom", at=just_before)).codes == (R.ABANDONMENT_LIMIT,)


async def test_old_buckets_leave_the_rate_and_are_pruned(screener: Screener, redis_client: aioredis.Redis) -> None:
    from screener.engine.abandonment import hour_of

    now_hour = hour_of(datetime.now(UTC))
    # a bucket from 29 days ago is inside the 30-day window and counts
    await redis_client.hset("scr:{c:tsr}:abandonment", mapping={f"n:{now_hour - 29 * 24}": 1,
                                                                f"a:{now_hour - 29 * 24}": 1})
    assert (await screen(screener, "+12125550141", "tsr")).codes == (R.ABANDONMENT_LIMIT,)
    # 31 days ago it no longer counts, and the next write (in a later hour than the last pruning) deletes it
    await redis_client.delete("scr:{c:tsr}:abandonment")
    await redis_client.hset("scr:{c:tsr}:abandonment", mapping={f"n:{now_hour - 31 * 24}": 1,
                                                                f"a:{now_hour - 31 * 24}": 1,
                                                                "pruned": now_hour - 1})
    screener.invalidate_abandonment()
    assert (await screen(screener, "+12125550141", "tsr")).verdict is Verdict.ALLOW
    await screener.record_answered_call(call("+12125550142", "tsr", connected_after_s=0.1))
    buckets = (await abandonment.read_buckets(redis_client, ["tsr"]))["tsr"]
    assert list(buckets.values()) == [(1, 0)]


async def test_an_answered_call_redis_cannot_take_waits_in_the_spool_and_lands_later(
        private_redis: EmbeddedRedis) -> None:
    s = Screener(StaticHolder(abandonment_settings()), connect(private_redis.url, 0.3))  # type: ignore[arg-type]
    client = aioredis.Redis.from_url(private_redis.url)
    try:
        private_redis.pause()
        try:
            await s.record_answered_call(call("+12125550150", "ofcom", connected_after_s=None))
        finally:
            private_redis.resume()
        assert len(s.spool) == 1
        assert await s.flush_pending() == 1
        assert (await abandonment.read_buckets(client, ["ofcom"]))["ofcom"] and len(s.spool) == 0
        assert "ofcom" in await abandonment.last_abandoned(client, "+12125550150")
        assert (await screen(s, "+12125550150", "ofcom")).codes == (R.ABANDONMENT_LIMIT,)
    finally:
        await client.aclose()
        await s.aclose()
