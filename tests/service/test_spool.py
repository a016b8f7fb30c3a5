"""Writes that wait for Redis: opt-outs and the audit entries of calls blocked while the store was away are
kept (on disk), block what they must meanwhile, and land in order once Redis answers, even after a restart."""

from __future__ import annotations

import asyncio
import fcntl
from pathlib import Path
from typing import Any

import pytest

from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.reasons import ReasonCode as R
from screener.service.audit import AuditTrail
from screener.service.audit_verify import Verifier
from screener.service.screening import Screener, StoreUnavailable, connect
from screener.service.spool import AUDIT, OPT_OUT, REFUSED, Spool, still_named
from screener.store import audit, dnc, keys, refusals
from tests.factories import StaticHolder, make_settings

NUMBER = "+12125550142"


def screener_on(redis: EmbeddedRedis, folder: Path, name: str = "serve-1", budget_s: float = 0.15) -> Screener:
    return Screener(StaticHolder(make_settings()), connect(redis.url, budget_s),  # type: ignore[arg-type]
                    spool=Spool(folder, name=name))


async def decide(s: Screener, number: str, campaign: str = "open") -> Any:
    return await s.screen(ScreenRequest(dialed=number, campaign=campaign, commit=True))


def test_items_are_on_disk_before_add_returns_and_a_cut_last_line_is_ignored(tmp_path: Path) -> None:
    spool = Spool(tmp_path, name="a")
    assert spool.add(OPT_OUT, {"number": NUMBER}) and spool.add(AUDIT, {"kind": "decision"})
    assert spool.path is not None
    lines = spool.path.read_text().splitlines()
    assert len(lines) == 2 and NUMBER in lines[0]
    spool.path.write_text(spool.path.read_text() + '{"kind":"audit","da')  # a crash in the middle of a write
    spool.close()
    again = Spool(tmp_path, name="b")
    assert again.adopt_orphans() == 2 and [i.kind for i in again.items] == [OPT_OUT, AUDIT]


def test_entries_added_without_sync_reach_the_file_together_at_the_next_sync(tmp_path: Path) -> None:
    spool = Spool(tmp_path, name="a")
    assert spool.add(AUDIT, {"kind": "decision", "n": "1"}, sync=False)
    assert spool.add(AUDIT, {"kind": "decision", "n": "2"}, sync=False)
    assert spool.path is not None and (not spool.path.exists() or spool.path.read_text() == "")
    assert (spool.added, len(spool)) == (2, 2)  # kept (in memory) at once
    spool.sync()
    assert [line.count('"n":') for line in spool.path.read_text().splitlines()] == [1, 1]
    assert spool.add(OPT_OUT, {"number": NUMBER})  # an opt-out is on disk before add returns, after them
    assert NUMBER in spool.path.read_text().splitlines()[2]
    spool.close()


def test_a_full_spool_refuses_and_counts(tmp_path: Path) -> None:
    spool = Spool(tmp_path, name="a", max_items=2)
    assert [spool.add(AUDIT, {"n": str(i)}) for i in range(4)] == [True, True, False, False]
    assert len(spool) == 2 and spool.overflowed == 2


def test_a_file_is_adopted_whole_or_left_when_there_is_no_room(tmp_path: Path) -> None:
    dead = Spool(tmp_path, name="dead")
    for i in range(3):
        dead.add(OPT_OUT, {"number": f"+1212555000{i}"})
    dead.close()
    small = Spool(tmp_path, name="small", max_items=2)
    assert small.adopt_orphans() == 0 and len(small) == 0
    assert len((tmp_path / "dead.jsonl").read_text().splitlines()) == 3  # nothing dropped
    roomy = Spool(tmp_path, name="roomy")
    assert roomy.adopt_orphans() == 3 and not (tmp_path / "dead.jsonl").exists()
    small.close()
    roomy.close()


