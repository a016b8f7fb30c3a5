"""``screener dnc``: add, remove, check, import, list and export Do-Not-Call lists."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TextIO

from screener.cli.common import UsageError, config_path, given_redis_url, load_cli_settings, redis_url, run_guarded
from screener.cli.progress import ProgressBar, add_progress_option
from screener.config.settings import Settings
from screener.numbers import mask
from screener.service.dnc import (
    DEFAULT_BUDGET_BYTES,
    DEFAULT_GRACE_S,
    DEFAULT_STALE_BUILD_S,
    EXPORT_FORMATS,
    DncAdmin,
    ExportIncomplete,
    Format,
    ImportOptions,
    ImportResult,
    ListRow,
    NumberChange,
    UnknownList,
    cli_actor,
)
from screener.service.dnc.imports import check_grace, check_import_file
from screener.service.errors import InvalidInput
from screener.service.numbers_input import DEFAULT_REGION, e164_of, prefix_of

DEFAULT_LIST = "internal"

HELP = """\
Do-Not-Call lists: the internal list (opt-outs, complaints; always blocks), campaign lists and registries
(national, state, TPS). Lists live in Redis in a compact exact layout (about 1.4-2.5 bytes per number at
registry density). A Redis URL that names a Redis Cluster node is used as a cluster client.
Numbers are read with --region as the default region (default US).

List names: with a config (--config, SCREENER_CONFIG or config/screener.toml), only the lists it names
are accepted; a typo is an error naming them. With only a Redis URL (--redis or SCREENER_REDIS_URL) and
no config file, the lists that exist in Redis are accepted; `add` and `import` create a new one only
with --new-list.

Prefix entries: `dnc add +1201 --prefix` lists every number under +1201 (an area code; +86138, a mobile
range), on internal and campaign lists; `dnc check` says when a prefix lists a number.

