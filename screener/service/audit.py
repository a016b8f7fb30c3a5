"""The audit trail's use cases (``screener audit``, the admin API): the latest entries, following new ones,
and exporting a time range for an auditor, filtered by number (found by its keyed hash) and campaign."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from screener.service.audit_fields import (
    CALL_OUTCOME,
    COMPLAINT,
    DECISION,
    DISCLOSURE,
    DNC_CHANGE,
    OPT_OUT,
    PRIVACY,
    number_hash,
)
from screener.service.numbers_input import DEFAULT_REGION, e164_of
from screener.store import audit
from screener.store.audit import AuditEntry

__all__ = ["CALL_OUTCOME", "COMPLAINT", "DECISION", "DISCLOSURE", "DNC_CHANGE", "OPT_OUT", "PRIVACY", "AuditEntry",
           "AuditTrail"]


def _stream_bound(when: datetime | None, default: str) -> str:
    return str(int(when.timestamp() * 1000)) if when is not None else default


class AuditTrail:
    """The audit stream of one Redis; ``salt`` is the config's ``audit_salt`` (it finds a number's entries)."""

    def __init__(self, redis: Any, salt: str) -> None:
        self.redis = redis
        self.salt = salt

    def hash_of(self, number: str, region: str = DEFAULT_REGION) -> str:
        """The keyed hash under which a number's entries are found."""
        return number_hash(e164_of(number, region, allow_emergency=True), self.salt)

    async def tail(self, count: int) -> list[AuditEntry]:
        """The latest ``count`` entries, oldest first."""
        return await audit.tail(self.redis, max(1, count))

    def follow(self, after_id: str = "$") -> AsyncIterator[AuditEntry]:
        """New entries as they are appended, after ``after_id`` (runs until cancelled)."""
        return audit.follow(self.redis, after_id)

    def entries(self, *, since: datetime | None = None, until: datetime | None = None, number: str | None = None,
                region: str = DEFAULT_REGION, campaign: str | None = None) -> AsyncIterator[AuditEntry]:
        """Entries between two times, oldest first, only the number's (by hash) and the campaign's when given;
        read in batches (constant memory). A bad ``number`` raises here, before anything is read."""
        wanted = self.hash_of(number, region) if number else None
        return self._matching(_stream_bound(since, "-"), _stream_bound(until, "+"), wanted, campaign)

    def entries_of_hash(self, wanted: str, *, since: datetime | None = None,
                        until: datetime | None = None) -> AsyncIterator[AuditEntry]:
        """The entries of the number whose keyed hash is ``wanted`` (a record that keeps only the hash)."""
        return self._matching(_stream_bound(since, "-"), _stream_bound(until, "+"), wanted, None)

    async def _matching(self, start: str, end: str, wanted: str | None,
                        campaign: str | None) -> AsyncIterator[AuditEntry]:
        async for entry in audit.scan(self.redis, start, end):
            if wanted and entry.fields.get("number_hash") != wanted:
                continue
            if campaign and entry.fields.get("campaign") != campaign:
                continue
            yield entry
