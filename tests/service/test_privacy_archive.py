"""An erasure and the audit archive, against a real redis-server and real archive folders: an erasure waits for
an archive run that already read the number's entries, then tombstones them in the segment that run wrote; it
gives up, erasing nothing, when the run keeps the archive's lock too long; and it refuses, erasing nothing, on a
host whose archive folder is not the deployment's archive (missing, or another archive), and fails (run it again)
when an archive claims the trail while an erasure runs on a host without one."""

from __future__ import annotations

import asyncio
import gzip
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.config.settings import Settings
from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.numbers import mask
from screener.service.audit import AuditTrail
from screener.service.audit_archive import Archiver
from screener.service.audit_fields import number_hash
from screener.service.audit_verify import Verifier
from screener.service.consent import ConsentLedger
from screener.service.privacy import Erasure, ErasureRefused, PrivacyDesk
from screener.service.screening import Screener, connect
from screener.store import audit, consent, keys
from screener.store.audit_archive import ArchiveDir
from tests.factories import StaticHolder, make_settings

NUMBER = "+12125550142"
OTHER = "+12125550143"
AT = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
#: the archive run's batch: its reads of a segment's entries are the XRANGEs with this COUNT
BATCH = 50
#: a generous bound on waits that end by themselves (never an assertion about time)
PATIENCE_S = 60


def with_archive(folder: Path) -> Settings:
    base = make_settings(time_budget_ms=2000)
    return replace(base, audit=replace(base.audit, archive_dir=str(folder)))


def now_ms() -> int:
    return int(time.time() * 1000)


async def history(s: Screener) -> None:
    """Decisions, an opt-out and a consent record of NUMBER, decisions of OTHER: both in group +1212."""
    await ConsentLedger(s.redis, s.settings).grant(NUMBER, "open", source="web form 12")
    for n in (NUMBER, OTHER, NUMBER):
        await s.screen(ScreenRequest(dialed=n, campaign="open", at=AT, commit=False, call_id=f"call-{n}"))
    await s.opt_out(NUMBER, "open", source="press 9", call_id=f"call-{NUMBER}")


def segment_text(folder: Path) -> bytes:
    return b"".join(gzip.decompress(p.read_bytes()) for p in folder.glob("*/*.seg.gz"))


def holds_number(text: bytes, salt: str) -> bool:
    """Whether the text still names NUMBER: its hash, its call id or its masked form."""
    return any(v.encode() in text for v in (number_hash(NUMBER, salt), f"call-{NUMBER}", mask(NUMBER)))


async def erase_on_host(url: str, folder: Path) -> Erasure:
    """Erase NUMBER from a host whose [audit] archive_dir is ``folder``."""
    s = Screener(StaticHolder(with_archive(folder)), connect(url, 2.0))
    try:
        return await PrivacyDesk(s).erase(NUMBER)
    finally:
        await s.aclose()


class PausedAfterRead:
    """The archive run's Redis client: once the run has read a group's entries for its segment (an XRANGE of
    BATCH on that group's stream), it holds them and waits for ``go`` before the run goes on to write them."""

    def __init__(self, client: aioredis.Redis, group: str) -> None:
        self.client = client
        self.stream = keys.audit_stream_key(group)
        self.read = asyncio.Event()
        self.go = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    async def xrange(self, name: str, *args: Any, **kwargs: Any) -> Any:
        rows = await self.client.xrange(name, *args, **kwargs)
        if name == self.stream and kwargs.get("count") == BATCH and rows and not self.read.is_set():
            self.read.set()
            await self.go.wait()
        return rows


@pytest.fixture
async def screener(redis_server: EmbeddedRedis, redis_client: aioredis.Redis,
                   tmp_path: Path) -> AsyncIterator[Screener]:
    s = Screener(StaticHolder(with_archive(tmp_path / "archive")), connect(redis_server.url, 2.0))
    yield s
    await s.aclose()


async def paused_run(redis: aioredis.Redis, s: Screener, folder: Path) -> tuple[PausedAfterRead, asyncio.Task[Any]]:
    """An archive run of every entry, paused right after it read NUMBER's group."""
    paused = PausedAfterRead(redis, keys.audit_group(NUMBER))
    run = asyncio.create_task(Archiver(paused, s.settings, folder, batch=BATCH).run(before_ms=now_ms() + 1))
    await asyncio.wait_for(paused.read.wait(), PATIENCE_S)
    assert not run.done()
    return paused, run


