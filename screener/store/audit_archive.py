"""The audit archive: entries that left Redis, in daily, compressed, append-only segment files (plain files:
copy them anywhere, e.g. to object storage).

::

    archive_dir/
      ARCHIVE.json                        the archive's identity: {"format", "id", "created_at"}
      STATE.json                          per group, the last entry archived (id, link, entries so far); what
                                          retention removed; the last segment number
      LOCK                                held (flock) by the archive run
      config/<version>.json               every config version seen (the text of its files, secrets masked)
      2026-12-02/00000007.seg.gz          one segment: one gzip member per group, a line per entry:
                                          [id, [name, value, name, value, ...]] (the fields in stream order)
      2026-12-02/00000007.manifest.json   its manifest: first/last id, count, the file's SHA-256 and size, and
                                          per group: offset and length of its member, count, first/last id,
                                          the link before its first entry and after its last (chain heads)

A segment holds the entries of one UTC day (by entry id) of every group, up to the run's cutoff; segment
numbers only grow. A segment and its manifest are written to temporary names, fsynced, renamed (segment
first, manifest last) and the folder fsynced: a manifest on disk means its segment is complete. Files are
never changed afterwards; retention removes whole days.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from screener.store.audit import AuditEntry
from screener.store.audit_chain import GENESIS, LINK_FIELD

FORMAT = 1
IDENTITY = "ARCHIVE.json"
STATE = "STATE.json"
LOCK = "LOCK"
CONFIG_DIR = "config"
_DAY_DIR = re.compile(r"\d{4}-\d{2}-\d{2}")
_SEGMENT = re.compile(r"(\d{8})(?:\.r\d+)?\.seg\.gz")
_MANIFEST = re.compile(r"(\d{8})\.manifest\.json")
_READ_CHUNK = 1 << 16


class ArchiveError(RuntimeError):
    """The archive cannot be used as asked (busy, owned by another deployment, unreadable)."""


class ArchiveBusy(ArchiveError):
    """Another archive run holds the archive's lock."""


