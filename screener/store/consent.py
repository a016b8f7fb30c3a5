"""The consent ledger: one record per number and purpose, plus an append-only history of every change; every
change is also an entry of the number's audit trail, with its chain, written in the same step
(consent_write.lua)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from screener.store import audit, keys
from screener.store.client import pipeline, text
from screener.store.scripts import Script, execute_with_scripts


class ConsentNotFound(LookupError):
    pass


@dataclass(frozen=True)
class ConsentRecord:
    number: str
    purpose: str
    #: where the consent came from (web form id, recorded call id, paper form...)
    source: str
    #: the campaign it was collected for
    campaign: str = ""
    #: which version of the consent text the person saw
    text_version: str = ""
    #: web, phone, sms, paper, ...
    channel: str = ""
    #: pointer to the evidence (a recording id, a form submission id, a document hash)
    evidence: str = ""
    granted_ms: int = 0
    #: 0 = does not expire
    expires_ms: int = 0
    #: 0 = not revoked
    revoked_ms: int = 0
    #: a record from a file (``screener consent import``): the file's name and the record's line in it
    origin_file: str = ""
    origin_line: int = 0

    def valid_at(self, ms: int) -> bool:
        """Same rule as decide.lua."""
        return (self.granted_ms <= ms and (self.expires_ms == 0 or ms < self.expires_ms)
                and (self.revoked_ms == 0 or ms < self.revoked_ms))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> ConsentRecord:
        data = json.loads(raw)
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


_WRITE = Script("consent_write")

#: builds the audit entry of a change: (the record, "grant" or "revoke") -> the entry's client fields
EntryFields = Callable[[ConsentRecord, str], Mapping[str, str]]


def _write_keys(record: ConsentRecord) -> list[str]:
    return [keys.consent_key(record.number), keys.consent_log_key(record.number),
            *audit.stream_keys(keys.audit_group(record.number))]


def _write_args(record: ConsentRecord, action: str, entry: EntryFields) -> list[str]:
    return [record.purpose, record.to_json(), action, record.number, *audit.append_args(entry(record, action))]


async def _write(redis: Any, record: ConsentRecord, action: str, entry: EntryFields,
                 groups: audit.AuditGroups | None) -> None:
    # one script in the number's slot: the record, its history entry and its audit entry are acknowledged
    # together, or none is, on one server and on a Redis Cluster alike
    await (groups or audit.AuditGroups()).ensure(redis, keys.audit_group(record.number))
    await _WRITE(redis, _write_keys(record), _write_args(record, action, entry))


async def history(redis: Any, number: str) -> list[tuple[str, ConsentRecord]]:
    """Every grant and revoke of a number's consent records, oldest first: (action, record)."""
    rows = await redis.xrange(keys.consent_log_key(number))
    out = []
    for _id, fields in rows:
        data = {(k.decode() if isinstance(k, bytes) else k): v for k, v in fields.items()}
        if text(data.get("number", b"")) == number:
            out.append((text(data["action"]), ConsentRecord.from_json(data["record"])))
    return out


async def iter_history(redis: Any) -> AsyncIterator[tuple[str, ConsentRecord]]:
    """Every grant and revoke in Redis (each tag's history stream, oldest first within it; every node of a
    cluster): (action, record)."""
    async for key in redis.scan_iter(match=keys.CONSENT_LOG_PATTERN, count=1000):
        cursor = "-"
        while rows := await redis.xrange(key, min=cursor, count=1000):
            for _id, fields in rows:
                data = {text(k): v for k, v in fields.items()}
                yield text(data["action"]), ConsentRecord.from_json(data["record"])
            cursor = "(" + text(rows[-1][0])



async def grant(redis: Any, record: ConsentRecord, entry: EntryFields, groups: audit.AuditGroups | None = None) -> None:
    await _write(redis, record, "grant", entry, groups)


async def revoke(redis: Any, number: str, purpose: str, at_ms: int, entry: EntryFields,
                 groups: audit.AuditGroups | None = None) -> ConsentRecord:
    raw = await redis.hget(keys.consent_key(number), purpose)
    if raw is None:
        raise ConsentNotFound(f"no consent record for {number} and purpose {purpose!r}")
    record = replace(ConsentRecord.from_json(raw), revoked_ms=at_ms)
    await _write(redis, record, "revoke", entry, groups)
    return record


async def records(redis: Any, number: str) -> list[ConsentRecord]:
    raw = await redis.hgetall(keys.consent_key(number))
    return sorted((ConsentRecord.from_json(v) for v in raw.values()), key=lambda r: r.purpose)


async def grant_many(redis: Any, records: Sequence[ConsentRecord], entry: EntryFields,
                     groups: audit.AuditGroups | None = None) -> None:
    """Record many consents (``consent import``) in one pipeline of ``consent_write.lua`` calls: each record
    with its history entry and its audit entry, in its number's slot (a cluster client splits the pipeline by
    node), so on every topology a record is never written without its history, nor the reverse."""
    if not records:
        return
    await (groups or audit.AuditGroups()).ensure_all(redis, {keys.audit_group(r.number) for r in records})

    def queue() -> Any:
        pipe = pipeline(redis)
        for record in records:
            _WRITE.queue(pipe, _write_keys(record), _write_args(record, "grant", entry))
        return pipe

    await execute_with_scripts(redis, [_WRITE], queue)


async def iter_all(redis: Any, *, batch: int = 500) -> AsyncIterator[ConsentRecord]:
    """Every consent record in Redis (every node of a cluster), read a batch of numbers at a time."""
    pending: list[Any] = []
    async for key in redis.scan_iter(match=keys.CONSENT_KEY_PATTERN, count=1000):
        pending.append(key)
        if len(pending) >= batch:
            for record in await _read(redis, pending):
                yield record
            pending = []
    for record in await _read(redis, pending):
        yield record


async def _read(redis: Any, numbers_keys: list[Any]) -> list[ConsentRecord]:
    if not numbers_keys:
        return []
    async with redis.pipeline(transaction=False) as pipe:
        for key in numbers_keys:
            pipe.hgetall(key)
        replies = await pipe.execute()
    out = []
    for raw in replies:
        out.extend(sorted((ConsentRecord.from_json(v) for v in raw.values()), key=lambda r: r.purpose))
    return out
