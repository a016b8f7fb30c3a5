"""Live decisions through failovers and resharding on real topologies: a Sentinel primary SIGKILLed, a Cluster
master SIGKILLed, a slot migrated between masters under a stream of decisions. No call hangs, none is allowed
unscreened, calls the store cannot vouch for are blocked (``screening_unavailable``), and decisions resume
on the new primary / master with the same screener (no restart)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers
from redis.crc import key_slot

from screener.decision import Decision, ScreenRequest
from screener.lab.topologies import ClusterTopology, SentinelTopology
from screener.reasons import ReasonCode as R
from screener.service.screening import Screener, connect
from screener.store import keys
from tests.factories import StaticHolder, make_settings

#: a decision not answered within this long is hung (the budget is far smaller)
HUNG_S = 10.0


@dataclass(frozen=True)
class Seen:
    at: float
    number: str
    decision: Decision | None  # None: hung
    elapsed_s: float


async def decide_now(s: Screener, number: str, campaign: str = "open") -> Seen:
    started = time.monotonic()
    try:
        async with asyncio.timeout(HUNG_S):
            d: Decision | None = await s.screen(ScreenRequest(dialed=number, campaign=campaign, commit=True,
                                                              source="fastagi", call_id=f"c-{number}-{started}"))
    except TimeoutError:
        d = None
    return Seen(started, number, d, time.monotonic() - started)


def check_no_call_hung_or_was_allowed_unscreened(seen: list[Seen]) -> Counter[str]:
    """Every decision answered; each an allow the store reserved and audited, or a block; tallied by kind."""
    tally: Counter[str] = Counter()
    for item in seen:
        d = item.decision
        assert d is not None, f"a decision hung (> {HUNG_S} s) for {item.number}"
        if d.allowed:
            assert d.attempt_id and d.audit_id, f"allowed without the store's reservation: {d}"
            tally["allowed"] += 1
        else:
            assert d.codes == (R.SCREENING_UNAVAILABLE,), d.reasons
            tally["unavailable"] += 1
    return tally


async def decide_through(s: Screener, numbers: Callable[[int], str], fault: Callable[[], None],
                         recovered: Callable[[], bool], *, resumed_after: int = 20) -> tuple[list[Seen], float]:
    """Decide live calls (4 at a time) before, during and after ``fault`` (run in a thread, it returns when the
    topology has failed over); stops once ``resumed_after`` calls were allowed after it. (decisions, the
    monotonic time the fault started)."""
    seen: list[Seen] = []
    counter = iter(range(1_000_000))
    warm = [await decide_now(s, numbers(next(counter))) for _ in range(5)]
    assert all(w.decision is not None and w.decision.allowed for w in warm), warm
    faulted_at = time.monotonic()
    failover = asyncio.create_task(asyncio.to_thread(fault))
    deadline = faulted_at + 90

    async def worker() -> None:
        while time.monotonic() < deadline:
            item = await decide_now(s, numbers(next(counter)))
            seen.append(item)
            after = [x for x in seen if failover.done() and x.decision is not None and x.decision.allowed
                     and x.at > faulted_at]
            if failover.done() and recovered() and len(after) >= resumed_after:
                return
            await asyncio.sleep(0.01)

    await asyncio.gather(*(worker() for _ in range(4)))
    await failover
    return seen, faulted_at


def report(what: str, seen: list[Seen], faulted_at: float, tally: Counter[str]) -> None:
    blocked = [x for x in seen if x.decision is not None and not x.decision.allowed]
    first_ok = min((x.at for x in seen if x.decision is not None and x.decision.allowed and x.at > faulted_at
                    and x.at > max((b.at for b in blocked), default=0)), default=float("nan"))
    slowest = max(x.elapsed_s for x in seen)
    print(f"\n{what}: {tally['allowed']} allowed, {tally['unavailable']} blocked unavailable, 0 hung; slowest "
          f"answer {slowest * 1000:.0f} ms; allowed again for good {first_ok - faulted_at:.2f} s after the kill")


async def test_a_sentinel_failover_blocks_calls_as_unavailable_then_decisions_resume_on_the_new_primary() -> None:
    topology = await asyncio.to_thread(lambda: SentinelTopology(password="pw", sentinel_password="spw").start())
    s = Screener(StaticHolder(make_settings(time_budget_ms=300)), connect(topology.url(), 0.3))
    try:
        old = topology.primary()
        new: list[object] = []

        def fail_over() -> None:
            topology.kill(old)
            new.append(topology.wait_for_new_primary(old))

        seen, faulted_at = await decide_through(s, lambda i: f"+1212555{i:04d}", fail_over, lambda: bool(new))
        tally = check_no_call_hung_or_was_allowed_unscreened(seen)
        report("sentinel failover", seen, faulted_at, tally)
        assert tally["unavailable"] >= 1  # the failover was seen, and blocked
        # the calls allowed after the promotion are on the new primary (the same screener, never restarted)
        with topology.client(new[0]) as primary:  # type: ignore[arg-type]
            last = [x.number for x in seen if x.decision is not None and x.decision.allowed][-5:]
            assert all(primary.zcard(keys.attempts_key(n)) == 1 for n in last)
    finally:
        await s.aclose()
        await asyncio.to_thread(topology.stop)


def numbers_on(cluster: ClusterTopology, ranges: list[tuple[int, int]]) -> list[str]:
    """US area-code tags (+1NXX, real area codes) whose slot is in ``ranges``."""
    tags = [f"+1{n}" for n in range(201, 990) if phonenumbers.is_valid_number(phonenumbers.parse(f"+1{n}5550100"))]
    return [t for t in tags if any(lo <= key_slot(f"{{{t}}}".encode()) <= hi for lo, hi in ranges)]


async def test_a_cluster_master_killed_blocks_its_calls_as_unavailable_until_its_replica_takes_over() -> None:
    cluster = await asyncio.to_thread(lambda: ClusterTopology(replicas=1, node_timeout_ms=2000).start())
    s = Screener(StaticHolder(make_settings(time_budget_ms=300)), connect(cluster.url(), 0.3))
    try:
        victim = cluster.masters()[0]
        replica = cluster.replica_of(victim)
        tags = numbers_on(cluster, cluster.slots_of(victim))[:20]
        assert len(tags) >= 5
        done: list[bool] = []

        def kill() -> None:
            cluster.kill(victim)
            cluster.wait_for_takeover(victim, replica)
            done.append(True)

        seen, faulted_at = await decide_through(s, lambda i: f"{tags[i % len(tags)]}555{i % 10_000:04d}", kill,
                                                lambda: bool(done))
        tally = check_no_call_hung_or_was_allowed_unscreened(seen)
        report("cluster master killed", seen, faulted_at, tally)
        assert tally["unavailable"] >= 1
        with cluster.client(replica) as promoted:
            last = [x.number for x in seen if x.decision is not None and x.decision.allowed][-5:]
            assert all(promoted.zcard(keys.attempts_key(n)) == 1 for n in last)  # decided on the new master
    finally:
        await s.aclose()
        await asyncio.to_thread(cluster.stop)


async def test_a_slot_migrating_between_masters_under_a_stream_of_decisions_never_lets_a_number_past_its_limit(
) -> None:
    cluster = await asyncio.to_thread(lambda: ClusterTopology(masters=3).start())
    s = Screener(StaticHolder(make_settings(time_budget_ms=500)), connect(cluster.url(), 0.5))
    try:
        tag = "+1201"
        slot = key_slot(f"{{{tag}}}".encode())
        numbers = [f"{tag}555{i:04d}" for i in range(60)]
        home = cluster.master_of_slot(slot)
        other = next(m for m in cluster.masters() if m is not home)
        allowed: Counter[str] = Counter()
        seen: list[Seen] = []

        async def decide_and_count(number: str) -> Decision:
            item = await decide_now(s, number, "limited")  # 3 calls per hour per number
            seen.append(item)
            assert item.decision is not None, "a decision hung"
            if item.decision.allowed:
                allowed[number] += 1
            return item.decision

        def reshard() -> int:
            moved = 0
            for target in (other, home, other):  # there and back and there again, a few keys at a time
                moved += cluster.migrate_slot(slot, target, batch=2, pause_s=0.02)
            return moved

        migration = asyncio.create_task(asyncio.to_thread(reshard))

        async def worker(w: int) -> None:
            i = w
            while not migration.done():
                await decide_and_count(numbers[i % len(numbers)])
                i += 4
                await asyncio.sleep(0.005)

        await asyncio.gather(*(worker(w) for w in range(4)))
        moved = await migration
        for number in numbers:  # the slot settled on its new master: each number ends at its limit
            while R.FREQUENCY_LIMIT not in (await decide_and_count(number)).codes:
                pass

        redirects = s.scripts.connections.redirects  # type: ignore[union-attr]
        unavailable = sum(1 for x in seen if x.decision is not None and R.SCREENING_UNAVAILABLE in x.decision.codes)
        print(f"\nslot {slot} migrated 3 times ({moved} key moves) under {len(seen)} decisions: redirects "
              f"{redirects}, {unavailable} blocked unavailable, 0 hung")
        assert moved > 0 and redirects["moved"] >= 1 and redirects["ask"] + redirects["tryagain"] >= 1
        assert all(allowed[n] <= 3 for n in numbers), allowed  # never past the limit through the migration
        client = s.redis
        for n in numbers:  # and the attempts moved with the slot: exactly the 3 reserved, on its new master
            assert await client.zcard(keys.attempts_key(n)) == 3
        assert cluster.master_of_slot(slot) is other
    finally:
        await s.aclose()
        await asyncio.to_thread(cluster.stop)
