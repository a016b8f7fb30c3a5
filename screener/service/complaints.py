"""Complaint intake (``screener complaint``, the admin API): a complaint puts its number on the internal DNC list
at once, through the same path as an opt-out pressed during a call (``Screener.opt_out``, which keeps it in
the spool while Redis cannot take it), and opens a ticket whose deadlines are its source's stages counted in
working days of the source's jurisdiction (``engine.workdays``). Every action is an audit entry, and every
ticket write is acknowledged as the config's ``durability`` says (``service.durability``).

A stage counts from the day the stage before it was done (or else from that stage's own deadline); the first
from the day the complaint was received, which does not count itself. A ticket is overdue once the deadline
of a stage not done has passed; ``counts`` tells monitoring how many are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from screener.config.paths import archive_dir
from screener.config.policies import supported_holiday_country
from screener.config.settings import ComplaintSource
from screener.engine.workdays import WorkCalendar, stage_deadlines
from screener.numbers import mask, normalize
from screener.service import spool as spool_kinds
from screener.service.audit import AuditEntry, AuditTrail
from screener.service.audit_fields import COMPLAINT, audit_fields, number_hash
from screener.service.audit_why import WhyReport, why
from screener.service.durability import acknowledged
from screener.service.errors import InvalidInput, NotFound
from screener.service.numbers_input import DEFAULT_REGION, campaign_of, e164_of
from screener.service.screening import Screener, StoreUnavailable
from screener.store import complaints, keys
from screener.store.complaints import CLOSED, OPEN, Stage, Ticket, TicketChanged

__all__ = ["ComplaintCounts", "ComplaintDesk", "ComplaintNotOpened", "ComplaintView", "StageView", "Ticket",
           "TicketChanged", "complaint_counts", "save_ticket", "ticket_write"]

T = TypeVar("T")

#: a complaint may not be received further in the future than this (clocks differ a little)
FUTURE_SLACK = timedelta(minutes=5)


class ComplaintNotOpened(RuntimeError):
    """Redis did not take the opt-out of a complaint's number: the ticket was not opened (the opt-out waits in
    the spool, or was lost when the spool is full: the message says which)."""


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _at(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True)
class StageView:
    """One stage of a ticket as of ``now``: due, done (in time or late), or overdue."""

    name: str
    working_days: int
    due_date: date
    due_at: datetime
    done_at: datetime | None
    note: str
    state: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "working_days": self.working_days, "due_date": self.due_date.isoformat(),
                "due_at": self.due_at.isoformat(), "done_at": self.done_at.isoformat() if self.done_at else None,
                "note": self.note, "state": self.state}


@dataclass(frozen=True)
class ComplaintView:
    """A ticket as of ``now``."""

    ticket: Ticket
    stages: tuple[StageView, ...]
    now: datetime

    @property
    def overdue(self) -> bool:
        return self.ticket.status == OPEN and any(s.state == "overdue" for s in self.stages)

    @property
    def next_due(self) -> datetime | None:
        due = self.ticket.next_due_ms()
        return None if due is None else _at(due)

    def to_json(self) -> dict[str, Any]:
        t = self.ticket
        return {
            "id": t.id, "number": t.number, "source": t.source, "ref": t.ref, "text": t.text, "campaign": t.campaign,
            "received_at": _at(t.received_ms).isoformat(), "opened_at": _at(t.opened_ms).isoformat(),
            "calendar": {"country": t.country or "weekdays", "subdivision": t.subdivision or None,
                         "time_zone": t.time_zone},
            "status": t.status, "overdue": self.overdue,
            "next_due_at": self.next_due.isoformat() if self.next_due else None,
            "stages": [s.to_json() for s in self.stages], "resolution": t.resolution,
            "closed_at": _at(t.closed_ms).isoformat() if t.closed_ms else None, "dnc": t.dnc,
            "erased": bool(t.erased),
        }


def view(ticket: Ticket, now: datetime) -> ComplaintView:
    now_ms = _ms(now)
    stages = []
    for s in ticket.stages:
        if s.done_ms:
            state = "done" if s.done_ms < s.due_ms else "done late"
        elif ticket.status == CLOSED:
            state = "closed"
        else:
            state = "overdue" if now_ms >= s.due_ms else "due"
        stages.append(StageView(s.name, s.working_days, date.fromisoformat(s.due_date), _at(s.due_ms),
                                _at(s.done_ms) if s.done_ms else None, s.note, state))
    return ComplaintView(ticket, tuple(stages), now)


@dataclass(frozen=True)
class ComplaintCounts:
    """What monitoring wants: open tickets, and how many of them are past a deadline."""

    open: int
    overdue: int


async def complaint_counts(redis: Any, now: datetime | None = None) -> ComplaintCounts:
    """Open and overdue tickets (one round trip): for the admin metrics and ``complaint list --overdue``."""
    total, overdue = await complaints.count_open(redis, _ms(now or datetime.now(UTC)))
    return ComplaintCounts(total, overdue)


def calendar_of(source: ComplaintSource, e164: str) -> WorkCalendar:
    """The source's calendar; the number's own country and first time zone where the source names none (weekdays
    only when the holidays package has no calendar for that country)."""
    info = normalize(e164, "ZZ")
    country = source.country or (info.region or "")
    if country and not supported_holiday_country(country):
        country = ""
    zone = source.time_zone or (info.time_zones[0] if info.time_zones else "UTC")
    return WorkCalendar(country, source.subdivision if source.country else None, zone)


def _calendar(ticket: Ticket) -> WorkCalendar:
    return WorkCalendar(ticket.country, ticket.subdivision or None, ticket.time_zone)


def _stages(calendar: WorkCalendar, plan: list[tuple[str, int]], received: datetime,
            done: dict[str, tuple[int, str]]) -> tuple[Stage, ...]:
    deadlines = stage_deadlines(calendar, plan, received, {n: _at(ms) for n, (ms, _) in done.items()})
    return tuple(Stage(d.name, d.working_days, d.due_date.isoformat(), _ms(d.due_at), *done.get(d.name, (0, "")))
                 for d in deadlines)


async def ticket_write(screener: Screener, write: Callable[[], Awaitable[T]]) -> T:
    """Run a write of complaint tickets, acknowledged as the config's ``durability`` says (the tickets' slot)."""
    return await acknowledged(screener.redis, screener.settings, write, keys=complaints.TICKET_SLOT_KEYS)


async def save_ticket(screener: Screener, ticket: Ticket) -> Ticket:
    """``complaints.save``, acknowledged as the config's ``durability`` says."""
    return await ticket_write(screener, lambda: complaints.save(screener.redis, ticket))


