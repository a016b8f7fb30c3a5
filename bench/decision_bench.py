"""Decision benchmark: the screener's decisions against a real redis-server, beside a bare Redis round trip.

    .venv/bin/python bench/decision_bench.py [--seconds 5] [--rate 1000] [--concurrency 8] [--processes 2]
                                             [--step-seconds 2] [--max-in-flight N] [--stall-ms 500]

It starts a private redis-server, loads a DNC list, then measures in the same run:
  1. bare Redis round trip: sequential GET through redis-py's asyncio client (the baseline), and the same on
     the decisions' own connection (store.connections, hiredis on an asyncio Protocol: a stricter one)
  2. one screener decision at a time (interleaved with the two round trips of 1)
  3. open loop at --rate decisions/s for --seconds: latency p50/p99 (the 1,000/s target)
  4. closed loop with --concurrency tasks per process, in one process and in --processes processes (as
     `serve --workers`), --rounds times in turn: decisions/s; the one-process median is "the capacity" below
  5. the ramp: offered load from 0.5x to 3x the capacity in steps of --step-seconds, then 0.5x for 2 s;
     per step the goodput (decisions answered by the rules, not screening_unavailable), the decisions
     refused as overloaded, the p99 of the decisions admitted; then how long after the overload ended
     the last decision not answered normally started
  6. the stall: 0.5x the capacity for 3 s, redis-server stopped (SIGSTOP) for --stall-ms after 1 s;
     the decisions blocked that started before the stall ended, and those that started after it
  7. prefix entries: decisions of a campaign whose list holds 200 prefix entries, interleaved one by one with
     those of a campaign whose list holds the same exact numbers and no prefix
and prints the figures with the targets. No timing is asserted anywhere; this prints figures.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screener.config.load import load_settings  # noqa: E402
from screener.config.watch import ConfigHolder  # noqa: E402
from screener.decision import Decision, ScreenRequest  # noqa: E402
from screener.embedded_redis import EmbeddedRedis  # noqa: E402
from screener.reasons import ReasonCode  # noqa: E402
from screener.service.admission import OVERLOADED  # noqa: E402
from screener.service.screening import Screener, connect  # noqa: E402
from screener.store import dnc, keys  # noqa: E402
from screener.store.connections import Connections, pack_command  # noqa: E402
from screener.store.dnc.prefixes import edit_prefix  # noqa: E402

CONFIG = ROOT / "bench" / "bench.toml"
CAMPAIGN = "bench"
#: a Wednesday, 15:00 UTC: inside US calling hours in every US time zone
AT = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)
AREA_CODES = ("201", "212", "305", "312", "415", "512", "617", "702", "808", "907")


def random_number(rng: random.Random) -> str:
    return f"+1{rng.choice(AREA_CODES)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


async def bare_round_trips(url: str, n: int) -> list[float]:
    """n sequential GETs through redis-py's asyncio client (microseconds each)."""
    client = connect(url, 1.0)
    await client.set("bench:k", "v")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await client.get("bench:k")
        out.append((time.perf_counter() - t) * 1e6)
    await client.aclose()
    return out


async def one_at_a_time(url: str, n: int, seed: int) -> tuple[list[float], list[float], list[float]]:
    """n rounds of: a bare GET through redis-py's asyncio client, a bare GET on the decisions' own connection
    (store.connections: asyncio Protocol, hiredis; the round trip without redis-py's client work, a stricter
    baseline) and one screener decision, interleaved (in turn first, second, third), so that the machine's
    drift hits the three alike. Microseconds each: (redis-py GET, own-connection GET, decision)."""
    rng = random.Random(seed)
    client = connect(url, 1.0)
    await client.set("bench:k", "v")
    connections = Connections(client)
    packed = pack_command("GET", "bench:k")
    screener = await make_screener(url)
    bare: list[float] = []
    lean: list[float] = []
    seq: list[float] = []

    async def redis_py() -> None:
        await client.get("bench:k")

    async def own() -> None:
        await connections.execute(packed)

    async def decision() -> None:
        await screener.screen(ScreenRequest(dialed=random_number(rng), campaign=CAMPAIGN, at=AT, source="bench"))

    steps = [(redis_py, bare), (own, lean), (decision, seq)]
    for _ in range(200):  # warm: connections open, caches filled
        for step, _out in steps:
            await step()
    for i in range(n):
        for step, out in steps[i % 3:] + steps[:i % 3]:
            t = time.perf_counter()
            await step()
            out.append((time.perf_counter() - t) * 1e6)
    await screener.aclose()
    await connections.aclose()
    await client.aclose()
    return bare, lean, seq


