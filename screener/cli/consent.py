"""``screener consent``: grant, revoke and show consent records (the consent ledger)."""

from __future__ import annotations

import argparse
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from screener.cli.common import load_cli_settings, open_redis, parse_when, redis_url, run_guarded
from screener.service.consent import ConsentLedger

HELP = """\
Record, revoke and show consent: who agreed to be called, for which purpose, where that consent
came from, which consent text they saw, and until when. A campaign that requires consent blocks a
number with no valid record for its purpose (no_consent); a campaign may also let a valid record
exempt a number from a registry list. The internal DNC list always wins over consent.
Every grant and revoke is also appended to the consent history (a stream per area-code tag,
scr:{+1201}:consent:log, in the same step).
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("consent", help="grant, revoke or show consent records",
                                                description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    g = actions.add_parser("grant", help="record a consent")
    _common(g)
    g.add_argument("--source", required=True, metavar="TEXT", help="where the consent came from (form id, call id...)")
    g.add_argument("--expires", metavar="ISO-8601", help="when the consent ends (default: never)")
    g.add_argument("--granted", metavar="ISO-8601", help="when it was given (default: now)")
    g.add_argument("--text-version", default="", metavar="V", help="version of the consent text the person saw")
    g.add_argument("--channel", default="", metavar="C", help="web, phone, sms, paper...")
    g.add_argument("--evidence", default="", metavar="REF", help="pointer to the evidence (a recording id...)")
    g.set_defaults(func=run_guarded(_grant))
    r = actions.add_parser("revoke", help="revoke a consent (from now, or --at)")
    _common(r)
    r.add_argument("--at", metavar="ISO-8601", help="when it was revoked (default: now)")
    r.set_defaults(func=run_guarded(_revoke))
    s = actions.add_parser("show", help="show a number's consent records")
    s.add_argument("number", metavar="NUMBER")
    s.add_argument("--campaign", metavar="NAME", help="campaign whose region reads a national-format NUMBER")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_guarded(_show))


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("number", metavar="NUMBER")
    p.add_argument("--campaign", required=True, metavar="NAME",
                   help="the campaign; its consent purpose and region apply")
    p.add_argument("--purpose", metavar="P", help="consent purpose (default: the campaign's)")


@asynccontextmanager
async def _ledger(args: argparse.Namespace) -> AsyncIterator[ConsentLedger]:
    settings = load_cli_settings(args)
    redis = open_redis(redis_url(args, settings))
    try:
        yield ConsentLedger(redis, settings)
    finally:
        await redis.aclose()


async def _grant(args: argparse.Namespace) -> int:
    granted = parse_when(args.granted, "--granted") if args.granted else None
    expires = parse_when(args.expires, "--expires") if args.expires else None
    async with _ledger(args) as ledger:
        record = await ledger.grant(args.number, args.campaign, source=args.source, purpose=args.purpose,
                                    granted=granted, expires=expires, text_version=args.text_version,
                                    channel=args.channel, evidence=args.evidence)
    until = f" until {_iso(record.expires_ms)}" if record.expires_ms else ""
    print(f"consent granted: {record.number} purpose {record.purpose!r}{until} (source: {record.source})")
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    at = parse_when(args.at, "--at") if args.at else None
    async with _ledger(args) as ledger:
        record = await ledger.revoke(args.number, args.campaign, purpose=args.purpose, at=at)
    print(f"consent revoked: {record.number} purpose {record.purpose!r} at {_iso(record.revoked_ms)}")
    return 0


async def _show(args: argparse.Namespace) -> int:
    async with _ledger(args) as ledger:
        found = await ledger.show(args.number, args.campaign)
    if args.json:
        print(json.dumps([asdict(r) for r in found.records]))
        return 0
    if not found.records:
        print(f"no consent records for {found.number}")
        return 1
    for r in found.records:
        print(f"{r.number}  purpose {r.purpose!r}  {found.state(r)}  source {r.source!r}  campaign {r.campaign!r}  "
              f"granted {_iso(r.granted_ms)}  expires {_iso(r.expires_ms) or 'never'}"
              + (f"  revoked {_iso(r.revoked_ms)}" if r.revoked_ms else ""))
    return 0


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") if ms else ""
