"""Archiving the audit trail (``screener audit archive``, and ``screener serve`` on a schedule): entries leave
Redis only into the archive's segment files (``store/audit_archive.py``), and only once those are on disk.

A run, with the archive's lock held:

1. claims the deployment's streams for this archive (``scr:audit:archive:owner``: one archive trims them);
2. recovers from a run killed at any point (temporary files removed, manifests written after the last saved
   state folded in, segments without a manifest removed) and trims what an earlier run archived but did not
   trim yet;
3. for each UTC day with entries before the cutoff (by default: days that ended ``archive_after`` ago), writes
   one segment with every group's entries after that group's last archived one, fsyncs it and its manifest,
   saves the state, and only then trims exactly the archived entries from each stream (``XTRIM MINID`` just
   past the last one archived, after checking that entry still holds the archived link);
4. removes the days older than the retention (5 years and a day by default; "now" is the earlier of this host's
   clock and Redis's, for the cutoff too), saying so in the trail;
5. copies every stored config version into the archive, and records the run in the global group's stream.

Killed anywhere, the next run loses nothing (nothing is trimmed that is not in a segment with a manifest) and
duplicates nothing (it starts after each group's last archived entry, and readers skip live entries at or
before it until they are trimmed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from screener.config.settings import Settings
from screener.service.audit_fields import ARCHIVE, plain_fields
from screener.store import audit, config_versions, keys
from screener.store.audit import AuditEntry
from screener.store.audit_archive import (
    ArchiveDir,
    ArchiveError,
    ArchiveState,
    GroupMark,
    Manifest,
    SegmentWriter,
    id_key,
    id_ms,
)
from screener.store.audit_chain import LINK_FIELD

log = logging.getLogger("screener.audit.archive")

DAY_MS = 86_400_000


@dataclass(frozen=True)
class ArchiveReport:
    """What one run did."""

    cutoff_ms: int
    segments: tuple[Manifest, ...] = ()
    #: days removed by retention
    removed_days: tuple[str, ...] = ()
    #: config versions copied into the archive
    configs: int = 0
    #: groups whose trim was refused (their last archived entry holds another link than the segment: verify)
    refused_trims: tuple[str, ...] = field(default=())

    @property
    def entries(self) -> int:
        return sum(m.count for m in self.segments)


def default_cutoff_ms(now: datetime, archive_after_s: int) -> int:
    """The start of the UTC day that contains ``now - archive_after``: whole days are archived."""
    moment = now - timedelta(seconds=archive_after_s)
    day = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return int(day.timestamp() * 1000)


def retention_start(today: date, years: int, days: int) -> date:
    """The oldest day kept: ``years`` calendar years and ``days`` days before ``today`` (29 Feb -> 28 Feb)."""
    try:
        back = today.replace(year=today.year - years)
    except ValueError:
        back = today.replace(year=today.year - years, day=28)
    return back - timedelta(days=days)


def _successor(entry_id: str) -> str:
    ms, seq = id_key(entry_id)
    return f"{ms}-{seq + 1}"


def _day_start_ms(day_ms: int) -> int:
    return day_ms - day_ms % DAY_MS


def _day_name(day_ms: int) -> str:
    return datetime.fromtimestamp(day_ms / 1000, UTC).strftime("%Y-%m-%d")


class Archiver:
    """Archives one Redis's audit streams into one archive folder."""

    def __init__(self, redis: Any, settings: Settings, folder: Path, *, batch: int = 1000,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.archive = ArchiveDir(folder)
        self.batch = batch
        self._clock = clock or (lambda: datetime.now(UTC))

    async def run(self, *, before_ms: int | None = None) -> ArchiveReport:
        """One run (see the module's doc); ``before_ms``: archive every entry before this time instead of the
        whole days that ended ``archive_after`` ago. Raises ``ArchiveBusy``/``ArchiveError``."""
        seconds, micros = await self.redis.time()
        server_ms = int(seconds) * 1000 + int(micros) // 1000
        # the earlier of this host's clock and Redis's: a clock jumped forward on one of them neither archives a
        # day that has not ended nor removes by retention a day younger than the retention
        now = min(self._clock(), datetime.fromtimestamp(server_ms / 1000, UTC))
        cutoff = before_ms if before_ms is not None else default_cutoff_ms(now, self.settings.audit.archive_after_s)
        # never past the server's now: every entry before the cutoff then exists when the run starts, so each
        # segment's entries all come before the next one's
        cutoff = min(cutoff, server_ms)
        with self.archive.lock():
            identity = self.archive.identity(create=True)
            await self._claim(identity.id)
            state = self.archive.recover()
            refused = await self._trim(state.groups)
            segments: list[Manifest] = []
            names = await audit.groups(self.redis)
            for day_ms in await self._days(names, state.groups, cutoff):
                manifest = await self._segment(day_ms, names, state, cutoff, identity.id)
                if manifest is None:
                    continue
                state = state.after(manifest)
                self.archive.save_state(state)
                refused += await self._trim({p.group: p.mark() for p in manifest.groups})
                segments.append(manifest)
                log.info("archived %d entries of %s in %s", manifest.count, manifest.day, manifest.segment)
            state, removed = await self._retention(state, now.date(), cutoff)
            configs = await self._copy_configs()
            report = ArchiveReport(cutoff, tuple(segments), tuple(removed), configs, tuple(sorted(set(refused))))
            if segments:
                await self._record(report)
            return report

    async def _claim(self, archive_id: str) -> None:
        await self.redis.set(keys.AUDIT_ARCHIVE_OWNER_KEY, archive_id, nx=True)
        owner = await self.redis.get(keys.AUDIT_ARCHIVE_OWNER_KEY)
        owner_text = owner.decode() if isinstance(owner, bytes) else str(owner)
        if owner_text != archive_id:
            raise ArchiveError(
                f"this Redis's audit trail is archived by another archive (id {owner_text}), not by "
                f"{self.archive.path} (id {archive_id}): one archive trims the streams, or the trail would be split "
                f"across folders; archive from the host that holds it")

    async def _days(self, names: list[str], marks: dict[str, GroupMark], cutoff: int) -> list[int]:
        """The start (ms) of every UTC day from the oldest unarchived entry to the cutoff."""
        first: int | None = None
        for group in names:
            mark = marks.get(group)
            lo = f"({mark.last_id}" if mark and mark.last_id else "-"
            rows = await self.redis.xrange(keys.audit_stream_key(group), min=lo, max=f"({cutoff}", count=1)
            if rows:
                ms = id_ms(rows[0][0].decode() if isinstance(rows[0][0], bytes) else str(rows[0][0]))
                first = ms if first is None else min(first, ms)
        if first is None:
            return []
        return list(range(_day_start_ms(first), cutoff, DAY_MS))

    async def _segment(self, day_ms: int, names: list[str], state: ArchiveState, cutoff: int,
                       archive_id: str) -> Manifest | None:
        end = min(day_ms + DAY_MS, cutoff)
        writer = SegmentWriter(self.archive.path / _day_name(day_ms), state.seq + 1, _day_name(day_ms), archive_id)
        try:
            for group in names:
                mark = state.groups.get(group, GroupMark())
                after_mark = bool(mark.last_id) and id_ms(mark.last_id) >= day_ms
                start = mark.last_id if after_mark else str(day_ms)
                writer.begin_group(group, mark)
                pending: list[AuditEntry] = []
                async for entry in audit.scan_group(self.redis, group, start, f"({end}", exclusive_start=after_mark,
                                                    batch=self.batch):
                    pending.append(entry)
                    if len(pending) >= self.batch:
                        writer.write(pending)
                        pending = []
                writer.write(pending)
                writer.end_group()
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    async def _trim(self, marks: dict[str, GroupMark]) -> list[str]:
        """Trim each group's stream up to and including its archived mark; the groups refused (their entry at
        the mark holds another link than the archive's: never trim what does not match)."""
        refused = []
        for group, mark in sorted(marks.items()):
            if not mark.last_id:
                continue
            stream = keys.audit_stream_key(group)
            rows = await self.redis.xrange(stream, min=mark.last_id, max=mark.last_id)
            if rows:
                link = rows[0][1].get(LINK_FIELD.encode(), rows[0][1].get(LINK_FIELD))
                link_text = link.decode() if isinstance(link, bytes) else str(link)
                if link_text != mark.link:
                    log.error("not trimming %s: its entry %s holds another link than the archive's (run "
                              "`screener audit verify`)", stream, mark.last_id)
                    refused.append(group)
                    continue
            await self.redis.xtrim(stream, minid=_successor(mark.last_id), approximate=False)
        return refused

    async def _retention(self, state: ArchiveState, today: date, cutoff_ms: int) -> tuple[ArchiveState, list[str]]:
        """Remove the days older than the retention, oldest first, while they are a prefix of the segments. The
        trail says so before any is removed (a run killed while removing them, or an entry Redis refuses, leaves
        no removal unrecorded)."""
        oldest_kept = retention_start(today, self.settings.audit.retention_years, self.settings.audit.retention_days)
        removed: list[str] = []
        by_day: dict[str, list[Manifest]] = {}
        for manifest in self.archive.manifests(after_seq=state.pruned_seq):
            if date.fromisoformat(manifest.day) >= oldest_kept:
                break
            by_day.setdefault(manifest.day, []).append(manifest)
        if by_day:
            await self._record(ArchiveReport(cutoff_ms, (), tuple(sorted(by_day)), 0, ()))
        pruned = dict(state.pruned_groups)
        seq, day = state.pruned_seq, state.pruned_day
        for name, manifests in sorted(by_day.items()):
            for manifest in manifests:
                for part in manifest.groups:
                    pruned[part.group] = part.mark()
                seq = max(seq, manifest.seq)
            day = max(day, name)
            state = replace(state, pruned_seq=seq, pruned_day=day, pruned_groups=dict(pruned))
            self.archive.save_state(state)  # first: a day half removed is still known to be removed
            self.archive.remove_day(name)
            removed.append(name)
            log.info("retention: removed the segments of %s", name)
        return state, removed

    async def _copy_configs(self) -> int:
        copied = 0
        for version in await config_versions.versions(self.redis):
            if not self.archive.has_config(version):
                text = await config_versions.load_json(self.redis, version)
                if text is not None:
                    self.archive.save_config(version, text)
                    copied += 1
        return copied

    async def _record(self, report: ArchiveReport) -> None:
        """The run in the global group's stream (archive runs are evidence too)."""
        at = datetime.fromtimestamp(report.cutoff_ms / 1000, UTC).isoformat()
        detail = "; ".join(f"{m.day}/{m.segment} {m.count} entries sha256 {m.sha256}" for m in report.segments)
        fields = plain_fields(ARCHIVE, self.settings, at=self._clock(), source="archive",
                              action="archived" if report.segments else "retention", cutoff=at,
                              entries=str(report.entries), segments=detail,
                              removed_days=",".join(report.removed_days), archive=str(self.archive.path))
        groups = audit.AuditGroups()
        await groups.ensure(self.redis, keys.AUDIT_GLOBAL_GROUP)
        await audit.append(self.redis, keys.AUDIT_GLOBAL_GROUP, fields)


__all__ = ["ArchiveError", "ArchiveReport", "Archiver", "default_cutoff_ms", "retention_start"]
