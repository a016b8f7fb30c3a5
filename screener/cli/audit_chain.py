"""``screener audit verify``, ``checkpoint`` and ``archive``: the hash chain and the archive."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from screener.cli.common import UsageError, load_cli_settings, parse_when, redis_url, run_guarded
from screener.config.paths import archive_dir
from screener.service.connection import open_client

VERIFY_HELP = """\
Walk every chain (one per number group) through the archive and the live streams and recompute every
link. Exit 0 when every chain holds; 1 naming, per group, the first entry where it breaks (an altered
field, a deleted, inserted or reordered entry, a segment file altered or cut short, entries deleted at
the end). With --checkpoint, the entries a checkpoint names must still hold the links it recorded: even a
chain rewritten from its start is caught.
"""
ARCHIVE_HELP = """\
Write the entries of every UTC day that ended at least [audit] archive_after ago (or, with --before,
every entry before that time) to a compressed segment file per day under [audit] archive_dir, with its
manifest, fsync them, and only then trim those entries from Redis. Days older than the retention
([audit] retention, 5 years and a day by default) are removed, with an entry in the trail saying so. A
run killed at any point loses and duplicates nothing when run again.
"""


def add_actions(actions: Any) -> None:
    v = actions.add_parser("verify", help="check the hash chain (exit 1 naming where it breaks)",
                           description=VERIFY_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--since", metavar="ISO-8601", help="recompute links from this time on (earlier ones trusted)")
    v.add_argument("--checkpoint", metavar="FILE", help="a file from `screener audit checkpoint` to compare with")
    v.add_argument("--json", action="store_true", help="the report as one JSON object")
    v.set_defaults(func=run_guarded(_verify))
    c = actions.add_parser("checkpoint", help="export the chain heads (keep the file elsewhere)",
                           description="Print (or write to FILE) every group's chain head: its last entry's id, "
                                       "link and entry count. Keep it outside this machine; `audit verify "
                                       "--checkpoint FILE` then detects even a rewrite of a whole chain.")
    c.add_argument("-o", "--out", metavar="FILE", help="write to FILE (default: standard output)")
    c.set_defaults(func=run_guarded(_checkpoint))
    a = actions.add_parser("archive", help="move old entries to the archive's segment files, then trim Redis",
                           description=ARCHIVE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("--before", metavar="ISO-8601|now", help="archive every entry before this time (default: "
                                                            "the whole days that ended archive_after ago)")
    a.add_argument("--batch", type=int, default=1000, metavar="N", help="entries read per round trip (default 1000)")
    a.add_argument("--json", action="store_true", help="the report as one JSON object")
    a.set_defaults(func=run_guarded(_archive))


async def _verify(args: argparse.Namespace) -> int:
    from screener.cli.audit import trail_of
    from screener.service.audit_verify import Checkpoint, Verifier

    since = parse_when(args.since, "--since") if args.since else None
    against = None
    if args.checkpoint:
        try:
            against = Checkpoint.parse(Path(args.checkpoint).read_text(encoding="utf-8"))
        except OSError as exc:
            raise UsageError(f"--checkpoint {args.checkpoint}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise UsageError(f"--checkpoint {args.checkpoint}: {exc}") from None
    async with trail_of(args) as trail:
        report = await Verifier(trail, since_ms=int(since.timestamp() * 1000) if since else None,
                                against=against).run()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False))
    else:
        for b in report.breaks:
            print(b.line())
        compared = f", {report.checkpoint_checked} checkpoint entries compared" if against else ""
        skipped = f" ({report.checkpoint_skipped} older than --since or retention)" if report.checkpoint_skipped else ""
        verdict = "the chain holds" if report.ok else f"{len(report.breaks)} break(s)"
        print(f"{verdict}: {report.entries} entries in {report.groups} group(s), {report.segments} archive "
              f"segment(s){compared}{skipped}", file=sys.stdout if report.ok else sys.stderr)
    return 0 if report.ok else 1


async def _checkpoint(args: argparse.Namespace) -> int:
    from screener.cli.audit import trail_of
    from screener.service.audit_verify import checkpoint

    async with trail_of(args) as trail:
        point = await checkpoint(trail)
    text = json.dumps(point.to_json(), indent=1) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"checkpoint of {len(point.heads)} chain head(s) written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


async def _archive(args: argparse.Namespace) -> int:
    from screener.service.audit_archive import ArchiveError, Archiver

    settings = load_cli_settings(args)
    before_ms = None
    if args.before:
        when = datetime.now(UTC) if args.before == "now" else parse_when(args.before, "--before")
        before_ms = int(when.timestamp() * 1000)
    redis = open_client(redis_url(args, settings))
    try:
        report = await Archiver(redis, settings, archive_dir(settings), batch=max(1, args.batch)).run(
            before_ms=before_ms)
    except ArchiveError as exc:
        raise UsageError(str(exc)) from None
    finally:
        await redis.aclose()
    if args.json:
        print(json.dumps({"cutoff_ms": report.cutoff_ms, "entries": report.entries,
                          "segments": [m.to_json() for m in report.segments],
                          "removed_days": list(report.removed_days), "configs": report.configs,
                          "refused_trims": list(report.refused_trims)}))
    else:
        cutoff = datetime.fromtimestamp(report.cutoff_ms / 1000, UTC).isoformat(timespec="seconds")
        for m in report.segments:
            print(f"{m.day}/{m.segment}: {m.count} entries in {len(m.groups)} group(s), {m.bytes} bytes, "
                  f"sha256 {m.sha256}")
        print(f"archived {report.entries} entries before {cutoff} to {archive_dir(settings)}"
              + (f"; removed {len(report.removed_days)} day(s) past retention" if report.removed_days else ""))
        for group in report.refused_trims:
            print(f"screener: warning: group {group} not trimmed: its last archived entry differs in Redis "
                  "(run `screener audit verify`)", file=sys.stderr)
    return 1 if report.refused_trims else 0
