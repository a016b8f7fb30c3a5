"""List versions: build a new one beside the live one, switch in one step, free the old one.

The metadata hash (keys.dnc_meta_key) holds ``version`` (live), ``building`` (the version an import is
writing, with its heartbeat ``building_at``) and ``seq`` (the last version number handed out). A lookup
reads ``version`` and nothing else, so the switch (one script on the metadata hash) is atomic for readers:
they see the whole old list or the whole new one. A build that dies leaves ``building`` behind; the next
import frees that version before it starts its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from screener.store import keys
from screener.store.client import AnyRedis, pipeline, text
from screener.store.dnc.layout import BLOCK_IDS
from screener.store.scripts import Script

#: a build whose heartbeat is older than this is considered abandoned
DEFAULT_STALE_BUILD_S = 30.0


class BuildBusy(RuntimeError):
    """Another build (import) of the same list holds it, or took this build over."""


_BEGIN = Script("dnc_build_begin")
_HEARTBEAT = Script("dnc_build_heartbeat")
_SWITCH = Script("dnc_build_switch")
_ABORT = Script("dnc_build_abort")


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
        raise BuildBusy(f"another import of list {list_name!r} is building version {version} (last heartbeat "
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
        raise BuildBusy(f"the build of list {build.list_name!r} version {build.version} was taken over by "
                        "another import; the live list is unchanged by this one")
    return old


async def abort_build(redis: AnyRedis, build: Build) -> None:
    """Give up a build: unmark it and free what it wrote (the live version is untouched)."""
    if await _ABORT(redis, [keys.dnc_meta_key(build.list_name)], [build.version]):
        await drop_version(redis, build.list_name, build.version)


async def version_exists(redis: AnyRedis, list_name: str, version: str) -> bool:
    """True when the version has keys (its tag registry exists)."""
    return bool(await redis.exists(keys.dnc_version_tags_key(list_name, version)))


async def version_entries(redis: AnyRedis, list_name: str, version: str) -> list[str]:
    """The entries of a version's tag registry (``+1201``, or ``tag/block`` for very short numbers)."""
    return [text(e) async for e in redis.sscan_iter(keys.dnc_version_tags_key(list_name, version), count=1000)]


def entry_keys(list_name: str, version: str, entry: str) -> list[str]:
    """The tag set and the block keys of one registry entry (one slot): every block of a tag, or one block."""
    tag, _, block = entry.partition("/")
    tag_key = keys.dnc_tag_set_key(list_name, version, tag)
    blocks = [block] if block else BLOCK_IDS
    return [tag_key, *(keys.dnc_tag_block_key(tag_key, b) for b in blocks)]


async def drop_version(redis: AnyRedis, list_name: str, version: str) -> int:
    """Delete every key of one version of a list (never the live one: the caller makes sure); keys deleted."""
    deleted = 0
    entries = await version_entries(redis, list_name, version)
    for start in range(0, len(entries), 32):
        pipe = pipeline(redis)
        for entry in entries[start:start + 32]:
            pipe.execute_command("UNLINK", *_unlink_keys(list_name, version, entry))  # one slot: one tag
        deleted += sum(int(r) for r in await pipe.execute())
    await redis.unlink(keys.dnc_version_tags_key(list_name, version))
    return deleted


def _unlink_keys(list_name: str, version: str, entry: str) -> list[str]:
    tag_key, *block_keys = entry_keys(list_name, version, entry)
    # a short number's entry frees its block key only (the tag set belongs to the tag's 7-digit numbers)
    return block_keys if "/" in entry else [tag_key, *block_keys]
