"""Admission control against a real redis-server: past ``max_in_flight`` decisions in flight a decision is
refused at once without a Redis command (its audit entry waits in the spool), the decisions admitted are
answered, and the screener takes calls normally again as soon as the load falls."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.reasons import ReasonCode as R
from screener.service.admission import OVERLOADED, Admission
from screener.service.audit import AuditTrail
from screener.service.audit_verify import Verifier
from screener.service.screening import Screener, connect
from screener.service.spool import AUDIT, REFUSED, Spool
from tests.factories import StaticHolder, make_settings


async def command_calls(client: Any) -> dict[str, int]:
    """Calls per command since the server started (INFO commandstats)."""
    stats = await client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


async def decide(s: Screener, number: str, campaign: str = "open") -> Any:
    return await s.screen(ScreenRequest(dialed=number, campaign=campaign, commit=True, call_id=f"call-{number}"))


async def test_past_the_bound_a_decision_is_refused_at_once_without_a_redis_command(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    # a budget far longer than the test: a refused decision that waited for the stalled Redis would hang here
    settings = make_settings(max_in_flight=2, time_budget_ms=60_000)
    s = Screener(StaticHolder(settings), connect(private_redis.url, 60),  # type: ignore[arg-type]
                 spool=Spool(tmp_path, name="serve-1"))
    client = connect(private_redis.url, 10)
    try:
        assert (await decide(s, "+12125550100")).allowed  # list states read, script loaded
        before = await command_calls(client)
        private_redis.pause()
        try:
            admitted = [asyncio.ensure_future(decide(s, f"+1212555010{i}")) for i in (1, 2)]
            for _ in range(1000):  # until both wait for Redis
                await asyncio.sleep(0.01)
                if s.admission.in_flight == 2:
                    break
            assert s.admission.in_flight == 2 and not any(t.done() for t in admitted)
            # Redis answers nothing now: a decision that sent it a command would wait for it
            refused = await asyncio.wait_for(decide(s, "+12125550103"), 30)
            emergency = await asyncio.wait_for(decide(s, "911"), 30)
            invalid = await asyncio.wait_for(decide(s, "12"), 30)
            assert not any(t.done() for t in admitted)
            # the refused call is noted in the spool, the two decided without Redis have their audit entries
            # there; all three reach the disk within a fraction of a second, together
            assert [item.kind for item in s.spool.items] == [REFUSED, AUDIT, AUDIT]
            assert s.spool.path is not None
            for _ in range(500):
                await asyncio.sleep(0.01)
                if s.spool.path.exists() and len(s.spool.path.read_text().splitlines()) == 3:
                    break
            assert len(s.spool.path.read_text().splitlines()) == 3
        finally:
            private_redis.resume()
        assert refused.codes == (R.SCREENING_UNAVAILABLE,) and refused.reasons[0].detail == OVERLOADED
        assert refused.number == "+12125550103" and refused.config_version == settings.version
        assert emergency.allowed and emergency.codes == (R.EMERGENCY_NUMBER,)  # never refused, even now
        assert invalid.codes == (R.INVALID_NUMBER,)
        assert all(d.allowed for d in await asyncio.gather(*admitted))
        counters = s.counters
        assert (counters.admitted, counters.refused_overloaded, counters.in_flight) == (3, 3, 0)
        assert counters.max_in_flight == 2 and counters.spooled == 3
        # the load fell: the next decision is admitted and decided by the store again
        assert (await decide(s, "+12125550104")).allowed
        if s._flushing is not None:
            await s._flushing  # Redis answered: a flush started (it waits while decisions are refused)
        await s.flush_pending(now=True)
        assert len(s.spool) == 0
        after = await command_calls(client)
        # one EVALSHA per admitted decision (its script appends its audit entry), none for the refused ones,
        # whose three entries landed afterwards from the spool, in one batch (one audit_append.lua each, in one
        # round trip: each joins its group's chain)
        assert after.get("evalsha", 0) - before.get("evalsha", 0) == 3 + 3
        assert after.get("xadd", 0) - before.get("xadd", 0) == 3 + 3
        trail = AuditTrail(client, "test-salt")
        entries = [e async for e in trail.entries(number="+12125550103")]
        assert [(e.verdict, e.reasons) for e in entries] == [("block", [("screening_unavailable", OVERLOADED)])]
        report = await Verifier(trail).run()
        assert report.ok and report.entries >= 7, [b.line() for b in report.breaks]
    finally:
        await s.aclose()
        await client.aclose()


async def test_a_burst_past_the_bound_waits_its_turn_and_is_decided(redis_server: EmbeddedRedis) -> None:
    s = Screener(StaticHolder(make_settings(max_in_flight=2, overload_wait_ms=30_000)),  # type: ignore[arg-type]
                 connect(redis_server.url, 5))
    try:
        burst = await asyncio.gather(*(decide(s, f"+1212555020{i}") for i in range(4)))
        assert all(d.allowed for d in burst)  # 2 at once, 2 after waiting for a slot
        assert (s.counters.admitted, s.counters.refused_overloaded) == (4, 0)
        larger = await asyncio.gather(*(decide(s, f"+1212555021{i}") for i in range(7)))
        # 2 in flight, 2 waiting (as many as the bound), 3 refused at once
        assert sorted(d.allowed for d in larger) == [False] * 3 + [True] * 4
        assert {d.reasons[0].detail for d in larger if not d.allowed} == {OVERLOADED}
    finally:
        await s.aclose()


async def test_a_storm_of_blocked_calls_logs_a_line_and_a_count_not_a_line_per_call(
        private_redis: EmbeddedRedis, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    s = Screener(StaticHolder(make_settings(max_in_flight=10, time_budget_ms=100)),  # type: ignore[arg-type]
                 connect(private_redis.url, 0.1), spool=Spool(tmp_path, name="serve-1"))
    try:
        assert (await decide(s, "+12125550200")).allowed
        caplog.set_level(logging.WARNING, logger="screener.service")
        private_redis.pause()
        try:
            decisions = await asyncio.gather(*(decide(s, f"+121255503{i:02d}") for i in range(60)))
        finally:
            private_redis.resume()
        details = [d.reasons[0].detail for d in decisions]
        assert details.count(OVERLOADED) == 50 and all(d.codes == (R.SCREENING_UNAVAILABLE,) for d in decisions)
        assert s.counters.store_unavailable == 10 and len(s.spool) == 60
        s.log_summary.flush()  # the end of the interval
        lines = [r.getMessage() for r in caplog.records]
        overloaded = [line for line in lines if line.startswith("overloaded")]
        unanswered = [line for line in lines if line.startswith("blocked, the store did not answer")]
        assert len(overloaded) == 2 and overloaded[1].startswith("overloaded, decisions refused: 49 more in the last")
        assert len(unanswered) == 2 and "9 more in the last" in unanswered[1]
        assert len(lines) <= 6, lines  # nothing per call
    finally:
        await s.aclose()


async def test_past_the_bound_a_decision_waits_its_turn_for_a_slot_then_is_refused() -> None:
    admission = Admission()
    assert admission.enter(2) and admission.enter(2) and not admission.enter(2)
    first = asyncio.ensure_future(admission.wait(2, 30))
    second = asyncio.ensure_future(admission.wait(2, 30))
    await asyncio.sleep(0)
    assert admission.waiting == 2
    assert not await admission.wait(2, 30)  # two wait already (the bound): refused at once
    admission.leave()  # a slot frees: it goes to the first that waits, not to a newcomer
    assert not admission.enter(2)
    assert await first and not second.done() and admission.in_flight == 2
    assert not await admission.wait(2, 0.05)  # its wait runs out: refused
    admission.leave()
    assert await second
    assert (admission.in_flight, admission.admitted, admission.refused) == (2, 4, 2)
    assert admission.refusing() and not admission.refusing(within_s=0)
    admission.leave()
    admission.leave()
    assert admission.in_flight == 0 and admission.enter(2)


async def test_a_slot_handed_to_a_decision_whose_caller_gave_up_goes_to_the_next() -> None:
    admission = Admission()
    assert admission.enter(1)
    gone = asyncio.ensure_future(admission.wait(1, 30))
    await asyncio.sleep(0)
    admission.leave()  # handed to the waiting decision ...
    gone.cancel()  # ... whose front end gives up before it runs again
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert admission.in_flight == 0  # the slot was passed on (freed), not lost
    assert admission.enter(1)
