"""``screener audit``: read the audit trail (tail, follow, export for auditors, why), check its hash chain
(verify, checkpoint) and move old entries to the archive (archive)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, tzinfo
from typing import IO, Any

from screener.cli.common import UsageError, load_cli_settings, parse_when, redis_url, run_guarded
from screener.config.paths import archive_dir
from screener.service import audit
from screener.service.audit import AuditTrail
from screener.service.audit_export import FORMATS, export_chunks, in_zone
from screener.service.connection import open_client

HELP = """\
Every decision (live or dry run), opt-out, disclosure, consent change and admin action is appended to
the audit trail with its time, the masked number and a keyed hash of it (never the number itself), the
campaign, the verdict, every reason and the config version that made it. Each entry carries the
SHA-256 of the one before it and its own content (one chain per number group): `verify` proves nothing
was altered, deleted, inserted or reordered, `checkpoint` exports the chain heads to keep elsewhere.
Entries leave Redis only into the archive's segment files (`archive`, and `screener serve` hourly);
`tail`, `export`, `why` and `verify` read archive and Redis as one trail.
"""

TZ_HELP = "time zone of the times printed: UTC (default), local (this machine's) or a zone name such as " \
          "America/New_York; one zone for the whole output"


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("audit", help="read and export the audit trail", description=HELP,
                                                formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    t = actions.add_parser("tail", help="the latest entries")
    t.add_argument("-n", "--count", type=int, default=20, help="how many (default 20)")
    t.add_argument("-f", "--follow", action="store_true", help="keep printing new entries (Ctrl-C stops)")
    t.add_argument("--number", metavar="NUMBER", help="only this number's entries")
    t.add_argument("--region", default="US", help="region for a national-format --number (default US)")
    t.add_argument("--json", action="store_true", help="one JSON object per line")
    t.add_argument("--tz", default="UTC", metavar="ZONE", help=TZ_HELP)
    t.set_defaults(func=run_guarded(_tail))
    e = actions.add_parser("export", help="export entries for an auditor (JSON lines or CSV)")
    e.add_argument("--since", metavar="ISO-8601", help="from this time (default: the oldest entry)")
    e.add_argument("--until", metavar="ISO-8601", help="up to this time (default: now)")
    e.add_argument("--number", metavar="NUMBER", help="only this number's entries")
    e.add_argument("--region", default="US", help="region for a national-format --number (default US)")
    e.add_argument("--campaign", metavar="NAME", help="only this campaign's entries")
    e.add_argument("--format", choices=FORMATS, default="jsonl")
    e.add_argument("-o", "--out", metavar="FILE", help="write to FILE (default: standard output)")
    e.add_argument("--tz", default="UTC", metavar="ZONE", help=TZ_HELP)
    e.set_defaults(func=run_guarded(_export))
    from screener.cli import audit_chain, audit_why

    audit_why.add_actions(actions)
    audit_chain.add_actions(actions)


def entry_line(entry: audit.AuditEntry) -> str:
    """One entry as one human line (``audit tail``, ``complaint show``)."""
    f = entry.fields
    if entry.kind == audit.DECISION:
        reasons = ", ".join(c for c, _ in entry.reasons) or "-"
        mode = " dry-run" if f.get("mode") == "dry_run" else ""
        return (f"{f.get('at', '')}  {(entry.verdict or '?').upper():5}  {f.get('number', '')}  {f.get('campaign', '')}"
                f"  [{reasons}]{mode}  config {f.get('config_version', '')}")
    if entry.kind == audit.DNC_CHANGE:
        number = f"  {f['number']}" if f.get("number") else f"  prefix {f['prefix']}" if f.get("prefix") else ""
        reason = f"  reason: {f['reason']}" if f.get("reason") else ""
        versions = f"version {f.get('version_before', '?')} -> {f.get('version_after', '?')}"
        return (f"{f.get('at', '')}  DNC    {f.get('action', '?')} list {f.get('list', '?')}{number}"
                f"  +{f.get('added', 0)} -{f.get('removed', 0)}  {versions}  by {f.get('actor', '?')}"
                f"  source {f.get('source', '')!r}{reason}")
    if entry.kind == audit.DISCLOSURE:
        return (f"{f.get('at', '')}  DISCL  {f.get('number', '')}  {f.get('campaign', '')}  answer->prompt "
                f"{f.get('answer_to_prompt_ms', '?')} ms, finished={f.get('prompt_finished')}, "
                f"opted_out={f.get('opted_out')}")
    if entry.kind == audit.CALL_OUTCOME:
        return (f"{f.get('at', '')}  CALL   {f.get('number', '')}  {f.get('campaign', '')}  {f.get('outcome', '')}"
                f"{' (abandoned)' if f.get('abandoned') == '1' else ''}")
    if entry.kind == audit.COMPLAINT:
        return (f"{f.get('at', '')}  COMPL  {f.get('number', '')}  {f.get('ticket', '')} {f.get('action', '')}  "
                f"{f.get('complaint_source', '')} {f.get('ref', '')}".rstrip())
    return (f"{f.get('at', '')}  {entry.kind.upper()}  {f.get('number', '')}  {f.get('campaign', '')}  "
            f"{f.get('source', '')}")


def _zone(name: str) -> tzinfo | None:
    """--tz: UTC, local (None: the machine's zone) or an IANA zone name."""
    if name.upper() in ("UTC", "Z"):
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if name == "local":
        # the TZ variable, when it names a zone (read with the bundled tz data, so it works on a machine
        # without the system's zoneinfo files), else the machine's own zone
        named = os.environ.get("TZ", "").lstrip(":")
        try:
            return ZoneInfo(named) if named else None
        except (ZoneInfoNotFoundError, ValueError):
            return None

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"--tz {name!r}: not a time zone (UTC, local, or a name such as America/New_York)") from None


