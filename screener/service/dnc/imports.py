"""Importing a file into a DNC list: it lands whole, or changes nothing, and says which.

Every import builds a new version of the list beside the live one and switches in one step (one script on
the list's metadata): until the switch the live list is untouched; after it, the whole file is in.

* a full import (``replace``, or a list that is empty) builds the new version from the file alone;
* additions (a non-empty list without ``replace``) and change lists (``changes``) build it from a copy of the
  live version (``copy_version``, tag by tag in each tag's slot), then apply the file to the copy.

Opt-outs and ``dnc add``/``remove`` made during the build go to both versions (``apply_ops``), so the switch
loses none. The old version is freed after ``grace_s`` (screeners cache the live version for about a second, then
decide for up to 1.5 time budgets: ``min_grace_s``; one still reading it after that blocks its call); a version
left by an import that was killed then is freed by the next import. An import interrupted before
the switch (an error, a bad file, Ctrl-C) is undone; one killed outright (SIGKILL) leaves its build, which the
next import frees: the live list is never touched by either.

The storage steps are ``screener.store.dnc``'s; this module runs them in order, reports progress (with the
phase it is in), keeps the build's heartbeat and turns what can go wrong into ``DncError``s whose message ends
with what became of the list.
"""

from __future__ import annotations

import asyncio
import gzip
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from screener.config.settings import DEFAULT_TIME_BUDGET_MS, Settings
from screener.service.budgets import DECISION_BUDGETS, LIST_STATE_TTL_S, oldest_list_version_s
from screener.service.dnc.errors import BadImportFile, DncError, ImportBusy, ImportFailed
from screener.service.dnc.records import ImportResult
from screener.service.progress import Progress, ProgressCallback
from screener.store.client import AnyRedis
from screener.store.dnc.build import DEFAULT_BUDGET_BYTES, VersionBuilder
from screener.store.dnc.edits import ADD, intset_max, mutate_versions, split_ops
from screener.store.dnc.files import BATCH_ROWS, CHUNK_BYTES, BadLine, Batch, Format, Source, iter_batches
from screener.store.dnc.lists import read_list_infos
from screener.store.dnc.versions import (
    DEFAULT_STALE_BUILD_S,
    Build,
    BuildBusy,
    abort_build,
    begin_build,
    copy_version,
    free_retired,
    heartbeat,
    switch,
    version_exists,
)

#: seconds the old version stays after a switch (screeners cache the live version for up to ~1 s; with a long
#: time budget, longer: ``min_grace_s``)
DEFAULT_GRACE_S = 3.0
#: added to the longest a screener may still read the old version (a busy event loop, the pure rules' CPU time)
GRACE_MARGIN_S = 1.0
#: edits per round trip when applying a change list
EDIT_BATCH = 5_000
HEARTBEAT_EVERY_S = 5.0
#: what an error message says became of the list
NOT_CHANGED = "the list was not changed"

#: the phases an import reports in its progress
READING, COPYING, SWITCHED = "reading", "copying", "switched"

__all__ = ["DEFAULT_BUDGET_BYTES", "DEFAULT_GRACE_S", "DEFAULT_STALE_BUILD_S", "EDIT_BATCH", "NOT_CHANGED", "Format",
           "ImportOptions", "ProgressCallback", "check_grace", "check_import_file", "grace_for", "import_file",
           "min_grace_s"]


@dataclass(frozen=True)
class ImportOptions:
    fmt: Format = Format.FTC
    region: str = "US"
    column: str | None = None
    source: str = ""
    replace: bool = False
    changes: bool = False
    kind: str = ""
    #: seconds the old version stays after the switch; None: ``DEFAULT_GRACE_S`` (``DncAdmin`` makes it
    #: ``grace_for`` its settings)
    grace_s: float | None = None
    stale_after_s: float = DEFAULT_STALE_BUILD_S
    budget_bytes: int = DEFAULT_BUDGET_BYTES
    chunk_bytes: int = CHUNK_BYTES
    #: CSV and change lists: rows per batch
    batch_rows: int = BATCH_ROWS
    #: bad lines kept for the report (all are counted)
    keep_bad: int = 20


def min_grace_s(settings: Settings | None) -> float:
    """The shortest grace period after a switch that no screener outlives: the oldest list version a screener may
    still decide with (its cache plus its longest decision, from the settings' time budget, else the default
    budget), plus a margin. A decision that still reads a version freed sooner is blocked (fail closed), so a
    shorter grace period loses nothing, but it blocks calls for no reason."""
    budget_ms = settings.time_budget_ms if settings is not None else DEFAULT_TIME_BUDGET_MS
    return oldest_list_version_s(budget_ms) + GRACE_MARGIN_S


def grace_for(settings: Settings | None) -> float:
    """The grace period of an import that gives none: ``DEFAULT_GRACE_S``, or ``min_grace_s`` when longer."""
    return max(DEFAULT_GRACE_S, min_grace_s(settings))


