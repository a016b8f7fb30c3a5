"""List versions: build a new one beside the live one, switch in one step, free the old one.

The metadata hash (keys.dnc_meta_key) holds ``version`` (live), ``building`` (the version an import is
writing, with its heartbeat ``building_at``) and ``seq`` (the last version number handed out). A lookup
reads ``version`` and nothing else, so the switch (one script on the metadata hash) is atomic for readers:
they see the whole old list or the whole new one. A build that dies leaves ``building`` behind; the next
import frees that version once it has marked its own. A version that was live is freed tag by tag, each tag
leaving a freed marker (``keys.dnc_freed_key``) that its readers check: a screener or an export still holding
the version fails closed rather than reading an empty list.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from screener.store import keys
from screener.store.client import AnyRedis, pipeline, text
from screener.store.dnc.layout import BLOCK_IDS
from screener.store.scripts import Script, execute_with_scripts

#: a build whose heartbeat is older than this is considered abandoned
DEFAULT_STALE_BUILD_S = 30.0
#: a version retired by a switch whose importer did not free it (killed during its grace period) is freed by
#: the next import once it is this old: far past any screener's cached live version
RETIRED_FREE_AFTER_S = 60.0
#: the metadata field that records a retired version until its keys are freed (``retired:<version>`` = epoch s)
RETIRED_FIELD = "retired:"
#: begin_build looks for a free version number this many times when other imports keep taking it
BEGIN_TRIES = 5
#: seconds the marker of a freed tag is kept (keys.dnc_freed_key): far past the oldest list version a screener
#: may still decide with (its cache plus one decision: seconds) or an export may still be reading
FREED_MARKER_S = 86_400
#: whole tags copied per round trip (each a script call naming its 1,001 keys twice)
COPY_TAGS_PER_CALL = 16


class BuildBusy(RuntimeError):
    """Another build (import) of the same list holds it, or took this build over."""


class VersionFreed(RuntimeError):
    """A list version a reader was told to read was freed meanwhile (an import replaced it): what it read of it
    cannot be trusted to be whole."""

    def __init__(self, list_name: str, version: str) -> None:
        super().__init__(f"version {version} of list {list_name!r} was freed while it was being read (an import "
                         "replaced it)")
        self.list_name = list_name
        self.version = version


_BEGIN = Script("dnc_build_begin")
_HEARTBEAT = Script("dnc_build_heartbeat")
_SWITCH = Script("dnc_build_switch")
_ABORT = Script("dnc_build_abort")
_COPY_TAG = Script("dnc_copy_tag")
_FREE_TAG = Script("dnc_free_tag")


@dataclass(frozen=True)
class Build:
    """A version being built: ``version``; ``leftover``: an abandoned build's version, freed first."""

    list_name: str
    version: str
    leftover: str


async def begin_build(redis: AnyRedis, list_name: str, *, stale_after_s: float = DEFAULT_STALE_BUILD_S) -> Build:
    """Mark a new version of the list as being built, then free what an abandoned build left.

    From the moment the list is marked, every edit of it (an opt-out) goes to the new version too, so nothing
    empties that version afterwards: its number is one no key uses yet. Numbers are handed out in order and
    never twice; a number that has keys all the same (the metadata lost a write in a failover, the keys did
    not) is skipped and retired (``free_retired`` frees it later), never emptied.
    """
    meta = keys.dnc_meta_key(list_name)
    for _ in range(BEGIN_TRIES):
        seq, live = (text(v) for v in await redis.hmget(meta, ["seq", "version"]))
        version = max(_number(seq), _number(live)) + 1
        skipped = []
        while await version_exists(redis, list_name, str(version)):
            skipped.append(str(version))
            version += 1
        reply = await _BEGIN(redis, [meta], [repr(time.time()), stale_after_s, version, *skipped])
        status, version_text, extra = (text(x) for x in reply)
        if status == "busy":
            raise BuildBusy(f"another import of list {list_name!r} is building version {version_text} (last "
                            f"heartbeat {float(extra):.0f} s ago; it counts as abandoned after {stale_after_s:.0f} s)")
        if status == "ok":
            build = Build(list_name, version_text, extra)
            if build.leftover:
                await drop_version(redis, list_name, build.leftover, was_live=False)
            await free_retired(redis, list_name, older_than_s=RETIRED_FREE_AFTER_S)
            return build
        # "moved": another import took a version number meanwhile (and is done): look again
    raise BuildBusy(f"other imports of list {list_name!r} kept taking the next version number; try again")


def _number(version: str) -> int:
    return int(version) if version.isdigit() else 0


async def heartbeat(redis: AnyRedis, build: Build) -> bool:
    """Keep the build alive; False when another import took it over."""
    reply = await _HEARTBEAT(redis, [keys.dnc_meta_key(build.list_name)], [build.version, repr(time.time())])
    return bool(reply)


