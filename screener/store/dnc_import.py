"""``screener dnc import``: a file into a list, as a new version (full lists) or as edits (change lists).

* a full import (``replace``, or a list that is empty) builds a new version beside the live one and switches
  in one step; the old version is freed after ``grace_s`` (screeners cache the live version for about a
  second). Until the switch the live list is untouched; an interrupted import is undone (or, after a crash,
  freed by the next import), so running it again is always safe.
* into a non-empty list without ``replace``, or with ``changes``, the numbers are applied as edits to the
  live version (additions and, for change lists, deletions, in file order).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from screener.store import keys
from screener.store.dnc import ADD, apply_ops, read_list_infos, version_tags_key
from screener.store.dnc_build import DEFAULT_BUDGET_BYTES, VersionBuilder
from screener.store.dnc_files import CHUNK_BYTES, BadLine, Batch, Format, Source, iter_batches
from screener.store.dnc_redis import AnyRedis, intset_max
from screener.store.dnc_versions import (
    DEFAULT_STALE_BUILD_S,
    abort_build,
    begin_build,
    drop_version,
    heartbeat,
    switch,
)

#: seconds the old version stays after a switch (screeners cache the live version for up to ~1 s)
DEFAULT_GRACE_S = 3.0
#: edits per round trip when applying a change list or merging into a live list
EDIT_BATCH = 5_000
HEARTBEAT_EVERY_S = 5.0


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


@dataclass(frozen=True)
class Progress:
    bytes_done: int
    bytes_total: int
    numbers: int
    bad: int
    elapsed_s: float


@dataclass
class ImportResult:
    list_name: str
    #: "replace" (new version switched in), "edit" (applied to the live version) or "changes"
    mode: str = ""
    lines: int = 0
    #: good numbers read (duplicates included)
    numbers: int = 0
    added: int = 0
    removed: int = 0
    bad_count: int = 0
    bad: list[BadLine] = field(default_factory=list)
    version: str = ""
    old_version: str = ""
    #: the old version whose keys were freed after the switch ("" when it had none)
    freed_version: str = ""
    #: the list's count after the import
    count: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.numbers / self.seconds if self.seconds > 0 else 0.0


async def import_file(redis: AnyRedis, list_name: str, path: str | Path, options: ImportOptions = ImportOptions(),
                      progress: Callable[[Progress], None] | None = None) -> ImportResult:
    """Import a file into a list (see the module doc); the result summarizes it."""
    started = time.monotonic()
    result = ImportResult(list_name)
    source = Source(path)
    try:
        batches = iter_batches(source, options.fmt, options.region, column=options.column,
                               changes=options.changes, chunk_bytes=options.chunk_bytes)
        info = (await read_list_infos(redis, [list_name]))[list_name]
        if not options.changes and (options.replace or info.state.count <= 0):
            await _build(redis, list_name, batches, source, options, result, progress, started)
        else:
            await _edit(redis, list_name, batches, source, options, result, progress, started)
    finally:
        source.close()
    result.seconds = time.monotonic() - started
    return result


def _note(result: ImportResult, batch: Batch, options: ImportOptions) -> None:
    result.lines += batch.lines
    result.numbers += len(batch.values) + len(batch.short) + len(batch.ops)
    result.bad_count += len(batch.bad)
    room = options.keep_bad - len(result.bad)
    if room > 0:
        result.bad.extend(batch.bad[:room])


def _report(progress: Callable[[Progress], None] | None, source: Source, result: ImportResult,
            started: float) -> None:
    if progress is not None:
        progress(Progress(source.position(), source.total, result.numbers, result.bad_count,
                          time.monotonic() - started))


async def _build(redis: AnyRedis, list_name: str, batches: object, source: Source, options: ImportOptions,
                 result: ImportResult, progress: Callable[[Progress], None] | None, started: float) -> None:
    result.mode = "replace"
    build = await begin_build(redis, list_name, stale_after_s=options.stale_after_s)
    result.version = build.version
    builder = VersionBuilder(redis, list_name, build.version, intset_max=await intset_max(redis),
                             budget_bytes=options.budget_bytes)
    beat = time.monotonic()
    try:
        for batch in batches:  # type: ignore[attr-defined]
            _note(result, batch, options)
            builder.add_values(batch.values, batch.offset)
            builder.add_short(batch.short)
            if builder.over_budget:
                await builder.flush()
            if time.monotonic() - beat > HEARTBEAT_EVERY_S:
                beat = time.monotonic()
                if not await heartbeat(redis, build):
                    raise RuntimeError(f"the import of {list_name!r} was taken over by another import")
            _report(progress, source, result, started)
            await asyncio.sleep(0)  # a point where the import can be cancelled
        await builder.flush()
        result.old_version = await switch(redis, build, count=builder.count, source=options.source,
                                          fmt=options.fmt.value, kind=options.kind)
    except BaseException:
        await asyncio.shield(abort_build(redis, build))
        raise
    result.added = builder.count
    result.count = (await read_list_infos(redis, [list_name]))[list_name].state.count
    _report(progress, source, result, started)
    old = result.old_version
    if old and old != build.version and await redis.exists(version_tags_key(list_name, old)):
        await asyncio.sleep(options.grace_s)  # screeners that cached the old version may still read it
        await drop_version(redis, list_name, old)
        result.freed_version = old


async def _bulk_add(redis: AnyRedis, list_name: str, version: str, batches: object, source: Source,
                    options: ImportOptions, result: ImportResult, progress: Callable[[Progress], None] | None,
                    started: float) -> None:
    """Add a file to the live version with the bulk writer, merging with what each tag holds."""
    builder = VersionBuilder(redis, list_name, version, intset_max=await intset_max(redis),
                             budget_bytes=options.budget_bytes, existing=True)
    for batch in batches:  # type: ignore[attr-defined]
        _note(result, batch, options)
        builder.add_values(batch.values, batch.offset)
        builder.add_short(batch.short)
        if builder.over_budget:
            await builder.flush()
        _report(progress, source, result, started)
        await asyncio.sleep(0)
    await builder.flush()
    result.added = builder.count
    meta = keys.dnc_meta_key(list_name)
    await redis.hincrby(meta, "count", builder.count)
    await redis.hset(meta, mapping={"last_change_at": repr(time.time()),
                                    "last_change_source": options.source or "import"})


async def _edit(redis: AnyRedis, list_name: str, batches: object, source: Source, options: ImportOptions,
                result: ImportResult, progress: Callable[[Progress], None] | None, started: float) -> None:
    result.mode = "changes" if options.changes else "edit"
    info = (await read_list_infos(redis, [list_name]))[list_name]
    if not options.changes and not info.building:
        # bulk additions; while a build runs, the per-number path below also writes them into the build
        await _bulk_add(redis, list_name, info.state.version, batches, source, options, result, progress, started)
    else:
        await _edit_ops(redis, list_name, batches, source, options, result, progress, started)
    info = (await read_list_infos(redis, [list_name]))[list_name]
    result.version = info.state.version
    result.count = info.state.count


async def _edit_ops(redis: AnyRedis, list_name: str, batches: object, source: Source, options: ImportOptions,
                    result: ImportResult, progress: Callable[[Progress], None] | None, started: float) -> None:
    for batch in batches:  # type: ignore[attr-defined]
        _note(result, batch, options)
        ops = batch.ops or [(ADD, f"+{v + batch.offset}") for v in batch.values] + [(ADD, n) for n in batch.short]
        for start in range(0, len(ops), EDIT_BATCH):
            added, removed = await apply_ops(redis, list_name, ops[start:start + EDIT_BATCH], source=options.source)
            result.added += added
            result.removed += removed
        _report(progress, source, result, started)
