"""DNC list edits and lookups against a real redis-server: the opt-out path and the layout it keeps."""

from __future__ import annotations

import random

import redis.asyncio as aioredis

from screener.store import dnc, keys
from screener.store.dnc.layout import INTSET_MAX

US_AREA_CODES = [201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225,
                 228, 229, 231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270]


def us(n: int) -> str:
    return f"+1{n}"


async def test_a_list_without_metadata_is_version_0_and_empty(redis_client: aioredis.Redis) -> None:
    states = await dnc.read_list_states(redis_client, ["internal", "us-national"])
    assert states["internal"].version == "0" and states["internal"].count == 0
    assert states["internal"].imported_at is None
    assert not await dnc.contains(redis_client, "internal", "+12015550123")


async def test_add_check_remove(redis_client: aioredis.Redis) -> None:
    assert await dnc.add_numbers(redis_client, "internal", ["+12015550123"], source="opt-out: call 1") == 1
    assert await dnc.add_numbers(redis_client, "internal", ["+12015550123"]) == 0
    assert await dnc.contains(redis_client, "internal", "+12015550123")
    assert not await dnc.contains(redis_client, "internal", "+12015550124")
    assert not await dnc.contains(redis_client, "other", "+12015550123")
    info = (await dnc.read_list_infos(redis_client, ["internal"]))["internal"]
    assert info.state.count == 1 and info.state.version == "0"
    assert info.last_change_source == "opt-out: call 1"
    assert "internal" in await dnc.list_names(redis_client)
    assert await dnc.remove_numbers(redis_client, "internal", ["+12015550123"]) == 1
    assert await dnc.remove_numbers(redis_client, "internal", ["+12015550123"]) == 0
    assert not await dnc.contains(redis_client, "internal", "+12015550123")
    assert (await dnc.read_list_states(redis_client, ["internal"]))["internal"].count == 0


async def test_edits_use_the_lookup_keys(redis_client: aioredis.Redis) -> None:
    await dnc.add_numbers(redis_client, "internal", ["+442079460123"])
    tag_key, block_key, tag_sfx, _ = dnc.lookup_keys("internal", "0", "+442079460123")
    assert await redis_client.sismember(tag_key, str(tag_sfx))
    assert await redis_client.type(block_key) == b"none"
    assert await redis_client.sismember(keys.dnc_version_tags_key("internal", "0"), "+44207")


async def test_a_crowded_tag_set_moves_blocks_out_and_stays_an_intset(redis_client: aioredis.Redis) -> None:
    rng = random.Random(1)
    numbers = sorted({2015000000 + rng.randrange(5_000_000) for _ in range(INTSET_MAX * 2)})
    for start in range(0, len(numbers), 100):
        await dnc.add_numbers(redis_client, "internal", [us(n) for n in numbers[start:start + 100]])
    tag_key = keys.dnc_tag_key("internal", "0", "+12015550000")
    assert await redis_client.object("encoding", tag_key) == b"intset"
    assert await redis_client.scard(tag_key) <= INTSET_MAX
    assert all(await dnc.contains_many(redis_client, "internal", [us(n) for n in numbers]))
    assert (await dnc.read_list_states(redis_client, ["internal"]))["internal"].count == len(numbers)


async def test_a_full_block_set_becomes_a_bitmap(redis_client: aioredis.Redis) -> None:
    numbers = [2015550000 + s for s in range(0, 10_000, 7)]  # 1,429 numbers in block 555
    for start in range(0, len(numbers), 300):
        await dnc.add_numbers(redis_client, "internal", [us(n) for n in numbers[start:start + 300]])
    block_key = keys.dnc_block_key("internal", "0", "+12015550000")
    assert await redis_client.type(block_key) == b"string"
    assert await redis_client.strlen(block_key) == 1250
    assert all(await dnc.contains_many(redis_client, "internal", [us(n) for n in numbers]))
    assert not any(await dnc.contains_many(redis_client, "internal", [us(n + 1) for n in numbers]))
    assert await dnc.remove_numbers(redis_client, "internal", [us(numbers[0])]) == 1
    assert not await dnc.contains(redis_client, "internal", us(numbers[0]))
    assert (await dnc.read_list_states(redis_client, ["internal"]))["internal"].count == len(numbers) - 1


async def test_a_10k_internal_list_costs_kilobytes(redis_client: aioredis.Redis) -> None:
    rng = random.Random(2)
    numbers = list({rng.choice(US_AREA_CODES) * 10**7 + rng.randrange(2 * 10**6, 10**7) for _ in range(10_000)})
    before = int((await redis_client.info("memory"))["used_memory"])
    for start in range(0, len(numbers), 1000):
        await dnc.add_numbers(redis_client, "internal", [us(n) for n in numbers[start:start + 1000]])
    after = int((await redis_client.info("memory"))["used_memory"])
    usage = 0
    async for key in redis_client.scan_iter(count=1000):
        usage += int(await redis_client.memory_usage(key, samples=0) or 0)
    assert usage < 100_000, usage  # MEMORY USAGE of every key: about 5 bytes per number
    assert after - before < 1_000_000, after - before
    assert all(await dnc.contains_many(redis_client, "internal", [us(n) for n in numbers]))


async def test_edits_and_lookups_survive_a_script_cache_flush(redis_client: aioredis.Redis) -> None:
    await dnc.add_numbers(redis_client, "internal", ["+12015550123"])
    assert await dnc.contains_many(redis_client, "internal", ["+12015550123"]) == [True]
    await redis_client.script_flush()  # as after a restart or a failover
    assert await dnc.add_numbers(redis_client, "internal", ["+12015550124"]) == 1
    assert await dnc.contains_many(redis_client, "internal", ["+12015550123", "+12015550124"]) == [True, True]
    assert await dnc.contains(redis_client, "internal", "+12015550124")
