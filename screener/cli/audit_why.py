"""``screener audit why NUMBER``: every decision about a number with its inputs and every rule's outcome."""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from screener.cli.common import UsageError, load_cli_settings, parse_when, run_guarded
from screener.config.paths import archive_dir

HELP = """\
Answer "why was this number called, or not, on that day": every decision about the number (archive and
Redis as one trail), each with its inputs (as dialed, normalized, campaign, agent, trunk, caller ID), its
reasons, and every rule's outcome, those that passed included: the DNC lists checked and their versions,
the consent record used or missing, the local time in each of the number's zones against the calling
windows, the attempt counts against each limit; the config version that decided (print it with `screener
config show VERSION`), the disclosure's timing, opt-outs, consent changes and complaints.
"""


def add_actions(actions: Any) -> None:
    w = actions.add_parser("why", help="why a number was called or not: every decision, every rule",
                           description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    w.add_argument("number", metavar="NUMBER")
    w.add_argument("--region", default="US", help="region for a national-format NUMBER (default US)")
    w.add_argument("--on", metavar="YYYY-MM-DD", help="that day in the number's (first) time zone")
    w.add_argument("--since", metavar="ISO-8601", help="from this time")
    w.add_argument("--until", metavar="ISO-8601", help="up to this time")
    w.add_argument("--json", action="store_true", help="one JSON object")
    w.set_defaults(func=run_guarded(_why))


def _day_bounds(day_text: str, number: str, region: str) -> tuple[datetime, datetime]:
    from screener.service.audit_why import first_zone

    try:
        day = date.fromisoformat(day_text)
    except ValueError:
        raise UsageError(f"--on {day_text!r} is not a date such as 2026-12-02") from None
    zone = ZoneInfo(first_zone(number, region) or "UTC")
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    return start, start + timedelta(days=1) - timedelta(milliseconds=1)


async def _why(args: argparse.Namespace) -> int:
    from screener.cli.audit import trail_of
    from screener.service.audit_why import why

    if args.on and (args.since or args.until):
        raise UsageError("--on DATE or --since/--until, not both")
    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until") if args.until else None
    if args.on:
        since, until = _day_bounds(args.on, args.number, args.region)
    settings = load_cli_settings(args)
    async with trail_of(args) as trail:
        report = await why(trail, args.number, region=args.region, archive_dir=archive_dir(settings), since=since,
                           until=until)
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    else:
        print("\n".join(report.lines()))
    return 0
