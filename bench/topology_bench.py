"""Decisions on one Redis and on a 3-master Redis Cluster, in the same run, and the failover drill's recovery.

    .venv/bin/python bench/topology_bench.py [--seconds 5] [--rate 1000] [--concurrency 8] [--processes 2]

For each topology (a private redis-server; a Redis Cluster of 3 masters, all on this machine) it loads the
same 20,000-number registry and measures, as bench/decision_bench.py does: a bare round trip (GET) through
the same client library, live decisions in an open loop at --rate per second (p50/p99), and the closed-loop
throughput of --processes screener processes with --concurrency decisions in flight each. Then it runs the
Sentinel failover drill (bench/drills.py) and prints its recovery time. Every figure comes with the machine's
load average; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from decision_bench import bare_round_trips, closed_loop_processes, load_dnc, open_loop, pct  # noqa: E402

from screener.embedded_redis import EmbeddedRedis  # noqa: E402
from screener.lab.drills import DRILLS, run_drill  # noqa: E402
from screener.lab.topologies import ClusterTopology  # noqa: E402


def measure(name: str, url: str, args: argparse.Namespace) -> dict[str, object]:
    asyncio.run(load_dnc(url, 20_000))
    bare = asyncio.run(bare_round_trips(url, 2000))
    load_before = os.getloadavg()[0]
    lat = [o.latency_us for o in asyncio.run(open_loop(url, args.rate, args.seconds, 2))]
    totals = closed_loop_processes(url, args.processes, args.concurrency, args.seconds)
    return {"topology": name, "bare p50": statistics.median(bare), "p50": statistics.median(lat),
            "p99": pct(lat, 0.99), "rate": sum(totals) / args.seconds,
            "load": f"{load_before:.2f} / {os.getloadavg()[0]:.2f}"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(tmp, persist=False) as redis:
        rows.append(measure("one Redis", redis.url, args))
    cluster = ClusterTopology(masters=3).start()
    try:
        rows.append(measure("Redis Cluster, 3 masters", cluster.url(), args))
    finally:
        cluster.stop()
    [failover] = [d for d in DRILLS if d.name.startswith("Sentinel failover")]
    load_before = os.getloadavg()[0]
    drill = asyncio.run(run_drill(failover))
    row = drill.row()

    print(f"decisions by topology: {args.seconds:g} s per phase, open loop at {args.rate}/s, "
          f"{args.processes} processes x {args.concurrency} in flight")
    print(f"{'topology':28} {'bare p50 us':>12} {'p50 us':>8} {'p99 us':>8} {'decisions/s':>12}  load avg (1 min)")
    for r in rows:
        figures = f"{r['bare p50']:12.0f} {r['p50']:8.0f} {r['p99']:8.0f} {r['rate']:12,.0f}"
        print(f"{r['topology']:28} {figures}  {r['load']}")
    print(f"Sentinel failover drill: {row['calls']} calls at 20/s, {row['unavailable']} blocked unavailable, "
          f"{row['hung']} hung, {row['allowed wrongly']} allowed wrongly, {row['lost']} acknowledged opt-outs lost "
          f"of {row['opt-outs acknowledged']}; calls allowed again {row['recovery s']:.1f} s after the SIGKILL "
          f"(load avg {load_before:.2f} / {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