def id_ms(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def id_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def day_of(entry_id: str) -> str:
    return datetime.fromtimestamp(id_ms(entry_id) / 1000, UTC).strftime("%Y-%m-%d")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new one, never a part."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _json_bytes(data: object) -> bytes:
    return (json.dumps(data, indent=1, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class GroupMark:
    """A group's chain position: its last entry's id and link, and how many entries the chain has had."""

    last_id: str = ""
    link: str = GENESIS
    count: int = 0


@dataclass(frozen=True)
class GroupPart:
    """One group's member of a segment."""

    group: str
    offset: int
    length: int
    count: int
    first_id: str
    last_id: str
    #: the link before the first entry, and the link of the last (the group's chain head after this segment)
    prev: str
    head: str
    #: the position of the first entry in the group's chain (1 = its very first entry)
    first_n: int

    def mark(self) -> GroupMark:
        return GroupMark(self.last_id, self.head, self.first_n + self.count - 1)


@dataclass(frozen=True)
class Manifest:
    seq: int
    day: str
    segment: str
    sha256: str
    bytes: int
    count: int
    first_id: str
    last_id: str
    created_at: str
    archive: str
    groups: tuple[GroupPart, ...]
    format: int = FORMAT
    #: every rewrite of the segment (tombstones of an erasure): when, why, how many entries, the file before
    revisions: tuple[dict[str, str], ...] = ()

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data["groups"] = [asdict(p) for p in self.groups]
        data["revisions"] = [dict(r) for r in self.revisions]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        parts = tuple(GroupPart(**p) for p in data["groups"])
        revisions = tuple(dict(r) for r in data.get("revisions", ()))
        return cls(**{**{k: v for k, v in data.items() if k in cls.__dataclass_fields__}, "groups": parts,
                      "revisions": revisions})

    def holding(self, group: str, entry_id: str) -> GroupPart | None:
        """The group's part of this segment when it holds ``entry_id``."""
        part = self.part(group)
        if part is not None and id_key(part.first_id) <= id_key(entry_id) <= id_key(part.last_id):
            return part
        return None

    def part(self, group: str) -> GroupPart | None:
        for part in self.groups:
            if part.group == group:
                return part
        return None


@dataclass(frozen=True)
class ArchiveState:
    """What the archive holds: the last segment number, each group's mark, and what retention removed."""

    seq: int = 0
    groups: dict[str, GroupMark] = field(default_factory=dict)
    #: the last segment removed by retention (0: none), the newest day removed, and each group's mark then
    pruned_seq: int = 0
    pruned_day: str = ""
    pruned_groups: dict[str, GroupMark] = field(default_factory=dict)

    def after(self, manifest: Manifest) -> ArchiveState:
        groups = dict(self.groups)
        for part in manifest.groups:
            groups[part.group] = part.mark()
        return replace(self, seq=max(self.seq, manifest.seq), groups=groups)

    def to_json(self) -> dict[str, object]:
        return {"format": FORMAT, "seq": self.seq, "groups": {g: asdict(m) for g, m in sorted(self.groups.items())},
                "pruned": {"seq": self.pruned_seq, "day": self.pruned_day,
                           "groups": {g: asdict(m) for g, m in sorted(self.pruned_groups.items())}}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArchiveState:
        pruned = data.get("pruned", {})
        return cls(seq=int(data.get("seq", 0)),
                   groups={g: GroupMark(**m) for g, m in data.get("groups", {}).items()},
                   pruned_seq=int(pruned.get("seq", 0)), pruned_day=str(pruned.get("day", "")),
                   pruned_groups={g: GroupMark(**m) for g, m in pruned.get("groups", {}).items()})


class _HashingWriter:
    """A file written through a SHA-256 and a byte count (what the manifest records)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.position = 0

    def write(self, data: bytes) -> int:  # the interface gzip.GzipFile writes to
        self.handle.write(data)
        self.digest.update(data)
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.handle.flush()


_LINE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def entry_line(entry: AuditEntry) -> bytes:
    flat = [part for pair in entry.fields.items() for part in pair]
    return (_LINE.encode([entry.id, flat]) + "\n").encode()


def parse_line(line: bytes, group: str) -> AuditEntry:
    entry_id, flat = json.loads(line)
    return AuditEntry(str(entry_id), {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}, group)


class SegmentWriter:
    """Writes one segment: a gzip member per group, then (``commit``) the fsynced file and its manifest."""

    def __init__(self, folder: Path, seq: int, day: str, archive_id: str) -> None:
        self.folder = folder
        self.seq, self.day, self.archive_id = seq, day, archive_id
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{seq:08d}.seg.gz"
        self.tmp = self.path.with_name(self.path.name + ".tmp")
        self._handle = open(self.tmp, "wb")  # noqa: SIM115 (closed by commit or abort)
        self._out = _HashingWriter(self._handle)
        self.parts: list[GroupPart] = []
        self._member: gzip.GzipFile | None = None
        self._current: dict[str, Any] = {}

    def begin_group(self, group: str, mark: GroupMark) -> None:
        self._current = {"group": group, "offset": self._out.tell(), "count": 0, "first_id": "", "last_id": "",
                         "prev": mark.link, "head": mark.link, "first_n": mark.count + 1}

    def write(self, entries: list[AuditEntry]) -> None:
        """Append entries of the current group (in id order)."""
        if not entries:
            return
        if self._member is None:  # the member starts with the group's first entry: an empty group writes nothing
            self._member = gzip.GzipFile(fileobj=self._out, mode="wb", compresslevel=6, mtime=0)
        self._member.write(b"".join(entry_line(e) for e in entries))
        current = self._current
        current["count"] += len(entries)
        current["first_id"] = current["first_id"] or entries[0].id
        current["last_id"] = entries[-1].id
        current["head"] = entries[-1].fields.get(LINK_FIELD, "")

    def end_group(self) -> None:
        """Close the group's member (a group with no entry left nothing in the segment)."""
        if self._member is None:
            return
        self._member.close()
        self._member = None
        current = self._current
        self.parts.append(GroupPart(length=self._out.tell() - current["offset"], **current))

    @property
    def count(self) -> int:
        return sum(p.count for p in self.parts)

    def commit(self) -> Manifest | None:
        """fsync and rename the segment, then write its manifest the same way; None (nothing kept) when empty."""
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        if not self.parts:
            self.tmp.unlink()
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # a day without entries leaves no folder (one with segments is not empty)
            return None
        os.replace(self.tmp, self.path)
        fsync_dir(self.folder)
        ids = sorted((p.first_id for p in self.parts), key=id_key), sorted((p.last_id for p in self.parts), key=id_key)
        manifest = Manifest(
            seq=self.seq, day=self.day, segment=self.path.name, sha256=self._out.digest.hexdigest(),
            bytes=self._out.tell(), count=self.count, first_id=ids[0][0], last_id=ids[1][-1],
            created_at=datetime.now(UTC).isoformat(timespec="seconds"), archive=self.archive_id,
            groups=tuple(self.parts))
        write_atomic(manifest_path(self.folder, self.seq), _json_bytes(manifest.to_json()))
        return manifest

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._handle.close()
        with contextlib.suppress(OSError):
            self.tmp.unlink()


def manifest_path(folder: Path, seq: int) -> Path:
    return folder / f"{seq:08d}.manifest.json"


@dataclass(frozen=True)
class Identity:
    id: str
    created_at: str


class ArchiveDir:
    """One archive folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        return (self.path / IDENTITY).is_file()

    def identity(self, *, create: bool = False) -> Identity:
        path = self.path / IDENTITY
        if not path.is_file():
            if not create:
                raise ArchiveError(f"{self.path} is not an audit archive (no {IDENTITY})")
            self.path.mkdir(parents=True, exist_ok=True)
            data = {"format": FORMAT, "id": os.urandom(8).hex(),
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
            write_atomic(path, _json_bytes(data))
        data = json.loads(path.read_text(encoding="utf-8"))
        return Identity(str(data["id"]), str(data.get("created_at", "")))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the archive's lock (``ArchiveBusy`` when another run holds it)."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ArchiveBusy(f"another archive run holds {self.path / LOCK}") from None
            yield

    # -- state ---------------------------------------------------------------------------------------------------

    def load_state(self) -> ArchiveState:
        path = self.path / STATE
        if not path.is_file():
            return ArchiveState()
        return ArchiveState.from_json(json.loads(path.read_text(encoding="utf-8")))

    def save_state(self, state: ArchiveState) -> None:
        write_atomic(self.path / STATE, _json_bytes(state.to_json()))

    def recover(self) -> ArchiveState:
        """The state after whatever a killed run left (call with the lock held): temporary files removed, the
        manifests written after the last saved state folded in, segments without a manifest removed."""
        state = self.load_state()
        for tmp in self.path.glob("*/*.tmp"):
            tmp.unlink()
        for tmp in self.path.glob("*.tmp"):
            tmp.unlink()
        for manifest in self.manifests(after_seq=state.seq):  # only those newer than the state are read
            state = state.after(manifest)
        for folder in self.day_folders():
            self._remove_orphans(folder, state.pruned_seq)
        self.save_state(state)
        return state

    def _remove_orphans(self, folder: Path, pruned_seq: int) -> None:
        """Remove the segment files of ``folder`` its manifests do not name, by file name alone: a segment whose
        number has no manifest (renamed, but killed before its manifest: its entries are still in Redis), and
        when a number has several files (an erasure's revision killed before the old file went), those its
        manifest does not name (the one manifest read)."""
        segments: dict[int, list[Path]] = {}
        manifests: set[int] = set()
        for path in folder.iterdir():
            if match := _SEGMENT.fullmatch(path.name):
                segments.setdefault(int(match.group(1)), []).append(path)
            elif match := _MANIFEST.fullmatch(path.name):
                manifests.add(int(match.group(1)))
        for seq, files in sorted(segments.items()):
            if seq <= pruned_seq:
                continue
            if seq not in manifests:
                named = ""
            elif len(files) > 1:
                named = self.read_manifest(manifest_path(folder, seq)).segment
            else:
                continue
            for path in files:
                if path.name != named:
                    path.unlink()

    # -- reading -------------------------------------------------------------------------------------------------

    def day_folders(self) -> list[Path]:
        if not self.path.is_dir():
            return []
        return sorted(p for p in self.path.iterdir() if p.is_dir() and _DAY_DIR.fullmatch(p.name))

    def manifest_files(self) -> list[tuple[int, Path]]:
        """(segment number, manifest path) of every manifest, in segment order."""
        found = []
        for folder in self.day_folders():
            for path in folder.glob("*.manifest.json"):
                match = _MANIFEST.fullmatch(path.name)
                if match:
                    found.append((int(match.group(1)), path))
        return sorted(found)

    def manifests(self, *, after_seq: int = 0, since_ms: int | None = None,
                  until_ms: int | None = None) -> Iterator[Manifest]:
        """The manifests in segment order (only those after ``after_seq``, and overlapping the time range)."""
        for seq, path in self.manifest_files():
            if seq <= after_seq:
                continue
            if since_ms is not None or until_ms is not None:
                # the day in the folder name bounds the entries: skip whole days without reading them
                day_start = int(datetime.strptime(path.parent.name, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
                if (until_ms is not None and day_start > until_ms) or (
                        since_ms is not None and day_start + 86_400_000 <= since_ms):
                    continue
            yield self.read_manifest(path)

    @staticmethod
    def read_manifest(path: Path) -> Manifest:
        try:
            return Manifest.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, KeyError, TypeError) as exc:
            raise ArchiveError(f"manifest {path} is unreadable: {exc}") from None

    def segment_path(self, manifest: Manifest) -> Path:
        return self.path / manifest.day / manifest.segment

    def read_part(self, manifest: Manifest, part: GroupPart) -> Iterator[AuditEntry]:
        """The entries of one group's member of a segment, streamed (raises ``OSError``/``zlib.error``/
        ``EOFError`` on a damaged or truncated file, after the entries it could read)."""
        with open(self.segment_path(manifest), "rb") as handle:
            handle.seek(part.offset)
            left = part.length
            inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = b""
            while left > 0:
                chunk = handle.read(min(_READ_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                pending += inflate.decompress(chunk)
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield parse_line(line, part.group)
            pending += inflate.flush()
            if pending.strip():
                for line in pending.split(b"\n"):
                    if line.strip():
                        yield parse_line(line, part.group)
            if left > 0 or not inflate.eof:
                raise EOFError(f"{self.segment_path(manifest)}: the member of group {part.group} is cut short")

    def file_sha256(self, manifest: Manifest) -> tuple[str, int]:
        """The SHA-256 and size of a segment file as it is on disk."""
        digest = hashlib.sha256()
        size = 0
        with open(self.segment_path(manifest), "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    def marks(self) -> dict[str, GroupMark]:
        """Each group's last archived entry (the state, with manifests written after it folded in): a reader of
        the live streams skips what is at or before it (a run killed before it trimmed)."""
        state = self.load_state()
        for manifest in self.manifests(after_seq=state.seq):
            state = state.after(manifest)
        return state.groups

    # -- config versions -----------------------------------------------------------------------------------------

    def config_path(self, version: str) -> Path:
        if not re.fullmatch(r"[0-9a-f]{1,64}", version):
            raise ArchiveError(f"{version!r} is not a config version (hex digits)")
        return self.path / CONFIG_DIR / f"{version}.json"

    def has_config(self, version: str) -> bool:
        return self.config_path(version).is_file()

    def save_config(self, version: str, text: str) -> None:
        path = self.config_path(version)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text.encode())

    def load_config(self, version: str) -> str | None:
        path = self.config_path(version)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    # -- tombstones (a data-subject erasure) -----------------------------------------------------------------------

    def replace_entries(self, manifest: Manifest, group: str, replacements: Mapping[str, Mapping[str, str]],
                        note: str) -> Manifest:
        """Rewrite a segment with some entries of ``group`` replaced (``id -> fields``: tombstoned, so each link
        still holds), as a new file ``<seq>.r<n>.seg.gz``; the manifest switches to it in one rename, then the old
        file goes (a crash leaves one or the other, never a mix). Hold the lock. Returns the new manifest."""
        revision = len(manifest.revisions) + 1
        folder = self.path / manifest.day
        path = folder / f"{manifest.seq:08d}.r{revision}.seg.gz"
        tmp = path.with_name(path.name + ".tmp")
        parts: list[GroupPart] = []
        replaced = 0
        with open(tmp, "wb") as handle, open(self.segment_path(manifest), "rb") as old:
            out = _HashingWriter(handle)
            for part in manifest.groups:
                offset = out.tell()
                if part.group != group:
                    old.seek(part.offset)
                    out.write(old.read(part.length))
                else:
                    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as member:
                        for entry in self.read_part(manifest, part):
                            if entry.id in replacements:
                                entry = AuditEntry(entry.id, dict(replacements[entry.id]), group)
                                replaced += 1
                            member.write(entry_line(entry))
                parts.append(replace(part, offset=offset, length=out.tell() - offset))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        fsync_dir(folder)
        revisions = (*manifest.revisions, {"at": datetime.now(UTC).isoformat(timespec="seconds"), "note": note,
                                           "replaced": str(replaced), "previous_segment": manifest.segment,
                                           "previous_sha256": manifest.sha256})
        fresh = replace(manifest, segment=path.name, sha256=out.digest.hexdigest(), bytes=out.tell(),
                        groups=tuple(parts), revisions=revisions)
        write_atomic(manifest_path(folder, manifest.seq), _json_bytes(fresh.to_json()))
        (folder / manifest.segment).unlink()
        fsync_dir(folder)
        return fresh

    # -- retention -----------------------------------------------------------------------------------------------

    def remove_day(self, day: str) -> None:
        folder = self.path / day
        for path in sorted(folder.iterdir()):
            path.unlink()
        folder.rmdir()
        fsync_dir(self.path)
