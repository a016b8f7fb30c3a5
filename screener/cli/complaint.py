"""``screener complaint``: complaint intake with working-day deadlines (add, list, show, done, close)."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from screener.cli.audit import entry_line
from screener.cli.common import UsageError, fail, open_screener, parse_when, run_guarded
from screener.numbers import mask
from screener.service.complaints import ComplaintDesk, ComplaintNotOpened, ComplaintView, TicketChanged

HELP = """\
A complaint (from China's 12321 centre, the FTC, Ofcom, or your own channels) puts its number on the
internal DNC list at once, as an opt-out pressed during a call would, and opens a ticket whose deadlines
are its source's stages, counted in working days of the source's jurisdiction: public holidays off,
make-up working days on (the `holidays` package). 12321: forward within 3 working days, reply within 15,
answer the user within 3 (China's calendar). ftc, ofcom and internal: one 10-working-day stage (a house
default: no deadline was found for them); redefine or add sources under [complaints.sources.NAME] in the
config. The day of receipt does not count; a deadline ends at midnight in the jurisdiction's time zone.
Every action is an audit entry. `list --overdue` exits 1 when any ticket is overdue (for monitoring).
"""

_DURATION = re.compile(r"(\d+)([wdhm])")
_UNIT_S = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60}


def parse_within(value: str) -> timedelta:
    """ "2d", "36h", "1w2d": a span for --due-within."""
    text = value.strip()
    if not text or _DURATION.sub("", text):
        raise UsageError(f"--due-within {value!r} is not a span such as 2d, 36h or 1w")
    return timedelta(seconds=sum(int(n) * _UNIT_S[u] for n, u in _DURATION.findall(text)))


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "complaint", help="complaint intake with working-day deadlines (add, list, show, done, close)",
        description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("add", help="put the number on the internal DNC list and open a ticket")
    a.add_argument("number", metavar="NUMBER")
    a.add_argument("--source", required=True, metavar="SOURCE", help="12321, ftc, ofcom, internal (or the config's)")
    a.add_argument("--received", required=True, metavar="ISO-8601",
                   help="when the complaint was received (with its UTC offset), or 'now'")
    a.add_argument("--ref", default="", metavar="ID", help="the source's reference of the complaint")
    a.add_argument("--text", default="", metavar="TEXT", help="what the complainant said")
    a.add_argument("--campaign", default="", metavar="NAME", help="the campaign complained about (its region reads "
                   "a national-format NUMBER)")
    a.add_argument("--region", default="US", metavar="CC", help="region for a national-format NUMBER (default US)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=run_guarded(_add))
    ls = actions.add_parser("list", help="open tickets by next deadline (exit 1 with --overdue when any is)")
    ls.add_argument("--due-within", metavar="SPAN", help="only tickets due within SPAN (2d, 36h...), overdue too")
    ls.add_argument("--overdue", action="store_true", help="only tickets past a deadline; exit 1 when there is any")
    ls.add_argument("--all", action="store_true", help="closed tickets too")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_guarded(_list))
    s = actions.add_parser("show", help="a ticket, its deadlines and its number's `audit why` (every decision, "
                                        "every rule)")
    s.add_argument("id", metavar="ID")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_guarded(_show))
    d = actions.add_parser("done", help="mark a stage of a ticket done (the next deadlines count from then)")
    d.add_argument("id", metavar="ID")
    d.add_argument("stage", metavar="STAGE", help="forward, reply, answer (12321), resolve...")
    d.add_argument("--at", metavar="ISO-8601", help="when it was done (default: now)")
    d.add_argument("--note", default="", metavar="TEXT")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=run_guarded(_done))
    c = actions.add_parser("close", help="close a ticket with its resolution")
    c.add_argument("id", metavar="ID")
    c.add_argument("--resolution", required=True, metavar="TEXT")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=run_guarded(_close))


@asynccontextmanager
async def _desk(args: argparse.Namespace) -> AsyncIterator[ComplaintDesk]:
    screener = await open_screener(args, spool_role="cli", timeout_s=5.0)
    try:
        yield ComplaintDesk(screener, front_end="cli")
    finally:
        await screener.aclose()


def _local(when: datetime, zone: str) -> str:
    from zoneinfo import ZoneInfo

    return when.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def _summary(v: ComplaintView) -> str:
    t = v.ticket
    nxt = next((s for s in v.stages if s.state in ("due", "overdue")), None)
    due = f"{nxt.name} due {nxt.due_date} ({nxt.state})" if nxt else t.status
    return f"{t.id}  {mask(t.number)}  {t.source}{' ' + t.ref if t.ref else ''}  {t.status}  {due}"


def _details(v: ComplaintView) -> list[str]:
    t = v.ticket
    zone = t.time_zone
    lines = [f"complaint {t.id}: {t.status}{' (OVERDUE)' if v.overdue else ''}",
             f"  number    {mask(t.number)}  (internal DNC list: {t.dnc})",
             f"  source    {t.source}" + (f"  ref {t.ref}" if t.ref else "")
             + (f"  campaign {t.campaign}" if t.campaign else ""),
             f"  received  {_local(datetime.fromtimestamp(t.received_ms / 1000, UTC), zone)}",
             f"  calendar  {t.country or 'weekdays only'}{'-' + t.subdivision if t.subdivision else ''}, {zone}"]
    if t.text:
        lines.append(f"  text      {t.text}")
    for s in v.stages:
        done = f", done {_local(s.done_at, zone)}" if s.done_at else ""
        lines.append(f"  {s.name:<9} {s.working_days:>3} working days: due by the end of {s.due_date} "
                     f"[{s.state}]{done}{'  ' + s.note if s.note else ''}")
    if t.resolution:
        lines.append(f"  resolved  {t.resolution}")
    return lines


def _json(v: ComplaintView) -> dict[str, Any]:
    """A ticket as the CLI prints it: the number masked, as in every other output (``privacy export`` is the one
    that shows it whole, to the person it belongs to)."""
    return {**v.to_json(), "number": mask(v.ticket.number)}


def _print(v: ComplaintView, as_json: bool) -> None:
    print(json.dumps(_json(v), ensure_ascii=False) if as_json else "\n".join(_details(v)))


async def _add(args: argparse.Namespace) -> int:
    received = datetime.now(UTC) if args.received.strip().lower() == "now" else parse_when(args.received,
                                                                                              "--received")
    async with _desk(args) as desk:
        try:
            v = await desk.add(args.number, source=args.source, received=received, ref=args.ref, text=args.text,
                               campaign=args.campaign, region=args.region)
        except ComplaintNotOpened as exc:
            return fail(str(exc), 1)
    _print(v, args.json)
    return 0


async def _list(args: argparse.Namespace) -> int:
    within = parse_within(args.due_within) if args.due_within else None
    async with _desk(args) as desk:
        views = await desk.list(overdue=args.overdue, due_within=within, closed=args.all)
    if args.json:
        print(json.dumps([_json(v) for v in views], ensure_ascii=False))
    else:
        for v in views:
            print(_summary(v))
        if not views:
            print("no complaints" + (" overdue" if args.overdue else ""))
    return 1 if args.overdue and any(v.overdue for v in views) else 0


async def _show(args: argparse.Namespace) -> int:
    async with _desk(args) as desk:
        v = await desk.get(args.id)
        report = await desk.why(v.ticket)
        entries = await desk.entries(v.ticket) if report is None else []
    if args.json:
        trail = report.to_json() if report is not None else {"entries": [e.to_json() for e in entries]}
        print(json.dumps({**_json(v), "why": trail}, ensure_ascii=False))
        return 0
    print("\n".join(_details(v)))
    if report is not None:
        print()
        print("\n".join(report.lines()))
        return 0
    print(f"  the number's audit trail ({len(entries)} entries; its personal data were erased):")
    for entry in entries:
        print("    " + entry_line(entry))
    return 0


async def _done(args: argparse.Namespace) -> int:
    at = parse_when(args.at, "--at") if args.at else None
    async with _desk(args) as desk:
        try:
            v = await desk.done(args.id, args.stage, at=at, note=args.note)
        except TicketChanged as exc:
            return fail(str(exc), 1)
    _print(v, args.json)
    return 0


async def _close(args: argparse.Namespace) -> int:
    async with _desk(args) as desk:
        try:
            v = await desk.close(args.id, args.resolution)
        except TicketChanged as exc:
            return fail(str(exc), 1)
    _print(v, args.json)
    return 0