def test_a_file_renamed_over_by_its_living_owner_is_not_taken_for_an_orphan(tmp_path: Path) -> None:
    """The race: an adopter opens the owner's file, the owner rewrites it (a new file renamed over the name,
    the old one closed, so the adopter's lock would succeed on the old inode): the adopter must see it."""
    owner = Spool(tmp_path, name="owner")
    owner.add(AUDIT, {"n": "1"})
    path = tmp_path / "owner.jsonl"
    with open(path, "r+", encoding="utf-8") as opened_before:
        assert still_named(opened_before, path)
        owner.add(AUDIT, {"n": "2"})
        owner.items.pop(0)
        owner._rewrite()  # the owner flushed one item: a new file now has the name
        assert not still_named(opened_before, path)
    assert '"n":"2"' in path.read_text()
    owner.close()


def test_only_the_files_of_processes_that_are_gone_are_adopted(tmp_path: Path) -> None:
    alive = Spool(tmp_path, name="alive")
    alive.add(OPT_OUT, {"number": "+12125550001"})  # holds its lock, as a running process does
    dead = Spool(tmp_path, name="dead")
    dead.add(OPT_OUT, {"number": "+12125550002"})
    dead.close()  # its process ended: the lock is free
    mine = Spool(tmp_path, name="mine")
    assert mine.adopt_orphans() == 1
    assert mine.pending(OPT_OUT, "number") == {"+12125550002"}
    assert not (tmp_path / "dead.jsonl").exists() and (tmp_path / "alive.jsonl").exists()
    with open(tmp_path / "alive.jsonl") as handle, pytest.raises(BlockingIOError):
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # still locked by its owner
    alive.close()
    mine.close()


