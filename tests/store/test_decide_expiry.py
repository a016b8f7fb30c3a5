"""A decision that Redis runs after the screener gave up on it changes nothing: decide.lua checks an expiry
by the server's own clock, which the screener learns from its earlier replies (store/server_clock.py)."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from screener.engine.plan import DncCheck, StorePlan
from screener.reasons import ReasonCode
from screener.store import keys
from screener.store.decide import run_decision
from screener.store.scripts import Scripts
from screener.store.server_clock import SLACK_MS, ServerClock

PLAN = StorePlan(campaign="expiry", subject="s", dnc=(DncCheck("internal", ReasonCode.DNC_INTERNAL),))


async def decide(scripts: Scripts, e164: str, time_left_s: float | None) -> object:
    return await run_decision(scripts, PLAN, e164, {}, now_ms=int(time.time() * 1000), server_time=True,
                              commit=True, pre_block=False, attempt_id=f"a{e164[-4:]}", audit_fields={"kind": "t"},
                              audit_maxlen=1000, time_left_s=time_left_s)


async def test_a_decision_run_after_its_expiry_writes_nothing(redis_client: aioredis.Redis) -> None:
    scripts = Scripts(redis_client)
    try:
        assert scripts.clock.ahead_ms is None
        first = await decide(scripts, "+12125557001", None)  # no expiry before the clock is known
        assert first.reserved  # type: ignore[attr-defined]
        assert scripts.clock.ahead_ms is not None
        in_time = await decide(scripts, "+12125557002", 5.0)
        assert in_time.reserved  # type: ignore[attr-defined]
        stream, head = keys.audit_stream_key("+1212"), keys.audit_head_key("+1212")
        length, chain_head = await redis_client.xlen(stream), await redis_client.get(head)
        assert length == 2 and chain_head is not None
        with pytest.raises(ResponseError, match="EXPIRED"):
            await decide(scripts, "+12125557003", -1.0)  # its caller gave up a second ago
        assert await redis_client.xlen(stream) == length  # no audit entry
        assert await redis_client.get(head) == chain_head  # the chain's head did not move
        assert await redis_client.exists(keys.attempts_key("+12125557003")) == 0  # no attempt reserved
    finally:
        await scripts.aclose()


def test_the_server_clock_bound_is_the_smallest_lead_seen_lately() -> None:
    clock = ServerClock()
    assert clock.expiry_ms(1.0) is None
    clock.observe(server_ms=10_050, sent_ms=10_000)  # the server ran it 50 ms after we sent (by our clock)
    clock.observe(server_ms=20_020, sent_ms=20_000)  # a faster reply: a tighter bound
    clock.observe(server_ms=30_090, sent_ms=30_000)
    assert clock.ahead_ms == 20
    now_ms = time.time() * 1000
    expiry = clock.expiry_ms(0.15)
    assert expiry is not None and now_ms + 150 + 20 + SLACK_MS - 1 <= expiry <= time.time() * 1000 + 150 + 20 + SLACK_MS
