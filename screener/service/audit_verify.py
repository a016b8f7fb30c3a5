"""Verifying the audit chain (``screener audit verify``) and exporting its heads (``screener audit checkpoint``).

``verify`` walks every group's chain through the archive (segment by segment) and its live stream, and
recomputes every link (``store/audit_chain.py``). It reports, per group, the first entry where the chain
breaks: an altered field (the entry no longer matches its link), a deleted entry (a gap in the positions:
the next one's position skips it), an inserted, moved or reordered one (a position repeated or going back, or
a link that does not follow), a segment file that differs from its manifest or is cut short, a segment gone,
a stream that ends before its head (entries deleted at the end). A checkpoint (the
heads exported earlier and kept elsewhere) catches even a chain rewritten from its start: the entry it names
must still hold the link it recorded.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from screener.service.audit import AuditTrail
from screener.store import audit, keys
from screener.store.audit import AuditEntry, Head
from screener.store.audit_archive import ArchiveError, GroupMark, GroupPart, Manifest, id_key, id_ms
from screener.store.audit_chain import GENESIS, LINK_FIELD, ChainFormatError, expected_link, position_of


@dataclass(frozen=True)
class Break:
    """Where a chain breaks: the group, the entry (its id, "" when the break is not one entry's) and what."""

    group: str
    entry_id: str
    where: str
    problem: str

    def line(self) -> str:
        entry = f" at entry {self.entry_id}" if self.entry_id else ""
        group = f"group {self.group}" if self.group else "archive"
        return f"BROKEN {group}{entry} ({self.where}): {self.problem}"

    def to_json(self) -> dict[str, str]:
        return {"group": self.group, "entry": self.entry_id, "where": self.where, "problem": self.problem}


@dataclass(frozen=True)
class VerifyReport:
    groups: int
    entries: int
    segments: int
    breaks: tuple[Break, ...]
    #: checkpoint entries compared (and those older than --since or removed by retention, not comparable)
    checkpoint_checked: int = 0
    checkpoint_skipped: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "groups": self.groups, "entries": self.entries, "segments": self.segments,
                "checkpoint_checked": self.checkpoint_checked, "checkpoint_skipped": self.checkpoint_skipped,
                "breaks": [b.to_json() for b in self.breaks]}


@dataclass(frozen=True)
class Checkpoint:
    """Chain heads at a moment, to be kept elsewhere (``screener audit checkpoint``)."""

    created_at: str
    heads: dict[str, Head]

    def to_json(self) -> dict[str, object]:
        return {"format": 1, "created_at": self.created_at,
                "groups": {g: {"last_id": h.last_id, "link": h.link, "count": h.count}
                           for g, h in sorted(self.heads.items())}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Checkpoint:
        try:
            heads = {str(g): Head(str(g), str(h["link"]), str(h["last_id"]), int(h["count"]))
                     for g, h in data["groups"].items()}
            return cls(str(data.get("created_at", "")), heads)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"not a checkpoint of the audit chain ({type(exc).__name__}: {exc})") from None

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f"not a checkpoint of the audit chain (invalid JSON: {exc})") from None
        if not isinstance(data, dict):
            raise ValueError("not a checkpoint of the audit chain (not a JSON object)")
        return cls.from_json(data)


async def checkpoint(trail: AuditTrail) -> Checkpoint:
    """Every group's chain head now."""
    found = await audit.heads(trail.redis, await trail.groups())
    return Checkpoint(datetime.now(UTC).isoformat(timespec="seconds"), {g: h for g, h in found.items() if h})


@dataclass
class _Walk:
    """One group's walk along its chain."""

    group: str
    prev: str = GENESIS
    count: int = 0
    last_id: str = ""
    broken: bool = False
    checked: set[str] = field(default_factory=set)