#: --max-in-flight and --overload-wait-ms, when given (else the config's)
ADMISSION: dict[str, int] = {}


async def make_screener(url: str, *, overload_phase: bool = False) -> Screener:
    """A screener on bench.toml (for the ramp and the stall, with the admission settings of the command line)."""
    settings = load_settings(CONFIG)
    if overload_phase:
        settings = replace(settings, max_in_flight=ADMISSION.get("max_in_flight", settings.max_in_flight),
                           overload_wait_ms=ADMISSION.get("overload_wait_ms", settings.overload_wait_ms))
    screener = await Screener.create(ConfigHolder(str(CONFIG), settings), url)
    await screener.open()  # as `screener serve` does at start
    screener.warm_up()
    return screener


@dataclass
class Outcome:
    """One decision of an offered load: when it was due and started, how long it took, how it ended."""

    scheduled: float
    started: float
    latency_us: float
    #: OK (a verdict from the rules: allowed, or blocked for a reason of its own), OVERLOADED (refused past
    #: max_in_flight), UNAVAILABLE (blocked because the store did not answer)
    kind: str


OK, OVERLOADED_KIND, UNAVAILABLE = "ok", "overloaded", "unavailable"


def outcome_kind(decision: Decision) -> str:
    for reason in decision.reasons:
        if reason.code is ReasonCode.SCREENING_UNAVAILABLE:
            return OVERLOADED_KIND if reason.detail == OVERLOADED else UNAVAILABLE
    return OK


async def offered_load(screener: Screener, segments: list[tuple[float, float]], seed: int,
                       at_offset: Callable[[float], None] | None = None) -> list[Outcome]:
    """An open loop: decisions started at the rate of each (rate per second, seconds) segment in turn,
    whatever the earlier ones do (a late timer starts the overdue ones at once, as calls keep arriving).

    Latency is measured from the moment the decision starts; how late the generator itself started it
    (asyncio's timer has about 1 ms granularity) is the difference between ``started`` and ``scheduled``.
    ``at_offset(t)`` is called as the generator passes t seconds (the stall phase uses it).
    """
    rng = random.Random(seed)
    times: list[float] = []
    t = 0.0
    for rate, seconds in segments:
        n = int(rate * seconds)
        times += [t + i / rate for i in range(n)]
        t += seconds
    out: list[Outcome] = []

    async def one(scheduled: float) -> None:
        started = time.perf_counter()
        d = await screener.screen(ScreenRequest(dialed=random_number(rng), campaign=CAMPAIGN, at=AT, source="bench"))
        out.append(Outcome(scheduled, started, (time.perf_counter() - started) * 1e6, outcome_kind(d)))

    in_flight: set[asyncio.Task[None]] = set()  # finished tasks are dropped at once, as a server does
    start = time.perf_counter()
    i = 0
    while i < len(times):
        now = time.perf_counter()
        if at_offset is not None:
            at_offset(now - start)
        while i < len(times) and start + times[i] <= now:
            task = asyncio.create_task(one(start + times[i]))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
            i += 1
        if i < len(times):
            await asyncio.sleep(max(0.0, start + times[i] - time.perf_counter()))
    while in_flight:
        await asyncio.gather(*in_flight)
    for o in out:  # times relative to the start of the load
        o.scheduled -= start
        o.started -= start
    return out


async def open_loop(url: str, rate: int, seconds: float, seed: int) -> list[Outcome]:
    screener = await make_screener(url)
    out = await offered_load(screener, [(rate, seconds)], seed)
    await screener.aclose()
    return out


async def closed_loop(url: str, concurrency: int, seconds: float, seed: int) -> int:
    rng = random.Random(seed)
    screener = await make_screener(url)
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await screener.screen(ScreenRequest(dialed=random_number(rng), campaign=CAMPAIGN, at=AT, source="bench"))
            done += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await screener.aclose()
    return done


def _closed_loop_process(url: str, concurrency: int, seconds: float, seed: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    out.put(asyncio.run(closed_loop(url, concurrency, seconds, seed)))


def closed_loop_processes(url: str, processes: int, concurrency: int, seconds: float) -> list[int]:
    """The closed loop in ``processes`` screener processes at once: the decisions each made."""
    queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=_closed_loop_process, args=(url, concurrency, seconds, 10 + i, queue))
             for i in range(processes)]
    for p in procs:
        p.start()
    totals = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    return totals


