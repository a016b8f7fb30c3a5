"""The audit trail's use cases (``screener audit``, the admin API): the latest entries, following new ones,
and exporting a time range for an auditor, filtered by number (found by its keyed hash) and campaign.

The trail is the archive's segments (``store/audit_archive.py``), oldest first, then every group's live
stream (``store/audit.py``), merged in id order: one trail whatever has left Redis. A number's entries are all
in its group, so reading them touches that group's stream and its members of the segments.

Tombstoning (an erasure) changes entries wherever they are, so it runs with the archive's lock held, the lock
an archive run holds (``archive_held``): no run reads an entry before it is tombstoned and writes the old one
into a segment after. It runs only on the host whose archive folder is the deployment's archive (the one whose
id Redis records as the owner), or where no archive exists at all: elsewhere the archived entries cannot be
reached, and it refuses (``ErasureRefused``) before changing anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import datetime
from pathlib import Path
from typing import Any

from screener.config.settings import Settings
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
from screener.service.durability import acknowledged
from screener.service.errors import InvalidInput
from screener.service.numbers_input import DEFAULT_REGION, e164_of
from screener.store import audit, keys
from screener.store.audit import AuditEntry
from screener.store.audit_archive import LOCK, ArchiveBusy, ArchiveDir, GroupMark, Manifest, id_key, id_ms
from screener.store.audit_chain import is_tombstone, sealed_names, tombstone

__all__ = ["ARCHIVE_WAIT_S", "CALL_OUTCOME", "COMPLAINT", "DECISION", "DISCLOSURE", "DNC_CHANGE", "OPT_OUT", "PRIVACY",
           "AuditEntry", "AuditTrail", "ErasureRefused", "NumberFilter"]

log = logging.getLogger("screener.audit")

#: how long a tombstoning waits for an archive run that holds the archive's lock before it gives up (seconds)
ARCHIVE_WAIT_S = 120.0
_LOCK_RETRY_S = 0.2
#: the trails (ids) whose ``archive_held`` the running task is inside (it holds nothing more when entered again)
_HELD: ContextVar[frozenset[int]] = ContextVar("audit_archive_held", default=frozenset())


class ErasureRefused(InvalidInput):
    """Entries cannot be tombstoned here or now (the archive is on another host, or an archive run kept its lock
    too long); the message says why and what to do. Raised before anything was changed, except when an archive
    claimed the trail while the erasure ran (the message says so: run it again)."""


def _ms(when: datetime | None) -> int | None:
    return int(when.timestamp() * 1000) if when is not None else None


class NumberFilter:
    """A number's entries: the group whose stream holds them, and the keyed hash that tells them apart."""

    def __init__(self, e164: str, salt: str) -> None:
        self.e164 = e164
        self.group = keys.audit_group(e164)
        self.hash = number_hash(e164, salt)

    def matches(self, entry: AuditEntry) -> bool:
        return entry.fields.get("number_hash") == self.hash


def _in_range(entry: AuditEntry, since_ms: int | None, until_ms: int | None) -> bool:
    ms = entry.millis
    return (since_ms is None or ms >= since_ms) and (until_ms is None or ms <= until_ms)


async def _as_async(entries: Iterator[AuditEntry]) -> AsyncIterator[AuditEntry]:
    for entry in entries:
        yield entry


