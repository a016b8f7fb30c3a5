"""Complaint tickets: one hash per ticket, an index of the open ones by next deadline, every ticket by the time
it was received, and the tickets of each number by the number's keyed hash. All share the ``{complaints}``
hash tag, so a ticket and its indexes change together (one MULTI, or one script)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from screener.store import keys
from screener.store.client import AnyRedis, text
from screener.store.scripts import Script

_UPDATE = Script("complaint_update")

OPEN = "open"
CLOSED = "closed"


@dataclass(frozen=True)
class Stage:
    """One deadline of a ticket: ``working_days`` after the stage before it (or after receipt)."""

    name: str
    working_days: int
    #: the last day (ISO date, the jurisdiction's) and the instant it ends, epoch ms
    due_date: str
    due_ms: int
    #: when the stage was done (epoch ms; 0 = not yet), and a note
    done_ms: int = 0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "working_days": self.working_days, "due_date": self.due_date,
                "due_ms": self.due_ms, "done_ms": self.done_ms, "note": self.note}


@dataclass(frozen=True)
class Ticket:
    id: str
    #: E.164 while the ticket needs it; the masked number once erased
    number: str
    #: the number's keyed hash (the audit trail's), which finds its tickets and entries
    number_hash: str
    #: where it came from (12321, ftc, ofcom, internal...) and that channel's reference
    source: str
    ref: str
    text: str
    campaign: str
    received_ms: int
    opened_ms: int
    #: the calendar the deadlines count in
    country: str
    subdivision: str
    time_zone: str
    stages: tuple[Stage, ...]
    status: str = OPEN
    resolution: str = ""
    closed_ms: int = 0
    #: "listed" when the number went on the internal DNC list, "spooled" when that waits for Redis
    dnc: str = "listed"
    #: 1 when its personal data were erased
    erased: int = 0
    rev: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    def next_due_ms(self) -> int | None:
        """The deadline of the first stage not done (None when closed or all done)."""
        if self.status != OPEN:
            return None
        pending = [s.due_ms for s in self.stages if not s.done_ms]
        return min(pending) if pending else None

    def fields(self) -> dict[str, str]:
        return {
            "id": self.id, "number": self.number, "number_hash": self.number_hash, "source": self.source,
            "ref": self.ref, "text": self.text, "campaign": self.campaign, "received_ms": str(self.received_ms),
            "opened_ms": str(self.opened_ms), "country": self.country, "subdivision": self.subdivision,
            "time_zone": self.time_zone, "stages": json.dumps([s.to_json() for s in self.stages],
                                                              separators=(",", ":"), ensure_ascii=False),
            "status": self.status, "resolution": self.resolution, "closed_ms": str(self.closed_ms),
            "dnc": self.dnc, "erased": str(self.erased), "rev": str(self.rev),
        }

    @classmethod
    def parse(cls, raw: Mapping[Any, Any]) -> Ticket:
        f = {text(k): text(v) for k, v in raw.items()}
        stages = tuple(Stage(**s) for s in json.loads(f.get("stages") or "[]"))
        known = {"id", "number", "number_hash", "source", "ref", "text", "campaign", "received_ms", "opened_ms",
                 "country", "subdivision", "time_zone", "stages", "status", "resolution", "closed_ms", "dnc",
                 "erased", "rev"}
        return cls(
            id=f["id"], number=f.get("number", ""), number_hash=f.get("number_hash", ""), source=f.get("source", ""),
            ref=f.get("ref", ""), text=f.get("text", ""), campaign=f.get("campaign", ""),
            received_ms=int(f.get("received_ms") or 0), opened_ms=int(f.get("opened_ms") or 0),
            country=f.get("country", ""), subdivision=f.get("subdivision", ""), time_zone=f.get("time_zone", ""),
            stages=stages, status=f.get("status", OPEN), resolution=f.get("resolution", ""),
            closed_ms=int(f.get("closed_ms") or 0), dnc=f.get("dnc", ""), erased=int(f.get("erased") or 0),
            rev=int(f.get("rev") or 0), extra={k: v for k, v in f.items() if k not in known})


class TicketChanged(RuntimeError):
    """The ticket changed (or went) between the read and the write: read it again."""


def format_id(n: int) -> str:
    return f"CMP-{n:06d}"


async def new_id(redis: AnyRedis) -> str:
    return format_id(int(await redis.incr(keys.COMPLAINT_SEQ_KEY)))


async def create(redis: AnyRedis, ticket: Ticket) -> None:
    """Store a new ticket with its indexes, in one MULTI (all in the ``{complaints}`` slot)."""
    async with redis.pipeline(transaction=True) as pipe:
        mapping: dict[Any, Any] = ticket.fields()
        pipe.hset(keys.complaint_key(ticket.id), mapping=mapping)
        pipe.zadd(keys.COMPLAINTS_ALL_KEY, {ticket.id: ticket.received_ms})
        due = ticket.next_due_ms()
        if due is not None:
            pipe.zadd(keys.COMPLAINTS_OPEN_KEY, {ticket.id: due})
        pipe.sadd(keys.complaint_number_key(ticket.number_hash), ticket.id)
        await pipe.execute()


async def load(redis: AnyRedis, ticket_id: str) -> Ticket | None:
    raw = await redis.hgetall(keys.complaint_key(ticket_id))
    return Ticket.parse(raw) if raw else None


async def load_many(redis: AnyRedis, ids: list[str]) -> list[Ticket]:
    if not ids:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for ticket_id in ids:
            pipe.hgetall(keys.complaint_key(ticket_id))
        rows = await pipe.execute()
    return [Ticket.parse(raw) for raw in rows if raw]


async def save(redis: AnyRedis, ticket: Ticket) -> Ticket:
    """Write a changed ticket read at ``ticket.rev``; ``TicketChanged`` when someone changed it meanwhile."""
    due = ticket.next_due_ms()
    pairs = [part for item in ticket.fields().items() if item[0] != "rev" for part in item]
    written = await _UPDATE(redis, [keys.complaint_key(ticket.id), keys.COMPLAINTS_OPEN_KEY],
                            [ticket.id, ticket.rev, "" if due is None else due, *pairs])
    if not int(written):
        raise TicketChanged(f"complaint {ticket.id} changed meanwhile: try again")
    return replace(ticket, rev=ticket.rev + 1)


async def open_ids(redis: AnyRedis, due_by_ms: int | None = None) -> list[str]:
    """Open tickets by next deadline, only those with a deadline at or before ``due_by_ms`` when given."""
    top: int | str = "+inf" if due_by_ms is None else due_by_ms
    return [text(m) for m in await redis.zrangebyscore(keys.COMPLAINTS_OPEN_KEY, "-inf", top)]


async def all_ids(redis: AnyRedis) -> list[str]:
    """Every ticket, oldest received first."""
    return [text(m) for m in await redis.zrange(keys.COMPLAINTS_ALL_KEY, 0, -1)]


async def ids_of_number(redis: AnyRedis, number_hash: str) -> list[str]:
    return sorted(text(m) for m in await redis.smembers(keys.complaint_number_key(number_hash)))


async def count_open(redis: AnyRedis, now_ms: int) -> tuple[int, int]:
    """(open tickets, open tickets whose next deadline is at or before ``now_ms``: overdue)."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.zcard(keys.COMPLAINTS_OPEN_KEY)
        pipe.zcount(keys.COMPLAINTS_OPEN_KEY, "-inf", now_ms)
        total, overdue = await pipe.execute()
    return int(total), int(overdue)
