"""Adding and removing numbers of a DNC list (the opt-out path, ``screener dnc add|remove``, change lists).

Every edit of a list's numbers goes through ``apply_ops``: to the list's live version and, while an import
builds a new version beside it, to that one too, so an opt-out acknowledged during a ``--replace`` is in the
list before and after the switch. On one server that is one script (lua/dnc_edit_live.lua); on a cluster
one script per tag (lua/dnc_edit_tag.lua), the metadata read and written around them.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from screener.store import keys
from screener.store.client import AnyRedis, config_int, is_cluster, pipeline, text
from screener.store.dnc.layout import BLOCK_IDS, INTSET_MAX
from screener.store.dnc.lists import EMPTY_VERSION
from screener.store.scripts import Script, execute_with_scripts

#: ops for ``apply_ops``
ADD = "a"
REMOVE = "r"

class Applied(NamedTuple):
    """What ``apply_ops`` did to the live version: numbers added and removed, and which version that was."""

    added: int
    removed: int
    version: str


_EDIT_LIVE = Script("dnc_edit_live")
_EDIT_TAG = Script("dnc_edit_tag")


def split_number(e164: str) -> tuple[str, str]:
    """(tag, rest): the tag and the digits after it. Raises ValueError for a string that is no E.164 number."""
    if not (e164.startswith("+") and e164[1:].isdigit() and 8 <= len(e164) <= 16):
        raise ValueError(f"not an E.164 number: {e164!r}")
    tag = keys.number_tag(e164)
    return tag, e164[len(tag):]


def tag_entry(e164: str) -> str:
    """The entry of a number's tag in ``keys.dnc_version_tags_key`` (the block id too when its rest is short)."""
    tag = keys.number_tag(e164)
    rest = e164[len(tag):]
    return tag if len(rest) == 7 else f"{tag}/{keys.block_id(e164)}"


