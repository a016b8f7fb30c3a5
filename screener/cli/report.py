"""``screener report``: compliance reports read from Redis (abandoned calls)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from screener.cli.common import load_cli_settings, redis_url, run_guarded
from screener.engine.text import format_duration
from screener.service.abandonment import abandonment_report
from screener.service.connection import open_redis

HELP = """\
Compliance reports.

abandonment: per campaign, the calls the callee answered and the calls abandoned among them (not connected
to an agent within the policy's connect_within, 2 s by default, of the end of the disclosure) over the
policy's rolling window, the rate against the policy's limit (TSR: 3 % per 30 days in the us preset) and
what the campaign's calls get over it (block: abandonment_limit; warn: a log line). Exit status 1 when a
campaign is over its limit, so monitoring can run it.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("report", help="compliance reports (abandoned calls)",
                                                description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    reports = p.add_subparsers(dest="report", metavar="REPORT", required=True)
    a = reports.add_parser("abandonment", help="abandoned calls per campaign against the policy's limit")
    a.add_argument("--campaign", metavar="NAME", help="only this campaign")
    a.add_argument("--json", action="store_true", help="one JSON array")
    a.set_defaults(func=run_guarded(_abandonment))


async def _abandonment(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    redis = open_redis(redis_url(args, settings))
    try:
        rows = await abandonment_report(redis, settings, args.campaign)
    finally:
        await redis.aclose()
    if args.json:
        print(json.dumps([r.to_json() for r in rows], ensure_ascii=False))
    else:
        print(f"{'campaign':<20} {'window':>6} {'answered':>9} {'abandoned':>9} {'rate':>7} {'limit':>6}  status")
        for r in rows:
            limit = "-" if r.limit_percent is None else f"{r.limit_percent:g} %"
            status = (f"OVER ({r.action})" if r.over_limit else "ok") + (
                f", lock-out {format_duration(r.lockout_s)}" if r.lockout_s else "")
            print(f"{r.campaign:<20} {format_duration(r.window_s):>6} {r.answered:>9} {r.abandoned:>9} "
                  f"{r.rate_percent:>6.1f}% {limit:>6}  {status}")
    return 1 if any(r.over_limit for r in rows) else 0
