"""`audit verify` against a real redis-server and a real archive folder: every kind of tampering (in a stream
and in a segment file) is caught and names the entry; a checkpoint catches a chain rewritten from its start;
screeners in several processes writing at once keep chains that verify; spooled entries join the chain."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import multiprocessing as mp
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.decision import DisclosureEvent, ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.service.audit import AuditTrail
from screener.service.audit_archive import Archiver
from screener.service.audit_fields import DECISION, audit_fields
from screener.service.audit_verify import Checkpoint, Verifier, VerifyReport, checkpoint
from screener.service.screening import Screener, connect
from screener.store import audit, audit_chain, keys
from screener.store.audit_archive import ArchiveDir
from tests.conftest import StoreTopology
from tests.factories import StaticHolder, make_settings

SALT = "test-salt"
AT = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
GROUPS = ("+1201", "+1305")


async def fill(redis: aioredis.Redis, n: int, start: int = 0) -> None:
    """``n`` entries spread over two groups, built as the service builds them."""
    settings = make_settings()
    registry = audit.AuditGroups()
    await registry.ensure_all(redis, GROUPS)
    for i in range(start, start + n):
        number = f"+1{'201' if i % 2 else '305'}555{i:04d}"
        fields = audit_fields(DECISION, settings, at=AT, number=number, campaign="open", source="test",
                              call_id=f"call-{i}", i=str(i), verdict="allow", pre_reasons="")
        await audit.append(redis, keys.audit_group(number), fields)


async def trail_with_archive(redis: aioredis.Redis, folder: Path) -> AuditTrail:
    """60 entries archived (two segments: two runs), then 20 more live."""
    await fill(redis, 30)
    await Archiver(redis, make_settings(), folder).run(before_ms=int(time.time() * 1000) + 1)
    await asyncio.sleep(0.01)
    await fill(redis, 30, 30)
    await Archiver(redis, make_settings(), folder).run(before_ms=int(time.time() * 1000) + 1)
    await asyncio.sleep(0.01)
    await fill(redis, 20, 60)
    return AuditTrail(redis, SALT, folder)


async def verify(trail: AuditTrail, **kw: Any) -> VerifyReport:
    return await Verifier(trail, **kw).run()


async def rows(redis: aioredis.Redis, group: str) -> list[tuple[str, dict[str, str]]]:
    return [(e.id, e.fields) async for e in audit.scan_group(redis, group)]


async def rewrite(redis: aioredis.Redis, group: str, new_rows: list[tuple[str, dict[str, str]]]) -> None:
    """Rewrite a group's stream with explicit ids (what a tamperer with Redis access can do)."""
    stream = keys.audit_stream_key(group)
    await redis.delete(stream)
    for entry_id, fields in new_rows:
        await redis.xadd(stream, fields, id=entry_id)  # type: ignore[arg-type]


async def test_an_untouched_trail_verifies_across_archive_and_streams(redis_client: aioredis.Redis,
                                                                        tmp_path: Path) -> None:
    trail = await trail_with_archive(redis_client, tmp_path)
    report = await verify(trail)
    assert report.ok, report.breaks
    assert report.segments == 2 and report.entries == 80 + 2  # and the two archive runs' own entries
    entries = [e async for e in trail.entries()]
    assert sorted(int(e.fields["i"]) for e in entries if e.kind == DECISION) == list(range(80))  # each once
    assert [e.sort_key for e in entries] == sorted(e.sort_key for e in entries)  # one trail, in id order


# -- tampering in a stream -------------------------------------------------------------------------------------------

Tamper = Callable[[aioredis.Redis, Path], Awaitable[str]]


async def alter_a_field(redis: aioredis.Redis, folder: Path) -> str:
    live = await rows(redis, "+1201")
    victim = live[3][0]
    await rewrite(redis, "+1201", [(i, dict(f, campaign="other") if i == victim else f) for i, f in live])
    return victim


async def delete_an_entry(redis: aioredis.Redis, folder: Path) -> str:
    live = await rows(redis, "+1305")
    await redis.xdel(keys.audit_stream_key("+1305"), live[4][0])
    return live[5][0]  # the chain breaks at the entry after the gap