#: prefix entries of the bench-prefixed list: 199 under area codes the benchmark never dials, and one exchange of
#: one it does (so a few decisions are blocked by a prefix)
PREFIXES = [*[f"+1{ac}" for ac in range(600, 900) if str(ac) not in AREA_CODES][:199], "+1201555"]


async def prefix_compare(url: str, n: int, seed: int) -> tuple[list[float], list[float], int]:
    """n decisions of each campaign, interleaved (A B, B A...: the machine's drift hits both alike); the
    latencies without and with prefixes, and how many the prefixes blocked."""
    rng = random.Random(seed)
    screener = await make_screener(url)
    exact: list[float] = []
    prefixed: list[float] = []
    by_prefix = 0
    pair = (("bench-exact", exact), ("bench-prefix", prefixed))
    for i in range(n):
        number = random_number(rng)
        for campaign, out in pair if i % 2 else pair[::-1]:  # each goes first half of the time (warm caches)
            t = time.perf_counter()
            d = await screener.screen(ScreenRequest(dialed=number, campaign=campaign, at=AT, source="bench"))
            out.append((time.perf_counter() - t) * 1e6)
            by_prefix += any("(prefix " in r.detail for r in d.reasons)
    await screener.aclose()
    return exact, prefixed, by_prefix


async def load_dnc(url: str, n: int) -> None:
    rng = random.Random(7)
    client = connect(url, 5.0)
    await dnc.add_numbers(client, "us-national", [random_number(rng) for _ in range(n)], source="bench")
    exact = [random_number(rng) for _ in range(2_000)]
    for name in ("bench-exact", "bench-prefixed"):
        await dnc.add_numbers(client, name, exact, source="bench")
    for prefix in PREFIXES:
        await edit_prefix(client, "bench-prefixed", prefix, add=True, source="bench")
    # a registry that was never fully imported is stale and blocks every call: mark this one fresh
    await client.hset(keys.dnc_meta_key("us-national"), "imported_at", time.time())
    await client.aclose()


#: offered load of the ramp's steps, as multiples of the closed-loop capacity of one process
RAMP = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)


async def ramp(url: str, capacity: float, step_s: float, recovery_s: float) -> tuple[list[Outcome], str]:
    """The ramp from 0.5x to 3x ``capacity``, then 0.5x for ``recovery_s``: every outcome, and the bound used."""
    screener = await make_screener(url, overload_phase=True)
    segments = [(f * capacity, step_s) for f in RAMP] + [(0.5 * capacity, recovery_s)]
    out = await offered_load(screener, segments, 4)
    bound = f"max_in_flight {screener.settings.max_in_flight}, overload_wait_ms {screener.settings.overload_wait_ms}"
    await screener.aclose()
    return out, bound


async def stall(url: str, redis: EmbeddedRedis, rate: float, seconds: float, stall_at: float,
                stall_s: float) -> tuple[list[Outcome], float, float]:
    """An open loop at ``rate`` during which redis-server is stopped (SIGSTOP) for ``stall_s``: every outcome
    and the offsets (s) at which it was stopped and continued."""
    screener = await make_screener(url, overload_phase=True)
    marks: dict[str, float] = {}

    def at_offset(t: float) -> None:
        if "stop" not in marks and t >= stall_at:
            redis.pause()
            marks["stop"] = t
        elif "stop" in marks and "cont" not in marks and t >= marks["stop"] + stall_s:
            redis.resume()
            marks["cont"] = t

    try:
        out = await offered_load(screener, [(rate, seconds)], 5, at_offset)
    finally:
        redis.resume()
    await screener.aclose()
    return out, marks["stop"], marks["cont"]


def step_rows(out: list[Outcome], capacity: float, step_s: float) -> list[str]:
    rows = []
    for k, factor in enumerate(RAMP):
        lo, hi = k * step_s, (k + 1) * step_s
        step = [o for o in out if lo <= o.scheduled < hi]
        good = sum(o.kind == OK for o in step)
        refused = sum(o.kind == OVERLOADED_KIND for o in step)
        unavailable = sum(o.kind == UNAVAILABLE for o in step)
        admitted = [o.latency_us for o in step if o.kind != OVERLOADED_KIND] or [0.0]
        lag = [(o.started - o.scheduled) * 1e6 for o in step] or [0.0]
        rate = good / step_s
        rows.append(f"{factor:>5.1f}x {factor * capacity:>9,.0f} {rate:>10,.0f} {rate / capacity:>7.0%} "
                    f"{refused:>8,} {unavailable:>8,} {pct(admitted, 0.99):>12,.0f} {pct(lag, 0.99):>10,.0f}")
    return rows


