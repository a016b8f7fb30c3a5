"""Admin server benchmark: what the admin server costs the decisions, and what its POST /check sustains.

    .venv/bin/python bench/admin_bench.py [--seconds 5] [--rate 1000] [--rounds 4] [--check-clients 8]

It starts a private redis-server with the decision benchmark's campaign (bench/bench.toml) and a 20,000-number
registry, then in the same run:
  1. decisions in an open loop at --rate/s, the way `screener serve` runs them (heartbeat and decision
     statistics in the background), with the admin server OFF;
  2. the same with the admin server ON and /metrics scraped every second by another process (as Prometheus
     would; --watch-live also keeps the supervisor page's live feed open);
  rounds of 1 and 2 alternate (--rounds each) so that drifts of this shared machine hit both alike; then
  3. POST /api/v1/check (a dry-run decision) from --check-clients concurrent clients in another process:
     requests per second and latency p50/p99.
It prints the change of decision p50/p99 (target: p99 within 5 %) and the /check figures. Nothing is asserted.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from decision_bench import AT, CAMPAIGN, CONFIG, load_dnc, pct, random_number  # noqa: E402

from screener.admin import admin_context, admin_server  # noqa: E402
from screener.config.watch import ConfigHolder  # noqa: E402
from screener.decision import ScreenRequest  # noqa: E402
from screener.embedded_redis import EmbeddedRedis  # noqa: E402
from screener.service.operations import background_operations  # noqa: E402
from screener.service.probes import Probes  # noqa: E402
from screener.service.screening import Screener, connect  # noqa: E402
from screener.service.tokens import Role, create_token  # noqa: E402


async def open_loop(screener: Screener, rate: int, seconds: float, seed: int) -> list[float]:
    """One decision every 1/rate s whatever the previous ones do; latency from each decision's start, in us."""
    rng = random.Random(seed)
    latencies: list[float] = []

    async def one() -> None:
        started = time.perf_counter()
        await screener.screen(ScreenRequest(dialed=random_number(rng), campaign=CAMPAIGN, at=AT, source="bench"))
        latencies.append((time.perf_counter() - started) * 1e6)

    in_flight: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one())
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    while in_flight:
        await asyncio.gather(*in_flight)
    return latencies


# -- the other process: Prometheus scraping /metrics, the page's live feed, clients of POST /check ----------

async def _drain(session: aiohttp.ClientSession, url: str, token: str) -> None:
    """The supervisor page's live feed, read and dropped."""
    async with session.get(url, headers={"Authorization": f"Bearer {token}"}) as resp:
        async for _ in resp.content:
            pass