async def insert_an_entry(redis: aioredis.Redis, folder: Path) -> str:
    live = await rows(redis, "+1201")
    (id_a, fields_a), (id_b, _) = live[2], live[3]
    ms, seq = id_a.split("-")
    fake_id = f"{ms}-{int(seq) + 1}" if f"{ms}-{int(seq) + 1}" != id_b else f"{ms}-{int(seq) + 2}"
    fake = dict(fields_a, i="999", _n=str(int(fields_a["_n"]) + 1))
    await rewrite(redis, "+1201", [*live[:3], (fake_id, fake), *live[3:]])
    return fake_id


async def reorder_two_entries(redis: aioredis.Redis, folder: Path) -> str:
    live = await rows(redis, "+1305")
    swapped = [*live[:2], (live[2][0], live[3][1]), (live[3][0], live[2][1]), *live[4:]]
    await rewrite(redis, "+1305", swapped)
    return live[2][0]


async def delete_the_last_entries(redis: aioredis.Redis, folder: Path) -> str:
    live = await rows(redis, "+1201")
    await redis.xdel(keys.audit_stream_key("+1201"), live[-1][0], live[-2][0])
    return live[-1][0]  # the head names the last entry, which is gone


# -- tampering in the archive ----------------------------------------------------------------------------------------


def first_segment(folder: Path) -> tuple[Path, dict[str, Any]]:
    archive = ArchiveDir(folder)
    _seq, path = archive.manifest_files()[0]
    manifest = json.loads(path.read_text())
    return path.parent / manifest["segment"], manifest


async def alter_a_field_in_a_segment(redis: aioredis.Redis, folder: Path) -> str:
    """A careful tamperer: the segment rewritten with one field changed, and its manifest made to match it."""
    segment, manifest = first_segment(folder)
    data = segment.read_bytes()
    out = b""
    victim = ""
    for part in manifest["groups"]:
        lines = gzip.decompress(data[part["offset"]:part["offset"] + part["length"]]).splitlines()
        if part["group"] == "+1201":
            entry_id, flat = json.loads(lines[2])
            flat[flat.index("campaign") + 1] = "other"
            lines[2] = json.dumps([entry_id, flat]).encode()
            victim = entry_id
        member = gzip.compress(b"".join(line + b"\n" for line in lines))
        part["offset"], part["length"] = len(out), len(member)
        out += member
    segment.write_bytes(out)
    manifest.update(sha256=hashlib.sha256(out).hexdigest(), bytes=len(out))
    manifest_file = segment.with_name(segment.name.replace(".seg.gz", ".manifest.json"))
    manifest_file.write_text(json.dumps(manifest))
    return victim


