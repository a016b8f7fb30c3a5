"""Atomic replace: concurrent lookups see the whole old list or the whole new one; interrupted imports."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.embedded_redis import EmbeddedRedis
from screener.service.dnc import ImportBusy, ImportOptions, Progress, import_file
from screener.store import dnc, keys
from screener.store.dnc import versions
from screener.store.dnc.build import VersionBuilder
from screener.store.dnc.versions import abort_build, begin_build, free_retired

SMALL = {"budget_bytes": 1 << 20, "chunk_bytes": 16 << 10}


def write_numbers(path: Path, numbers: list[int]) -> Path:
    path.write_text("".join(f"{n}\n" for n in numbers))
    return path


def two_lists(seed: int) -> tuple[list[int], list[int]]:
    """Two disjoint lists over the same area codes (old and new)."""
    rng = random.Random(seed)
    pool = rng.sample(range(2_000_000, 4_000_000), 120_000)
    old = sorted(2015000000 + s for s in pool[:60_000])
    new = sorted(2015000000 + s for s in pool[60_000:])
    return old, new


async def test_lookups_during_a_replace_see_all_old_or_all_new(redis_client: aioredis.Redis,
                                                               redis_server: EmbeddedRedis, tmp_path: Path) -> None:
    old, new = two_lists(21)
    await import_file(redis_client, "reg", write_numbers(tmp_path / "old.txt", old), ImportOptions(grace_s=0))
    rng = random.Random(22)
    probes = [f"+1{n}" for n in rng.sample(old, 100) + rng.sample(new, 100)]
    expect_old = [True] * 100 + [False] * 100
    expect_new = [False] * 100 + [True] * 100
    seen: list[str] = []
    stop = asyncio.Event()
    reader = aioredis.Redis.from_url(redis_server.url)  # a screener of its own

    async def look() -> None:
        while not stop.is_set():
            # as a screener does: read the live version, then look the numbers up in it
            version = (await dnc.read_list_states(reader, ["reg"]))["reg"].version
            hits = await dnc.contains_many(reader, "reg", probes, version=version)
            if hits == expect_old:
                seen.append("old")
            elif hits == expect_new:
                seen.append("new")
            else:
                seen.append(f"MIX in version {version}: {hits.count(True)} hits")
            await asyncio.sleep(0)

    task = asyncio.create_task(look())
    while not seen:
        await asyncio.sleep(0.01)
    result = await import_file(redis_client, "reg", write_numbers(tmp_path / "new.txt", new),
                               ImportOptions(replace=True, grace_s=0.3, **SMALL))
    await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 10)
    await reader.aclose()
    assert [s for s in seen if s.startswith("MIX")] == []
    assert seen[0] == "old" and seen[-1] == "new"
    assert seen.index("new") > 1, "the lookups ran during the import"
    assert result.count == len(new) and result.old_version == "1" and result.version == "2"
    # the old version is freed after the grace period
    assert await redis_client.exists(keys.dnc_version_tags_key("reg", "1")) == 0
    assert await redis_client.exists(keys.dnc_block_key("reg", "1", f"+1{old[0]}")) == 0


async def list_keys(redis: aioredis.Redis, name: str) -> set[bytes]:
    """Every key of the list: its metadata, its versions' tag registries, tag sets and blocks (the session's
    server may get other keys meanwhile, such as a screener's heartbeat)."""
    wanted = (f":dnc:{name}:".encode(), f":dncver:{name}:".encode(), f":dncmeta:{name}".encode())
    return {k async for k in redis.scan_iter(count=1000) if any(w in k for w in wanted)}


async def test_an_interrupted_import_leaves_the_live_list_and_can_be_run_again(redis_client: aioredis.Redis,
                                                                               tmp_path: Path) -> None:
    old, new = two_lists(23)
    await import_file(redis_client, "reg", write_numbers(tmp_path / "old.txt", old), ImportOptions(grace_s=0))
    keys_before = await list_keys(redis_client, "reg")
    calls = 0

    def interrupt(p: Progress) -> None:
        nonlocal calls
        calls += 1
        if calls == 20:  # well into the file, after flushes wrote part of the new version
            raise KeyboardInterrupt

    new_file = write_numbers(tmp_path / "new.txt", new)
    with pytest.raises(KeyboardInterrupt):
        await import_file(redis_client, "reg", new_file, ImportOptions(replace=True, grace_s=0, **SMALL),
                          progress=interrupt)
    info = (await dnc.read_list_infos(redis_client, ["reg"]))["reg"]
    assert info.state.version == "1" and info.state.count == len(old) and info.building == ""
    assert all(await dnc.contains_many(redis_client, "reg", [f"+1{n}" for n in old[::10]]))
    assert not any(await dnc.contains_many(redis_client, "reg", [f"+1{n}" for n in new[:2000]]))
    assert await list_keys(redis_client, "reg") == keys_before, "the partial version was freed"
    result = await import_file(redis_client, "reg", new_file, ImportOptions(replace=True, grace_s=0))
    assert result.count == len(new)
    assert all(await dnc.contains_many(redis_client, "reg", [f"+1{n}" for n in new[::10]]))


