"""Post-dial delay through a real Asterisk 22, with and without the screening step, at fixed call rates.

    sudo .venv/bin/python bench/sipp_bench.py [--rates 20,50] [--duration 10] [--json results.json]

One run brings up a private redis-server, ``screener serve`` (campaign ``lab``) and the Asterisk sandbox,
and a sipp callee behind the carrier trunk that rings (180) and then answers 486 Busy. For each rate, sipp
places ``rate x duration`` calls, each to a different valid US number, twice:

- **direct**: from 127.0.0.5 into the lab-only context ``[lab-direct]``: ``Dial(PJSIP/<number>@carrier)``;
- **screened**: from 127.0.0.2 (the ``agents`` endpoint) into the shipped ``[screener-outbound]``: FastAGI
  ``screen`` (one Redis round trip, the attempt reserved, the decision audited), then the same Dial.

The measure is sipp's INVITE -> 180 Ringing response time of every call: the post-dial delay the agent
hears before ringback. (INVITE -> 200 is not comparable: on a screened call the 200 waits, by design, for
the disclosure played to the callee.) A call fails when no 180 arrives (a block, a timeout). The table
shows p50/p95/p99 per route and what the screening step adds, from the microsecond timestamps of sipp's
message trace (sipp's own -trace_rtt times are whole milliseconds on a ~4 ms tick).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from screener.embedded_redis import EmbeddedRedis, free_port
from screener.lab import AsteriskSandbox, build_root
from screener.lab.sipp import (
    AGENT_IP,
    ASTERISK_SIP,
    DIRECT_IP,
    SippUas,
    free_udp_port,
    invite_to_status_ms,
    scenario,
    sipp_exe,
)
from screener.lab.stack import ServerProcess, write_config
from screener.numbers import InvalidNumber, normalize

ROUTES = {"direct": DIRECT_IP, "screened": AGENT_IP}
AREA_CODES = ("212", "312", "415", "617", "713", "202", "305", "404", "503", "602", "702", "801", "919")


@dataclass(frozen=True)
class RunResult:
    route: str
    rate: int
    calls: int
    succeeded: int
    failed: int
    #: successful calls per second over the run (first to last call)
    sustained_cps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def numbers(count: int, rng: random.Random, used: set[str]) -> list[str]:
    """``count`` distinct valid US numbers (E.164), none in ``used``."""
    out: list[str] = []
    while len(out) < count:
        candidate = f"+1{rng.choice(AREA_CODES)}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if candidate in used:
            continue
        try:
            normalize(candidate, "US")
        except InvalidNumber:
            continue
        used.add(candidate)
        out.append(candidate)
    return out


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def run_sipp(route: str, rate: int, calls: list[str], workdir: Path) -> RunResult:
    """Place ``calls`` at ``rate`` calls/s from the route's address; read sipp's per-call INVITE->180 times."""
    run = workdir / f"{route}-{rate}cps"
    run.mkdir(parents=True)
    inf = run / "numbers.csv"
    inf.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in calls))
    ip = ROUTES[route]
    duration_s = len(calls) / rate
    args = [sipp_exe(), ASTERISK_SIP, "-sf", str(scenario("uac_pdd.xml")), "-inf", str(inf), "-i", ip,
            "-p", str(free_udp_port(ip)), "-mp", str(free_udp_port(ip)), "-r", str(rate), "-m", str(len(calls)),
            "-nostdin", "-trace_rtt", "-rtt_freq", "1", "-trace_err", "-error_file", str(run / "errors.log"),
            "-trace_msg", "-message_file", str(run / "messages.log"),
            "-timeout", f"{int(duration_s) + 60}s", "-recv_timeout", "10000"]
    proc = subprocess.run(args, cwd=run, capture_output=True, timeout=duration_s + 120, check=False)
    (run / "sipp.out").write_bytes(proc.stdout + proc.stderr)
    # per call: INVITE sent -> 180 received, from sipp's message trace (microsecond timestamps; sipp's own
    # -trace_rtt figures are whole milliseconds on a ~4 ms tick, kept in the work folder as a cross-check)
    times, stamps = invite_to_status_ms(run / "messages.log", 180)
    succeeded = len(times)
    span_s = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
    sustained = (succeeded - 1) / span_s if span_s > 0 else 0.0
    return RunResult(route=route, rate=rate, calls=len(calls), succeeded=succeeded, failed=len(calls) - succeeded,
                     sustained_cps=round(sustained, 1), p50_ms=round(percentile(times, 50), 1),
                     p95_ms=round(percentile(times, 95), 1), p99_ms=round(percentile(times, 99), 1))


def table(results: list[RunResult]) -> str:
    lines = ["| calls/s | route | calls | failed | sustained calls/s | INVITE→180 p50 / p95 / p99 ms |",
             "|---|---|---|---|---|---|"]
    for rate in sorted({r.rate for r in results}):
        by_route = {r.route: r for r in results if r.rate == rate}
        for r in by_route.values():
            lines.append(f"| {rate} | {r.route} | {r.calls} | {r.failed} | {r.sustained_cps:g} | "
                         f"{r.p50_ms:g} / {r.p95_ms:g} / {r.p99_ms:g} |")
        if {"direct", "screened"} <= by_route.keys():
            d, s = by_route["direct"], by_route["screened"]
            lines.append(f"| {rate} | **added by screening** | | | | "
                         f"**{s.p50_ms - d.p50_ms:+g} / {s.p95_ms - d.p95_ms:+g} / {s.p99_ms - d.p99_ms:+g}** |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="20,50", help="comma-separated call rates (calls/s), default 20,50")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate and route (default 10)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (sipp traces, logs)")
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    rng = random.Random(20261128)
    used: set[str] = set()
    work = Path(tempfile.mkdtemp(prefix="screener-sipp-bench-"))
    redis = EmbeddedRedis(work / "redis", persist=False).start()
    port = free_port()
    server = ServerProcess(write_config(work, agi_port=port), redis.url, port, work / "serve.log")
    sandbox = AsteriskSandbox(build_root(), global_vars={"SCREENER_AGI": f"127.0.0.1:{port}"})
    callee = SippUas("uas_ring_busy.xml", work, extra_args=("-recv_timeout", "10000"))
    results: list[RunResult] = []
    try:
        server.start()
        sandbox.start()
        callee.start()
        for route in ROUTES:  # warm-up: sockets, script cache, first-call costs
            run_sipp(route, 10, numbers(20, rng, used), work / "warmup")
        for rate in rates:
            count = max(1, int(rate * args.duration))
            for route in ROUTES:
                result = run_sipp(route, rate, numbers(count, rng, used), work)
                results.append(result)
                print(f"{rate:>4} calls/s {route:<9} {result.succeeded}/{result.calls} ok, "
                      f"p50 {result.p50_ms:g} ms, p95 {result.p95_ms:g} ms, p99 {result.p99_ms:g} ms", flush=True)
                time.sleep(1)
    finally:
        callee.stop()
        sandbox.stop()
        server.stop()
        redis.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work folder: {work}")
    print()
    version = subprocess.run([sipp_exe(), "-v"], capture_output=True, text=True, check=False).stdout.split()
    print(f"sipp {version[1] if len(version) > 1 else '?'} agent -> Asterisk 22 sandbox -> sipp callee (180, then 486);"
          f" {args.duration:g} s per rate and route")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0 if all(r.failed == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
