"""``screener privacy``: data-subject requests (GDPR Art. 15 export, Art. 17 erasure) for one number."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from screener.cli.common import UsageError, open_screener, run_guarded
from screener.service.dnc.audit import cli_actor
from screener.service.privacy import PrivacyDesk

HELP = """\
export: every record the screener holds about a number, as one JSON object: the DNC lists holding it (with
each list's source and the opt-outs that put it there), consent records and their history, remembered call
attempts, the last refusal, abandoned calls, complaint tickets and audit-trail entries.

erase: removes the personal data that is not needed (consent records and history, attempts, the last
refusal, abandoned-call lock-outs, the number and text of closed complaints) and keeps, saying why: the
number on the internal DNC list (so it is never called again), open complaints (they must be answered),
and the audit trail (masked number and keyed hash only). Irreversible: it runs only with --yes.
Its audit-trail tombstones reach the archive's segment files too, so once the trail is archived it runs only
on the host that archives (whose [audit] archive_dir is the archive Redis names): elsewhere it refuses and
erases nothing. It holds the archive's lock (waiting for an archive run to end, up to 2 minutes).
Both are recorded in the audit trail.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "privacy", help="data-subject requests: export or erase what is held about a number",
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    e = actions.add_parser("export", help="print every record held about NUMBER as JSON (GDPR Art. 15)")
    e.add_argument("number", metavar="NUMBER")
    e.add_argument("--region", default="US", metavar="CC", help="region for a national-format NUMBER (default US)")
    e.add_argument("-o", "--out", metavar="FILE", help="write to FILE (default: standard output)")
    e.set_defaults(func=run_guarded(_export))
    r = actions.add_parser("erase", help="erase what is not needed about NUMBER, keep its suppression (Art. 17)")
    r.add_argument("number", metavar="NUMBER")
    r.add_argument("--region", default="US", metavar="CC", help="region for a national-format NUMBER (default US)")
    r.add_argument("--yes", action="store_true", help="really erase (it cannot be undone)")
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=run_guarded(_erase))


async def _export(args: argparse.Namespace) -> int:
    screener = await open_screener(args, timeout_s=30.0)
    try:
        record = await PrivacyDesk(screener, front_end="cli").export(args.number, args.region)
    finally:
        await screener.aclose()
    text = json.dumps(record, ensure_ascii=False, indent=2)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text + "\n")
        print(f"exported the records of {record['number']} to {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0


async def _erase(args: argparse.Namespace) -> int:
    if not args.yes:
        raise UsageError("erasing cannot be undone: run it again with --yes")
    screener = await open_screener(args, timeout_s=30.0)
    try:
        result = await PrivacyDesk(screener, front_end="cli", actor=cli_actor()).erase(args.number, args.region)
    finally:
        await screener.aclose()
    if args.json:
        print(json.dumps(result.to_json(), ensure_ascii=False))
        return 0
    print(f"erased the data of {result.to_json()['number']}:")
    for name, count in result.removed.items():
        print(f"  removed {count:>5}  {name.replace('_', ' ')}")
    for what, why in result.kept:
        print(f"  kept: {what}: {why}")
    return 0
