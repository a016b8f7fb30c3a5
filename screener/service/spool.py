"""Writes that must not be lost when Redis cannot take them now: an opt-out, a call's end, the audit entry of a
call that was blocked because the store did not answer.

They are kept in order, in memory and (when the spool has a folder) in an append-only file of JSON lines,
and written to Redis by ``flush``, in batches, once it answers again. An opt-out is on disk (fsynced) before
``add`` returns; an audit entry goes to the file with the others of the moment at the next ``sync`` (the
screener calls it within a fraction of a second: a crash loses at most that fraction of a second of them),
so a storm of blocked calls costs one write and one fsync per moment, not per call. Each process
holds a lock on its own file; a file whose process is gone (a crash, a process AGI that ended) is adopted
and flushed by the next process that flushes the same folder, so a restart loses nothing. An item leaves
the spool only after Redis acknowledged it; a full spool refuses new items and counts them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from screener.service.store_errors import STORE_ERRORS

log = logging.getLogger("screener.service.spool")

#: what an item is: an opt-out to put on the internal list, an audit entry to append, a call refused as
#: overloaded (its audit entry is built when it is flushed: refusing must cost next to nothing), a call's end,
#: an answered call to count
OPT_OUT = "opt_out"
AUDIT = "audit"
REFUSED = "refused"
#: the key of an AUDIT item's data that names the audit group of its stream (not a field of the entry)
GROUP = "_group"
#: an answered call to count (abandoned or not) in its campaign's rate, with its lock-out and audit entry
ANSWERED_CALL = "answered_call"
#: a call's end (it no longer counts among its campaign's calls in progress)
CALL_END = "call_end"
#: an allowed call taking its placeholder's place among its campaign's calls in progress (Redis Cluster)
CALL_BIND = "call_bind"
#: items kept at most (beyond that new ones are refused and counted)
DEFAULT_MAX_ITEMS = 100_000


@dataclass(frozen=True)
class PendingWrite:
    kind: str
    data: dict[str, str]

    def line(self) -> str:
        return json.dumps({"kind": self.kind, "data": self.data}, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def parse(cls, line: str) -> PendingWrite | None:
        try:
            raw = json.loads(line)
            return cls(str(raw["kind"]), {str(k): str(v) for k, v in raw["data"].items()})
        except (ValueError, KeyError, TypeError, AttributeError):
            return None  # a line cut by a crash mid-write: the item was never acknowledged to anyone


Writer = Callable[[list[PendingWrite]], Awaitable[None]]


def still_named(handle: IO[str], path: Path) -> bool:
    """True when the open file is still the one ``path`` names (not replaced by a rename since it was opened)."""
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


class Spool:
    """Pending writes of one process (``name``), in ``folder`` when given (else in memory only)."""

    def __init__(self, folder: Path | None = None, *, name: str = "screener",
                 max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self.folder = folder
        self.name = name
        self.max_items = max_items
        self.items: list[PendingWrite] = []
        #: items kept since the process started, and items refused because the spool was full
        self.added = 0
        self.overflowed = 0
        #: items Redis refused as malformed (not a store error): set aside, never written (``flush``)
        self.rejected = 0
        self._file: IO[str] | None = None
        #: lines of the items added since the last sync, not in the file yet
        self._unwritten: list[str] = []
        #: one flush at a time (a periodic flush and one started by a decision may overlap)
        self._flush_lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.items)

    @property
    def path(self) -> Path | None:
        return None if self.folder is None else self.folder / f"{self.name}.jsonl"

    def _open(self) -> IO[str]:
        if self._file is None:
            assert self.folder is not None and self.path is not None
            self.folder.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 (held for the process's life)
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._file = handle
        return self._file

    def add(self, kind: str, data: dict[str, str], *, sync: bool = True) -> bool:
        """Keep one write (when there is a folder: on disk before this returns, or with ``sync`` False at
        the next ``sync``); False when the spool is full."""
        if len(self.items) >= self.max_items:
            self.overflowed += 1
            return False
        item = PendingWrite(kind, data)
        self.items.append(item)
        self.added += 1
        if self.folder is not None:
            self._unwritten.append(item.line() + "\n")
            if sync:
                self.sync()
        return True

    def sync(self) -> None:
        """Write the items added since the last sync to the file and fsync it (one write, one fsync)."""
        if not self._unwritten or self.folder is None:
            return
        handle = self._open()
        handle.write("".join(self._unwritten))
        self._unwritten.clear()
        handle.flush()
        os.fsync(handle.fileno())

    def pending(self, kind: str, field: str) -> set[str]:
        """The values of ``field`` in the pending items of ``kind`` (e.g. the numbers of pending opt-outs)."""
        return {item.data.get(field, "") for item in self.items if item.kind == kind}

    def adopt_orphans(self) -> int:
        """Take over the files of processes that are gone (their lock is free); returns the items adopted.
        A file is adopted whole or not at all: when this spool has no room for all of it, it stays."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        adopted = 0
        for path in sorted(self.folder.glob("*.jsonl")):
            if path == self.path:
                continue
            try:
                handle = open(path, "r+", encoding="utf-8")  # noqa: SIM115 (closed below)
            except FileNotFoundError:
                continue  # adopted or rewritten by someone else meanwhile
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its process is alive and flushes it itself
                if not still_named(handle, path):
                    continue  # its owner renamed a new file over it after we opened it: the owner is alive
                found = [item for item in map(PendingWrite.parse, handle.read().splitlines()) if item is not None]
                if len(self.items) + len(found) > self.max_items:
                    log.error("spool full: %d pending write(s) of %s left where they are", len(found), path.name)
                    continue
                for item in found:
                    self.add(item.kind, item.data, sync=False)
                self.sync()  # on our own disk first, then the orphan goes
                path.unlink()
                adopted += len(found)
        if adopted:
            log.warning("adopted %d pending write(s) of a screener process that is gone", adopted)
        return adopted

    async def flush(self, write: Writer, *, batch: int = 500) -> int:
        """Write the pending items in order, ``batch`` at a time, until one batch fails (Redis is away again:
        the rest stay); returns how many were written. The file is rewritten with what is left. Flushes do
        not overlap: a second one waits for the first (and finds what it left).

        A batch that fails with anything but a store error holds an item Redis will never take as it is (a
        malformed value, a bug): the rest of this flush goes one item at a time, so that such an item cannot
        hold up those behind it. An opt-out is never given up: it stays (its number blocked) and is tried again
        at every flush. Any other such item is set aside (``rejected``, logged, appended to ``<name>.rejected``
        beside the spool and fsynced); one that cannot be written there stays too."""
        async with self._flush_lock:
            self.adopt_orphans()
            done = 0
            changed = False
            at = 0
            try:
                while at < len(self.items):
                    chunk = self.items[at:at + batch]
                    try:
                        await write(chunk)
                    except STORE_ERRORS:
                        raise
                    except Exception as exc:
                        if len(chunk) > 1:
                            batch = 1
                            continue
                        if chunk[0].kind != OPT_OUT and self._set_aside(chunk[0], exc):
                            del self.items[at]
                            changed = True
                        else:
                            log.error("a pending %s write was refused (%s: %s): kept, tried again at the next "
                                      "flush", chunk[0].kind, type(exc).__name__, exc)
                            at += 1
                        continue
                    del self.items[at:at + len(chunk)]
                    done += len(chunk)
            finally:
                if done or changed:
                    self._rewrite()
            return done

    def _set_aside(self, item: PendingWrite, exc: Exception) -> bool:
        """Append the item to ``<name>.rejected`` (fsynced); False when the spool has no folder or the file
        cannot be written (the item then stays in the spool)."""
        if self.folder is None:
            return False
        path = self.folder / f"{self.name}.rejected"
        try:
            with open(path, "a", encoding="utf-8") as f:
                f.write(item.line() + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            return False
        self.rejected += 1
        log.error("a pending %s write was refused (%s: %s): set aside in %s, not written", item.kind,
                  type(exc).__name__, exc, path)
        return True

    def _rewrite(self) -> None:
        """Replace the file with what is left: a locked temporary file renamed over it (never truncated in
        place, so a crash leaves the old file or the new one, and the name is never unlocked)."""
        if self.folder is None or self.path is None:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        fresh = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 (becomes the held file)
        fcntl.flock(fresh, fcntl.LOCK_EX)
        fresh.write("".join(item.line() + "\n" for item in self.items))
        fresh.flush()
        os.fsync(fresh.fileno())
        os.replace(tmp, self.path)
        self._unwritten.clear()  # every item is in the new file
        old, self._file = self._file, fresh
        if old is not None:
            old.close()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self.sync()
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
