"""``screener check``: decide one call (a dry run unless --commit) and explain the decision."""

from __future__ import annotations

import argparse
import json
from typing import Any

from screener.cli.common import UsageError, open_screener, parse_when, run_guarded
from screener.decision import Decision, ScreenRequest
from screener.numbers import mask

HELP = """\
Decide whether a call to NUMBER may be placed for a campaign, with every reason that applies.

By default this is a dry run: it reads Redis and changes nothing but the audit trail (the entry is
marked dry_run). --commit reserves the attempt as a live call would (it then counts toward the
number's frequency limits and the campaign's rate).

--commit cannot be combined with --at, whatever the time: a committed attempt is a live entry made
now, and recording it at another time (past or future) would put a call into the frequency windows
and the audit trail at a time it was not made. Use --at for dry runs only.

exit status: 0 allow, 1 block, 2 usage or config error
"""

EXAMPLES = """\
examples:
  screener check +12025550123 --campaign us-sales
  screener check "(202) 555-0123" --campaign us-sales --at 2026-12-01T22:30:00-05:00
  screener check 13800138000 --campaign cn-service --json
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "check", help="decide one call (dry run by default)", description=HELP, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("number", metavar="NUMBER", help="the dialed number: E.164 (+12025550123) or national format")
    p.add_argument("--campaign", required=True, metavar="NAME", help="the campaign placing the call")
    p.add_argument("--at", metavar="ISO-8601", help="decision time with a UTC offset (default: now); "
                   "used by every rule, frequency windows included; dry runs only (not with --commit)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--commit", action="store_true",
                   help="reserve the attempt now, as a live call would (not with --at)")
    p.set_defaults(func=run_guarded(_check))


async def _check(args: argparse.Namespace) -> int:
    if args.commit and args.at:
        raise UsageError("--commit cannot be used with --at: a committed attempt is a live entry made now, never "
                         "at another time (use --at for a dry run, or --commit without --at)")
    at = parse_when(args.at, "--at") if args.at else None
    screener = await open_screener(args)
    try:
        decision = await screener.screen(ScreenRequest(dialed=args.number, campaign=args.campaign, at=at,
                                                       commit=args.commit, source="cli"))
    finally:
        await screener.aclose()
    print(json.dumps(decision.to_json(), ensure_ascii=False) if args.json else render(decision))
    return 0 if decision.allowed else 1


def render(decision: Decision) -> str:
    mode = "dry run" if decision.dry_run else "committed"
    lines = [f"{decision.verdict.value.upper()}  {mask(decision.number)}  campaign {decision.campaign}  "
             f"({mode}, {decision.decided_at.isoformat(timespec='seconds')}, config {decision.config_version})"]
    lines += [f"  - {r.code.value}: {r.detail}" if r.detail else f"  - {r.code.value}" for r in decision.reasons]
    if decision.allowed and decision.caller_id:
        name = f" ({decision.caller_id_name})" if decision.caller_id_name else ""
        lines.append(f"  caller ID to present: {decision.caller_id}{name}")
    if decision.disclosure is not None:
        d = decision.disclosure
        lines.append(f"  disclosure on answer: {d.prompt} ({d.language}); opt-out digit {d.opt_out_digit}, "
                     f"then {d.optout_prompt}")
    if decision.attempt_id:
        lines.append(f"  attempt reserved: {decision.attempt_id}")
    return "\n".join(lines)