async def test_an_opt_out_redis_cannot_take_is_kept_blocks_the_number_and_lands_later(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    s = screener_on(private_redis, tmp_path)
    client = connect(private_redis.url, 5)
    try:
        private_redis.pause()
        try:
            with pytest.raises(StoreUnavailable, match="kept in the spool"):
                await s.opt_out("2125550142", "open", source="test", call_id="c1")  # national format: normalized
            assert s.spool.path is not None and NUMBER in s.spool.path.read_text()
        finally:
            private_redis.resume()
        # Redis is back, the opt-out not yet written: this screener blocks the number anyway
        first = await decide(s, NUMBER)
        assert first.codes == (R.DNC_INTERNAL,) and "pending" in first.reasons[0].detail
        # that answer from Redis started the flush in the background
        assert s._flushing is not None and await s._flushing == 1
        assert await dnc.contains(client, "internal", NUMBER)
        assert await refusals.last_refusal_ms(client, NUMBER) is not None
        trail = AuditTrail(client, "test-salt")
        kinds = [e.kind for e in [e async for e in trail.entries(number=NUMBER)]]
        assert "opt_out" in kinds
        assert len(s.spool) == 0 and s.spool.path.read_text() == ""
        again = await decide(s, NUMBER)
        assert again.codes == (R.DNC_INTERNAL,) and "pending" not in again.reasons[0].detail  # from the list
    finally:
        await s.aclose()
        await client.aclose()


async def test_audit_entries_of_calls_blocked_while_redis_was_away_land_all_and_in_order(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    s = screener_on(private_redis, tmp_path)
    client = connect(private_redis.url, 5)
    numbers = [f"+1212555{i:04d}" for i in range(30)]
    try:
        assert (await decide(s, "+12125559999")).allowed
        private_redis.pause()
        try:
            blocked = [await decide(s, n) for n in numbers]
        finally:
            private_redis.resume()
        assert {d.codes for d in blocked} == {(R.SCREENING_UNAVAILABLE,)}
        before = await client.xlen(keys.audit_stream_key("+1212"))
        assert len(s.spool) == len(numbers)
        assert await s.flush_pending() == len(numbers)
        rows = (await audit.tail(client, 100))[-len(numbers):]
        assert await client.xlen(keys.audit_stream_key("+1212")) == before + len(numbers)
        trail = AuditTrail(client, "test-salt")
        hashes = [trail.hash_of(n) for n in numbers]
        assert [r.fields["number_hash"] for r in rows] == hashes  # every one, in the order they were decided
        assert {r.verdict for r in rows} == {"block"}
    finally:
        await s.aclose()
        await client.aclose()


async def test_calls_refused_as_overloaded_and_blocked_by_a_stall_land_all_and_in_order(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    s = Screener(StaticHolder(make_settings(max_in_flight=4)), connect(private_redis.url, 0.15),  # type: ignore[arg-type]
                 spool=Spool(tmp_path, name="serve-1"))
    client = connect(private_redis.url, 5)
    numbers = [f"+1212556{i:04d}" for i in range(40)]
    try:
        assert (await decide(s, "+12125559999")).allowed
        private_redis.pause()
        try:  # 4 admitted (then cut at their deadline), 36 refused at once
            blocked = await asyncio.gather(*(decide(s, n) for n in numbers))
        finally:
            private_redis.resume()
        assert {d.codes for d in blocked} == {(R.SCREENING_UNAVAILABLE,)}
        assert sorted(d.reasons[0].detail == "overloaded" for d in blocked) == [False] * 4 + [True] * 36
        trail = AuditTrail(client, "test-salt")
        spooled = [trail.hash_of(item.data.get("dialed") or "") if item.kind == REFUSED else item.data["number_hash"]
                   for item in s.spool.items]
        assert sorted(spooled) == sorted(trail.hash_of(n) for n in numbers)
        stream = keys.audit_stream_key("+1212")
        before = await client.xlen(stream)
        assert await s.flush_pending(now=True) == len(numbers)
        rows = (await audit.tail(client, 100))[-len(numbers):]
        assert await client.xlen(stream) == before + len(numbers)  # every one, once, in the numbers' group
        assert [r.fields["number_hash"] for r in rows] == spooled  # in the order the spool kept them
        assert {(r.verdict, r.reserved, r.group) for r in rows} == {("block", False, "+1212")}
        details = [detail for r in rows for code, detail in r.reasons if code == "screening_unavailable"]
        assert details.count("overloaded") == 36 and len(details) == 40
        positions = [int(r.fields["_n"]) for r in rows]  # each joined the group's chain as it landed
        assert positions == list(range(positions[0], positions[0] + len(numbers)))
        report = await Verifier(trail).run()
        assert report.ok, [b.line() for b in report.breaks]
    finally:
        await s.aclose()
        await client.aclose()


async def test_two_flushes_at_once_write_each_item_once(private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    s = screener_on(private_redis, tmp_path)
    client = connect(private_redis.url, 5)
    try:
        for i in range(1200):
            s.spool.add(AUDIT, {"kind": "decision", "n": str(i)})
        stream = keys.audit_stream_key(keys.AUDIT_GLOBAL_GROUP)  # items without a group land in the global one
        before = await client.xlen(stream)
        await asyncio.gather(s.flush_pending(), s.flush_pending(), s.flush_pending())
        assert await client.xlen(stream) == before + 1200
        rows = await client.xrange(stream, count=5000)
        assert [int(f[b"n"]) for _, f in rows if b"n" in f] == list(range(1200))  # each once, in order
        assert len(s.spool) == 0
    finally:
        await s.aclose()
        await client.aclose()


async def test_an_opt_out_whose_caller_gives_up_waiting_is_kept(private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    s = screener_on(private_redis, tmp_path, budget_s=30)  # sockets wait longer than the caller will
    private_redis.pause()
    try:
        task = asyncio.ensure_future(s.opt_out(NUMBER, "open", source="test"))
        await asyncio.sleep(0.3)
        task.cancel()  # the front end's own deadline
        with pytest.raises(asyncio.CancelledError):
            await task
        assert s.spool.pending(OPT_OUT, "number") == {NUMBER}
    finally:
        private_redis.resume()
    client = connect(private_redis.url, 5)
    try:
        assert await s.flush_pending() == 1
        assert await dnc.contains(client, "internal", NUMBER)
    finally:
        await s.aclose()
        await client.aclose()


def test_an_unreachable_cluster_counts_as_a_store_failure() -> None:
    from redis.exceptions import RedisClusterException

    from screener.service.store_errors import STORE_ERRORS

    assert issubclass(RedisClusterException, STORE_ERRORS)


async def test_a_restarted_screener_writes_what_the_last_one_could_not(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    first = screener_on(private_redis, tmp_path, name="serve-old")
    private_redis.pause()
    try:
        with pytest.raises(StoreUnavailable):
            await first.opt_out(NUMBER, "open", source="test")
        first.spool.close()  # the process dies before Redis is back (no last flush)
        await first.redis.aclose()
    finally:
        private_redis.resume()
    second = screener_on(private_redis, tmp_path, name="serve-new")
    client = connect(private_redis.url, 5)
    try:
        second.spool.adopt_orphans()
        assert second.spool.pending(OPT_OUT, "number") == {NUMBER}
        assert await second.flush_pending() == 1
        assert await dnc.contains(client, "internal", NUMBER)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["serve-new.jsonl"]
    finally:
        await second.aclose()
        await client.aclose()


async def test_two_flushes_started_together_write_each_item_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path, name="a")
    for i in range(5):
        spool.add(AUDIT, {"n": str(i)}, sync=False)
    written: list[str] = []

    async def write(items: list[Any]) -> None:
        await asyncio.sleep(0.01)  # Redis takes its time: the other flush starts meanwhile
        written.extend(item.data["n"] for item in items)

    assert sorted(await asyncio.gather(spool.flush(write), spool.flush(write))) == [0, 5]
    assert written == ["0", "1", "2", "3", "4"] and len(spool) == 0
    spool.close()


async def test_an_item_redis_will_never_take_is_set_aside_and_the_opt_out_behind_it_lands(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from screener.service.audit_fields import DECISION, audit_fields

    s = screener_on(private_redis, tmp_path)
    client = connect(private_redis.url, 5)
    try:
        # an entry whose field looks like the chain's tombstone (as written by code before the fields were made
        # safe): the chain refuses it, not because Redis is away, so it would be refused at every flush
        bad = audit_fields(DECISION, s.settings, at=datetime.now(UTC), number=NUMBER, campaign="open", source="t")
        bad["agent"] = "\x1fnot a tombstone"
        assert s.spool.add(AUDIT, {"_group": keys.audit_group(NUMBER), **bad})
        private_redis.pause()
        try:
            with pytest.raises(StoreUnavailable, match="kept in the spool"):
                await s.opt_out(NUMBER, "open", source="test", call_id="c1")
        finally:
            private_redis.resume()
        # an opt-out written by a bug (its list missing): never given up, its number stays blocked
        assert s.spool.add(OPT_OUT, {"number": "+12125550144", "campaign": "open"})
        assert await s.flush_pending() == 1  # the good opt-out; the bad entry set aside, the bad opt-out kept
        assert await dnc.contains(client, "internal", NUMBER)
        assert [i.kind for i in s.spool.items] == [OPT_OUT] and s.spool.rejected == 1
        assert "+12125550144" in s.pending.opt_out_numbers
        assert (await decide(s, "+12125550144")).codes == (R.DNC_INTERNAL,)
        rejected = tmp_path / "serve-1.rejected"
        assert "not a tombstone" in rejected.read_text()
        assert not list(tmp_path.glob("*.rejected.jsonl"))  # never adopted as a spool of a dead process

        # the same value given by a front end today is written, the mark spelled out
        d = await s.screen(ScreenRequest(dialed="+12125550143", campaign="open", commit=True,
                                         agent="\x1fagent", trunk="\x1ftrunk"))
        assert d.allowed
        rows = await audit.tail(client, 5)
        assert [r.fields.get("agent") for r in rows if r.kind == "decision"][-1] == "\\x1fagent"
    finally:
        await s.aclose()
        await client.aclose()