class Verifier:
    """Walks every chain of a trail (archive and streams); ``since_ms``: links of entries before it are
    trusted, not recomputed; ``against``: a checkpoint whose entries must still hold their links."""

    def __init__(self, trail: AuditTrail, *, since_ms: int | None = None, against: Checkpoint | None = None) -> None:
        self.trail = trail
        self.since_ms = since_ms
        self.against = against
        self.breaks: list[Break] = []
        self.walks: dict[str, _Walk] = {}
        self.entries = 0
        self.segments = 0
        self.checkpoint_checked = 0

    def _walk(self, group: str, pruned: dict[str, GroupMark]) -> _Walk:
        if group not in self.walks:
            mark = pruned.get(group)
            self.walks[group] = _Walk(group) if mark is None else _Walk(group, mark.link, mark.count, mark.last_id)
        return self.walks[group]

    def _break(self, walk: _Walk, entry_id: str, where: str, problem: str) -> None:
        if not walk.broken:
            walk.broken = True
            self.breaks.append(Break(walk.group, entry_id, where, problem))

    async def run(self) -> VerifyReport:
        pruned: dict[str, GroupMark] = {}
        archive = self.trail.archive
        if archive is not None and archive.exists():
            state = archive.load_state()
            pruned = state.pruned_groups
            await self._archive(pruned, state.pruned_seq)
        for group in sorted(set(await audit.groups(self.trail.redis)) | set(self.walks)):
            walk = self._walk(group, pruned)
            where = f"stream {keys.audit_stream_key(group)}"
            async for entry in self._live(group):
                self._step(walk, entry, where)
            await self._head(walk)
        skipped = self._checkpoint_leftovers()
        return VerifyReport(len(self.walks), self.entries, self.segments, tuple(self.breaks), self.checkpoint_checked,
                            skipped)

    async def _live(self, group: str) -> AsyncIterator[AuditEntry]:
        mark = self.trail.marks().get(group)
        start, exclusive = "-", False
        if mark is not None and mark.last_id:
            start, exclusive = mark.last_id, True
        async for entry in audit.scan_group(self.trail.redis, group, start, "+", exclusive_start=exclusive):
            yield entry

    # -- the archive ---------------------------------------------------------------------------------------------

    async def _archive(self, pruned: dict[str, GroupMark], pruned_seq: int) -> None:
        archive = self.trail.archive
        assert archive is not None
        expected = pruned_seq + 1
        for seq, path in archive.manifest_files():
            if seq <= pruned_seq:
                continue
            if seq != expected:
                self.breaks.append(Break("", "", "archive", f"segments {expected} to {seq - 1} are missing "
                                                             "(their manifests are gone)"))
            expected = seq + 1
            try:
                manifest = archive.read_manifest(path)
            except ArchiveError as exc:
                self.breaks.append(Break("", "", f"manifest {path.parent.name}/{path.name}", str(exc)))
                continue
            self.segments += 1
            self._segment(manifest, pruned)

    def _segment(self, manifest: Manifest, pruned: dict[str, GroupMark]) -> None:
        archive = self.trail.archive
        assert archive is not None
        where = f"segment {manifest.day}/{manifest.segment}"
        try:
            digest, size = archive.file_sha256(manifest)
        except OSError as exc:
            self.breaks.append(Break("", "", where, f"unreadable: {exc.strerror or exc}"))
            for part in manifest.groups:
                walk = self._walk(part.group, pruned)
                self._break(walk, part.first_id, where, "its segment file is missing or unreadable")
            return
        if (digest, size) != (manifest.sha256, manifest.bytes):
            self.breaks.append(Break("", "", where, f"the file differs from its manifest (SHA-256 {digest[:16]}..., "
                                                    f"{size} bytes; manifest {manifest.sha256[:16]}..., "
                                                    f"{manifest.bytes} bytes): altered or truncated"))
        for part in manifest.groups:
            self._part(manifest, part, self._walk(part.group, pruned), where)

    def _part(self, manifest: Manifest, part: GroupPart, walk: _Walk, where: str) -> None:
        archive = self.trail.archive
        assert archive is not None
        if self.since_ms is not None and id_ms(part.last_id) < self.since_ms and not self._checkpointed(part):
            # before --since: trust the manifest's head (nothing read)
            walk.prev, walk.count, walk.last_id = part.head, part.first_n + part.count - 1, part.last_id
            self.entries += part.count
            return
        if not walk.broken and part.prev != walk.prev:
            self._break(walk, part.first_id, where, "the segment does not continue the chain before it: a segment, "
                                                   "or entries before this one, are missing")
        read = 0
        try:
            for entry in archive.read_part(manifest, part):
                read += 1
                self._step(walk, entry, where)
        except (OSError, EOFError, zlib.error, ValueError, IndexError) as exc:
            after = f"after entry {walk.last_id}" if walk.last_id else "at its start"
            self._break(walk, walk.last_id, where, f"cut short or damaged {after}: {read} of {part.count} entries "
                                                   f"readable ({type(exc).__name__})")
            return
        if read != part.count:
            self._break(walk, walk.last_id, where, f"holds {read} entries of group {part.group}, its manifest "
                                                   f"says {part.count}")

    def _checkpointed(self, part: GroupPart) -> bool:
        """True when the checkpoint names an entry inside this part (then it is read to compare it)."""
        head = self.against.heads.get(part.group) if self.against else None
        return head is not None and id_key(part.first_id) <= id_key(head.last_id) <= id_key(part.last_id)

    # -- one entry -----------------------------------------------------------------------------------------------

    def _step(self, walk: _Walk, entry: AuditEntry, where: str) -> None:
        self.entries += 1
        stored = entry.fields.get(LINK_FIELD, "")
        position = position_of(entry.fields)
        expected = walk.count + 1
        trusted = self.since_ms is not None and entry.millis < self.since_ms
        if not walk.broken and not trusted:
            self._check(walk, entry, stored, position, expected, where)
        walk.count = position if position is not None and not walk.broken else expected
        self._compare_checkpoint(walk, entry, stored, where)
        walk.prev, walk.last_id = stored, entry.id

    def _check(self, walk: _Walk, entry: AuditEntry, stored: str, position: int | None, expected: int,
               where: str) -> None:
        before = f"entry {walk.last_id}" if walk.last_id else "the start of the chain"
        if walk.last_id and id_key(entry.id) <= id_key(walk.last_id):
            self._break(walk, entry.id, where, f"out of order: it comes after entry {walk.last_id}")
        elif position is None:
            self._break(walk, entry.id, where, "it has no position (_n): not written by the chain, or altered")
        elif position > expected:
            missing = f"#{expected}" if position == expected + 1 else f"#{expected} to #{position - 1}"
            self._break(walk, entry.id, where, f"entry #{position} follows {before} (#{expected - 1}): {missing} "
                                               "missing (deleted)")
        elif position < expected:
            self._break(walk, entry.id, where, f"entry #{position} comes after #{expected - 1}: an entry was "
                                               "inserted, moved or reordered here")
        else:
            try:
                computed = expected_link(walk.prev, entry.id, entry.fields)
            except ChainFormatError as exc:
                self._break(walk, entry.id, where, f"malformed: {exc}")
                return
            if computed != stored:
                self._break(walk, entry.id, where, f"entry #{position} does not match its link: its fields were "
                                                   f"altered, or it does not follow {before} (inserted or moved)")

    async def _head(self, walk: _Walk) -> None:
        raw = await self.trail.redis.get(keys.audit_head_key(walk.group))
        head = None if raw is None else audit.parse_head(walk.group, raw)
        where = f"head {keys.audit_head_key(walk.group)}"
        if raw is None:
            if walk.count:
                self._break(walk, walk.last_id, where, "the chain head is missing (deleted)")
            return
        if head is None:
            self._break(walk, walk.last_id, where, "the chain head is unreadable")
        elif (head.link, head.last_id) != (walk.prev, walk.last_id):
            if walk.last_id and id_key(head.last_id) > id_key(walk.last_id):
                self._break(walk, head.last_id, where, f"the stream ends at entry {walk.last_id}, before its head "
                                                       f"{head.last_id}: entries at its end were deleted")
            else:
                self._break(walk, walk.last_id, where, f"the last entry {walk.last_id or '(none)'} is not the head "
                                                       f"{head.last_id}: the chain was changed at its end")
        elif head.count != walk.count:
            self._break(walk, walk.last_id, where, f"the chain has {walk.count} entries, its head counts "
                                                   f"{head.count}: entries were removed or added")

    # -- a checkpoint --------------------------------------------------------------------------------------------

    def _compare_checkpoint(self, walk: _Walk, entry: AuditEntry, stored: str, where: str) -> None:
        head = self.against.heads.get(walk.group) if self.against else None
        if head is None or head.last_id != entry.id:
            return
        walk.checked.add(entry.id)
        self.checkpoint_checked += 1
        if stored != head.link:
            self.breaks.append(Break(walk.group, entry.id, where, f"differs from the checkpoint: it holds link "
                                                                  f"{stored[:16]}..., the checkpoint {head.link[:16]}"
                                                                  "...: the chain was rewritten"))
        elif walk.count != head.count:
            self.breaks.append(Break(walk.group, entry.id, where, f"is entry #{walk.count} of its chain, the "
                                                                  f"checkpoint says #{head.count}: entries before it "
                                                                  "were removed or added"))

    def _checkpoint_leftovers(self) -> int:
        """Checkpoint entries never met: missing (a break), or not comparable (before --since, or removed by
        retention); returns how many were not comparable."""
        if self.against is None:
            return 0
        skipped = 0
        archive = self.trail.archive
        pruned = archive.load_state().pruned_groups if archive is not None and archive.exists() else {}
        for group, head in sorted(self.against.heads.items()):
            walk = self.walks.get(group)
            if walk is not None and head.last_id in walk.checked:
                continue
            mark = pruned.get(group)
            if (self.since_ms is not None and id_ms(head.last_id) < self.since_ms) or (
                    mark is not None and id_key(head.last_id) <= id_key(mark.last_id)):
                skipped += 1
                continue
            self.breaks.append(Break(group, head.last_id, f"checkpoint of {self.against.created_at}",
                                     "the checkpoint's entry is missing from the trail"))
        return skipped

