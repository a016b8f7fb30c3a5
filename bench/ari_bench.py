"""Post-dial delay through a real Asterisk 22 with sipp: no screening, FastAGI mode and ARI mode, side by side.

    .venv/bin/python bench/ari_bench.py [--rates 10,20,50] [--duration 10] [--modes direct,fastagi,ari]

One Asterisk sandbox (the cached root; 127.0.0.1:5060 must be free), one redis-server, one callee (sipp UAS
behind the carrier trunk that rings and answers 486 Busy, so no disclosure plays) and, for each rate and
mode, one sipp UAC run at that call rate for ``--duration`` seconds, each call to a different number:

- ``direct``: the lab-only endpoint at 127.0.0.5, ``Dial(PJSIP/...@carrier)`` with no screening (baseline);
- ``fastagi``: agents (127.0.0.2) into the shipped ``[screener-outbound]``: ``screener serve`` (a
  subprocess) screens over FastAGI, then ``Dial``;
- ``ari``: agents-ari (127.0.0.6) into the shipped ``[screener-outbound-ari]``: the Stasis application (in
  this process, a real Screener on the same Redis) screens, creates and dials the callee leg.

Measure: INVITE -> the agent's final 486, i.e. screening plus the dial plus the carrier's answer, per call
from the microsecond timestamps of sipp's message trace; p50/p95/p99 in ms, the completed calls per second
(first to last call) and the failed calls (no 486: a block, a timeout). INVITE -> 180 (bench/sipp_bench.py's
measure) is not used here: in ARI mode the agent's 180 is the application's own ring, sent before the callee
is dialed, so it would flatter ARI mode.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from screener.embedded_redis import EmbeddedRedis, free_port  # noqa: E402
from screener.lab import AsteriskSandbox, build_root, sipp  # noqa: E402
from screener.lab.sipp import SippUas, free_udp_port, invite_to_status_ms, sipp_exe  # noqa: E402
from screener.lab.stack import ServerProcess, write_config  # noqa: E402
from tests.ari import lab as ari_lab  # noqa: E402
from tests.ari.lab import AppThread, install_ari  # noqa: E402

SCENARIO = Path(__file__).resolve().parent / "ari_bench_uac.xml"
APP = "screener-bench"


@dataclass(frozen=True)
class Result:
    mode: str
    rate: int
    offered: int
    completed: int
    failed: int
    p50: float
    p95: float
    p99: float
    cps: float


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def run_sipp(mode: str, ip: str, rate: int, duration_s: int, first_number: int, workdir: Path) -> Result:
    run = workdir / f"{mode}-{rate}"
    run.mkdir(parents=True)
    calls = rate * duration_s
    numbers = run / "numbers.csv"
    numbers.write_text("SEQUENTIAL\n" + "".join(f"1212{first_number + i:07d};\n" for i in range(calls)))
    args = [sipp_exe(), sipp.ASTERISK_SIP, "-sf", str(SCENARIO), "-inf", str(numbers), "-i", ip,
            "-p", str(free_udp_port(ip)), "-mp", str(free_udp_port(ip)), "-r", str(rate), "-m", str(calls),
            "-l", str(max(50, rate * 5)), "-nostdin", "-timeout", f"{duration_s + 60}s", "-timeout_error",
            "-recv_timeout", "20000", "-trace_rtt", "-rtt_freq", "1", "-trace_err",
            "-trace_msg", "-message_file", str(run / "messages.log")]
    started = time.monotonic()
    proc = subprocess.run(args, cwd=run, capture_output=True, timeout=duration_s + 120, check=False)
    elapsed = time.monotonic() - started
    (run / "sipp.out").write_bytes(proc.stdout + proc.stderr)
    # per call: INVITE sent -> 486 received, from sipp's message trace (microsecond timestamps; sipp's own
    # -trace_rtt figures are whole milliseconds on a ~4 ms tick, kept in the run folder as a cross-check)
    times, stamps = invite_to_status_ms(run / "messages.log", 486)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else elapsed
    cps = (len(stamps) - 1) / span if span > 0 and len(stamps) > 1 else 0.0
    return Result(mode, rate, calls, len(times), calls - len(times), pct(times, 50), pct(times, 95), pct(times, 99),
                  cps)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="10,20,50")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--modes", default="direct,fastagi,ari")
    parser.add_argument("--root", type=Path, default=None, help="the Asterisk root (default: the cached one)")
    parser.add_argument("--workdir", type=Path, default=None, help="keep the sipp traces there (default: a temp dir)")
    args = parser.parse_args(argv)
    rates = [int(r) for r in args.rates.split(",")]
    modes = args.modes.split(",")
    ips = {"direct": sipp.DIRECT_IP, "fastagi": sipp.AGENT_IP, "ari": ari_lab.ARI_AGENT_IP}
    root = args.root or build_root()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="ari-bench-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        redis = EmbeddedRedis(work / "redis", persist=False).start()
        agi_port = free_port()
        config = write_config(work, agi_port=agi_port)
        box = AsteriskSandbox(root, global_vars={"SCREENER_AGI": f"127.0.0.1:{agi_port}"})
        server = None
        try:
            box.start()
            install_ari(box)
            box.set_global("SCREENER_ARI_APPS", APP)
            server = ServerProcess(config, redis.url, agi_port, work / "serve.log").start()
            with AppThread(config, redis.url) as ari, \
                    SippUas("uas_ring_busy.xml", work, ip=sipp.CARRIER_IP, extra_args=("-aa",)):
                ari.start_app(APP)
                number = 5550000
                for rate in rates:
                    for mode in modes:
                        result = run_sipp(mode, ips[mode], rate, args.duration, number, work)
                        number += result.offered
                        results.append(result)
                        print(f"{mode:8} {rate:4}/s: {result.completed}/{result.offered} calls, p50 {result.p50:.1f}"
                              f" p95 {result.p95:.1f} p99 {result.p99:.1f} ms, {result.cps:.1f} calls/s", flush=True)
                        time.sleep(1)
        finally:
            if server is not None:
                server.stop()
            box.stop()
            redis.stop()
    print()
    print("| calls/s offered | mode | completed / offered | failed | PDD p50 / p95 / p99 ms | calls/s sustained |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r.rate} | {r.mode} | {r.completed} / {r.offered} | {r.failed} | "
              f"{r.p50:.1f} / {r.p95:.1f} / {r.p99:.1f} | {r.cps:.1f} |")
    by = {(r.mode, r.rate): r for r in results}
    for rate in rates:
        base = by.get(("direct", rate))
        for mode in ("fastagi", "ari"):
            r = by.get((mode, rate))
            if base and r and r.completed:
                print(f"added by {mode} at {rate}/s: p50 {r.p50 - base.p50:+.1f} ms, p95 {r.p95 - base.p95:+.1f} ms,"
                      f" p99 {r.p99 - base.p99:+.1f} ms")
    return 0 if all(r.failed == 0 for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