def check_grace(grace_s: float, settings: Settings | None) -> None:
    """Raise DncError, saying why, for a grace period shorter than ``min_grace_s``."""
    least = min_grace_s(settings)
    if grace_s < least:
        budget_ms = settings.time_budget_ms if settings is not None else DEFAULT_TIME_BUDGET_MS
        where = "the config's" if settings is not None else "the default (no config)"
        raise DncError(f"a grace period of {grace_s:g} s is too short: screeners may still decide with the old "
                       f"version for {least - GRACE_MARGIN_S:g} s after the switch (list versions cached "
                       f"{LIST_STATE_TTL_S:g} s, then a decision of up to {DECISION_BUDGETS:g} x {where} "
                       f"time_budget_ms {budget_ms}) and would block calls meanwhile; give {least:g} s or more")


def check_import_file(path: str | Path) -> None:
    """Raise BadImportFile when ``path`` is no file (before anything is connected or written)."""
    if not Path(path).is_file():
        raise BadImportFile(f"no such file: {path}")


#: errors that a file causes: a corrupt or truncated archive, an unknown column or region, bad encoding
_FILE_ERRORS = (ValueError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile, UnicodeError)


async def import_file(redis: AnyRedis, list_name: str, path: str | Path, options: ImportOptions = ImportOptions(),
                      progress: ProgressCallback | None = None) -> ImportResult:
    """Import a file into a list (see the module doc); the result summarizes it (it landed whole).

    Raises ImportBusy (another import holds the list), BadImportFile (no such file; a corrupt or truncated
    archive, an unknown column or region) and ImportFailed (anything else, Redis errors included); each
    message ends with what became of the list: not changed, or (a switch sent but not acknowledged) how to
    find out. A cancel (Ctrl-C) undoes the build and is raised as such.
    """
    check_import_file(path)
    run = _Import(redis, list_name, options, progress)
    try:
        return await run.run(path)
    except BuildBusy as exc:
        raise ImportBusy(f"{exc}; {NOT_CHANGED}") from None
    except ImportBusy as exc:
        raise ImportBusy(f"{exc}; {NOT_CHANGED}") from None
    except _FILE_ERRORS as exc:
        raise BadImportFile(f"{path}: {exc}; {NOT_CHANGED}") from None
    except _SwitchUnknown as exc:
        raise ImportFailed(str(exc)) from exc.__cause__
    except Exception as exc:
        raise ImportFailed(f"{path}: the import failed ({type(exc).__name__}: {exc}); {NOT_CHANGED}") from exc


class _SwitchUnknown(Exception):
    """The switch was sent and Redis did not say whether it ran."""


@dataclass
class _Reading:
    """What the file gave so far (the rest of the result is set once, as each step ends)."""

    lines: int = 0
    numbers: int = 0
    bad_count: int = 0
    bad: list[BadLine] = field(default_factory=list)


