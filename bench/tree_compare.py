"""Tree comparison: decision_bench.py's "one decision at a time" figures of this tree against a baseline revision.

    .venv/bin/python bench/tree_compare.py [--baseline 6cb9b0e] [--this REV] [--rounds 3] [--samples 3000]

``--this REV`` measures that revision (exported the same way, run with the baseline's options: a revision from
before --only-sequential) instead of this working tree. The baseline revision is exported with
`git archive REV | tar -x` into a temporary folder. Each round runs
each tree's OWN bench/decision_bench.py (its own `screener` package: PYTHONPATH = that tree, cwd = that tree,
this repository's interpreter), alternating baseline, this tree, baseline, this tree..., each run in a fresh
process with its own private redis-server. The later phases of decision_bench are kept short: this tree's
runs with --only-sequential; the baseline's (it has only --seconds --rate --concurrency --processes
--samples) with a short open loop and one closed-loop process.

Parsed from each run: the "bare Redis round trip (GET, redis-py asyncio)" row (p50) and the "screener
decision, one at a time" row (p50, p99). Printed: per tree the median over rounds of the bare GET p50, the
decision p50 and p99, the decision p50 / bare p50, and this tree's change against the baseline in %.

Mind the method: this tree's decision_bench interleaves bare GETs and decisions (and warms up with 200 of
each first); the baseline's measures all bare GETs, then all decisions, without a warm-up. The ratio to
the bare GET of the same run is the fairer figure of the two.

No timing is asserted anywhere; this prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

BARE_LABEL = "bare Redis round trip (GET, redis-py asyncio)"
DECISION_LABEL = "screener decision, one at a time"
#: options that keep the phases after "one at a time" short, per tree: the baseline's decision_bench has only
#: --seconds --rate --concurrency --processes --samples; this tree's stops after phase 2 with --only-sequential
BASELINE_OPTIONS = ["--seconds", "0.5", "--rate", "200", "--processes", "1"]
THIS_OPTIONS = ["--only-sequential"]


def export_tree(rev: str, into: Path) -> Path:
    """The files of ``rev``, as ``git archive`` gives them."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def tree_env(tree: Path) -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(tree))


def check_imports_own(tree: Path) -> None:
    """Fail unless ``screener`` imported as decision_bench runs (PYTHONPATH, cwd = tree) is the tree's own."""
    out = subprocess.run([sys.executable, "-c", "import screener; print(screener.__file__)"], env=tree_env(tree),
                         cwd=tree, capture_output=True, text=True, check=True).stdout.strip()
    print(f"{tree}: imports screener from {out}", file=sys.stderr)
    if not Path(out).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"{tree} imports another tree's screener: {out}")


def row(output: str, label: str) -> tuple[float, float]:
    """(p50, p99) of the row of decision_bench's table whose label is ``label``."""
    for line in output.splitlines():
        if line.startswith(label):
            p50, p99 = line[len(label):].split()[:2]
            return float(p50), float(p99)
    raise SystemExit(f"no row {label!r} in decision_bench's output:\n{output}")


def measure(tree: Path, options: list[str], samples: int) -> dict[str, float]:
    """One run of the tree's own decision_bench.py: bare GET p50, decision p50 and p99 (microseconds)."""
    out = subprocess.run([sys.executable, str(tree / "bench" / "decision_bench.py"), "--samples", str(samples),
                          *options], env=tree_env(tree), cwd=tree, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"decision_bench of {tree} failed:\n{out.stdout}\n{out.stderr}")
    bare50, _ = row(out.stdout, BARE_LABEL)
    dec50, dec99 = row(out.stdout, DECISION_LABEL)
    return {"bare_p50": bare50, "dec_p50": dec50, "dec_p99": dec99, "ratio": dec50 / bare50}


FIGURES = {"bare_p50": "bare GET p50 us (redis-py asyncio)", "dec_p50": "decision one at a time, p50 us",
           "dec_p99": "decision one at a time, p99 us", "ratio": "decision p50 / bare GET p50"}


def report(runs: dict[str, list[dict[str, float]]], baseline: str, this: str, rounds: int) -> None:
    print(f"decision_bench one at a time, median of {rounds} alternating round(s): baseline = {baseline}, "
          f"this = {this}")
    print(f"{'measure':40} {'baseline':>9} {'this':>9} {'change':>8}")
    for key, label in FIGURES.items():
        b = statistics.median(r[key] for r in runs["baseline"])
        t = statistics.median(r[key] for r in runs["this"])
        digits = 2 if key == "ratio" else 0
        print(f"{label:40} {b:9.{digits}f} {t:9.{digits}f} {100 * (t - b) / b:+7.1f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", default="6cb9b0e", help="the git revision to compare with (default 6cb9b0e)")
    ap.add_argument("--this", metavar="REV", help="measure this revision instead of the working tree (its "
                    "decision_bench run with the baseline's options)")
    ap.add_argument("--rounds", type=int, default=3, help="runs of each tree, alternating (default 3)")
    ap.add_argument("--samples", type=int, default=3000, help="decision_bench --samples of each run (default 3000)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = export_tree(args.baseline, Path(tmp) / "baseline")
        this = (export_tree(args.this, Path(tmp) / "this"), BASELINE_OPTIONS) if args.this else (ROOT, THIS_OPTIONS)
        trees = (("baseline", base, BASELINE_OPTIONS), ("this", *this))
        for _, tree, _ in trees:
            check_imports_own(tree)
        runs: dict[str, list[dict[str, float]]] = {"baseline": [], "this": []}
        for i in range(args.rounds):
            for name, tree, options in trees:
                runs[name].append(measure(tree, options, args.samples))
                figures = ", ".join(f"{k} {v:.2f}" if k == "ratio" else f"{k} {v:.0f}"
                                    for k, v in runs[name][-1].items())
                print(f"round {i + 1} {name}: {figures}", file=sys.stderr)
    report(runs, args.baseline, args.this or str(ROOT), args.rounds)


if __name__ == "__main__":
    main()