@asynccontextmanager
async def trail_of(args: argparse.Namespace) -> AsyncIterator[AuditTrail]:
    """The trail (Redis and the archive of ``[audit] archive_dir``) of the command's config."""
    settings = load_cli_settings(args)
    redis = open_client(redis_url(args, settings))
    try:
        yield AuditTrail(redis, settings.audit_salt.value, archive_dir(settings))
    finally:
        await redis.aclose()


async def _tail(args: argparse.Namespace) -> int:
    zone = _zone(args.tz)

    def show(entry: audit.AuditEntry) -> None:
        entry = in_zone(entry, zone)
        print(json.dumps(entry.to_json(), ensure_ascii=False) if args.json else entry_line(entry), flush=True)

    async with trail_of(args) as trail:
        wanted = trail.number_filter(args.number, args.region) if args.number else None
        entries = await trail.tail(args.count, number=args.number, region=args.region)
        for entry in entries:
            show(entry)
        if args.follow:
            async for entry in trail.follow():
                if wanted is None or wanted.matches(entry):
                    show(entry)
    return 0


async def _export(args: argparse.Namespace) -> int:
    since = parse_when(args.since, "--since") if args.since else None
    until = parse_when(args.until, "--until") if args.until else None
    zone = _zone(args.tz)
    count = 0
    async with trail_of(args) as trail:
        entries = trail.entries(since=since, until=until, number=args.number, region=args.region,
                                campaign=args.campaign)

        async def counted() -> AsyncIterator[audit.AuditEntry]:
            nonlocal count
            async for entry in entries:
                count += 1
                yield in_zone(entry, zone)

        out: IO[str] = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
        try:
            async for chunk in export_chunks(counted(), args.format):
                out.write(chunk)
        finally:
            if args.out:
                out.close()
    print(f"exported {count} entries" + (f" to {args.out}" if args.out else ""), file=sys.stderr)
    return 0
