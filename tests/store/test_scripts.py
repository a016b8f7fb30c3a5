"""The Lua scripts: one file each with its KEYS/ARGV/returns header, lib files put in front, one Script class
that runs on a redis-py client and on the hot path's Connections, both loading the script again after NOSCRIPT."""

from __future__ import annotations

import re
from importlib.resources import files

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from screener.store import keys
from screener.store.scripts import Connections, Script, script_source

LUA = files("screener.store").joinpath("lua")
SCRIPTS = sorted(p.name[:-4] for p in LUA.iterdir() if p.name.endswith(".lua") and not p.name.startswith("lib_"))


def header(name: str) -> str:
    text = LUA.joinpath(f"{name}.lua").read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if line.startswith("--"))


def test_there_is_a_file_for_every_script_of_the_store() -> None:
    assert {"decide", "dnc_lookup", "dnc_edit_live", "dnc_edit_tag", "dnc_merge_block", "dnc_describe_tag",
            "dnc_dump_tag", "dnc_build_begin", "dnc_build_heartbeat", "dnc_build_switch",
            "dnc_build_abort"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_every_script_says_its_keys_argv_and_reply(name: str) -> None:
    text = header(name)
    assert "KEYS[1]" in text, name
    assert re.search(r"^--\s*returns\b", text, re.M), name
    body = LUA.joinpath(f"{name}.lua").read_text(encoding="utf-8")
    if re.search(r"ARGV\[\d", body):
        assert "ARGV[" in text, name


@pytest.mark.parametrize("name", SCRIPTS)
async def test_every_script_compiles_on_a_real_redis(name: str, redis_client: aioredis.Redis) -> None:
    script = Script(name)
    assert (await redis_client.script_load(script.source)) == script.sha


def test_a_script_that_uses_a_lib_gets_it_in_front() -> None:
    lib = LUA.joinpath("lib_dnc_edit.lua").read_text(encoding="utf-8")
    for name in ("dnc_edit_tag", "dnc_edit_live", "dnc_merge_block"):
        source = script_source(name)
        assert source.startswith(lib), name
        assert source.endswith(LUA.joinpath(f"{name}.lua").read_text(encoding="utf-8")), name
    assert "local function dnc_add" not in script_source("dnc_lookup")


async def test_one_script_runs_on_a_client_and_on_connections_after_a_flush(redis_client: aioredis.Redis) -> None:
    lookup = Script("dnc_lookup")
    tag_key = keys.dnc_tag_key("l", "0", "+12015550123")
    await redis_client.sadd(tag_key, 5550123)
    args = [tag_key, keys.dnc_block_key("l", "0", "+12015550123"), keys.dnc_freed_key(tag_key)]
    connections = Connections(redis_client)
    try:
        for _ in range(2):
            await redis_client.script_flush()  # NOSCRIPT for both: each loads the script again
            assert await lookup(redis_client, args, [5550123, 123]) == 1
            await redis_client.script_flush()
            assert await lookup(connections, args, [5550123, 123]) == 1
            assert await lookup(connections, args, [5550124, 124]) == 0
    finally:
        await connections.aclose()


async def test_the_tag_edit_refuses_a_number_whose_block_key_is_not_in_keys(redis_client: aioredis.Redis) -> None:
    edit = Script("dnc_edit_tag")
    tag_key = keys.dnc_tag_key("l", "0", "+12015550123")
    with pytest.raises(ResponseError, match="not in KEYS"):
        await edit(redis_client, [tag_key], [512, "a5550123", "0"])
    assert await redis_client.exists(tag_key) == 0
    block_key = keys.dnc_block_key("l", "0", "+12015550123")
    assert await edit(redis_client, [tag_key, block_key], [512, "a5550123", "0"]) == [1, 0]
    # a tag set that could overflow: nothing is done until every block key of the tag is named
    assert await edit(redis_client, [tag_key, block_key], [1, "a5550124", "0"]) == [-1, -1]
    assert await redis_client.scard(tag_key) == 1
