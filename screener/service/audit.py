"""The audit trail's use cases (``screener audit``, the admin API): the latest entries, following new ones,
and exporting a time range for an auditor, filtered by number (found by its keyed hash) and campaign.

The trail is every group's stream (``store/audit.py``) merged in id order; a number's entries are all in its
group's stream, so reading them touches that one stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

from screener.service.audit_fields import DECISION, DISCLOSURE, OPT_OUT, number_hash
from screener.service.numbers_input import DEFAULT_REGION, e164_of
from screener.store import audit, keys
from screener.store.audit import AuditEntry

__all__ = ["DECISION", "DISCLOSURE", "OPT_OUT", "AuditEntry", "AuditTrail", "NumberFilter"]


def _stream_bound(when: datetime | None, default: str) -> str:
    return str(int(when.timestamp() * 1000)) if when is not None else default


class NumberFilter:
    """A number's entries: the group whose stream holds them, and the keyed hash that tells them apart."""

    def __init__(self, e164: str, salt: str) -> None:
        self.e164 = e164
        self.group = keys.audit_group(e164)
        self.hash = number_hash(e164, salt)

    def matches(self, entry: AuditEntry) -> bool:
        return entry.fields.get("number_hash") == self.hash


class AuditTrail:
    """The audit streams of one Redis; ``salt`` is the config's ``audit_salt`` (it finds a number's entries)."""

    def __init__(self, redis: Any, salt: str) -> None:
        self.redis = redis
        self.salt = salt

    def hash_of(self, number: str, region: str = DEFAULT_REGION) -> str:
        """The keyed hash under which a number's entries are found."""
        return self.number_filter(number, region).hash

    def number_filter(self, number: str, region: str = DEFAULT_REGION) -> NumberFilter:
        """A number (as dialed in ``region``, or E.164) to find its entries; a bad number raises here."""
        return NumberFilter(e164_of(number, region, allow_emergency=True), self.salt)

    async def groups(self) -> list[str]:
        return await audit.groups(self.redis)

    async def tail(self, count: int, *, number: str | None = None, region: str = DEFAULT_REGION) -> list[AuditEntry]:
        """The latest ``count`` entries (only the number's when given), oldest first."""
        count = max(1, count)
        if number is None:
            return await audit.tail(self.redis, count)
        wanted = self.number_filter(number, region)
        found = [e async for e in self._group_entries(wanted.group, "-", "+") if wanted.matches(e)]
        return found[-count:]

    def follow(self, after: str | Mapping[str, str] = "$") -> AsyncIterator[AuditEntry]:
        """New entries as they are appended: from now ("$"), after an id, or after the ids in ``after`` (group ->
        id); runs until cancelled."""
        return audit.follow(self.redis, after)

    def entries(self, *, since: datetime | None = None, until: datetime | None = None, number: str | None = None,
                region: str = DEFAULT_REGION, campaign: str | None = None) -> AsyncIterator[AuditEntry]:
        """Entries between two times, oldest first, only the number's (by hash) and the campaign's when given;
        read in batches (constant memory). A bad ``number`` raises here, before anything is read."""
        wanted = self.number_filter(number, region) if number else None
        return self._matching(_stream_bound(since, "-"), _stream_bound(until, "+"), wanted, campaign)

    async def _group_entries(self, group: str, start: str, end: str) -> AsyncIterator[AuditEntry]:
        async for entry in audit.scan_group(self.redis, group, start, end):
            yield entry

    async def _all_entries(self, start: str, end: str) -> AsyncIterator[AuditEntry]:
        groups = await self.groups()
        async for entry in audit.merged([self._group_entries(g, start, end) for g in groups]):
            yield entry

    async def _matching(self, start: str, end: str, wanted: NumberFilter | None,
                        campaign: str | None) -> AsyncIterator[AuditEntry]:
        source = self._group_entries(wanted.group, start, end) if wanted else self._all_entries(start, end)
        async for entry in source:
            if wanted and not wanted.matches(entry):
                continue
            if campaign and entry.fields.get("campaign") != campaign:
                continue
            yield entry
