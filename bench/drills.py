"""Fault drills under a steady FastAGI load: one table (the README's).

    .venv/bin/python bench/drills.py [--rate 20] [--only NAME-PART ...]

Each drill starts its own Redis topology (a primary with a replica, a Sentinel-watched primary with two
replicas, or a 3-master Cluster with a replica each) and a real ``screener serve`` (``durability =
"replica"``, a 150 ms time budget), puts a fake Asterisk peer's calls on it (``--rate`` calls/s, a quarter of
the allowed ones opting out during the disclosure, some redialing numbers that must be blocked), injects one
fault and keeps calling until the calls are allowed again. The ARI drill runs the Stasis application on a
fake Asterisk ARI (screener/lab/fake_ari.py) at up to 10 calls/s and drops its events WebSocket mid-call.

Columns: calls, answered by the screener, blocked as screening_unavailable, blocked by the dialplan because
the screener was not there, hung (no answer within the dialplan's 3 s guard), allowed wrongly, opt-outs
acknowledged to the callee, of those lost, and seconds from the fault to the calls being allowed again for
good. Nothing is asserted here (tests/lab/test_drills.py asserts the zeros); the machine's load average is
printed with the table.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screener.lab.drills import ARI_DRILL, DRILLS, DrillResult, run_ari_drill, run_drill, table  # noqa: E402


def _wanted(name: str, only: list[str]) -> bool:
    return not only or any(part.lower() in name.lower() for part in only)


async def main_async(rate: float, only: list[str]) -> list[DrillResult]:
    results = []
    for drill in DRILLS:
        if _wanted(drill.name, only):
            print(f"running: {drill.name} ...", file=sys.stderr, flush=True)
            results.append(await run_drill(drill, rate=rate))
    if _wanted(ARI_DRILL, only):
        print(f"running: {ARI_DRILL} ...", file=sys.stderr, flush=True)
        results.append(await run_ari_drill(rate=min(rate, 10.0)))
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=20.0, help="calls per second (default 20)")
    ap.add_argument("--only", nargs="*", default=[], help="run only the drills whose name contains one of these")
    args = ap.parse_args()
    before = os.getloadavg()
    results = asyncio.run(main_async(args.rate, args.only))
    after = os.getloadavg()
    print(table(results))
    print(f"\nload average (1, 5, 15 min): before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
          f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}")


if __name__ == "__main__":
    main()