class ComplaintDesk:
    """Complaint tickets of one Redis; ``front_end`` names who acts ("cli", "api") in the audit entries."""

    def __init__(self, screener: Screener, *, front_end: str = "cli") -> None:
        self.screener = screener
        self.redis = screener.redis
        self.front_end = front_end

    def source(self, name: str) -> ComplaintSource:
        sources = self.screener.settings.complaint_sources
        found = sources.get(name)
        if found is None:
            raise InvalidInput(f"unknown complaint source {name!r} (known: {', '.join(sorted(sources))})")
        return found

    async def add(self, number: str, *, source: str, received: datetime, ref: str = "", text: str = "",
                  campaign: str = "", region: str = DEFAULT_REGION, now: datetime | None = None) -> ComplaintView:
        """Put the number on the internal DNC list (Redis acknowledged, as an opt-out), then open its ticket.
        ``ComplaintNotOpened`` when Redis did not take the opt-out (nothing else was written)."""
        settings = self.screener.settings
        src = self.source(source)
        if campaign:
            region = campaign_of(settings, campaign).region
        e164 = e164_of(number, region)
        now = now or datetime.now(UTC)
        if received.tzinfo is None:
            raise InvalidInput(f"the received time {received.isoformat()} has no UTC offset")
        if received > now + FUTURE_SLACK:
            raise InvalidInput(f"the received time {received.isoformat()} is in the future")
        calendar = calendar_of(src, e164)
        stages = _stages(calendar, list(src.stages), received, {})
        via = f"complaint {source}" + (f" {ref}" if ref else "")
        try:
            await self.screener.opt_out(e164, campaign, source=via)
        except StoreUnavailable as exc:
            kept = e164 in self.screener.spool.pending(spool_kinds.OPT_OUT, "number")
            raise ComplaintNotOpened(
                f"{exc}. The ticket was NOT opened: "
                + ("the number waits in the spool and goes on the internal list when a screener flushes it; "
                   if kept else "") + "run the same command again once Redis answers") from exc

        async def write() -> Ticket:  # the id and the ticket: one slot, acknowledged together
            ticket = Ticket(
                id=await complaints.new_id(self.redis), number=e164,
                number_hash=number_hash(e164, settings.audit_salt.value), source=source, ref=ref, text=text,
                campaign=campaign, received_ms=_ms(received), opened_ms=_ms(now), country=calendar.country,
                subdivision=calendar.subdivision or "", time_zone=calendar.time_zone, stages=stages)
            await complaints.create(self.redis, ticket)
            return ticket

        ticket = await ticket_write(self.screener, write)
        await self._audit("open", ticket, now)
        return view(ticket, now)

    async def get(self, ticket_id: str, now: datetime | None = None) -> ComplaintView:
        ticket = await complaints.load(self.redis, ticket_id.strip())
        if ticket is None:
            raise NotFound(f"no complaint {ticket_id!r}")
        return view(ticket, now or datetime.now(UTC))

    def _trail(self) -> AuditTrail:
        """The audit trail, archive and Redis as one (the config's salt finds the number's entries)."""
        settings = self.screener.settings
        return AuditTrail(self.redis, settings.audit_salt.value, archive_dir(settings))

    async def entries(self, ticket: Ticket) -> list[AuditEntry]:
        """The number's audit trail (decisions, disclosures, opt-outs, call outcomes, complaints), oldest first."""
        trail = self._trail()
        group = keys.audit_group(ticket.number)
        return [e async for e in trail.entries_of_hash(ticket.number_hash,
                                                        group=None if group == keys.AUDIT_GLOBAL_GROUP else group)]

    async def why(self, ticket: Ticket) -> WhyReport | None:
        """The number's ``audit why`` (every decision with its rules, opt-outs, complaints), archive and Redis as
        one trail; None once the ticket's personal data were erased (``entries`` still finds its entries)."""
        if ticket.erased:
            return None
        return await why(self._trail(), ticket.number, region=DEFAULT_REGION,
                         archive_dir=archive_dir(self.screener.settings))

    async def list(self, *, overdue: bool = False, due_within: timedelta | None = None, closed: bool = False,
                   now: datetime | None = None) -> list[ComplaintView]:
        """Open tickets by next deadline (only the overdue ones, or those due within ``due_within``); with
        ``closed``, every ticket by the time it was received."""
        now = now or datetime.now(UTC)
        if closed and not (overdue or due_within):
            ids = await complaints.all_ids(self.redis)
        elif overdue:
            ids = await complaints.open_ids(self.redis, _ms(now))
        elif due_within is not None:
            ids = await complaints.open_ids(self.redis, _ms(now + due_within))
        else:
            ids = await complaints.open_ids(self.redis)
        return [view(t, now) for t in await complaints.load_many(self.redis, ids)]

    async def done(self, ticket_id: str, stage: str, *, at: datetime | None = None, note: str = "",
                   now: datetime | None = None) -> ComplaintView:
        """Mark a stage done (``at``, default now); the deadlines of the stages after it count from that day."""
        now = now or datetime.now(UTC)
        at = at or now
        ticket = (await self.get(ticket_id, now)).ticket
        if ticket.status != OPEN:
            raise InvalidInput(f"complaint {ticket.id} is {ticket.status}")
        names = [s.name for s in ticket.stages]
        if stage not in names:
            raise InvalidInput(f"complaint {ticket.id} has no stage {stage!r} (its stages: {', '.join(names)})")
        if at < _at(ticket.received_ms) or at > now + FUTURE_SLACK:
            raise InvalidInput(f"{at.isoformat()} is before the complaint was received or in the future")
        done = {s.name: (s.done_ms, s.note) for s in ticket.stages if s.done_ms}
        if stage in done:
            raise InvalidInput(f"stage {stage!r} of complaint {ticket.id} is already done")
        done[stage] = (_ms(at), note)
        # the deadlines before and of this stage stay; those after it now count from the day it was done
        stages = _stages(_calendar(ticket), [(s.name, s.working_days) for s in ticket.stages],
                         _at(ticket.received_ms), done)
        ticket = await save_ticket(self.screener, replace(ticket, stages=stages))
        await self._audit("stage_done", ticket, now, stage=stage)
        return view(ticket, now)

    async def close(self, ticket_id: str, resolution: str, *, now: datetime | None = None) -> ComplaintView:
        """Close a ticket with its resolution (it leaves the open tickets; its stages stay as they are)."""
        now = now or datetime.now(UTC)
        if not resolution.strip():
            raise InvalidInput("a complaint is closed with its resolution (--resolution TEXT)")
        ticket = (await self.get(ticket_id, now)).ticket
        if ticket.status != OPEN:
            raise InvalidInput(f"complaint {ticket.id} is already {ticket.status}")
        ticket = await save_ticket(self.screener, replace(ticket, status=CLOSED, resolution=resolution.strip(),
                                                          closed_ms=_ms(now)))
        await self._audit("close", ticket, now)
        return view(ticket, now)

    async def _audit(self, action: str, ticket: Ticket, now: datetime, **extra: str) -> None:
        settings = self.screener.settings
        fields = audit_fields(COMPLAINT, settings, at=now, number=ticket.number, campaign=ticket.campaign,
                              source=self.front_end, action=action, ticket=ticket.id, complaint_source=ticket.source,
                              ref=ticket.ref, status=ticket.status, **extra)
        if ticket.erased:  # the ticket keeps only the masked number and the hash
            fields.update(number=mask(ticket.number), number_hash=ticket.number_hash)
        # the number's group (an erased ticket's masked number names none: the global group)
        await self.screener.append_audit(fields, group=keys.audit_group(ticket.number))
