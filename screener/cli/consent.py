"""``screener consent``: grant, revoke and show consent records (the consent ledger)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from datetime import UTC, datetime
from typing import IO, Any

from screener.cli.common import load_cli_settings, parse_when, redis_url, run_guarded
from screener.cli.progress import ProgressBar, add_progress_option
from screener.numbers import mask
from screener.service.connection import open_client
from screener.service.consent import EXPORT_COLUMNS, ConsentLedger, export_row

HELP = """\
Record, revoke and show consent: who agreed to be called, for which purpose, where that consent
came from, which consent text they saw, and until when. A campaign that requires consent blocks a
number with no valid record for its purpose (no_consent); a campaign may also let a valid record
exempt a number from a registry list. The internal DNC list always wins over consent.
Every grant and revoke is also appended to the consent history (a stream per area-code tag,
scr:{+1201}:consentlog) and, as an entry of kind consent, to the number's audit trail, in the same step.
`import` reads a CSV file of records (the columns: `screener consent import --help`); `export` writes
every record (or one campaign's) as CSV or JSON lines, in the columns an import reads.
"""

IMPORT_HELP = """\
Import consent records from a CSV file (.gz and .zip read directly), streamed in constant memory.
The first row names the columns, in any order (other columns are ignored, and reported):
  number         required; national numbers are read with the campaign's region
                 (also accepted: phone, phone_number, msisdn, e164, tel)
  granted        required; when consent was given: ISO-8601 with a UTC offset (2026-11-01T09:30:00+08:00, ...Z)
  expires        when it ends (same form; empty: never)
  revoked        when it was revoked (empty: not revoked)
  text_version   the version of the consent text the person saw
  channel        web, phone, sms, paper...
  evidence       a pointer to the evidence (a recording id, a form submission id, a document hash)
  purpose        the consent's purpose (empty: --purpose, else the campaign's)
  source         where it came from (empty: --source)
Each record keeps its provenance: its source, the file's name and its line. A bad row is reported with its
line number and never stops the import. A record is kept per number and purpose: importing a file again
overwrites its records (the history keeps both).
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("consent", help="grant, revoke, show, import or export consent records",
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
    i = actions.add_parser("import", help="import consent records from a CSV file", description=IMPORT_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("file", metavar="FILE")
    i.add_argument("--campaign", required=True, metavar="NAME", help="the campaign; its region and purpose apply")
    i.add_argument("--source", required=True, metavar="TEXT",
                   help="where the records came from (a CRM export, a form system...), kept with each")
    i.add_argument("--purpose", metavar="P", help="purpose of rows without one (default: the campaign's)")
    i.add_argument("--show-bad", type=int, default=20, metavar="N", help="bad lines to report (default: 20)")
    add_progress_option(i)
    i.set_defaults(func=run_guarded(_import))
    e = actions.add_parser("export", help="write every consent record (or one campaign's) as CSV or JSON lines")
    e.add_argument("--campaign", metavar="NAME", help="only this campaign's records")
    e.add_argument("--format", choices=("csv", "jsonl"), default="csv", help="csv (default) or jsonl")
    e.add_argument("-o", "--out", metavar="FILE", help="write to FILE (default: standard output)")
    e.set_defaults(func=run_guarded(_export))
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
    redis = open_client(redis_url(args, settings))
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
    print(f"consent granted: {mask(record.number)} purpose {record.purpose!r}{until} (source: {record.source})")
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    at = parse_when(args.at, "--at") if args.at else None
    async with _ledger(args) as ledger:
        record = await ledger.revoke(args.number, args.campaign, purpose=args.purpose, at=at)
    print(f"consent revoked: {mask(record.number)} purpose {record.purpose!r} at {_iso(record.revoked_ms)}")
    return 0


async def _show(args: argparse.Namespace) -> int:
    async with _ledger(args) as ledger:
        found = await ledger.show(args.number, args.campaign)
    if args.json:
        print(json.dumps([{**asdict(r), "number": mask(r.number)} for r in found.records]))
        return 0
    if not found.records:
        print(f"no consent records for {mask(found.number)}")
        return 1
    for r in found.records:
        print(f"{mask(r.number)}  purpose {r.purpose!r}  {found.state(r)}  source {r.source!r}  "
              f"campaign {r.campaign!r}  granted {_iso(r.granted_ms)}  expires {_iso(r.expires_ms) or 'never'}"
              + (f"  revoked {_iso(r.revoked_ms)}" if r.revoked_ms else ""))
    return 0


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds") if ms else ""


async def _import(args: argparse.Namespace) -> int:
    bar = ProgressBar(sys.stderr, "records", args.progress)
    try:
        async with _ledger(args) as ledger:
            result = await ledger.import_file(args.file, args.campaign, source=args.source, purpose=args.purpose,
                                              progress=bar, keep_bad=max(0, args.show_bad))
    finally:
        bar.done()
    print(f"consent import {result.file} into campaign {result.campaign}: {result.records:,} records written; "
          f"lines read {result.lines:,}; bad lines {result.bad_count:,}; {result.seconds:.2f} s")
    if result.ignored_columns:
        print(f"  columns ignored (not consent fields): {', '.join(result.ignored_columns)}")
    for bad in result.bad:
        print(f"  bad line {bad.line_no}: {bad.text!r}: {bad.reason}")
    if result.bad_count > len(result.bad):
        print(f"  ... and {result.bad_count - len(result.bad):,} more bad lines")
    return 0


async def _export(args: argparse.Namespace) -> int:
    count = 0
    async with _ledger(args) as ledger:
        out: IO[str] = open(args.out, "w", newline="", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
        try:
            writer = csv.DictWriter(out, EXPORT_COLUMNS) if args.format == "csv" else None
            if writer is not None:
                writer.writeheader()
            async for record in ledger.export(args.campaign):
                row = export_row(record)
                if writer is not None:
                    writer.writerow(row)
                else:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        finally:
            if args.out:
                out.close()
    if args.out:
        print(f"exported {count:,} consent records to {args.out}", file=sys.stderr)
    return 0