async def switch(redis: AnyRedis, build: Build, *, count: int, source: str = "", fmt: str = "", kind: str = "",
                 imported_at: float | None = None, full: bool = True, change_source: str = "") -> str:
    """Make the build the live version in one step; returns the previous version (recorded as retired until
    ``free_retired`` frees it). ``full``: the build is a new full copy of the list (its source, format and
    import time replace the list's); else it is the live list with edits (additions, a change list), and only
    ``change_source`` is recorded, as the last change's provenance. An empty value keeps the recorded one."""
    now = time.time()
    stamp = repr(imported_at if imported_at is not None else now) if full else ""
    args = [build.version, count, source if full else "", stamp, fmt if full else "", kind, repr(now),
            change_source]
    # the set of list names lives in another slot than the list's metadata: add the name first
    await redis.sadd(keys.DNC_LISTS_KEY, build.list_name)
    status, old = (text(x) for x in await _SWITCH(redis, [keys.dnc_meta_key(build.list_name)], args))
    if status != "ok":
        raise BuildBusy(f"the build of list {build.list_name!r} version {build.version} was taken over by "
                        "another import")
    return old


async def free_retired(redis: AnyRedis, list_name: str, *, older_than_s: float, only: str | None = None) -> list[str]:
    """Free the versions a switch retired (``only``: that one) at least ``older_than_s`` ago; the versions freed.
    The live version and the one being built are never freed."""
    meta = keys.dnc_meta_key(list_name)
    fields = {text(k): text(v) for k, v in (await redis.hgetall(meta)).items()}
    keep = {fields.get("version", ""), fields.get("building", "")}
    freed = []
    for name, at in fields.items():
        if not name.startswith(RETIRED_FIELD):
            continue
        version = name[len(RETIRED_FIELD):]
        if (only is not None and version != only) or version in keep:
            continue
        try:
            age = time.time() - float(at)
        except ValueError:
            age = older_than_s
        if age >= older_than_s:
            await drop_version(redis, list_name, version)
            await redis.hdel(meta, name)
            freed.append(version)
    return freed


async def copy_version(redis: AnyRedis, list_name: str, source: str, build: Build,
                       every_tags: Callable[[], Awaitable[None]] | None = None) -> int:
    """Make the build an exact copy of version ``source``, tag by tag (one script per tag, in the tag's slot).

    Edits made meanwhile (opt-outs) go to both versions, so the copy misses none. Returns the count of numbers the
    build holds, corrected for what edits wrote into it before their tag was copied (the switch adds what the
    build received: ``building_added``). ``every_tags`` is awaited between round trips (a heartbeat).
    """
    entries = await version_entries(redis, list_name, source)
    registry = keys.dnc_version_tags_key(list_name, build.version)
    count = 0
    for start in range(0, len(entries), COPY_TAGS_PER_CALL):
        part = entries[start:start + COPY_TAGS_PER_CALL]
        # registered first, so that an abort frees what the copy wrote
        await redis.sadd(registry, *part)

        def queue(part: list[str] = part) -> Any:
            pipe = pipeline(redis)
            for entry in part:
                pairs = zip(entry_keys(list_name, source, entry), entry_keys(list_name, build.version, entry),
                            strict=True)
                _COPY_TAG.queue(pipe, [key for pair in pairs for key in pair], [])
            return pipe

        for before, after in await execute_with_scripts(redis, [_COPY_TAG], queue):
            count += int(after) - int(before)
        if every_tags is not None:
            await every_tags()
    return count


async def abort_build(redis: AnyRedis, build: Build) -> None:
    """Give up a build: unmark it and free what it wrote (the live version is untouched)."""
    if await _ABORT(redis, [keys.dnc_meta_key(build.list_name)], [build.version]):
        await drop_version(redis, build.list_name, build.version, was_live=False)


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


async def drop_version(redis: AnyRedis, list_name: str, version: str, *, was_live: bool = True) -> int:
    """Delete every key of one version of a list (never the live one: the caller makes sure); keys deleted.

    A version that was live (``was_live``) may still be read: each of its tags is freed by one script in the tag's
    slot that leaves the tag's freed marker, so a screener that still decides with this version, or an export
    reading it, finds the marker and fails closed instead of reading an empty list. A build that never went live
    (``was_live=False``: an import undone or abandoned) has no reader and leaves nothing. The tag registry goes
    last, so a drop cut short is finished by the next one.
    """
    deleted = 0
    entries = await version_entries(redis, list_name, version)
    for start in range(0, len(entries), 32):
        part = entries[start:start + 32]

        def queue(part: list[str] = part) -> Any:
            pipe = pipeline(redis)
            for entry in part:
                freed = _unlink_keys(list_name, version, entry)
                if was_live:
                    _FREE_TAG.queue(pipe, [keys.dnc_freed_key(entry_keys(list_name, version, entry)[0]), *freed],
                                    [FREED_MARKER_S])
                else:
                    pipe.execute_command("UNLINK", *freed)  # one slot: one tag
            return pipe

        deleted += sum(int(r) for r in await execute_with_scripts(redis, [_FREE_TAG], queue))
    await redis.unlink(keys.dnc_version_tags_key(list_name, version))
    return deleted


def _unlink_keys(list_name: str, version: str, entry: str) -> list[str]:
    tag_key, *block_keys = entry_keys(list_name, version, entry)
    # a short number's entry frees its block key only (the tag set belongs to the tag's 7-digit numbers)
    return block_keys if "/" in entry else [tag_key, *block_keys]
