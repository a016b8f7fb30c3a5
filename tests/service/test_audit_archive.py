"""The audit archive against a real redis-server and real files: whole days leave Redis only once on disk,
a run killed with SIGKILL at random points loses and duplicates nothing, 2 million entries are archived in
bounded memory, retention removes old days (and says so), one archive per deployment, the length cap blocks
calls instead of dropping evidence."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.lab.audit_load import load_chains
from screener.reasons import ReasonCode
from screener.service.audit import AuditTrail
from screener.service.audit_archive import Archiver, default_cutoff_ms, retention_start
from screener.service.audit_verify import Verifier
from screener.service.screening import Screener, connect
from screener.store import audit, keys
from screener.store.audit_archive import ArchiveDir, ArchiveError
from tests.cli.lab_config import write_config
from tests.factories import StaticHolder, make_settings

DAY_MS = 86_400_000
SALT = "test-salt"


def now_ms() -> int:
    return int(time.time() * 1000)


async def archived_and_live_ids(trail: AuditTrail) -> Counter[str]:
    """Every entry id of the trail, counted where it is: each archive member and each live stream."""
    seen: Counter[str] = Counter()
    assert trail.archive is not None
    for manifest in trail.archive.manifests():
        for part in manifest.groups:
            seen.update(f"{part.group}/{e.id}" for e in trail.archive.read_part(manifest, part))
    for group in await audit.groups(trail.redis):
        seen.update([f"{group}/{e.id}" async for e in audit.scan_group(trail.redis, group)])
    return seen


async def test_whole_days_are_archived_then_trimmed_and_read_back_as_one_trail(redis_client: aioredis.Redis,
                                                                               tmp_path: Path) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = int(today.timestamp() * 1000) - 3 * DAY_MS
    loaded = await load_chains(redis_client, ["+1201", "+1305", "+1415"], 3000, first_ms=start,
                               last_ms=now_ms() - 1000)
    noon = today + timedelta(hours=12)
    archiver = Archiver(redis_client, make_settings(), tmp_path, clock=lambda: noon)
    report = await archiver.run()  # default: the days that ended an hour ago (and more) go
    assert {m.day for m in report.segments} == {(today - timedelta(days=d)).strftime("%Y-%m-%d") for d in (3, 2, 1)}
    cutoff = default_cutoff_ms(noon, 3600)
    assert report.cutoff_ms == cutoff == int(today.timestamp() * 1000)
    left = [e.id for g in ("+1201", "+1305", "+1415") async for e in audit.scan_group(redis_client, g)]
    assert left and all(int(i.split("-")[0]) >= cutoff for i in left)  # today's entries stay in Redis
    assert report.entries + len(left) == loaded.total
    trail = AuditTrail(redis_client, SALT, tmp_path)
    seen = await archived_and_live_ids(trail)
    assert max(seen.values()) == 1
    assert {k for k in seen if not k.startswith("global/")} == {f"{g}/{i}" for g, ids in loaded.ids.items()
                                                                 for i in ids}
    assert (await Verifier(trail).run()).ok
    again = await archiver.run()
    assert again.segments == ()  # nothing new: nothing written, nothing trimmed


async def test_a_run_killed_before_it_trimmed_is_read_once_and_finished_by_the_next(
        redis_client: aioredis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = await load_chains(redis_client, ["+1201", "+1305"], 400, first_ms=now_ms() - 2 * DAY_MS,
                               last_ms=now_ms() - 1000)

    async def no_trim(self: Archiver, marks: dict[str, Any]) -> list[str]:
        return []

    monkeypatch.setattr(Archiver, "_trim", no_trim)
    await Archiver(redis_client, make_settings(), tmp_path).run(before_ms=now_ms())
    assert sum([await redis_client.xlen(keys.audit_stream_key(g)) for g in ("+1201", "+1305")]) == 400
    trail = AuditTrail(redis_client, SALT, tmp_path)
    ids = [e.id async for e in trail.entries() if e.kind == "decision"]
    assert len(ids) == len(set(ids)) == loaded.total  # archived and still in Redis: read once, from the archive
    assert (await Verifier(trail).run()).ok
    monkeypatch.undo()
    await Archiver(redis_client, make_settings(), tmp_path).run(before_ms=now_ms())
    assert sum([await redis_client.xlen(keys.audit_stream_key(g)) for g in ("+1201", "+1305")]) == 0


async def test_retention_removes_old_days_and_says_so(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    six_years = int((now - timedelta(days=6 * 366)).timestamp() * 1000)
    await load_chains(redis_client, ["+1201"], 200, first_ms=six_years, last_ms=six_years + 2 * DAY_MS)
    await load_more(redis_client, now)
    report = await Archiver(redis_client, make_settings(), tmp_path).run(before_ms=now_ms())
    assert len(report.removed_days) == 3 and all(d < retention_start(now.date(), 5, 1).isoformat()
                                                  for d in report.removed_days)
    trail = AuditTrail(redis_client, SALT, tmp_path)
    kinds = [e.fields.get("action") async for e in trail.entries() if e.kind == "archive"]
    assert kinds == ["retention", "archived"]  # the removal said before it is done, then the run's entry
    retention, archived = [e async for e in trail.entries() if e.kind == "archive"]
    assert retention.fields["removed_days"] == archived.fields["removed_days"] == ",".join(report.removed_days)
    assert [e async for e in trail.entries() if e.kind == "decision" and e.millis < six_years + 3 * DAY_MS] == []
    assert (await Verifier(trail).run()).ok  # the chain goes on from where retention cut it


async def test_a_host_clock_far_ahead_removes_no_day_younger_than_the_retention(redis_client: aioredis.Redis,
                                                                              tmp_path: Path) -> None:
    now = datetime.now(UTC)
    six_years = int((now - timedelta(days=6 * 366)).timestamp() * 1000)
    await load_chains(redis_client, ["+1201"], 200, first_ms=six_years, last_ms=six_years + 2 * DAY_MS)
    await load_more(redis_client, now)
    ahead = now + timedelta(days=20 * 366)  # this host's clock jumped 20 years forward; Redis's did not
    report = await Archiver(redis_client, make_settings(), tmp_path, clock=lambda: ahead).run()
    kept = retention_start(now.date(), 5, 1).isoformat()
    assert len(report.removed_days) == 3 and all(d < kept for d in report.removed_days)
    days = {m.day for m in ArchiveDir(tmp_path).manifests()}
    assert days and all(d >= kept for d in days)
    assert days == {m.day for m in report.segments if m.day >= kept}  # the recent days archived are all there
    assert {p.name for p in ArchiveDir(tmp_path).day_folders()} == days  # and no folder of a day without entries
    # the cutoff follows the earlier clock too: the days that ended archive_after ago by Redis, not by the host
    assert report.cutoff_ms == default_cutoff_ms(now, 3600) or report.cutoff_ms == default_cutoff_ms(
        datetime.now(UTC), 3600)
    left = [e.id async for e in audit.scan_group(redis_client, "+1305")]
    assert left and all(int(i.split("-")[0]) >= report.cutoff_ms for i in left)


async def load_more(redis: aioredis.Redis, now: datetime) -> None:
    """Recent entries in a group of their own (the old group's chain is done)."""
    await load_chains(redis, ["+1305"], 50, first_ms=int(now.timestamp() * 1000) - 3 * DAY_MS,
                      last_ms=int(now.timestamp() * 1000) - 1000)


async def test_recovery_reads_only_the_manifests_newer_than_the_state_and_removes_what_no_manifest_names(
        redis_client: aioredis.Redis, tmp_path: Path) -> None:
    await load_chains(redis_client, ["+1201", "+1305"], 300, first_ms=now_ms() - 4 * DAY_MS,
                      last_ms=now_ms() - 1000)
    report = await Archiver(redis_client, make_settings(), tmp_path).run(before_ms=now_ms())
    archive = ArchiveDir(tmp_path)
    first, middle, *_, last = report.segments
    # an erasure's revision whose manifest switched to it, killed before the old file went
    old_file = archive.segment_path(middle).read_bytes()
    revised = archive.replace_entries(middle, middle.groups[0].group, {}, "test")
    archive.segment_path(middle).write_bytes(old_file)
    # an erasure's revision renamed before its manifest switched to it, and a segment renamed without its
    # manifest (the next number)
    not_switched = tmp_path / last.day / f"{last.seq:08d}.r1.seg.gz"
    not_switched.write_bytes(b"not switched to")
    orphan = tmp_path / last.day / f"{last.seq + 1:08d}.seg.gz"
    orphan.write_bytes(b"cut short")
    # a manifest already folded into the state is not read again (recovery costs the runs since the last one)
    state = archive.load_state()
    assert state.seq == last.seq
    manifest = tmp_path / first.day / f"{first.seq:08d}.manifest.json"
    kept = manifest.read_bytes()
    manifest.write_text("not json")
    assert archive.recover() == state
    manifest.write_bytes(kept)
    assert not orphan.exists() and not not_switched.exists() and not archive.segment_path(middle).exists()
    segments = sorted(p.name for p in tmp_path.glob("*/*.seg.gz"))
    assert segments == sorted([revised.segment, *(m.segment for m in report.segments if m is not middle)])
    assert (await Verifier(AuditTrail(redis_client, SALT, tmp_path)).run()).ok


async def test_one_archive_per_deployment(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    await load_chains(redis_client, ["+1201"], 10, first_ms=now_ms() - DAY_MS, last_ms=now_ms() - 1000)
    await Archiver(redis_client, make_settings(), tmp_path / "a").run(before_ms=now_ms())
    with pytest.raises(ArchiveError, match="archived by another archive"):
        await Archiver(redis_client, make_settings(), tmp_path / "b").run(before_ms=now_ms())


async def test_the_length_cap_blocks_calls_and_never_drops_evidence(redis_client: aioredis.Redis,
                                                                    redis_server: EmbeddedRedis) -> None:
    screener = Screener(StaticHolder(make_settings(audit_maxlen=3)), connect(redis_server.url, 0.5))
    at = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    try:
        decisions = [await screener.screen(ScreenRequest(dialed=f"+1201555010{i}", campaign="open", at=at))
                     for i in range(5)]
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        reason = decisions[3].reasons[0]
        assert reason.code is ReasonCode.SCREENING_UNAVAILABLE and "audit trail full" in reason.detail
        assert decisions[3].attempt_id is None and decisions[3].audit_id is None
        await screener.opt_out("+12015550100", "open", source="test")  # evidence of an opt-out is always kept
        stream = keys.audit_stream_key("+1201")
        assert await redis_client.xlen(stream) == 4
        assert (await audit.tail(redis_client, 1))[0].kind == "opt_out"
    finally:
        await screener.aclose()


# -- real processes --------------------------------------------------------------------------------------------------


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def archive_cli(config: Path, url: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "screener", "--config", str(config), "--redis", url, "audit",
                             "archive", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def peak_rss_kb(proc: subprocess.Popen[bytes]) -> tuple[int, int, bytes]:
    """Wait for the process, reading its peak resident memory (VmHWM, kB: its own, not the parent's it was
    forked from) as it runs; its exit status, that peak, and its standard output."""
    peak = 0
    out = b""
    status = Path(f"/proc/{proc.pid}/status")
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while proc.poll() is None:
        with contextlib.suppress(OSError):
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        out += proc.stdout.read() or b""
        time.sleep(0.1)
    os.set_blocking(proc.stdout.fileno(), True)
    return proc.returncode, peak, out + proc.stdout.read()


@pytest.mark.timeout(1800)
async def test_two_million_entries_are_archived_in_bounded_memory(private_redis: EmbeddedRedis,
                                                                  tmp_path: Path) -> None:
    client = connect(private_redis.url, 30)
    groups = [f"+1{200 + i}" for i in range(100)]
    try:
        loaded = await load_chains(client, groups, 2_000_000, first_ms=now_ms() - 2 * DAY_MS,
                                   last_ms=now_ms() - 60_000)
        config = write_config(tmp_path, private_redis.url)
        proc = archive_cli(config, private_redis.url, "--before", "now", "--json")
        status, rss_kb, out = peak_rss_kb(proc)
        assert status == 0, proc.stderr.read() if proc.stderr else ""
        report = json.loads(out)
        assert report["entries"] == loaded.total == 2_000_000
        assert sum([await client.xlen(keys.audit_stream_key(g)) for g in groups]) == 0
        size = sum(m["bytes"] for m in report["segments"])
        # the archived entries are hundreds of megabytes as JSON; the process never held more than a batch
        assert 0 < rss_kb < 160 * 1024, rss_kb
        print(f"archived {loaded.total} entries into {size / 1e6:.1f} MB of segments; peak RSS {rss_kb / 1024:.0f} MB")
        verify = subprocess.Popen([sys.executable, "-m", "screener", "--config", str(config), "--redis",
                                   private_redis.url, "audit", "verify"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        status, rss_kb, _ = peak_rss_kb(verify)
        assert status == 0, verify.stderr.read() if verify.stderr else ""
        assert 0 < rss_kb < 160 * 1024, rss_kb
        print(f"verified them; peak RSS {rss_kb / 1024:.0f} MB")
    finally:
        await client.aclose()


@pytest.mark.timeout(1800)
async def test_an_archive_killed_at_random_points_loses_and_duplicates_nothing(private_redis: EmbeddedRedis,
                                                                              tmp_path: Path) -> None:
    client = connect(private_redis.url, 30)
    rng = random.Random(1234)
    start, end = now_ms() - 3 * DAY_MS, now_ms() - 60_000
    config = write_config(tmp_path, private_redis.url)
    kills = 0
    try:
        loaded = await load_chains(client, [f"+1{300 + i}" for i in range(8)], 120_000, first_ms=start, last_ms=end)
        slices = 40
        cutoffs = [start + (end - start) * (i + 1) // slices for i in range(slices)]
        span = 0.0
        for cutoff in cutoffs:
            # a run of one slice (a few entries read per round trip: it takes seconds), killed at a random
            # moment of the time the last complete run took: in the interpreter's start, recovery, reading,
            # writing, renaming, saving the state or trimming; then run again to its end
            proc = archive_cli(config, private_redis.url, "--before", iso(cutoff), "--batch", "1")
            if span:
                time.sleep(rng.uniform(0.05, span))
                if proc.poll() is None:
                    proc.send_signal(signal.SIGKILL)
                    kills += 1
                proc.wait()
                began = time.monotonic()
                proc = archive_cli(config, private_redis.url, "--before", iso(cutoff), "--batch", "1")
            else:
                began = time.monotonic()
            assert proc.wait() == 0, proc.stderr.read() if proc.stderr else ""
            span = time.monotonic() - began
            if kills >= 22:
                break
        assert kills >= 20, kills
        final = archive_cli(config, private_redis.url, "--before", "now")
        assert final.wait() == 0, final.stderr.read() if final.stderr else ""
        trail = AuditTrail(client, SALT, ArchiveDir(tmp_path / "var" / "audit-archive").path)
        seen = await archived_and_live_ids(trail)
        duplicated = [k for k, n in seen.items() if n > 1]
        assert duplicated == []
        expected = {f"{g}/{i}" for g, ids in loaded.ids.items() for i in ids}
        assert {k for k in seen if not k.startswith("global/")} == expected  # every entry, exactly once
        report = await Verifier(trail).run()
        assert report.ok, [b.line() for b in report.breaks]
        assert not list((tmp_path / "var" / "audit-archive").glob("**/*.tmp"))
    finally:
        await client.aclose()