class _Import:
    """One import run: the file's batches into a new version of the list, progress reported after each batch."""

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
        self.phase = READING
        self.beat = time.monotonic()

    def _set(self, **changes: Any) -> None:
        self.result = replace(self.result, **changes)

    async def run(self, path: str | Path) -> ImportResult:
        self.source = Source(path)
        options = self.options
        batches = iter_batches(self.source, options.fmt, options.region, column=options.column,
                               changes=options.changes, chunk_bytes=options.chunk_bytes, batch_rows=options.batch_rows)
        try:
            info = (await read_list_infos(self.redis, [self.list_name]))[self.list_name]
            full = not options.changes and (options.replace or info.state.count <= 0)
            mode = "replace" if full else "changes" if options.changes else "edit"
            self._set(mode=mode, old_version=info.state.version)
            build = await begin_build(self.redis, self.list_name, stale_after_s=options.stale_after_s)
            self._set(version=build.version)
            try:
                count = await self._fill(build, batches, mode, info.state.version)
            except BaseException:
                await asyncio.shield(abort_build(self.redis, build))
                raise
            await self._switch(build, count, full)
        finally:
            batches.close()  # before the source it reads
            self.source.close()
        await self._after_switch()
        r = self.reading
        return replace(self.result, lines=r.lines, numbers=r.numbers, bad_count=r.bad_count, bad=tuple(r.bad),
                       seconds=time.monotonic() - self.started)

    async def _fill(self, build: Build, batches: Iterator[Batch], mode: str, live: str) -> int:
        """Write the new version: the file (after a copy of the live version unless a full import); the count
        of numbers it holds (the switch adds the edits it received meanwhile)."""
        if mode == "replace":
            builder = self._builder(build, existing=False, limit=await intset_max(self.redis))
            await self._gather(builder, batches, build)
            self._set(added=builder.count)
            return builder.count
        self.phase = COPYING
        self._report()
        copied = await copy_version(self.redis, self.list_name, live, build, every_tags=lambda: self._beat(build))
        self.phase = READING
        limit = await intset_max(self.redis)
        if mode == "edit":
            builder = self._builder(build, existing=True, limit=limit)
            await self._gather(builder, batches, build)
            self._set(added=builder.count)
            return copied + builder.count
        return copied + await self._apply_changes(build, batches, limit)

    def _builder(self, build: Build, *, existing: bool, limit: int) -> VersionBuilder:
        return VersionBuilder(self.redis, self.list_name, build.version, intset_max=limit,
                              budget_bytes=self.options.budget_bytes, existing=existing)

    async def _switch(self, build: Build, count: int, full: bool) -> None:
        options = self.options
        try:
            old = await switch(self.redis, build, count=count, source=options.source, fmt=options.fmt.value,
                               kind=options.kind, full=full, change_source=options.source or "import")
        except BuildBusy:
            raise
        except Exception as exc:
            old = await self._switch_outcome(build, exc)
        self.phase = SWITCHED
        self._set(old_version=old)

    async def _switch_outcome(self, build: Build, exc: Exception) -> str:
        """The switch call failed: did it run? Redis is asked once more. It ran: the previous live version (the
        import landed). It did not: the build is undone and _SwitchUnknown says the list was not changed; no
        answer: _SwitchUnknown says how to find out."""
        what = f"{type(exc).__name__}: {exc}"
        try:
            info = (await read_list_infos(self.redis, [self.list_name]))[self.list_name]
            if info.state.version == build.version:
                return self.result.old_version
            if info.building == build.version:
                await abort_build(self.redis, build)
                raise _SwitchUnknown(f"the switch to version {build.version} failed ({what}); {NOT_CHANGED}") from exc
        except _SwitchUnknown:
            raise
        except Exception:  # Redis still does not answer: said below
            pass
        raise _SwitchUnknown(f"the switch to version {build.version} was sent but not acknowledged ({what}): "
                             f"`screener dnc lists` shows whether version {build.version} of {self.list_name!r} is "
                             "live (then the import landed whole; else the list was not changed)") from exc

    async def _after_switch(self) -> None:
        """The import has landed: count, report, and free the old version after the grace period. What fails
        here is a warning in the result (the next import frees a version left behind), never an error."""
        old, new = self.result.old_version, self.result.version
        warnings: list[str] = []
        try:
            info = (await read_list_infos(self.redis, [self.list_name]))[self.list_name]
            self._set(count=info.state.count)
        except Exception as exc:
            warnings.append(f"the list's new count could not be read ({type(exc).__name__}: {exc})")
        self._report()
        if old and old != new:
            try:
                had_keys = await version_exists(self.redis, self.list_name, old)
                if had_keys:  # screeners that cached the old version may still read it
                    grace = self.options.grace_s
                    await asyncio.sleep(DEFAULT_GRACE_S if grace is None else grace)
                if await free_retired(self.redis, self.list_name, older_than_s=0, only=old) and had_keys:
                    self._set(freed_version=old)
            except Exception as exc:
                warnings.append(f"the old version {old} was not freed yet ({type(exc).__name__}: {exc}); the next "
                                "import of the list frees it")
        self._set(warnings=tuple(warnings))

    def _note(self, batch: Batch) -> None:
        t = self.reading
        t.lines += batch.lines
        t.numbers += len(batch.values) + len(batch.short) + len(batch.ops)
        t.bad_count += len(batch.bad)
        room = self.options.keep_bad - len(t.bad)
        if room > 0:
            t.bad.extend(batch.bad[:room])

    def _report(self) -> None:
        if self.progress is None or self.source is None:
            return
        try:
            done = self.source.position()
        except ValueError:  # the source is closed: the whole file was read
            done = self.source.total
        self.progress(Progress(done, self.source.total, self.reading.numbers, self.reading.bad_count,
                               time.monotonic() - self.started, self.phase))

    async def _beat(self, build: Build) -> None:
        """Keep the build's heartbeat (every few seconds); a build taken over by another import stops here."""
        if time.monotonic() - self.beat > HEARTBEAT_EVERY_S:
            self.beat = time.monotonic()
            if not await heartbeat(self.redis, build):
                raise ImportBusy(f"the import of {self.list_name!r} was taken over by another import")
        await asyncio.sleep(0)  # a point where the import can be cancelled

    async def _gather(self, builder: VersionBuilder, batches: Iterator[Batch], build: Build) -> None:
        """Feed every batch to the bulk writer (flushing over budget; keeping the build's heartbeat)."""
        for batch in batches:
            self._note(batch)
            builder.add_values(batch.values, batch.offset)
            builder.add_short(batch.short)
            if builder.over_budget:
                await builder.flush()
            self._report()
            await self._beat(build)
        await builder.flush()

    async def _apply_changes(self, build: Build, batches: Iterator[Batch], limit: int) -> int:
        """A change list's rows, in file order, into the build; the net count of numbers they added."""
        net = 0
        for batch in batches:
            self._note(batch)
            ops = batch.ops or [(ADD, f"+{v + batch.offset}") for v in batch.values] + [(ADD, n) for n in batch.short]
            for start in range(0, len(ops), EDIT_BATCH):
                counts = await mutate_versions(self.redis, self.list_name, split_ops(ops[start:start + EDIT_BATCH]),
                                               [build.version], limit)
                added, removed = counts[build.version]
                net += added - removed
                self._set(added=self.result.added + added, removed=self.result.removed + removed)
                await self._beat(build)
            self._report()
        return net
