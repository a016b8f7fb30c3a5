"""CLI start-up benchmark: wall time of ``screener --help`` and of a ``screener check`` dry run, beside
``python -c pass`` (the interpreter's own start-up, the floor) measured in the same run.

    .venv/bin/python bench/cli_bench.py [--runs 15] [--config config/screener.toml] [--campaign lab]

Each command runs ``--runs`` times as a fresh process, interleaved (pass, help, check, pass, ...) so that
load on the machine hits all three alike; the table shows the median and the best run of each, and each
median as a ratio to ``python -c pass``. ``check`` is a dry run against a private redis-server the bench
starts (and stops) on loopback, so only the audit trail of that private Redis changes.

The commands run as an installed package does: with compiled bytecode (.pyc) cached, here under a temporary
PYTHONPYCACHEPREFIX (the tree stays clean; PYTHONDONTWRITEBYTECODE is dropped for the children). With
``--no-bytecode`` every run compiles the screener's own modules from source instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from screener.embedded_redis import EmbeddedRedis

REPO = Path(__file__).resolve().parents[1]


def screener_command() -> list[str]:
    """The ``screener`` console script next to this interpreter (what a user runs)."""
    exe = Path(sys.executable).parent / "screener"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "screener"]


def wall_s(command: list[str], expect: tuple[int, ...], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=env,
                          check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in expect:
        raise SystemExit(f"{' '.join(command)} exited {proc.returncode}:\n{proc.stderr.decode(errors='replace')}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--config", default=str(REPO / "config" / "screener.toml"))
    parser.add_argument("--campaign", default="lab")
    parser.add_argument("--number", default="+12025550123")
    parser.add_argument("--no-bytecode", action="store_true", help="compile from source on every run")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cli-bench-") as tmp, EmbeddedRedis(Path(tmp), persist=False) as redis:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCREENER_")}
        if args.no_bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        else:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], (0,)),
            "screener --help": ([*screener_command(), "--help"], (0,)),
            "screener check (dry run)": ([*screener_command(), "--config", args.config, "--redis", redis.url,
                                          "check", args.number, "--campaign", args.campaign], (0, 1)),
        }
        for command, expect in commands.values():  # warm the page cache and the .pyc files; not counted
            wall_s(command, expect, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, expect) in commands.items():
                times[name].append(wall_s(command, expect, env))

    base = statistics.median(times["python -c pass"])
    cache = "compiled from source every run" if args.no_bytecode else "bytecode cached"
    print(f"{args.runs} runs each, interleaved; python {sys.version.split()[0]}, {cache}; "
          f"check: {args.number} --campaign {args.campaign}")
    print(f"{'command':<26} {'median':>9} {'best':>9} {'vs python -c pass':>18}")
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:<26} {median * 1000:>6.0f} ms {min(runs) * 1000:>6.0f} ms {median / base:>17.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
