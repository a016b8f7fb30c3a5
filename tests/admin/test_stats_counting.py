"""DecisionStats counts live decisions per UTC minute and hour, keeps them when Redis fails, and labels regions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.decision import Decision, Reason
from screener.reasons import ReasonCode, Verdict
from screener.service.observe import OptOut
from screener.service.stats import DecisionStats, RegionLabels
from tests.factories import StaticHolder, make_settings

T0 = datetime(2026, 12, 2, 14, 59, 30, tzinfo=UTC).timestamp()


def decision(verdict: Verdict, *codes: ReasonCode, campaign: str = "open", number: str = "+12125550142",
             dry_run: bool = False) -> Decision:
    return Decision(verdict, tuple(Reason(c) for c in codes), number, campaign, datetime.now(UTC), "v1", dry_run)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def test_counts_by_minute_and_hour_bucket() -> None:
    clock = Clock()
    stats = DecisionStats(StaticHolder(make_settings()), clock)  # type: ignore[arg-type]
    stats.observe(decision(Verdict.ALLOW))
    # two reasons of one code (the policy's hours and the state's) count once
    stats.observe(decision(Verdict.BLOCK, ReasonCode.DNC_INTERNAL, ReasonCode.FREQUENCY_LIMIT,
                           ReasonCode.FREQUENCY_LIMIT))
    stats.observe(decision(Verdict.ALLOW, dry_run=True))
    stats.observe(decision(Verdict.BLOCK, ReasonCode.UNKNOWN_CAMPAIGN, campaign="made-up"))
    clock.now += 60  # 15:00:30: a new minute and a new hour
    stats.observe(OptOut("+13055550100", "open", "test"))
    pending = {bucket: dict(counter) for bucket, counter in stats._pending.items()}
    assert pending[("m", "202612021459")] == {
        "v|open|allow": 1, "g|US-NY|allow": 1, "v|open|block": 1, "g|US-NY|block": 2,
        "r|open|dnc_internal": 1, "r|open|frequency_limit": 1,
        "v|(unknown)|block": 1, "r|(unknown)|unknown_campaign": 1}
    assert pending[("h", "2026120214")] == pending[("m", "202612021459")]
    assert pending[("m", "202612021500")] == pending[("h", "2026120215")] == {"o|open": 1}


def test_region_labels() -> None:
    labels = RegionLabels()
    assert labels("+13055550100") == "US-FL"
    assert labels("+14165550123") == "CA-ON"
    assert labels("+8613800138000") == "CN"
    assert labels("12") == "(none)"


async def test_a_failed_flush_keeps_the_counts(redis_client: aioredis.Redis) -> None:
    stats = DecisionStats(StaticHolder(make_settings()), Clock())  # type: ignore[arg-type]
    stats.observe(decision(Verdict.ALLOW))
    broken: Any = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    with pytest.raises(Exception):  # noqa: B017 (any connection error)
        await stats.flush(broken)
    await broken.aclose()
    stats.observe(decision(Verdict.ALLOW))
    await stats.flush(redis_client)
    assert await redis_client.hget("scr:stats:m:202612021459", "v|open|allow") == b"2"
    assert 0 < await redis_client.ttl("scr:stats:h:2026120214") <= 26 * 3600
    assert stats._pending == {}