def split_ops(ops: Sequence[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """(op, tag, rest, tag entry) of each (op, e164)."""
    return [(op, *split_number(e164), tag_entry(e164)) for op, e164 in ops]


async def intset_max(redis: AnyRedis) -> int:
    """The server's set-max-intset-entries, capped at the layout's 512 (512 when CONFIG is not allowed)."""
    try:
        return min(INTSET_MAX, await config_int(redis, "set-max-intset-entries"))
    except Exception:  # CONFIG may be disabled (managed Redis): the default holds
        return INTSET_MAX


_INTSET_MAX: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


async def _intset_max_cached(redis: AnyRedis) -> int:
    if redis not in _INTSET_MAX:
        _INTSET_MAX[redis] = await intset_max(redis)
    return _INTSET_MAX[redis]


async def apply_ops(redis: AnyRedis, list_name: str, ops: Sequence[tuple[str, str]], *, source: str = "",
                    maxn: int | None = None) -> Applied:
    """Apply (op, e164) edits, in order, to the live version (and a version being built).

    Returns the numbers added and removed in the live version, and that version. On one server this is one
    script call (one round trip, atomic with respect to a version switch); on a cluster the list's metadata
    lives in another slot: read the versions, edit, then re-read them and edit again any version that appeared
    meanwhile.
    """
    if not ops:
        return Applied(0, 0, text(await redis.hget(keys.dnc_meta_key(list_name), "version")) or EMPTY_VERSION)
    parts = split_ops(ops)
    limit = maxn if maxn is not None else await _intset_max_cached(redis)
    if not is_cluster(redis):
        edits = " ".join(f"{op}{tag}/{rest}" for op, tag, rest, _ in parts)
        args: list[Any] = [list_name, limit, source, repr(time.time()), keys.PREFIX, edits]
        added, removed, version = await _EDIT_LIVE(redis, [keys.dnc_meta_key(list_name), keys.DNC_LISTS_KEY], args)
        return Applied(int(added), int(removed), text(version))
    return await _apply_ops_cluster(redis, list_name, parts, source, limit)


async def _apply_ops_cluster(redis: AnyRedis, list_name: str, parts: list[tuple[str, str, str, str]],
                             source: str, limit: int) -> Applied:
    meta_key = keys.dnc_meta_key(list_name)
    live, building = (text(v) for v in await redis.hmget(meta_key, ["version", "building"]))
    live = live or EMPTY_VERSION
    done: dict[str, tuple[int, int]] = {}
    todo = [v for v in (live, building) if v]
    while todo:
        done.update(await mutate_versions(redis, list_name, parts, todo, limit))
        pipe = pipeline(redis)
        pipe.hsetnx(meta_key, "version", EMPTY_VERSION)
        pipe.sadd(keys.DNC_LISTS_KEY, list_name)
        if live in todo:
            pipe.hincrby(meta_key, "count", done[live][0] - done[live][1])
        if building and building in todo:
            pipe.hincrby(meta_key, "building_added", done[building][0] - done[building][1])
        pipe.hset(meta_key, mapping={"last_change_at": repr(time.time()),
                                     **({"last_change_source": source} if source else {})})
        pipe.hmget(meta_key, ["version", "building"])
        replies = await pipe.execute()
        live, building = (text(v) for v in replies[-1])
        live = live or EMPTY_VERSION
        todo = [v for v in (live, building) if v and v not in done]
    added, removed = done.get(live, (0, 0))
    return Applied(added, removed, live)


async def mutate_versions(redis: AnyRedis, list_name: str, parts: list[tuple[str, str, str, str]],
                          versions: list[str], limit: int) -> dict[str, tuple[int, int]]:
    """Apply split edits to the given versions, one script call per tag (one slot each).

    A tag's call names the block keys of its numbers; a call whose tag set could overflow (and so move numbers
    to any block of the tag) does nothing and answers -1: it is made again with every block key of the tag.
    """
    edits: dict[str, list[str]] = {}
    blocks: dict[str, set[str]] = {}
    for op, tag, rest, _ in parts:
        edits.setdefault(tag, []).append(op + rest)
        blocks.setdefault(tag, set()).add(rest[:-4])
    entries = {entry for *_, entry in parts}
    counts = {v: [0, 0] for v in versions}
    calls = [(version, tag) for version in versions for tag in edits]
    for every_block in (False, True):
        replies = await _edit_tags(redis, list_name, calls, edits, blocks, limit, every_block,
                                   entries=set() if every_block else entries, versions=versions)
        again = []
        for (version, tag), (added, removed) in zip(calls, replies, strict=True):
            if int(added) < 0:
                again.append((version, tag))
            else:
                counts[version][0] += int(added)
                counts[version][1] += int(removed)
        calls = again
        if not calls:
            break
    return {v: (c[0], c[1]) for v, c in counts.items()}


async def _edit_tags(redis: AnyRedis, list_name: str, calls: list[tuple[str, str]], edits: dict[str, list[str]],
                     blocks: dict[str, set[str]], limit: int, every_block: bool, *, entries: set[str],
                     versions: list[str]) -> list[Any]:
    """One pipeline: the tags' entries in each version's tag registry, then one dnc_edit_tag.lua per call;
    the scripts' replies."""

    def queue() -> Any:
        pipe = pipeline(redis)
        if entries:
            for version in versions:
                pipe.sadd(keys.dnc_version_tags_key(list_name, version), *entries)
        for version, tag in calls:
            tag_key = keys.dnc_tag_set_key(list_name, version, tag)
            ids = sorted(blocks[tag] | set(BLOCK_IDS)) if every_block else sorted(blocks[tag])
            _EDIT_TAG.queue(pipe, [tag_key, *(keys.dnc_tag_block_key(tag_key, b) for b in ids)],
                            [limit, " ".join(edits[tag]), "1" if every_block else "0"])
        return pipe

    replies = await execute_with_scripts(redis, [_EDIT_TAG], queue)
    return replies[len(replies) - len(calls):]


async def add_numbers(redis: AnyRedis, list_name: str, e164s: Iterable[str], *, source: str = "") -> int:
    """Add E.164 numbers to a list's live version; returns how many were new. Acknowledged by Redis on return."""
    return (await apply_ops(redis, list_name, [(ADD, n) for n in e164s], source=source)).added


async def remove_numbers(redis: AnyRedis, list_name: str, e164s: Iterable[str], *, source: str = "") -> int:
    """Remove E.164 numbers from a list's live version; returns how many were there."""
    return (await apply_ops(redis, list_name, [(REMOVE, n) for n in e164s], source=source)).removed
