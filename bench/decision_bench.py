"""Decision benchmark: the screener's decisions against a real redis-server, beside a bare Redis round trip.

    .venv/bin/python bench/decision_bench.py [--seconds 5] [--rate 1000] [--concurrency 32] [--processes 2]

It starts a private redis-server, loads a DNC list, then measures in the same run:
  1. bare Redis round trip: sequential GET through the same client library (the baseline)
  2. one screener decision at a time (live: --commit semantics, so the attempt is reserved)
  3. open loop at --rate decisions/s for --seconds: latency p50/p99 (the 1,000/s target)
  4. closed loop with --concurrency tasks per process and --processes processes: decisions/s
  5. prefix entries: decisions of a campaign whose list holds 200 prefix entries, interleaved one by one with
     those of a campaign whose list holds the same exact numbers and no prefix
and prints a table with the ratios. No timing is asserted anywhere; this prints figures.
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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screener.config.watch import ConfigHolder  # noqa: E402
from screener.decision import ScreenRequest  # noqa: E402
from screener.embedded_redis import EmbeddedRedis  # noqa: E402
from screener.service.screening import Screener, connect  # noqa: E402
from screener.store import dnc, keys  # noqa: E402
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
    client = connect(url, 1.0)
    await client.set("bench:k", "v")
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await client.get("bench:k")
        out.append((time.perf_counter() - t) * 1e6)
    await client.aclose()
    return out


async def make_screener(url: str) -> Screener:
    screener = await Screener.create(ConfigHolder(str(CONFIG)), url)
    screener.warm_up()  # as `screener serve` does at start
    return screener


async def sequential(url: str, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    screener = await make_screener(url)
    out = []
    for _ in range(n):
        t = time.perf_counter()
        await screener.screen(ScreenRequest(dialed=random_number(rng), campaign=CAMPAIGN, at=AT, source="bench"))
        out.append((time.perf_counter() - t) * 1e6)
    await screener.aclose()
    return out


async def open_loop(url: str, rate: int, seconds: float, seed: int) -> tuple[list[float], int]:
    """Start one decision every 1/rate s, whatever the previous ones do.

    Latency is measured from the moment the decision starts; how late the generator itself started it
    (asyncio's timer has about 1 ms granularity) is reported apart, as "start lag".
    """
    rng = random.Random(seed)
    screener = await make_screener(url)
    latencies: list[float] = []
    lags: list[float] = []
    blocked = 0

    async def one(scheduled: float) -> None:
        nonlocal blocked
        started = time.perf_counter()
        lags.append((started - scheduled) * 1e6)
        d = await screener.screen(ScreenRequest(dialed=random_number(rng), campaign=CAMPAIGN, at=AT, source="bench"))
        latencies.append((time.perf_counter() - started) * 1e6)
        blocked += not d.allowed

    in_flight: set[asyncio.Task[None]] = set()  # finished tasks are dropped at once, as a server does
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(scheduled))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    while in_flight:
        await asyncio.gather(*in_flight)
    await screener.aclose()
    print(f"open loop start lag (the generator's own timer): p50 {statistics.median(lags):.0f} us, "
          f"p99 {pct(lags, 0.99):.0f} us", file=sys.stderr)
    return latencies, blocked


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=int, default=1000, help="open-loop decisions per second (default 1000)")
    ap.add_argument("--concurrency", type=int, default=8, help="tasks per process in the closed loop")
    ap.add_argument("--processes", type=int, default=2, help="screener processes in the closed loop")
    ap.add_argument("--samples", type=int, default=3000, help="sequential samples for the baseline and case 2")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(tmp, persist=False) as redis:
        url = redis.url
        asyncio.run(load_dnc(url, 20_000))
        bare = asyncio.run(bare_round_trips(url, args.samples))
        seq = asyncio.run(sequential(url, args.samples, 1))
        lat, blocked = asyncio.run(open_loop(url, args.rate, args.seconds, 2))
        totals = closed_loop_processes(url, args.processes, args.concurrency, args.seconds)
        single = asyncio.run(closed_loop(url, args.concurrency, args.seconds, 3))
        exact, prefixed, by_prefix = asyncio.run(prefix_compare(url, args.samples, 4))

    b50, b99 = statistics.median(bare), pct(bare, 0.99)
    s50, s99 = statistics.median(seq), pct(seq, 0.99)
    o50, o99 = statistics.median(lat), pct(lat, 0.99)
    multi_rate = sum(totals) / args.seconds
    print(f"decision benchmark: redis-server on loopback, campaign {CAMPAIGN}, {args.seconds:g} s per load phase")
    print(f"{'measure':58} {'p50 us':>9} {'p99 us':>9} {'x bare p50':>11}")
    print(f"{'bare Redis round trip (GET, redis-py asyncio)':58} {b50:9.0f} {b99:9.0f} {1:11.2f}")
    print(f"{'screener decision, one at a time':58} {s50:9.0f} {s99:9.0f} {s50 / b50:11.2f}")
    print(f"{f'screener decision, open loop at {args.rate}/s':58} {o50:9.0f} {o99:9.0f} {o50 / b50:11.2f}")
    print(f"open loop: {len(lat)} decisions, {blocked} blocked (numbers drawn at random, some on the DNC list)")
    print(f"throughput, 1 process x {args.concurrency} tasks: {single / args.seconds:,.0f} decisions/s")
    print(f"throughput, {args.processes} processes x {args.concurrency} tasks: {multi_rate:,.0f} decisions/s")
    e50, e99, p50, p99 = statistics.median(exact), pct(exact, 0.99), statistics.median(prefixed), pct(prefixed, 0.99)
    print(f"{'prefix entries: a list with its exact numbers only':58} {e50:9.0f} {e99:9.0f} {e50 / b50:11.2f}")
    label = f"prefix entries: the same list with {len(PREFIXES)} prefixes"
    print(f"{label:58} {p50:9.0f} {p99:9.0f} {p50 / b50:11.2f}")
    print(f"prefix entries: {len(prefixed)} decisions of each, interleaved; {by_prefix} blocked by a prefix; "
          f"with/without p50 {p50 / e50:.2f}x, p99 {p99 / e99:.2f}x")
    print(f"targets: p99 < 2000 us at 1000/s -> {'met' if o99 < 2000 else 'NOT met'}; "
          f">= 5000 decisions/s -> {'met' if max(multi_rate, single / args.seconds) >= 5000 else 'NOT met'}; "
          f"screener time <= 2x bare round trip -> {'met' if s50 <= 2 * b50 else 'NOT met'} ({s50 / b50:.2f}x)")


if __name__ == "__main__":
    main()