Every change (add, remove, import) is written to the audit trail with its actor (cli:<your OS user>),
source, counts and the list's version before and after; `remove` from the internal list needs --reason.
"""

CHECK_HELP = """\
Is NUMBER on the list? Exit status like grep: 0 when the number IS listed, 1 when it is not, 2 on an
error (invalid number, Redis unreachable...).
"""

IMPORT_HELP = """\
Import a file into a list. .gz and .zip files are read directly; the file is streamed in constant memory.
Formats: ftc = the FTC full-list flat file (one 10-digit number per line; "AAA,NNNNNNN" lines too; any line
phonenumbers reads as a number of --region is accepted), e164 = one +E.164 number per line, csv = a CSV file
whose number column is --column NAME (else the first column named like phone/number/tel).
A full import (--replace, or into an empty list) builds a new version of the list beside the live one and
switches in one step: lookups see the whole old list or the whole new one; the old version is freed after
--grace seconds. An interrupted import leaves the live list untouched and can simply be run again.
Without --replace, a non-empty list gets the file's numbers added. --changes reads a change list (CSV rows
with the number and an add/delete flag: A/D, add/delete...) and applies it to the live list in one pass.
Bad lines are counted and the first ones reported with their line numbers; they never stop the import.
"""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("dnc", help="add, remove, check, import, list and export DNC lists",
                                                description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, helptext, func in (("add", "put a number on a list", _add),
                                 ("remove", "take a number off a list", _remove),
                                 ("check", "is a number on a list? (exit 0 = listed, 1 = not listed, 2 = error)",
                                  _check)):
        a = actions.add_parser(name, help=helptext, description=CHECK_HELP if name == "check" else helptext,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
        a.add_argument("number", metavar="NUMBER")
        a.add_argument("--list", default=DEFAULT_LIST, metavar="NAME", help=f"the list (default: {DEFAULT_LIST})")
        a.add_argument("--region", default=DEFAULT_REGION, metavar="CC",
                       help=f"region for a national-format NUMBER (default: {DEFAULT_REGION})")
        if name != "check":
            a.add_argument("--source", default="cli", metavar="TEXT", help="provenance recorded with the change")
            a.add_argument("--prefix", action="store_true",
                           help="NUMBER is a prefix entry (+1201, +86138): every number under it is listed "
                                "(internal and campaign lists only)")
        if name == "add":
            _new_list_option(a)
        if name == "remove":
            a.add_argument("--reason", default="", metavar="TEXT",
                           help="why (required for the internal list: an opt-out or complaint withdrawn); audited")
        a.set_defaults(func=run_guarded(func))
    i = actions.add_parser("import", help="import a file (full list, or --changes)", description=IMPORT_HELP,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("file", metavar="FILE")
    i.add_argument("--list", required=True, metavar="NAME")
    i.add_argument("--format", default="ftc", choices=[f.value for f in Format], help="file format (default: ftc)")
    i.add_argument("--column", metavar="NAME", help="csv: the column that holds the number")
    i.add_argument("--region", default=DEFAULT_REGION, metavar="CC", help="default region (default: US)")
    i.add_argument("--source", default="", metavar="TEXT", help="provenance (default: the file name)")
    mode = i.add_mutually_exclusive_group()
    mode.add_argument("--replace", action="store_true", help="replace the list with the file, atomically")
    mode.add_argument("--changes", action="store_true", help="the file is a change list (additions, deletions)")
    i.add_argument("--grace", type=float, metavar="S",
                   help=f"seconds the old version stays after the switch, for screeners still deciding with it "
                        f"(default: {DEFAULT_GRACE_S:g}, or the least the config's time_budget_ms needs; less is "
                        "refused)")
    i.add_argument("--stale-after", type=float, default=DEFAULT_STALE_BUILD_S, metavar="S",
                   help="another import of the list whose heartbeat is older than this is abandoned: its partial "
                        f"version is freed and this import goes ahead (default: {DEFAULT_STALE_BUILD_S:.0f})")
    i.add_argument("--show-bad", type=int, default=20, metavar="N", help="bad lines to report (default: 20)")
    add_progress_option(i)
    i.add_argument("--memory-mb", type=int, default=DEFAULT_BUDGET_BYTES >> 20, metavar="MB",
                   help=f"numbers gathered in memory before they are written (default: {DEFAULT_BUDGET_BYTES >> 20})")
    _new_list_option(i)
    i.set_defaults(func=run_guarded(_import))
    ls = actions.add_parser("lists", help="every list: kind, source, imported-at, age, count, version, stale?")
    ls.set_defaults(func=run_guarded(_lists))
    e = actions.add_parser("export", help="write a list's numbers (E.164, one per line) to FILE or stdout")
    e.add_argument("file", nargs="?", metavar="FILE")
    e.add_argument("--list", required=True, metavar="NAME")
    e.add_argument("--format", default="e164", choices=list(EXPORT_FORMATS),
                   help="e164 (default) or ftc (10 digits for +1 numbers)")
    e.set_defaults(func=run_guarded(_export))


def _new_list_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--new-list", action="store_true",
                   help="without a config: create the list when Redis has none of that name (with a config, "
                        "the config names the lists)")


def _settings(args: argparse.Namespace) -> Settings | None:
    """The config; None only when a Redis URL is given and no config file exists (then the lists in Redis are
    the known ones). A config that exists but is invalid is an error, never ignored."""
    if given_redis_url(args) and not Path(config_path(args)).exists():
        return None
    return load_cli_settings(args)


@asynccontextmanager
async def _admin(args: argparse.Namespace, settings: Settings | None) -> AsyncIterator[DncAdmin]:
    """The DNC lists of the Redis named by --redis / SCREENER_REDIS_URL, else by the config (``_settings``); with
    the config when there is one. Errors a user can cause (DncError) become usage errors."""
    url = redis_url(args, settings) if settings is not None else given_redis_url(args)
    assert url is not None  # _settings returned None only because a URL was given
    timeout_s = 60.0 if args.action in ("import", "export") else 5.0
    try:
        async with DncAdmin.open(url, settings, timeout_s=timeout_s) as admin:
            yield admin
    except UnknownList as exc:
        hint = "" if exc.configured else " (give --config, or --new-list to create it)" \
            if args.action in ("add", "import") else " (give --config)"
        raise UsageError(f"{exc}{hint}") from None
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None


def _number(args: argparse.Namespace) -> str:
    """NUMBER (or the prefix) read by the service before Redis is reached (a typo is reported even while Redis is
    down)."""
    try:
        if getattr(args, "prefix", False):
            return prefix_of(args.number, args.region)
        return e164_of(args.number, args.region)
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None


def _shown(change: NumberChange) -> str:
    return f"prefix {change.number}" if change.prefix else mask(change.number)


async def _add(args: argparse.Namespace) -> int:
    number = _number(args)
    async with _admin(args, _settings(args)) as admin:
        add = admin.add_prefix if args.prefix else admin.add
        change = await add(args.list, number, actor=cli_actor(), region=args.region, source=args.source,
                           create=args.new_list)
    under = " (every number under it is listed)" if change.prefix and change.changed else ""
    print(f"{_shown(change)} {'added to' if change.changed else 'was already on'} list {change.list_name}{under}")
    return 0


async def _remove(args: argparse.Namespace) -> int:
    number = _number(args)
    async with _admin(args, _settings(args)) as admin:
        remove = admin.remove_prefix if args.prefix else admin.remove
        change = await remove(args.list, number, actor=cli_actor(), region=args.region, source=args.source,
                              reason=args.reason)
    print(f"{_shown(change)} {'removed from' if change.changed else 'was not on'} list {change.list_name}")
    return 0


async def _check(args: argparse.Namespace) -> int:
    number = _number(args)
    async with _admin(args, _settings(args)) as admin:
        check = await admin.check(args.list, number, region=args.region)
    by = f" (blocked by prefix {check.by_prefix})" if check.by_prefix else ""
    print(f"{mask(check.number)} {'is' if check.listed else 'is not'} on list {check.list_name}{by}")
    return 0 if check.listed else 1


async def _import(args: argparse.Namespace) -> int:
    try:
        check_import_file(args.file)
    except InvalidInput as exc:
        raise UsageError(str(exc)) from None
    settings = _settings(args)
    if args.grace is not None:
        try:
            check_grace(args.grace, settings)
        except InvalidInput as exc:
            raise UsageError(f"--grace: {exc}") from None
    options = ImportOptions(fmt=Format(args.format), region=args.region, column=args.column, source=args.source,
                            replace=args.replace, changes=args.changes, grace_s=args.grace,
                            keep_bad=max(0, args.show_bad), budget_bytes=max(1, args.memory_mb) << 20,
                            stale_after_s=args.stale_after)
    bar = ProgressBar(sys.stderr, "numbers", args.progress)
    try:
        async with _admin(args, settings) as admin:
            result = await admin.import_file(args.list, args.file, options, progress=bar, actor=cli_actor(),
                                             create=args.new_list)
    except asyncio.CancelledError:  # Ctrl-C: say what became of the list, then stop as interrupted
        bar.done()
        landed = bar.phase == "switched"
        print("screener: import interrupted: " + ("it had landed (the new version is live)" if landed else
                                                 "the list was not changed"), file=sys.stderr)
        raise
    finally:
        bar.done()
    _summary(result, sys.stdout)
    return 0


def _summary(result: ImportResult, out: TextIO) -> None:
    what = {"replace": "the file's numbers", "edit": "the list plus the file's numbers",
            "changes": "the list with the change list applied"}
    freed = f"; version {result.freed_version} freed" if result.freed_version else ""
    print(f"list {result.list_name}: new version {result.version} switched in ({what.get(result.mode, result.mode)})"
          f"{freed}", file=out)
    print(f"  lines read {result.lines:,}; numbers {result.numbers:,}; added {result.added:,}; removed "
          f"{result.removed:,}; bad lines {result.bad_count:,}; list count now {result.count:,}", file=out)
    print(f"  {result.seconds:.2f} s, {result.rate:,.0f} numbers/s", file=out)
    for bad in result.bad:
        print(f"  bad line {bad.line_no}: {bad.text!r}: {bad.reason}", file=out)
    if result.bad_count > len(result.bad):
        print(f"  ... and {result.bad_count - len(result.bad):,} more bad lines", file=out)
    for warning in result.warnings:
        print(f"  warning: {warning}", file=out)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _stale(row: ListRow) -> str:
    if row.stale is None:
        return "-"
    if row.imported_at is None:
        return "yes (never imported)"
    return "yes" if row.stale else "no"


async def _lists(args: argparse.Namespace) -> int:
    async with _admin(args, _settings(args)) as admin:
        listed = await admin.lists()
    rows = [("NAME", "KIND", "SOURCE", "IMPORTED", "AGE", "COUNT", "PREFIXES", "VERSION", "STALE")]
    for row in listed:
        imported = row.imported_at
        stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(imported)) + "Z" if imported else "-"
        building = f" (importing v{row.building})" if row.building else ""
        rows.append((row.name, row.kind or "?", row.source or "-", stamp,
                     _age(row.age_s) if row.age_s is not None else "-", f"{row.count:,}",
                     " ".join(row.prefixes[:3]) + (f" (+{len(row.prefixes) - 3})" if len(row.prefixes) > 3 else "")
                     or "-", row.version + building,
                     _stale(row)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for cells in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(cells)).rstrip())
    return 0


async def _export(args: argparse.Namespace) -> int:
    """To stdout, or to FILE through a partial file renamed once the export is whole (an export an import cut
    short leaves no FILE behind that looks like the list)."""
    target = Path(args.file) if args.file else None
    partial = target.with_name(f".{target.name}.partial") if target is not None else None
    out: TextIO = open(partial, "w") if partial is not None else sys.stdout  # noqa: SIM115
    n = 0
    try:
        async with _admin(args, _settings(args)) as admin:
            try:
                async for line in admin.export(args.list, args.format):
                    out.write(line + "\n")
                    n += 1
            except ExportIncomplete as exc:
                raise UsageError(f"{exc}; " + (f"{args.file} was not written" if target is not None else
                                               "what was written to stdout is only part of the list")) from None
        if partial is not None and target is not None:
            out.close()
            partial.replace(target)
    finally:
        if partial is not None and not out.closed:
            out.close()
            partial.unlink(missing_ok=True)
    if target is not None:
        print(f"{n:,} numbers of list {args.list} written to {args.file}", file=sys.stderr)
    return 0