async def test_a_cancelled_import_task_is_undone(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    old, new = two_lists(24)
    await import_file(redis_client, "reg", write_numbers(tmp_path / "old.txt", old), ImportOptions(grace_s=0))
    flushed = asyncio.Event()

    def progress(p: Progress) -> None:
        if p.numbers > len(new) // 2:
            flushed.set()

    task = asyncio.create_task(import_file(redis_client, "reg", write_numbers(tmp_path / "new.txt", new),
                                           ImportOptions(replace=True, grace_s=0, **SMALL), progress=progress))
    await asyncio.wait_for(flushed.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    info = (await dnc.read_list_infos(redis_client, ["reg"]))["reg"]
    assert info.state.version == "1" and info.building == ""
    assert all(await dnc.contains_many(redis_client, "reg", [f"+1{n}" for n in old[:5000]]))


async def test_a_crashed_build_is_freed_by_the_next_import(redis_client: aioredis.Redis, tmp_path: Path) -> None:
    old, new = two_lists(25)
    await import_file(redis_client, "reg", write_numbers(tmp_path / "old.txt", old), ImportOptions(grace_s=0))
    # a build that died (kill -9) after writing part of its version: its marker and keys stay behind
    crashed = await begin_build(redis_client, "reg")
    builder = VersionBuilder(redis_client, "reg", crashed.version)
    builder.add_values(new[:30_000])
    await builder.flush()
    assert await redis_client.exists(keys.dnc_version_tags_key("reg", crashed.version))
    with pytest.raises(ImportBusy):  # its heartbeat is fresh: another import must not step on it
        await import_file(redis_client, "reg", write_numbers(tmp_path / "new.txt", new),
                          ImportOptions(replace=True, grace_s=0))
    result = await import_file(redis_client, "reg", tmp_path / "new.txt",
                               ImportOptions(replace=True, grace_s=0, stale_after_s=0))
    assert result.version != crashed.version
    assert await redis_client.exists(keys.dnc_version_tags_key("reg", crashed.version)) == 0
    assert await redis_client.exists(keys.dnc_block_key("reg", crashed.version, f"+1{new[0]}")) == 0
    assert result.count == len(new)
    assert all(await dnc.contains_many(redis_client, "reg", [f"+1{n}" for n in new[::10]]))


async def test_an_opt_out_during_a_replace_is_in_the_new_version(redis_client: aioredis.Redis,
                                                                 tmp_path: Path) -> None:
    old, new = two_lists(26)
    await import_file(redis_client, "internal", write_numbers(tmp_path / "old.txt", old), ImportOptions(grace_s=0))
    added = asyncio.Event()

    def progress(p: Progress) -> None:
        if p.numbers > 10_000 and not added.is_set():
            added.set()

    async def opt_out() -> None:
        await added.wait()
        assert await dnc.add_numbers(redis_client, "internal", ["+19175550123"], source="opt-out") == 1

    task = asyncio.create_task(opt_out())
    result = await import_file(redis_client, "internal", write_numbers(tmp_path / "new.txt", new),
                               ImportOptions(replace=True, grace_s=0, **SMALL), progress=progress)
    await task
    assert await dnc.contains(redis_client, "internal", "+19175550123")
    assert result.count == len(new) + 1


async def test_a_version_number_that_has_keys_is_skipped_never_emptied(redis_client: aioredis.Redis,
                                                                       tmp_path: Path) -> None:
    """After a failover that lost a write of the list's metadata (its version counter) but not the keys an
    import wrote, the next version number can have keys. Emptying it once the list is marked would delete the
    opt-outs it already received, so begin_build skips it, and retires it for a later import to free."""
    old, new = two_lists(27)
    await import_file(redis_client, "reg", write_numbers(tmp_path / "old.txt", old), ImportOptions(grace_s=0))
    stray = VersionBuilder(redis_client, "reg", "2")  # version 2's keys, whose handing out the metadata forgot
    stray.add_values(new[:1000])
    await stray.flush()
    build = await begin_build(redis_client, "reg")
    assert build.version == "3"
    meta = await redis_client.hgetall(keys.dnc_meta_key("reg"))
    assert meta[b"building"] == b"3" and b"retired:2" in meta
    assert await dnc.add_numbers(redis_client, "reg", ["+19175550123"], source="opt-out") == 1
    assert await dnc.contains_in(redis_client, "reg", "3", "+19175550123")
    assert await free_retired(redis_client, "reg", older_than_s=0) == ["2"]  # never the live one or the build
    assert not await redis_client.exists(keys.dnc_version_tags_key("reg", "2"))
    assert await dnc.contains_in(redis_client, "reg", "3", "+19175550123")
    await abort_build(redis_client, build)


async def test_begin_build_looks_again_when_another_import_took_the_next_version(
        redis_client: aioredis.Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, _ = two_lists(28)
    path = write_numbers(tmp_path / "old.txt", old[:2000])
    await import_file(redis_client, "reg", path, ImportOptions(grace_s=0))
    real_version_exists = versions.version_exists
    others: list[str] = []

    async def another_import_lands_first(redis: Any, list_name: str, version: str) -> bool:
        free = await real_version_exists(redis, list_name, version)
        if not others:  # between this build's look at the next number and its claim: another import, whole
            others.append("running")  # (its own look at the next number comes here too)
            others[0] = (await import_file(redis_client, "reg", path, ImportOptions(grace_s=0))).version
        return free

    monkeypatch.setattr(versions, "version_exists", another_import_lands_first)
    build = await begin_build(redis_client, "reg")  # its claim of version 2 comes back "moved": it looks again
    assert others == ["2"] and build.version == "3"
    assert b"retired:2" not in await redis_client.hgetall(keys.dnc_meta_key("reg"))  # the other import's, live
    await abort_build(redis_client, build)