def recovery_ms(out: list[Outcome], end_s: float) -> float:
    """How long after ``end_s`` (the end of the overload) the last decision not answered normally started."""
    late = [o.started for o in out if o.scheduled >= end_s and o.kind != OK]
    return max(0.0, (max(late) - end_s) * 1000) if late else 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds of each load phase (default 5)")
    ap.add_argument("--rate", type=int, default=1000, help="open-loop decisions per second (default 1000)")
    ap.add_argument("--concurrency", type=int, default=8, help="tasks per process in the closed loop")
    ap.add_argument("--processes", type=int, default=2, help="screener processes in the closed loop")
    ap.add_argument("--samples", type=int, default=3000, help="sequential samples for the baseline and case 2")
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of one process then --processes processes (medians reported; default 3)")
    ap.add_argument("--step-seconds", type=float, default=2.0, help="seconds of each step of the ramp (default 2)")
    ap.add_argument("--max-in-flight", type=int, default=None,
                    help="the admission bound of the ramp and the stall (default: the config's max_in_flight)")
    ap.add_argument("--overload-wait-ms", type=int, default=None,
                    help="how long a decision past the bound waits for a slot, for the ramp and the stall "
                         "(default: the config's overload_wait_ms)")
    ap.add_argument("--stall-ms", type=int, default=500, help="Redis stall of the stall phase (default 500)")
    args = ap.parse_args()
    if args.max_in_flight is not None:
        ADMISSION["max_in_flight"] = args.max_in_flight
    if args.overload_wait_ms is not None:
        ADMISSION["overload_wait_ms"] = args.overload_wait_ms

    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(tmp, persist=False) as redis:
        url = redis.url
        asyncio.run(load_dnc(url, 20_000))
        bare, lean, seq = asyncio.run(one_at_a_time(url, args.samples, 1))
        fixed = asyncio.run(open_loop(url, args.rate, args.seconds, 2))
        singles, multis = [], []
        for r in range(args.rounds):  # one process and N processes in turn, so that drift hits both
            for multi in ((False, True) if r % 2 == 0 else (True, False)):
                if multi:
                    done = sum(closed_loop_processes(url, args.processes, args.concurrency, args.seconds))
                    multis.append(done / args.seconds)
                else:
                    singles.append(asyncio.run(closed_loop(url, args.concurrency, args.seconds, 3 + r)) / args.seconds)
        capacity = statistics.median(singles)
        multi_rate = statistics.median(multis)
        ramped, bound = asyncio.run(ramp(url, capacity, args.step_seconds, 2.0))
        stalled, stop_s, cont_s = asyncio.run(stall(url, redis, 0.5 * capacity, 3.0, 1.0, args.stall_ms / 1000))
        exact, prefixed, by_prefix = asyncio.run(prefix_compare(url, args.samples, 4))

    b50, b99 = statistics.median(bare), pct(bare, 0.99)
    s50, s99 = statistics.median(seq), pct(seq, 0.99)
    lat = [o.latency_us for o in fixed]
    o50, o99 = statistics.median(lat), pct(lat, 0.99)
    lags = [(o.started - o.scheduled) * 1e6 for o in fixed]
    print(f"decision benchmark: redis-server on loopback, campaign {CAMPAIGN}, {args.seconds:g} s per load phase")
    print(f"{'measure':58} {'p50 us':>9} {'p99 us':>9} {'x bare p50':>11}")
    print(f"{'bare Redis round trip (GET, redis-py asyncio)':58} {b50:9.0f} {b99:9.0f} {1:11.2f}")
    l50, l99 = statistics.median(lean), pct(lean, 0.99)
    print(f"{'bare round trip on the decisions connection (GET, hiredis)':58} {l50:9.0f} {l99:9.0f} {l50 / b50:11.2f}")
    print(f"{'screener decision, one at a time':58} {s50:9.0f} {s99:9.0f} {s50 / b50:11.2f}")
    print(f"{f'screener decision, open loop at {args.rate}/s':58} {o50:9.0f} {o99:9.0f} {o50 / b50:11.2f}")
    print(f"open loop: {len(lat)} decisions, {sum(o.kind != OK for o in fixed)} screening_unavailable, "
          f"generator start lag p50 {statistics.median(lags):.0f} us, p99 {pct(lags, 0.99):.0f} us")
    rounds = ", ".join(f"{a:,.0f}" for a in singles)
    print(f"throughput, 1 process x {args.concurrency} tasks: {capacity:,.0f} decisions/s median of {rounds} "
          "(the capacity below)")
    rounds = ", ".join(f"{m:,.0f}" for m in multis)
    print(f"throughput, {args.processes} processes x {args.concurrency} tasks (as serve --workers {args.processes}): "
          f"{multi_rate:,.0f} decisions/s median of {rounds} ({multi_rate / capacity:.2f}x one process)")
    print(f"ramp: {args.step_seconds:g} s per step, one process, {bound}; goodput = decisions answered "
          "by the rules (not screening_unavailable) per second")
    print(f"{'step':>6} {'offered/s':>9} {'goodput/s':>10} {'of cap':>7} {'refused':>8} {'unavail':>8} "
          f"{'p99 admit us':>12} {'lag p99 us':>10}")
    for row in step_rows(ramped, capacity, args.step_seconds):
        print(row)
    end_s = len(RAMP) * args.step_seconds
    recovered = recovery_ms(ramped, end_s)
    tail = [o for o in ramped if o.scheduled >= end_s]
    print(f"after the ramp (0.5x for 2 s): last decision not answered normally started {recovered:.0f} ms after the "
          f"overload ended ({sum(o.kind == OVERLOADED_KIND for o in tail)} refused, "
          f"{sum(o.kind == UNAVAILABLE for o in tail)} store timeouts of {len(tail)}; p99 "
          f"{pct([o.latency_us for o in tail] or [0.0], 0.99):,.0f} us)")
    stall_own = sum(o.kind != OK and o.started < cont_s for o in stalled)
    late = [o for o in stalled if o.kind != OK and o.started >= cont_s]
    after = len(late)
    why = (f" ({sum(o.kind == OVERLOADED_KIND for o in late)} refused as overloaded, the last one started "
           f"{(max(o.started for o in late) - cont_s) * 1000:.0f} ms after it)") if late else ""
    print(f"stall: {len(stalled)} decisions at {0.5 * capacity:,.0f}/s, Redis stopped at {stop_s:.3f} s for "
          f"{(cont_s - stop_s) * 1000:.0f} ms: {stall_own} blocked that started before it ended, "
          f"{after} blocked that started after{why}")
    two_x = [o for o in ramped if 3 * args.step_seconds <= o.scheduled < 4 * args.step_seconds]
    goodput_2x = sum(o.kind == OK for o in two_x) / args.step_seconds
    p99_2x = pct([o.latency_us for o in two_x if o.kind != OVERLOADED_KIND] or [0.0], 0.99)
    e50, e99, p50, p99 = statistics.median(exact), pct(exact, 0.99), statistics.median(prefixed), pct(prefixed, 0.99)
    print(f"{'prefix entries: a list with its exact numbers only':58} {e50:9.0f} {e99:9.0f} {e50 / b50:11.2f}")
    label = f"prefix entries: the same list with {len(PREFIXES)} prefixes"
    print(f"{label:58} {p50:9.0f} {p99:9.0f} {p50 / b50:11.2f}")
    print(f"prefix entries: {len(prefixed)} decisions of each, interleaved; {by_prefix} blocked by a prefix; "
          f"with/without p50 {p50 / e50:.2f}x, p99 {p99 / e99:.2f}x")
    print("targets:")
    print(f"  p99 < 2000 us at {args.rate}/s -> {'met' if o99 < 2000 else 'NOT met'} ({o99:.0f} us)")
    print(f"  >= 5000 decisions/s -> {'met' if max(multi_rate, capacity) >= 5000 else 'NOT met'}")
    print(f"  screener time <= 2x bare round trip -> {'met' if s50 <= 2 * b50 else 'NOT met'} ({s50 / b50:.2f}x; "
          f"{s50 / l50:.2f}x the round trip on the decisions' own connection)")
    print(f"  at 2x capacity: goodput >= 90% of capacity -> {'met' if goodput_2x >= 0.9 * capacity else 'NOT met'} "
          f"({goodput_2x / capacity:.0%}); p99 admitted < 2000 us -> {'met' if p99_2x < 2000 else 'NOT met'} "
          f"({p99_2x:.0f} us)")
    print(f"  answered normally within 1 s of the overload's end -> {'met' if recovered <= 1000 else 'NOT met'}")
    print(f"  no decision blocked after the stall ends -> {'met' if after == 0 else 'NOT met'} ({after})")
    print(f"  {args.processes} processes >= 1.6x one -> {'met' if multi_rate >= 1.6 * capacity else 'NOT met'} "
          f"({multi_rate / capacity:.2f}x)")


if __name__ == "__main__":
    main()