async def test_an_erasure_waits_for_the_archive_run_that_read_the_numbers_entries_and_erases_them_in_its_segment(
        screener: Screener, redis_client: aioredis.Redis, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "archive"
    salt = screener.settings.audit_salt.value
    await history(screener)
    with caplog.at_level(logging.INFO, logger="screener.audit"):
        paused, run = await paused_run(redis_client, screener, folder)
        # the run holds the number's entries as they are; the erasure starts now
        erasure = asyncio.create_task(PrivacyDesk(screener).erase(NUMBER))
        while not erasure.done() and not any("waiting for the archive run" in r.getMessage()
                                             for r in caplog.records):
            await asyncio.sleep(0.01)
        waited = not erasure.done()  # the erasure waits for the run (it tombstoned nothing the run read)
        paused.go.set()
        report = await run
        result = await asyncio.wait_for(erasure, PATIENCE_S)

    # the run wrote the number's entries as it had read them, then the erasure tombstoned them in its segment
    [manifest] = report.segments
    assert manifest.part(keys.audit_group(NUMBER)) is not None
    text = segment_text(folder)
    assert not holds_number(text, salt)
    assert f"call-{OTHER}".encode() in text  # the other number's entries are there, untouched
    assert waited
    [rewritten] = list(ArchiveDir(folder).manifests())
    assert len(rewritten.revisions) == 1 and rewritten.revisions[0]["previous_segment"] == manifest.segment
    assert any("audit-trail entries" in what for what, _ in result.kept)
    # nowhere in the trail (segments, then the streams) is the number found any more, and the chain holds
    trail = AuditTrail(redis_client, salt, folder)
    assert [e.kind async for e in trail.entries(number=NUMBER)] == ["privacy"]
    live = [e.fields async for e in audit.scan_group(redis_client, keys.audit_group(NUMBER)) if e.kind != "privacy"]
    assert live and not holds_number(repr(live).encode(), salt)  # (the erasure's own entry names it)
    verified = await Verifier(trail).run()
    assert verified.ok, [b.line() for b in verified.breaks]


async def test_an_erasure_gives_up_erasing_nothing_when_an_archive_run_keeps_the_lock_too_long(
        screener: Screener, redis_client: aioredis.Redis, tmp_path: Path) -> None:
    folder = tmp_path / "archive"
    await history(screener)
    group = keys.audit_group(NUMBER)
    before = [e async for e in audit.scan_group(redis_client, group)]
    paused, run = await paused_run(redis_client, screener, folder)
    try:
        with pytest.raises(ErasureRefused, match=r"held the audit archive's lock .*LOCK.* nothing was erased"):
            await PrivacyDesk(screener, archive_wait_s=0.5).erase(NUMBER)
        # nothing half done: the consent record and the entries as they were (no suppression entry added)
        assert await consent.records(redis_client, NUMBER)
        assert [e async for e in audit.scan_group(redis_client, group)] == before
    finally:
        paused.go.set()
        await run
    # once the run is done, the erasure goes through
    result = await PrivacyDesk(screener).erase(NUMBER)
    assert any("audit-trail entries" in what for what, _ in result.kept)
    assert not holds_number(segment_text(folder), screener.settings.audit_salt.value)


async def test_an_erasure_refuses_on_a_host_whose_archive_folder_is_not_the_deployments(
        redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path) -> None:
    archive = tmp_path / "archive"  # the deployment's archive (another host's, say): it claims the trail
    s = Screener(StaticHolder(with_archive(archive)), connect(redis_server.url, 2.0))
    try:
        await history(s)
        await Archiver(redis_client, s.settings, archive).run(before_ms=now_ms() + 1)
    finally:
        await s.aclose()
    salt = s.settings.audit_salt.value
    assert holds_number(segment_text(archive), salt)
    live = [e async for e in audit.scan_group(redis_client, keys.audit_group(NUMBER))]
    elsewhere = tmp_path / "elsewhere"
    ArchiveDir(tmp_path / "other").identity(create=True)  # an archive, but not the one that owns the trail
    owner = ArchiveDir(archive).identity().id
    for folder, why in ((elsewhere, "is missing"), (tmp_path / "other", "is another archive")):
        with pytest.raises(ErasureRefused) as refused:
            await erase_on_host(redis_server.url, folder)
        message = str(refused.value)
        assert str(folder) in message and why in message and owner in message, message
        assert "run the erasure on the host that archives" in message and "nothing was erased" in message
        # nothing erased: the consent record, the live and the archived entries as they were
        assert await consent.records(redis_client, NUMBER)
        assert [e async for e in audit.scan_group(redis_client, keys.audit_group(NUMBER))] == live
        assert holds_number(segment_text(archive), salt)
    assert not elsewhere.exists()  # refusing created no folder
    # on the host that archives, it goes through, segments included
    await erase_on_host(redis_server.url, archive)
    assert not holds_number(segment_text(archive), salt)
    assert not await consent.records(redis_client, NUMBER)


class _ArchivedMeanwhile(AuditTrail):
    """A trail on a host without an archive, while another host's first archive run claims the trail and
    archives every entry just as the erasure comes to the number's entries."""

    def __init__(self, *args: Any, archive_elsewhere: Path, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.archive_elsewhere = archive_elsewhere

    async def erase_number(self, e164: str, **kwargs: Any) -> int:
        assert self.settings is not None
        await Archiver(self.redis, self.settings, self.archive_elsewhere).run(before_ms=now_ms() + 1)
        return await super().erase_number(e164, **kwargs)


class _DeskArchivedMeanwhile(PrivacyDesk):
    def __init__(self, screener: Screener, archive_elsewhere: Path) -> None:
        super().__init__(screener)
        self.archive_elsewhere = archive_elsewhere

    def _trail(self) -> AuditTrail:
        trail = super()._trail()
        return _ArchivedMeanwhile(trail.redis, trail.salt, trail.archive.path if trail.archive else None,
                                  settings=trail.settings, archive_elsewhere=self.archive_elsewhere)


async def test_an_erasure_on_a_host_without_the_archive_fails_when_an_archive_claims_the_trail_meanwhile(
        screener: Screener, redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"  # the archive of another host, not yet created: Redis names no owner
    await history(screener)
    assert not (tmp_path / "archive").exists() and not await redis_client.exists(keys.AUDIT_ARCHIVE_OWNER_KEY)
    with pytest.raises(ErasureRefused, match=r"claimed this Redis's audit trail .* run the erasure again"):
        await _DeskArchivedMeanwhile(screener, elsewhere).erase(NUMBER)
    salt = screener.settings.audit_salt.value
    assert holds_number(segment_text(elsewhere), salt)  # what the erasure could not reach: it said so
    # run again on the host that archives, it reaches the segment
    await erase_on_host(redis_server.url, elsewhere)
    assert not holds_number(segment_text(elsewhere), salt)
