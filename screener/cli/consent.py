"""``screener consent``: grant, revoke and show consent records (the consent ledger)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from screener.cli.common import UsageError, load_cli_settings, open_redis, parse_when, redis_url, run_guarded
from screener.config.settings import Campaign, Settings
from screener.numbers import InvalidNumber, normalize
from screener.store import consent

HELP = """\
Record, revoke and show consent: who agreed to be called, for which purpose, where that consent
came from, which consent text they saw, and until when. A campaign that requires consent blocks a
number with no valid record for its purpose (no_consent); a campaign may also let a valid record
exempt a number from a registry list. The internal DNC list always wins over consent.
Every grant and revoke is also appended to the consent history (stream scr:consent:log).
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


def _campaign(settings: Settings, name: str) -> Campaign:
    campaign = settings.campaigns.get(name)
    if campaign is None:
        raise UsageError(f"unknown campaign {name!r} (known: {', '.join(sorted(settings.campaigns))})")
    return campaign


def _number(raw: str, region: str) -> str:
    try:
        return normalize(raw, region).e164
    except InvalidNumber as exc:
        raise UsageError(f"invalid number {raw!r}: {exc.reason}") from None


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


async def _grant(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    campaign = _campaign(settings, args.campaign)
    granted = parse_when(args.granted, "--granted") if args.granted else datetime.now(UTC)
    expires = parse_when(args.expires, "--expires") if args.expires else None
    if expires is not None and expires <= granted:
        raise UsageError(f"--expires {args.expires} is not after the grant time {granted.isoformat()}")
    record = consent.ConsentRecord(
        number=_number(args.number, campaign.region), purpose=args.purpose or campaign.consent_purpose,
        source=args.source, campaign=campaign.name, text_version=args.text_version, channel=args.channel,
        evidence=args.evidence, granted_ms=_ms(granted), expires_ms=_ms(expires) if expires else 0,
    )
    redis = open_redis(redis_url(args, settings))
    try:
        await consent.grant(redis, record)
    finally:
        await redis.aclose()
    until = f" until {expires.isoformat()}" if expires else ""
    print(f"consent granted: {record.number} purpose {record.purpose!r}{until} (source: {record.source})")
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    campaign = _campaign(settings, args.campaign)
    number = _number(args.number, campaign.region)
    at = parse_when(args.at, "--at") if args.at else datetime.now(UTC)
    redis = open_redis(redis_url(args, settings))
    try:
        record = await consent.revoke(redis, number, args.purpose or campaign.consent_purpose, _ms(at))
    except consent.ConsentNotFound as exc:
        raise UsageError(str(exc)) from None
    finally:
        await redis.aclose()
    print(f"consent revoked: {record.number} purpose {record.purpose!r} at {at.isoformat()}")
    return 0


async def _show(args: argparse.Namespace) -> int:
    settings = load_cli_settings(args)
    region = _campaign(settings, args.campaign).region if args.campaign else "US"
    number = _number(args.number, region)
    redis = open_redis(redis_url(args, settings))
    try:
        found = await consent.records(redis, number)
    finally:
        await redis.aclose()
    if args.json:
        print(json.dumps([asdict(r) for r in found]))
        return 0
    if not found:
        print(f"no consent records for {number}")
        return 1
    now = _ms(datetime.now(UTC))
    for r in found:
        state = "valid" if r.valid_at(now) else ("revoked" if r.revoked_ms else "not valid now")
        print(f"{r.number}  purpose {r.purpose!r}  {state}  source {r.source!r}  campaign {r.campaign!r}  "
              f"granted {_iso(r.granted_ms)}  expires {_iso(r.expires_ms) or 'never'}"
              + (f"  revoked {_iso(r.revoked_ms)}" if r.revoked_ms else ""))
    return 0


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") if ms else ""
