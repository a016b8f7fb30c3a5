"""Audit benchmark: decision latency with the hash chain against a baseline tree, and archive throughput.

    .venv/bin/python bench/audit_bench.py [--baseline main] [--rounds 3] [--seconds 5] [--rate 1000]
                                          [--samples 2000] [--archive-entries 200000] [--groups 50]

1. Decision latency, chain on versus the baseline (default: the `main` branch, exported with `git archive`
   into a temporary folder): each round runs the same measurement in a fresh process per tree, alternating
   (baseline, this tree), each with a private redis-server and the `bench` campaign of bench/bench.toml (the
   US preset, the internal list and a 20,000-number registry): sequential decisions, then an open loop at
   --rate decisions/s; plus Redis's own time per decision script (INFO commandstats, EVALSHA usec_per_call).
   Printed: the median over rounds of each figure, and this tree's change against the baseline.
2. Archive throughput (this tree only): --archive-entries entries in --groups group streams, archived to
   segment files and trimmed by `screener audit archive`'s code; entries per second.

No timing is asserted anywhere; this prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: runs inside the measured tree (PYTHONPATH = that tree): prints one JSON object
MEASURE = r'''
import asyncio, json, random, statistics, sys, tempfile, time
from datetime import UTC, datetime
from screener.config.watch import ConfigHolder
from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.service.screening import Screener, connect
from screener.store import dnc, keys

CONFIG, SAMPLES, RATE, SECONDS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
AT = datetime(2026, 12, 2, 19, 0, tzinfo=UTC)
AREA = ("201", "212", "305", "312", "415", "512", "617", "702", "808", "907")

def number(rng):
    return f"+1{rng.choice(AREA)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"

def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]

async def main(url):
    client = connect(url, 5.0)
    rng = random.Random(7)
    await dnc.add_numbers(client, "us-national", [number(rng) for _ in range(20_000)], source="bench")
    await client.hset(keys.dnc_meta_key("us-national"), "imported_at", time.time())
    screener = await Screener.create(ConfigHolder(CONFIG), url)
    screener.warm_up()
    rng = random.Random(1)
    for _ in range(300):  # warm the connections, the script cache and every area code's group
        await screener.screen(ScreenRequest(dialed=number(rng), campaign="bench", at=AT, source="bench"))
    await client.config_resetstat()
    seq = []
    for _ in range(SAMPLES):
        t = time.perf_counter()
        await screener.screen(ScreenRequest(dialed=number(rng), campaign="bench", at=AT, source="bench"))
        seq.append((time.perf_counter() - t) * 1e6)
    stats = await client.info("commandstats")
    script_us = stats.get("cmdstat_evalsha", {}).get("usec_per_call", 0.0)
    lat = []

    async def one():
        t = time.perf_counter()
        await screener.screen(ScreenRequest(dialed=number(rng), campaign="bench", at=AT, source="bench"))
        lat.append((time.perf_counter() - t) * 1e6)

    tasks = set()
    start = time.perf_counter()
    for i in range(int(RATE * SECONDS)):
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    while tasks:
        await asyncio.gather(*tasks)
    await screener.aclose()
    await client.aclose()
    print(json.dumps({"seq_p50": statistics.median(seq), "seq_p99": pct(seq, 0.99), "open_p50": statistics.median(lat),
                      "open_p99": pct(lat, 0.99), "script_us": script_us}))

with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(tmp, persist=False) as redis:
    asyncio.run(main(redis.url))
'''


def export_tree(ref: str, into: Path) -> Path:
    """The files of ``ref`` (screener/, bench/, config/), as ``git archive`` gives them."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "screener", "bench", "config"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def measure(tree: Path, args: argparse.Namespace) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, "-c", MEASURE, str(tree / "bench" / "bench.toml"), str(args.samples),
                          str(args.rate), str(args.seconds)], env=env, cwd=tree, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"measuring {tree} failed:\n{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def latency(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = export_tree(args.baseline, Path(tmp))
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "chain": []}
        for i in range(args.rounds):
            for name, tree in (("baseline", base), ("chain", ROOT)):
                runs[name].append(measure(tree, args))
                print(f"round {i + 1} {name}: {json.dumps({k: round(v) for k, v in runs[name][-1].items()})}",
                      file=sys.stderr)
    figures = ("seq_p50", "seq_p99", "open_p50", "open_p99", "script_us")
    labels = {"seq_p50": "decision one at a time, p50 us", "seq_p99": "decision one at a time, p99 us",
              "open_p50": f"open loop at {args.rate}/s, p50 us", "open_p99": f"open loop at {args.rate}/s, p99 us",
              "script_us": "Redis time per decision script (EVALSHA), us"}
    print(f"decision latency, median of {args.rounds} alternating rounds: baseline = {args.baseline}, "
          f"chain = this tree")
    print(f"{'measure':48} {'baseline':>9} {'chain':>9} {'change':>8}")
    for f in figures:
        b = statistics.median(r[f] for r in runs["baseline"])
        c = statistics.median(r[f] for r in runs["chain"])
        print(f"{labels[f]:48} {b:9.0f} {c:9.0f} {100 * (c - b) / b:+7.1f}%")


def archive_throughput(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.audit_archive_load import run_archive_bench

    run_archive_bench(args.archive_entries, args.groups)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="main", help="the git ref to compare with (default main)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5.0, help="open-loop seconds per run")
    ap.add_argument("--rate", type=int, default=1000, help="open-loop decisions per second (default 1000)")
    ap.add_argument("--samples", type=int, default=2000, help="sequential decisions per run")
    ap.add_argument("--archive-entries", type=int, default=200_000, help="0 = skip the archive measurement")
    ap.add_argument("--groups", type=int, default=50, help="group streams the archived entries are spread over")
    ap.add_argument("--skip-latency", action="store_true")
    args = ap.parse_args()
    if not args.skip_latency:
        latency(args)
    if args.archive_entries:
        archive_throughput(args)


if __name__ == "__main__":
    main()
