"""List versions: build a new one beside the live one, switch in one step, free the old one; export.

The metadata hash (keys.dnc_meta_key) holds ``version`` (live), ``building`` (the version an import is
writing, with its heartbeat ``building_at``) and ``seq`` (the last version number handed out). A lookup
reads ``version`` and nothing else, so the switch (one script on the metadata hash) is atomic for readers:
they see the whole old list or the whole new one. A build that dies leaves ``building`` behind; the next
import frees that version before it starts its own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from screener.store import keys
from screener.store.dnc import EMPTY_VERSION, version_tags_key
from screener.store.dnc_layout import BLOCK_SIZE, TAG_BLOCKS, bitmap_members, block_id_of
from screener.store.dnc_redis import AnyRedis, Script, pipeline, text

#: a build whose heartbeat is older than this is considered abandoned
DEFAULT_STALE_BUILD_S = 30.0


class ImportBusy(RuntimeError):
    """Another import of the same list is running."""


_BEGIN = Script("""
local meta, now, stale = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
local building = redis.call('HGET', meta, 'building')
local at = tonumber(redis.call('HGET', meta, 'building_at') or '0')
if building and now - at < stale then return {'busy', building, tostring(now - at)} end
local seq = tonumber(redis.call('HGET', meta, 'seq') or '0')
local live = tonumber(redis.call('HGET', meta, 'version') or '0') or 0
if live > seq then seq = live end
seq = seq + 1
redis.call('HSET', meta, 'seq', seq, 'building', tostring(seq), 'building_at', ARGV[1], 'building_added', 0)
return {'ok', tostring(seq), building or ''}
""")

_HEARTBEAT = Script("""
if redis.call('HGET', KEYS[1], 'building') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'building_at', ARGV[2])
return 1
""")

_SWITCH = Script("""
local meta = KEYS[1]
if redis.call('HGET', meta, 'building') ~= ARGV[1] then return {'lost', ''} end
local old = redis.call('HGET', meta, 'version') or '0'
local added = tonumber(redis.call('HGET', meta, 'building_added') or '0')
redis.call('HSET', meta, 'version', ARGV[1], 'count', tonumber(ARGV[2]) + added, 'source', ARGV[3],
           'imported_at', ARGV[4], 'format', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', meta, 'kind', ARGV[6]) end
redis.call('HDEL', meta, 'building', 'building_at', 'building_added')
return {'ok', old}
""")

_ABORT = Script("""
if redis.call('HGET', KEYS[1], 'building') ~= ARGV[1] then return 0 end
redis.call('HDEL', KEYS[1], 'building', 'building_at', 'building_added')
return 1
""")


@dataclass(frozen=True)
class Build:
    """A version being built: ``version``; ``leftover``: an abandoned build's version, freed first."""

    list_name: str
    version: str
    leftover: str


async def begin_build(redis: AnyRedis, list_name: str, *, stale_after_s: float = DEFAULT_STALE_BUILD_S) -> Build:
    reply = await _BEGIN(redis, [keys.dnc_meta_key(list_name)], [repr(time.time()), stale_after_s])
    status, version, extra = (text(x) for x in reply)
    if status == "busy":
        raise ImportBusy(f"another import of list {list_name!r} is building version {version} (last heartbeat "
                         f"{float(extra):.0f} s ago; it counts as abandoned after {stale_after_s:.0f} s)")
    build = Build(list_name, version, extra)
    if build.leftover:
        await drop_version(redis, list_name, build.leftover)
    # a version number can be reused only after a crash between HINCRBY and HSET: start clean anyway
    await drop_version(redis, list_name, build.version)
    return build


async def heartbeat(redis: AnyRedis, build: Build) -> bool:
    """Keep the build alive; False when another import took it over."""
    reply = await _HEARTBEAT(redis, [keys.dnc_meta_key(build.list_name)], [build.version, repr(time.time())])
    return bool(reply)


async def switch(redis: AnyRedis, build: Build, *, count: int, source: str, fmt: str, kind: str = "",
                 imported_at: float | None = None) -> str:
    """Make the build the live version in one step; returns the previous version."""
    args = [build.version, count, source, repr(imported_at if imported_at is not None else time.time()), fmt,
            kind]
    # the set of list names lives in another slot than the list's metadata: add the name first
    await redis.sadd(keys.DNC_LISTS_KEY, build.list_name)
    status, old = (text(x) for x in await _SWITCH(redis, [keys.dnc_meta_key(build.list_name)], args))
    if status != "ok":
        raise ImportBusy(f"the build of list {build.list_name!r} version {build.version} was taken over by "
                         "another import; the live list is unchanged by this one")
    return old


async def abort_build(redis: AnyRedis, build: Build) -> None:
    """Give up a build: unmark it and free what it wrote (the live version is untouched)."""
    if await _ABORT(redis, [keys.dnc_meta_key(build.list_name)], [build.version]):
        await drop_version(redis, build.list_name, build.version)


async def drop_version(redis: AnyRedis, list_name: str, version: str) -> int:
    """Delete every key of one version of a list (never the live one: the caller makes sure); keys deleted."""
    reg = version_tags_key(list_name, version)
    deleted = 0
    entries = [text(e) async for e in redis.sscan_iter(reg, count=1000)]
    for start in range(0, len(entries), 32):
        pipe = pipeline(redis)
        for entry in entries[start:start + 32]:
            pipe.execute_command("UNLINK", *_entry_keys(list_name, version, entry))  # one slot: one tag
        deleted += sum(int(r) for r in await pipe.execute())
    await redis.unlink(reg)
    return deleted


def _entry_keys(list_name: str, version: str, entry: str) -> list[str]:
    tag, _, block = entry.partition("/")
    tag_key = f"{keys.PREFIX}:{{{tag}}}:dnc:{list_name}:{version}"
    if block:
        return [f"{tag_key}:{block}"]
    return [tag_key, *(f"{tag_key}:{block_id_of(b)}" for b in range(TAG_BLOCKS))]


_DUMP_TAG = Script("""
local out = {redis.call('SMEMBERS', KEYS[1])}
for i = 1, #ARGV do
  local bk = KEYS[1] .. ':' .. ARGV[i]
  local t = redis.call('TYPE', bk)['ok']
  if t == 'set' then out[#out + 1] = {ARGV[i], 's', redis.call('SMEMBERS', bk)}
  elseif t == 'string' then out[#out + 1] = {ARGV[i], 'b', redis.call('GET', bk)} end
end
return out
""")


async def iter_version(redis: AnyRedis, list_name: str, version: str) -> AsyncIterator[str]:
    """Every number of one version of a list, E.164, sorted within each tag."""
    entries = sorted({text(e) async for e in redis.sscan_iter(version_tags_key(list_name, version), count=1000)})
    for entry in entries:
        tag, _, block = entry.partition("/")
        tag_key = f"{keys.PREFIX}:{{{tag}}}:dnc:{list_name}:{version}"
        blocks = [block] if block else [block_id_of(b) for b in range(TAG_BLOCKS)]
        reply = await _DUMP_TAG(redis, [tag_key], blocks)
        for number in sorted(_numbers_of(tag, block, reply)):
            yield number


def _numbers_of(tag: str, short_block: str, reply: list[Any]) -> set[str]:
    out: set[str] = set()
    if not short_block:
        out.update(f"{tag}{int(m):07d}" for m in reply[0])
    for block_raw, kind, payload in reply[1:]:
        block = text(block_raw)
        suffixes = [int(m) for m in payload] if kind in (b"s", "s") else bitmap_members(bytes(payload or b""))
        out.update(f"{tag}{block}{s:04d}" for s in suffixes if s < BLOCK_SIZE)
    return out


__all__ = ["DEFAULT_STALE_BUILD_S", "EMPTY_VERSION", "Build", "ImportBusy", "abort_build", "begin_build",
           "drop_version", "heartbeat", "iter_version", "switch"]