class AuditTrail:
    """The audit trail of one Redis and, when given, its archive folder; ``salt`` is the config's
    ``audit_salt`` (it finds a number's entries)."""

    def __init__(self, redis: Any, salt: str, archive_dir: Path | None = None, *,
                 settings: Settings | None = None) -> None:
        self.redis = redis
        self.salt = salt
        self.archive = ArchiveDir(archive_dir) if archive_dir is not None else None
        #: the config whose ``durability`` acknowledges the rewrites of tombstoned entries (None: the master's)
        self.settings = settings

    def hash_of(self, number: str, region: str = DEFAULT_REGION) -> str:
        """The keyed hash under which a number's entries are found."""
        return self.number_filter(number, region).hash

    def number_filter(self, number: str, region: str = DEFAULT_REGION) -> NumberFilter:
        """A number (as dialed in ``region``, or E.164) to find its entries; a bad number raises here."""
        return NumberFilter(e164_of(number, region, allow_emergency=True), self.salt)

    async def groups(self) -> list[str]:
        """Every group with a stream or a member in the archive."""
        names = set(await audit.groups(self.redis))
        if self.archive is not None:
            names |= set(self.marks())
        return sorted(names)

    def marks(self) -> dict[str, GroupMark]:
        """Each group's last archived entry ({} without an archive)."""
        if self.archive is None or not self.archive.exists():
            return {}
        return self.archive.marks()

    def manifests(self, since_ms: int | None = None, until_ms: int | None = None) -> Iterator[Manifest]:
        if self.archive is None or not self.archive.exists():
            return iter(())
        return self.archive.manifests(since_ms=since_ms, until_ms=until_ms)

    async def tail(self, count: int, *, number: str | None = None, region: str = DEFAULT_REGION) -> list[AuditEntry]:
        """The latest ``count`` entries (only the number's when given), oldest first: from the live streams, and
        from the archive when they hold fewer."""
        count = max(1, count)
        if number is not None:
            wanted = self.number_filter(number, region)
            found: deque[AuditEntry] = deque(maxlen=count)
            async for entry in self._group(wanted.group, None, None):
                if wanted.matches(entry):
                    found.append(entry)
            return list(found)
        marks = self.marks()
        latest = [e for e in await audit.tail(self.redis, count)
                  if e.group not in marks or id_key(e.id) > id_key(marks[e.group].last_id)]
        if len(latest) < count and self.archive is not None and self.archive.exists():
            older: list[AuditEntry] = []
            for _seq, path in reversed(self.archive.manifest_files()):
                if len(older) + len(latest) >= count:
                    break
                last: deque[AuditEntry] = deque(maxlen=count - len(latest) - len(older))
                async for entry in self._segment(self.archive.read_manifest(path), None, None):
                    last.append(entry)
                older = [*last, *older]
            latest = [*older, *latest][-count:]
        return latest

    def follow(self, after: str | Mapping[str, str] = "$") -> AsyncIterator[AuditEntry]:
        """New entries as they are appended: from now ("$"), after an id, or after the ids in ``after`` (group ->
        id); runs until cancelled."""
        return audit.follow(self.redis, after)

    def entries(self, *, since: datetime | None = None, until: datetime | None = None, number: str | None = None,
                region: str = DEFAULT_REGION, campaign: str | None = None) -> AsyncIterator[AuditEntry]:
        """Entries between two times, oldest first, archive and streams as one trail, only the number's (by
        hash) and the campaign's when given; read in batches (constant memory). A bad ``number`` raises here,
        before anything is read."""
        wanted = self.number_filter(number, region) if number else None
        return self._matching(_ms(since), _ms(until), wanted, campaign)

    async def append(self, fields: dict[str, str], *, number: str | None = None) -> str:
        """Append an entry of any kind (fields from ``audit_fields``/``plain_fields``) through the chain: to the
        group of ``number`` (E.164), else the global group; its id. For one-shot commands (a CLI complaint, an
        erasure); a screener appends through ``Screener.append_audit_entry``."""
        group = keys.audit_group(number)
        await audit.AuditGroups().ensure(self.redis, group)
        return await audit.append(self.redis, group, fields)

    async def tombstone(self, entries: Iterable[AuditEntry], erase: Iterable[str] | None = None, *,
                        note: str = "erasure", wait_s: float = ARCHIVE_WAIT_S) -> int:
        """Replace the sealed fields of ``entries`` (every sealed field, or those named in ``erase``) by
        tombstones wherever each entry is: its stream (rewritten from it on, ids kept, acknowledged as the
        config's ``durability`` says) and its archive segment (rewritten as a new revision, noted in the
        manifest), with the archive's lock held (``archive_held``). Each entry keeps its link: the chain still
        verifies, and an erased value cannot be found again. Returns how many entries were replaced."""
        async with self.archive_held(wait_s):
            return await self._tombstone(entries, erase, note)

    async def erase_number(self, e164: str, *, note: str = "erasure", wait_s: float = ARCHIVE_WAIT_S) -> int:
        """Tombstone every entry of the number (found by its keyed hash in its group) that still holds a sealed
        value: its masked number, its hash, its call ids, the number as dialed, the agent... (see ``tombstone``),
        finding and replacing them with the archive's lock held. Returns how many entries were erased;
        afterwards the number's hash finds none of them."""
        async with self.archive_held(wait_s):
            wanted = NumberFilter(e164, self.salt)
            found = [e async for e in self.entries_of_hash(wanted.hash, group=wanted.group)]
            erasable = [e for e in found if any(not is_tombstone(e.fields[n]) for n in sealed_names(e.fields))]
            return await self._tombstone(erasable, None, note) if erasable else 0

    @contextlib.asynccontextmanager
    async def archive_held(self, wait_s: float = ARCHIVE_WAIT_S) -> AsyncIterator[None]:
        """Around changes to entries (an erasure): checks that this host's archive folder is the deployment's
        archive (``ErasureRefused`` when Redis names an archive owner and the folder is missing or is another
        archive), then holds its lock, the one an archive run holds, waiting up to ``wait_s`` for a run to end
        (``ErasureRefused`` after that: nothing changed). No archive anywhere (no owner, no folder): no lock;
        if an archive claims the trail meanwhile, ``ErasureRefused`` after the changes (run it again).
        Re-entrant within a task: inside it, it holds nothing more."""
        if id(self) in _HELD.get():
            yield
            return
        owner = await self._archive_owner()
        archive = self._archive_of_owner(owner)
        with contextlib.ExitStack() as stack:
            if archive is not None:
                await _take_lock(stack, archive, wait_s)
            held = _HELD.set(_HELD.get() | {id(self)})
            try:
                yield
            finally:
                _HELD.reset(held)
        now_owner = await self._archive_owner()
        if now_owner != owner:
            raise ErasureRefused(
                f"an archive run claimed this Redis's audit trail (archive id {now_owner}) while the erasure ran: "
                f"entries it archived meanwhile may still hold the number; run the erasure again on the host that "
                f"archives (whose [audit] archive_dir is that archive)")

    async def _archive_owner(self) -> str | None:
        raw = await self.redis.get(keys.AUDIT_ARCHIVE_OWNER_KEY)
        return None if raw is None else raw.decode() if isinstance(raw, bytes) else str(raw)

    def _archive_of_owner(self, owner: str | None) -> ArchiveDir | None:
        """This host's archive when it is the deployment's (the ``owner`` Redis names), or when no archive owns
        the trail but the folder exists; None when neither exists; ``ErasureRefused`` when it is not the owner."""
        archive = self.archive
        here = archive is not None and archive.exists()
        if owner is None:
            return archive if here else None
        where = f"this host's archive folder {archive.path}" if archive is not None else "no archive folder here"
        advice = (f"the archived entries are out of reach here, so nothing was erased: run the erasure on the host "
                  f"that archives (whose [audit] archive_dir holds the archive {owner})")
        if archive is None or not here:
            raise ErasureRefused(f"this Redis's audit trail is archived (archive id {owner}), but {where} is "
                                 f"missing; {advice}")
        mine = archive.identity().id
        if mine != owner:
            raise ErasureRefused(f"this Redis's audit trail is archived by archive {owner}, but {where} is another "
                                 f"archive (id {mine}); {advice}")
        return archive

    async def _tombstone(self, entries: Iterable[AuditEntry], erase: Iterable[str] | None, note: str) -> int:
        """``tombstone`` with the archive's lock held."""
        names = list(erase) if erase is not None else None
        marks = self.marks()
        in_archive: dict[tuple[int, str], dict[str, dict[str, str]]] = {}
        done = 0
        for entry in entries:
            fields = tombstone(entry.fields, names)
            mark = marks.get(entry.group)
            if mark is not None and mark.last_id and id_key(entry.id) <= id_key(mark.last_id):
                for manifest in self.manifests(entry.millis, entry.millis):
                    if manifest.holding(entry.group, entry.id):
                        in_archive.setdefault((manifest.seq, entry.group), {})[entry.id] = fields
            stream = keys.audit_stream_key(entry.group)
            if await self.redis.xrange(stream, min=entry.id, max=entry.id):
                await acknowledged(self.redis, self.settings,
                                   functools.partial(audit.replace_entry, self.redis, entry, fields),
                                   keys=[stream, keys.audit_head_key(entry.group)])
            done += 1
        if in_archive:
            archive = self.archive
            assert archive is not None
            by_seq = {m.seq: m for m in archive.manifests() if any(seq == m.seq for seq, _ in in_archive)}
            for (seq, group), replacements in sorted(in_archive.items()):
                by_seq[seq] = archive.replace_entries(by_seq[seq], group, replacements, note)
        return done

    # -- reading archive and streams as one trail ------------------------------------------------------------

    async def group_entries(self, group: str, since_ms: int | None = None,
                            until_ms: int | None = None) -> AsyncIterator[AuditEntry]:
        """One group's entries, archive then stream, oldest first."""
        async for entry in self._group(group, since_ms, until_ms):
            yield entry

    async def _group(self, group: str, since_ms: int | None, until_ms: int | None) -> AsyncIterator[AuditEntry]:
        mark = self.marks().get(group)
        for manifest in self.manifests(since_ms, until_ms):
            part = manifest.part(group)
            if part is None or (since_ms is not None and id_ms(part.last_id) < since_ms) or (
                    until_ms is not None and id_ms(part.first_id) > until_ms):
                continue
            for entry in self.archive.read_part(manifest, part) if self.archive else ():
                if _in_range(entry, since_ms, until_ms):
                    yield entry
        async for entry in self._live(group, mark, since_ms, until_ms):
            yield entry

    async def _live(self, group: str, mark: GroupMark | None, since_ms: int | None,
                    until_ms: int | None) -> AsyncIterator[AuditEntry]:
        """A group's live stream after its archived mark (a run killed before it trimmed leaves entries at or
        before the mark in the stream: they are read from the archive)."""
        start, exclusive = ("-" if since_ms is None else str(since_ms)), False
        if mark is not None and mark.last_id and (since_ms is None or id_ms(mark.last_id) >= since_ms):
            start, exclusive = mark.last_id, True
        end = "+" if until_ms is None else str(until_ms)
        async for entry in audit.scan_group(self.redis, group, start, end, exclusive_start=exclusive):
            yield entry

    async def _all(self, since_ms: int | None, until_ms: int | None) -> AsyncIterator[AuditEntry]:
        """Every group: segment by segment (each one's members merged), then the live streams merged."""
        for manifest in self.manifests(since_ms, until_ms):
            async for entry in self._segment(manifest, since_ms, until_ms):
                yield entry
        marks = self.marks()
        live = [self._live(g, marks.get(g), since_ms, until_ms) for g in await audit.groups(self.redis)]
        async for entry in audit.merged(live):
            yield entry

    def _segment(self, manifest: Manifest, since_ms: int | None, until_ms: int | None) -> AsyncIterator[AuditEntry]:
        """A segment's entries, its groups' members merged in id order."""
        archive = self.archive
        assert archive is not None
        parts = [_as_async(e for e in archive.read_part(manifest, p) if _in_range(e, since_ms, until_ms))
                 for p in manifest.groups]
        return audit.merged(parts)

    async def entries_of_hash(self, wanted: str, *, since: datetime | None = None, until: datetime | None = None,
                              group: str | None = None) -> AsyncIterator[AuditEntry]:
        """The entries of the number whose keyed hash is ``wanted`` (a record that keeps only the hash): in its
        ``group`` when known, else in every group (a scan of the whole trail)."""
        source = self._group(group, _ms(since), _ms(until)) if group else self._all(_ms(since), _ms(until))
        async for entry in source:
            if entry.fields.get("number_hash") == wanted:
                yield entry

    async def _matching(self, since_ms: int | None, until_ms: int | None, wanted: NumberFilter | None,
                        campaign: str | None) -> AsyncIterator[AuditEntry]:
        source = self._group(wanted.group, since_ms, until_ms) if wanted else self._all(since_ms, until_ms)
        async for entry in source:
            if wanted and not wanted.matches(entry):
                continue
            if campaign and entry.fields.get("campaign") != campaign:
                continue
            yield entry


async def _take_lock(stack: contextlib.ExitStack, archive: ArchiveDir, wait_s: float) -> None:
    """Hold the archive's lock in ``stack``, waiting up to ``wait_s`` for the archive run that holds it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    waiting = False
    while True:
        try:
            stack.enter_context(archive.lock())
            return
        except ArchiveBusy:
            if loop.time() >= deadline:
                raise ErasureRefused(
                    f"an archive run has held the audit archive's lock {archive.path / LOCK} for more than "
                    f"{wait_s:g} s; nothing was erased: run the erasure again once the run is done") from None
            if not waiting:
                log.info("waiting for the archive run that holds %s to end (up to %g s)", archive.path / LOCK,
                         wait_s)
                waiting = True
            await asyncio.sleep(_LOCK_RETRY_S)
