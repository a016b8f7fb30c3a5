"""Importing a file into a DNC list, as a new version (full lists) or as edits (change lists).

* a full import (``replace``, or a list that is empty) builds a new version beside the live one and switches
  in one step; the old version is freed after ``grace_s`` (screeners cache the live version for about a
  second). Until the switch the live list is untouched; an interrupted import is undone (or, after a crash,
  freed by the next import), so running it again is always safe.
* into a non-empty list without ``replace``, or with ``changes``, the numbers are applied as edits to the
  live version (additions and, for change lists, deletions, in file order).

The storage steps are ``screener.store.dnc``'s; this module runs them in order, reports progress, keeps the
build's heartbeat and turns what a user can cause (a busy list, a missing or corrupt file) into ``DncError``s.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from screener.service.dnc.errors import BadImportFile, ImportBusy
from screener.service.dnc.records import ImportResult, Progress
from screener.store.client import AnyRedis
from screener.store.dnc.build import DEFAULT_BUDGET_BYTES, VersionBuilder
from screener.store.dnc.edits import ADD, apply_ops, intset_max
from screener.store.dnc.files import CHUNK_BYTES, BadLine, Batch, Format, Source, iter_batches
from screener.store.dnc.lists import read_list_infos, record_bulk_addition
from screener.store.dnc.versions import (
    DEFAULT_STALE_BUILD_S,
    Build,
    BuildBusy,
    abort_build,
    begin_build,
    drop_version,
    heartbeat,
    switch,
    version_exists,
)

#: seconds the old version stays after a switch (screeners cache the live version for up to ~1 s)
DEFAULT_GRACE_S = 3.0
#: edits per round trip when applying a change list or merging into a live list
EDIT_BATCH = 5_000
HEARTBEAT_EVERY_S = 5.0

ProgressCallback = Callable[[Progress], None]

__all__ = ["DEFAULT_BUDGET_BYTES", "DEFAULT_GRACE_S", "DEFAULT_STALE_BUILD_S", "EDIT_BATCH", "Format", "ImportOptions",
           "ProgressCallback", "check_import_file", "import_file"]


@dataclass(frozen=True)
class ImportOptions:
    fmt: Format = Format.FTC
    region: str = "US"
    column: str | None = None
    source: str = ""
    replace: bool = False
    changes: bool = False
    kind: str = ""
    grace_s: float = DEFAULT_GRACE_S
    stale_after_s: float = DEFAULT_STALE_BUILD_S
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    chunk_bytes: int = CHUNK_BYTES
    #: bad lines kept for the report (all are counted)
    keep_bad: int = 20


def check_import_file(path: str | Path) -> None:
    """Raise BadImportFile when ``path`` is no file (before anything is connected or written)."""
    if not Path(path).is_file():
        raise BadImportFile(f"no such file: {path}")


async def import_file(redis: AnyRedis, list_name: str, path: str | Path, options: ImportOptions = ImportOptions(),
                      progress: ProgressCallback | None = None) -> ImportResult:
    """Import a file into a list (see the module doc); the result summarizes it.

    Raises ImportBusy (another import holds the list) and BadImportFile (no such file; a corrupt or truncated
    archive, an unknown column or region: the import is undone, the live list untouched).
    """
    check_import_file(path)
    try:
        return await _Import(redis, list_name, options, progress).run(path)
    except BuildBusy as exc:
        raise ImportBusy(str(exc)) from None
    except (ValueError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise BadImportFile(f"{path}: {exc}; the list was not changed") from None


@dataclass
class _Reading:
    """What the file gave so far (the rest of the result is set once, as each step ends)."""

    lines: int = 0
    numbers: int = 0
    bad_count: int = 0
    bad: list[BadLine] = field(default_factory=list)


class _Import:
    """One import run: the file's batches into the list, progress reported after each batch."""

    def __init__(self, redis: AnyRedis, list_name: str, options: ImportOptions,
                 progress: ProgressCallback | None) -> None:
        self.redis = redis
        self.list_name = list_name
        self.options = options
        self.progress = progress
        self.result = ImportResult(list_name)
        self.reading = _Reading()
        self.started = time.monotonic()
        self.source: Source | None = None

    def _set(self, **changes: Any) -> None:
        self.result = replace(self.result, **changes)

    async def run(self, path: str | Path) -> ImportResult:
        self.source = Source(path)
        options = self.options
        try:
            batches = iter_batches(self.source, options.fmt, options.region, column=options.column,
                                   changes=options.changes, chunk_bytes=options.chunk_bytes)
            info = (await read_list_infos(self.redis, [self.list_name]))[self.list_name]
            if not options.changes and (options.replace or info.state.count <= 0):
                await self._build(batches)
            else:
                await self._edit(batches)
        finally:
            self.source.close()
        r = self.reading
        return replace(self.result, lines=r.lines, numbers=r.numbers, bad_count=r.bad_count, bad=tuple(r.bad),
                       seconds=time.monotonic() - self.started)

    def _note(self, batch: Batch) -> None:
        t = self.reading
        t.lines += batch.lines
        t.numbers += len(batch.values) + len(batch.short) + len(batch.ops)
        t.bad_count += len(batch.bad)
        room = self.options.keep_bad - len(t.bad)
        if room > 0:
            t.bad.extend(batch.bad[:room])

    def _report(self) -> None:
        if self.progress is not None and self.source is not None:
            self.progress(Progress(self.source.position(), self.source.total, self.reading.numbers,
                                   self.reading.bad_count, time.monotonic() - self.started))

    async def _gather(self, builder: VersionBuilder, batches: Iterator[Batch], build: Build | None = None) -> None:
        """Feed every batch to the bulk writer (flushing over budget; keeping a build's heartbeat)."""
        beat = time.monotonic()
        for batch in batches:
            self._note(batch)
            builder.add_values(batch.values, batch.offset)
            builder.add_short(batch.short)
            if builder.over_budget:
                await builder.flush()
            if build is not None and time.monotonic() - beat > HEARTBEAT_EVERY_S:
                beat = time.monotonic()
                if not await heartbeat(self.redis, build):
                    raise ImportBusy(f"the import of {self.list_name!r} was taken over by another import")
            self._report()
            await asyncio.sleep(0)  # a point where the import can be cancelled
        await builder.flush()

    async def _build(self, batches: Iterator[Batch]) -> None:
        redis, options = self.redis, self.options
        build = await begin_build(redis, self.list_name, stale_after_s=options.stale_after_s)
        self._set(mode="replace", version=build.version)
        builder = VersionBuilder(redis, self.list_name, build.version, intset_max=await intset_max(redis),
                                 budget_bytes=options.budget_bytes)
        try:
            await self._gather(builder, batches, build)
            old = await switch(redis, build, count=builder.count, source=options.source, fmt=options.fmt.value,
                               kind=options.kind)
        except BaseException:
            await asyncio.shield(abort_build(redis, build))
            raise
        self._set(old_version=old, added=builder.count,
                  count=(await read_list_infos(redis, [self.list_name]))[self.list_name].state.count)
        self._report()
        if old and old != build.version and await version_exists(redis, self.list_name, old):
            await asyncio.sleep(options.grace_s)  # screeners that cached the old version may still read it
            await drop_version(redis, self.list_name, old)
            self._set(freed_version=old)

    async def _edit(self, batches: Iterator[Batch]) -> None:
        self._set(mode="changes" if self.options.changes else "edit")
        info = (await read_list_infos(self.redis, [self.list_name]))[self.list_name]
        if not self.options.changes and not info.building:
            # bulk additions; while a build runs, the per-number path below also writes them into the build
            await self._bulk_add(info.state.version, batches)
        else:
            await self._edit_ops(batches)
        info = (await read_list_infos(self.redis, [self.list_name]))[self.list_name]
        self._set(version=info.state.version, count=info.state.count)

    async def _bulk_add(self, version: str, batches: Iterator[Batch]) -> None:
        """Add a file to the live version with the bulk writer, merging with what each tag holds."""
        builder = VersionBuilder(self.redis, self.list_name, version, intset_max=await intset_max(self.redis),
                                 budget_bytes=self.options.budget_bytes, existing=True)
        await self._gather(builder, batches)
        self._set(added=builder.count)
        await record_bulk_addition(self.redis, self.list_name, builder.count,
                                   source=self.options.source or "import", at=time.time())

    async def _edit_ops(self, batches: Iterator[Batch]) -> None:
        for batch in batches:
            self._note(batch)
            ops = batch.ops or [(ADD, f"+{v + batch.offset}") for v in batch.values] + [(ADD, n) for n in batch.short]
            for start in range(0, len(ops), EDIT_BATCH):
                added, removed = await apply_ops(self.redis, self.list_name, ops[start:start + EDIT_BATCH],
                                                 source=self.options.source)
                self._set(added=self.result.added + added, removed=self.result.removed + removed)
            self._report()