async def truncate_a_segment(redis: aioredis.Redis, folder: Path) -> str:
    segment, manifest = first_segment(folder)
    last = manifest["groups"][-1]
    with open(segment, "r+b") as handle:
        handle.truncate(last["offset"] + last["length"] // 2)
    return last["group"]


async def delete_a_segment(redis: aioredis.Redis, folder: Path) -> str:
    segment, manifest = first_segment(folder)
    segment.unlink()
    return manifest["groups"][0]["first_id"]


@pytest.mark.parametrize("tamper", [alter_a_field, delete_an_entry, insert_an_entry, reorder_two_entries,
                                    delete_the_last_entries, alter_a_field_in_a_segment, delete_a_segment])
async def test_each_kind_of_tampering_breaks_the_chain_at_its_entry(tamper: Tamper, redis_client: aioredis.Redis,
                                                                    tmp_path: Path) -> None:
    trail = await trail_with_archive(redis_client, tmp_path)
    assert (await verify(trail)).ok
    named = await tamper(redis_client, tmp_path)
    report = await verify(trail)
    assert not report.ok
    assert named in {b.entry_id for b in report.breaks}, [b.line() for b in report.breaks]


async def test_a_truncated_segment_is_named_with_the_entries_it_lost(redis_client: aioredis.Redis,
                                                                     tmp_path: Path) -> None:
    trail = await trail_with_archive(redis_client, tmp_path)
    group = await truncate_a_segment(redis_client, tmp_path)
    report = await verify(trail)
    lines = [b.line() for b in report.breaks]
    assert any("differs from its manifest" in line for line in lines), lines
    assert any(f"group {group}" in line and "cut short" in line and "entries readable" in line
               for line in lines), lines


async def test_the_kinds_are_told_apart(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    trail = await trail_with_archive(redis_client, tmp_path)
    victim = await alter_a_field(redis_client, tmp_path)
    deleted_next = await delete_an_entry(redis_client, tmp_path)
    problems = {b.entry_id: b.problem for b in (await verify(trail)).breaks}
    assert "does not match its link" in problems[victim]
    assert "missing (deleted)" in problems[deleted_next]


async def test_a_checkpoint_catches_a_chain_rewritten_from_its_start(redis_client: aioredis.Redis) -> None:
    await fill(redis_client, 40)
    trail = AuditTrail(redis_client, SALT)
    kept = Checkpoint.parse(json.dumps((await checkpoint(trail)).to_json()))  # as written to a file and read back
    assert (await verify(trail, against=kept)).ok
    # the tamperer alters an early entry and recomputes every link after it, and the head: consistent again
    live = await rows(redis_client, "+1201")
    prev, forged = audit_chain.GENESIS, []
    for n, (entry_id, fields) in enumerate(live):
        if n == 5:
            fields = dict(fields, campaign="other")
        fields = dict(fields, _h=audit_chain.expected_link(prev, entry_id, fields))
        forged.append((entry_id, fields))
        prev = fields["_h"]
    await rewrite(redis_client, "+1201", forged)
    await redis_client.set(keys.audit_head_key("+1201"), f"{prev} {forged[-1][0]} {len(forged)}")
    assert (await verify(trail)).ok  # on its own, a full rewrite is consistent
    report = await verify(trail, against=kept)
    assert [b.entry_id for b in report.breaks] == [live[-1][0]]
    assert "the chain was rewritten" in report.breaks[0].problem


def _writer(url: str, worker: int, n: int) -> None:
    async def run() -> None:
        screener = Screener(StaticHolder(make_settings()), connect(url, 2.0))
        for i in range(n):
            number = f"+1{('201', '305', '415')[i % 3]}55{worker}{i:04d}"
            await screener.screen(ScreenRequest(dialed=number, campaign="open", at=AT, commit=False))
            if i % 10 == 0:
                await screener.record_disclosure(DisclosureEvent(number, "open", f"c{worker}-{i}", 300, True, False))
        await screener.aclose()

    asyncio.run(run())


async def test_screeners_in_several_processes_keep_chains_that_verify(redis_server: EmbeddedRedis,
                                                                       redis_client: aioredis.Redis) -> None:
    procs = [mp.get_context("spawn").Process(target=_writer, args=(redis_server.url, w, 150)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
        assert p.exitcode == 0
    trail = AuditTrail(redis_client, SALT)
    report = await verify(trail)
    assert report.ok, report.breaks
    assert report.entries == 4 * (150 + 15)
    heads = await audit.heads(redis_client, ["+1201", "+1305", "+1415"])
    assert sum(h.count for h in heads.values() if h) == 4 * (150 + 15)


async def test_verify_since_recomputes_only_the_recent_links(redis_client: aioredis.Redis) -> None:
    await fill(redis_client, 20)
    await asyncio.sleep(0.02)
    middle = int(time.time() * 1000)
    await asyncio.sleep(0.02)
    await fill(redis_client, 20, 20)
    trail = AuditTrail(redis_client, SALT)
    live = await rows(redis_client, "+1201")
    early = next(i for i, f in live if int(i.split("-")[0]) < middle)
    await rewrite(redis_client, "+1201", [(i, dict(f, campaign="x") if i == early else f) for i, f in live])
    assert not (await verify(trail)).ok
    assert (await verify(trail, since_ms=middle)).ok  # the altered entry is before --since: its link is trusted


async def test_tombstones_erase_values_in_streams_and_segments_and_the_chain_still_holds(
        redis_client: aioredis.Redis, tmp_path: Path) -> None:
    trail = await trail_with_archive(redis_client, tmp_path)
    victims = [e async for e in trail.entries() if e.kind == DECISION and e.fields["i"] in ("4", "44", "74")]
    assert len(victims) == 3  # one in the first segment, one in the second, one still in Redis
    assert await trail.tombstone(victims) == 3
    report = await verify(trail)
    assert report.ok, [b.line() for b in report.breaks]
    after = {e.fields["i"]: e async for e in trail.entries() if e.kind == DECISION}
    for victim in victims:
        erased = after[victim.fields["i"]]
        assert erased.id == victim.id and erased.fields["_h"] == victim.fields["_h"]
        assert erased.fields["call_id"].startswith(audit_chain.TOMBSTONE)
        assert erased.fields["campaign"] == victim.fields["campaign"]  # plain fields stay
    archive = ArchiveDir(tmp_path)
    text = b"".join(gzip.decompress(p.read_bytes()) for p in tmp_path.glob("*/*.seg.gz"))
    assert b"call-4\"" not in text and b"call-44\"" not in text and b"call-5\"" in text
    assert [len(m.revisions) for m in archive.manifests()] == [1, 1]
    assert len(list(tmp_path.glob("*/*.seg.gz"))) == 2  # the old files are gone


async def test_the_chain_the_archive_and_the_readers_on_every_topology(topology: StoreTopology,
                                                                      tmp_path: Path) -> None:
    """One server, a Sentinel primary, a 3-master Cluster: decisions, opt-outs and disclosures of numbers in
    several groups (several slots on the Cluster) chain, archive, read back merged and verify."""
    screener = Screener(StaticHolder(make_settings(time_budget_ms=2000)), connect(topology.url, 2.0))
    numbers = [f"+1{ac}5550{i:03d}" for ac in (201, 212, 305, 415) for i in range(6)]
    try:
        for n in numbers:
            assert (await screener.screen(ScreenRequest(dialed=n, campaign="open", at=AT, commit=False))).allowed
        await screener.opt_out(numbers[0], "open", source="test")
        await screener.record_disclosure(DisclosureEvent(numbers[1], "open", "c-1", 250, True, False))
    finally:
        await screener.aclose()
    trail = AuditTrail(topology.client, SALT, tmp_path)
    assert (await verify(trail)).ok
    report = await Archiver(topology.client, make_settings(), tmp_path).run(before_ms=int(time.time() * 1000) + 1)
    assert report.entries == len(numbers) + 2
    await fill(topology.client, 6)  # live entries after the archived ones
    entries = [e async for e in trail.entries()]
    assert len(entries) == len(numbers) + 2 + 6 + 1  # and the archive run's own entry
    assert [e.sort_key for e in entries] == sorted(e.sort_key for e in entries)
    assert {e.group for e in entries} == {"+1201", "+1212", "+1305", "+1415", "global"}
    assert (await verify(trail)).ok
    mine = [e async for e in trail.entries(number=numbers[0])]
    assert [e.kind for e in mine] == [DECISION, "opt_out"]


async def test_a_data_subject_erasure_tombstones_the_numbers_entries_and_the_chain_holds(
        redis_server: EmbeddedRedis, redis_client: aioredis.Redis, tmp_path: Path) -> None:
    from screener.service.privacy import PrivacyDesk

    number, other = "+12125550142", "+12125550143"
    screener = Screener(StaticHolder(make_settings(time_budget_ms=2000)), connect(redis_server.url, 2.0))
    try:
        for n in (number, other, number):
            await screener.screen(ScreenRequest(dialed=n, campaign="open", at=AT, commit=False, call_id=f"call-{n}"))
        await screener.opt_out(number, "open", source="test", call_id=f"call-{number}")
        result = await PrivacyDesk(screener).erase(number)
    finally:
        await screener.aclose()
    assert any(what.startswith("4 audit-trail entries") for what, _ in result.kept)  # 2 decisions, opt-out, DNC add
    trail = AuditTrail(redis_client, SALT)
    assert [e.kind async for e in trail.entries(number=number)] == ["privacy"]  # only the erasure names it now
    assert [e.kind async for e in trail.entries(number=other)] == [DECISION]  # the other number untouched
    raw = json.dumps([e.fields async for e in audit.scan_group(redis_client, "+1212")])
    assert f"call-{number}" not in raw and f"call-{other}" in raw
    assert (await verify(trail)).ok