async def _scrape(base: str, stop: Any, watch_live: bool, token: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """GET /metrics once a second until ``stop`` is set; says "ready" after the first scrape."""
    scrapes, failures = 0, 0
    async with aiohttp.ClientSession() as session:
        live = asyncio.create_task(_drain(session, base + "api/v1/live", token)) if watch_live else None
        next_at = time.monotonic()
        while not stop.is_set():
            async with session.get(base + "metrics") as resp:
                await resp.read()
                scrapes += 1
                failures += resp.status != 200
            if scrapes == 1:
                out.put("ready")
            next_at += 1.0
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        if live is not None:
            live.cancel()
            await asyncio.gather(live, return_exceptions=True)
    out.put((scrapes, failures))


def scraper_process(base: str, stop: Any, watch_live: bool, token: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    asyncio.run(_scrape(base, stop, watch_live, token, out))


async def _check_clients(base: str, token: str, clients: int, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    rng = random.Random(5)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                body = {"number": random_number(rng), "campaign": CAMPAIGN, "at": AT.isoformat()}
                started = time.perf_counter()
                async with session.post(base + "api/v1/check", json=body, headers=headers) as resp:
                    await resp.read()
                    errors += resp.status != 200
                latencies.append((time.perf_counter() - started) * 1e6)

        await asyncio.gather(*(client() for _ in range(clients)))
    out.put((latencies, errors))


def check_process(base: str, token: str, clients: int, seconds: float, out: mp.Queue) -> None:  # type: ignore[type-arg]
    asyncio.run(_check_clients(base, token, clients, seconds, out))


# -- the screener side ----------------------------------------------------------------------------------------

async def run_rounds(url: str, args: argparse.Namespace) -> tuple[list[float], list[float], tuple[int, int],
                                                                   tuple[list[float], int]]:
    holder = ConfigHolder(str(CONFIG))
    screener = await Screener.create(holder, url)
    screener.warm_up()
    client = connect(url, 5.0)
    viewer = await create_token(client, f"bench-viewer-{time.time_ns()}", Role.VIEWER)
    supervisor = await create_token(client, f"bench-supervisor-{time.time_ns()}", Role.SUPERVISOR)
    await client.aclose()
    settings = replace(holder.current.admin, listen="127.0.0.1:0")
    off: list[float] = []
    on: list[float] = []
    scraped = [0, 0]
    ctx = mp.get_context("spawn")
    async with background_operations(screener):
        # warm up (discarded): the connections a decision needs are opened before any figure is taken (each new
        # connection costs redis-py 8 an importlib.metadata lookup of ~2.5 ms, which a cold open loop piles up)
        await open_loop(screener, max(1, args.rate // 10), 1.0, 1)
        await open_loop(screener, args.rate, 1.0, 2)
        for round_no in range(args.rounds):
            off += await open_loop(screener, args.rate, args.seconds, 100 + round_no)
            async with admin_server(admin_context(screener, url, Probes(), settings)) as server:
                queue, stop = ctx.Queue(), ctx.Event()
                scraper = ctx.Process(target=scraper_process, args=(server.url, stop, args.watch_live, viewer, queue))
                scraper.start()
                assert await asyncio.to_thread(queue.get) == "ready"  # started, imported, scraped once
                on += await open_loop(screener, args.rate, args.seconds, 200 + round_no)
                stop.set()
                scrapes, failures = await asyncio.to_thread(queue.get)
                scraper.join()
                scraped[0] += scrapes
                scraped[1] += failures
        async with admin_server(admin_context(screener, url, Probes(), settings)) as server:
            queue = ctx.Queue()
            checker = ctx.Process(target=check_process,
                                  args=(server.url, supervisor, args.check_clients, args.seconds, queue))
            checker.start()
            check_latencies, check_errors = await asyncio.to_thread(queue.get)
            checker.join()
    await screener.aclose()
    return off, on, (scraped[0], scraped[1]), (check_latencies, check_errors)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="seconds per phase")
    ap.add_argument("--rate", type=int, default=1000, help="open-loop decisions per second (default 1000)")
    ap.add_argument("--rounds", type=int, default=4, help="rounds of admin off / admin on (default 4)")
    ap.add_argument("--check-clients", type=int, default=8, help="concurrent POST /check clients (default 8)")
    ap.add_argument("--watch-live", action="store_true", help="also keep the page's live feed open while scraping")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(tmp, persist=False) as redis:
        asyncio.run(load_dnc(redis.url, 20_000))
        off, on, (scrapes, scrape_failures), (check, check_errors) = asyncio.run(run_rounds(redis.url, args))

    off50, off99, on50, on99 = statistics.median(off), pct(off, 0.99), statistics.median(on), pct(on, 0.99)
    c50, c99 = statistics.median(check), pct(check, 0.99)
    change99 = (on99 - off99) / off99 * 100
    print(f"admin benchmark: redis-server on loopback, campaign {CAMPAIGN}, open loop at {args.rate}/s, "
          f"{args.rounds} x {args.seconds:g} s per mode")
    print(f"{'decisions':64} {'n':>7} {'p50 us':>8} {'p99 us':>8}")
    print(f"{'admin server off':64} {len(off):7d} {off50:8.0f} {off99:8.0f}")
    live = " and the live feed open" if args.watch_live else ""
    label = f"admin server on, /metrics scraped every second{live}"
    print(f"{label:64} {len(on):7d} {on50:8.0f} {on99:8.0f}")
    print(f"change with the admin server on: p50 {(on50 - off50) / off50 * 100:+.1f} %, p99 {change99:+.1f} % "
          f"(target: p99 within +5 %: {'met' if change99 < 5 else 'NOT met'}); "
          f"{scrapes} scrapes, {scrape_failures} failed")
    print(f"POST /api/v1/check, {args.check_clients} clients for {args.seconds:g} s: "
          f"{len(check) / args.seconds:,.0f} requests/s, p50 {c50:.0f} us, p99 {c99:.0f} us, {check_errors} errors")


if __name__ == "__main__":
    main()
