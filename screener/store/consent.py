"""The consent ledger: one record per number and purpose; every change (grant, revoke) is also an entry in the
audit trail of the number's group, written in the same atomic step (consent_write.lua)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from screener.store import audit, keys
from screener.store.scripts import Script

_WRITE = Script("consent_write")


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


#: builds the audit entry of a change: (the record, "grant" or "revoke") -> the entry's client fields
EntryFields = Callable[[ConsentRecord, str], Mapping[str, str]]


async def _write(redis: Any, record: ConsentRecord, action: str, entry: EntryFields,
                 groups: audit.AuditGroups | None) -> None:
    # one script: the record and its audit entry are acknowledged together, or neither is
    group = keys.audit_group(record.number)
    await (groups or audit.AuditGroups()).ensure(redis, group)
    await _WRITE(redis, [keys.consent_key(record.number), *audit.stream_keys(group)],
                 [record.purpose, record.to_json(), *audit.append_args(entry(record, action))])


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
