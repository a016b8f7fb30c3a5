"""DNC lists in Redis: lookup keys, list states, single-number edits (the opt-out path) and lookups.

Layout: screener.store.dnc_layout (docs/dnc-storage.md). Versions and atomic replace:
screener.store.dnc_versions. Bulk import: screener.store.dnc_import.

Every edit goes to the list's live version and, while an import builds a new version beside it, to that one
too, so an opt-out acknowledged during a ``--replace`` is in the list before and after the switch.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from screener.engine.facts import ListState
from screener.store import keys
from screener.store.dnc_layout import LOOKUP_LUA, MUTATE_FUNCS_LUA, MUTATE_TAG_LUA
from screener.store.dnc_redis import (
    AnyRedis,
    Script,
    execute_with_scripts,
    intset_max,
    is_cluster,
    pipeline,
    text,
)

#: the version of a list that has no metadata (never imported): empty unless numbers were added to it
EMPTY_VERSION = "0"
#: ops for ``apply_ops``
ADD = "a"
REMOVE = "r"


def lookup_keys(list_name: str, version: str, e164: str) -> tuple[str, str, int, int]:
    """(tag_key, block_key, tag_suffix, block_suffix) of a number in one version of a list."""
    return (keys.dnc_tag_key(list_name, version, e164), keys.dnc_block_key(list_name, version, e164),
            keys.tag_suffix(e164), keys.block_suffix(e164))


def version_tags_key(list_name: str, version: str) -> str:
    """A set of the tags (``+1201``; ``+6/83`` = tag/block for very short numbers) a list version has keys in."""
    return f"{keys.PREFIX}:dncver:{list_name}:{version}"


def tag_entry(e164: str) -> str:
    """The entry of a number's tag in ``version_tags_key`` (the block id too when its rest is short)."""
    tag = keys.number_tag(e164)
    rest = e164[len(tag):]
    return tag if len(rest) == 7 else f"{tag}/{keys.block_id(e164)}"


def split_number(e164: str) -> tuple[str, str]:
    """(tag, rest): the tag and the digits after it. Raises ValueError for a string that is no E.164 number."""
    if not (e164.startswith("+") and e164[1:].isdigit() and 8 <= len(e164) <= 16):
        raise ValueError(f"not an E.164 number: {e164!r}")
    tag = keys.number_tag(e164)
    return tag, e164[len(tag):]


@dataclass(frozen=True)
class ListInfo:
    """A list's metadata hash, decoded (``screener dnc lists``)."""

    state: ListState
    kind: str = ""
    fmt: str = ""
    building: str = ""
    building_at: float | None = None
    last_change_at: float | None = None
    last_change_source: str = ""
    exists: bool = False


def _float(value: Any) -> float | None:
    try:
        return float(text(value)) if value is not None else None
    except ValueError:
        return None


def _info(name: str, raw: dict[Any, Any]) -> ListInfo:
    meta = {text(k): text(v) for k, v in raw.items()}
    count = meta.get("count", "0")
    state = ListState(name=name, version=meta.get("version") or EMPTY_VERSION,
                      imported_at=_float(meta.get("imported_at")) if meta.get("imported_at") else None,
                      count=int(count) if count.lstrip("-").isdigit() else 0, source=meta.get("source", ""))
    return ListInfo(state=state, kind=meta.get("kind", ""), fmt=meta.get("format", ""),
                    building=meta.get("building", ""), building_at=_float(meta.get("building_at")),
                    last_change_at=_float(meta.get("last_change_at")),
                    last_change_source=meta.get("last_change_source", ""), exists=bool(meta))


async def read_list_infos(redis: AnyRedis, names: Iterable[str]) -> dict[str, ListInfo]:
    """Every named list's metadata, in one round trip (one per node on a cluster)."""
    names = list(dict.fromkeys(names))
    pipe = pipeline(redis)
    for name in names:
        pipe.hgetall(keys.dnc_meta_key(name))
    replies = await pipe.execute()
    return {name: _info(name, reply or {}) for name, reply in zip(names, replies, strict=True)}


async def read_list_states(redis: AnyRedis, names: Iterable[str]) -> dict[str, ListState]:
    """The live version (``"0"`` when a list has no metadata), imported-at, count and source of each list."""
    infos = await read_list_infos(redis, names)
    return {name: info.state for name, info in infos.items()}


async def list_names(redis: AnyRedis) -> list[str]:
    """Every list that has metadata."""
    return sorted(text(m) for m in await redis.smembers(keys.DNC_LISTS_KEY))


_LOOKUP = Script(LOOKUP_LUA)
_MUTATE_TAG = Script(MUTATE_TAG_LUA)

#: single server: the whole edit (versions read, every number, count, provenance) in one script.
#: ARGV[6]: the edits, space separated, each op + tag + '/' + rest ("a+1201/5550123 r+1202/5550124").
_APPLY_LIVE = Script(MUTATE_FUNCS_LUA + """
local meta, lists = KEYS[1], KEYS[2]
local name, maxn, source, now, prefix = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4], ARGV[5]
redis.call('HSETNX', meta, 'version', '0')
redis.call('SADD', lists, name)
local versions = {redis.call('HGET', meta, 'version')}
local building = redis.call('HGET', meta, 'building')
if building and building ~= versions[1] then versions[2] = building end
local added, removed, seen = {0, 0}, {0, 0}, {}
for op, tag, rest in string.gmatch(ARGV[6], '(%a)(%+%d+)/(%d+)') do
  local entry = tag
  if #rest ~= 7 then entry = tag .. '/' .. string.sub(rest, 1, #rest - 4) end
  for v = 1, #versions do
    local tk = prefix .. ':{' .. tag .. '}:dnc:' .. name .. ':' .. versions[v]
    if not seen[v .. entry] then
      redis.call('SADD', prefix .. ':dncver:' .. name .. ':' .. versions[v], entry)
      seen[v .. entry] = true
    end
    if op == 'a' then added[v] = added[v] + dnc_add(tk, rest, maxn)
    else removed[v] = removed[v] + dnc_remove(tk, rest) end
  end
end
redis.call('HINCRBY', meta, 'count', added[1] - removed[1])
if versions[2] then redis.call('HINCRBY', meta, 'building_added', added[2] - removed[2]) end
redis.call('HSET', meta, 'last_change_at', now)
if source ~= '' then redis.call('HSET', meta, 'last_change_source', source) end
return {added[1], removed[1]}
""")


async def apply_ops(redis: AnyRedis, list_name: str, ops: Sequence[tuple[str, str]], *, source: str = "",
                    maxn: int | None = None) -> tuple[int, int]:
    """Apply (op, e164) edits, in order, to the live version (and a version being built).

    Returns (numbers added, numbers removed) in the live version. On one server this is one script call (one
    round trip, atomic with respect to a version switch); on a cluster the list's metadata lives in another
    slot: read the versions, edit, then re-read them and edit again any version that appeared meanwhile.
    """
    if not ops:
        return 0, 0
    parts = split_ops(ops)
    limit = maxn if maxn is not None else await _intset_max_cached(redis)
    if not is_cluster(redis):
        edits = " ".join(f"{op}{tag}/{rest}" for op, tag, rest, _ in parts)
        args: list[Any] = [list_name, limit, source, repr(time.time()), keys.PREFIX, edits]
        added, removed = await _APPLY_LIVE(redis, [keys.dnc_meta_key(list_name), keys.DNC_LISTS_KEY], args)
        return int(added), int(removed)
    return await _apply_ops_cluster(redis, list_name, parts, source, limit)


async def _apply_ops_cluster(redis: AnyRedis, list_name: str, parts: list[tuple[str, str, str, str]],
                             source: str, limit: int) -> tuple[int, int]:
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
    return done.get(live, (0, 0))


def split_ops(ops: Sequence[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """(op, tag, rest, tag entry) of each (op, e164)."""
    return [(op, *split_number(e164), tag_entry(e164)) for op, e164 in ops]


async def mutate_versions(redis: AnyRedis, list_name: str, parts: list[tuple[str, str, str, str]],
                          versions: list[str], limit: int) -> dict[str, tuple[int, int]]:
    """Apply split edits to the given versions, one script call per tag (one slot each)."""
    by_tag: dict[str, list[str]] = {}
    entries: set[str] = set()
    for op, tag, rest, entry in parts:
        by_tag.setdefault(tag, []).append(op + rest)
        entries.add(entry)
    order: list[str] = []

    def queue() -> Any:
        pipe = pipeline(redis)
        order.clear()
        for version in versions:
            pipe.sadd(version_tags_key(list_name, version), *entries)
            order.append("")
            for tag, edits in by_tag.items():
                tag_key = f"{keys.PREFIX}:{{{tag}}}:dnc:{list_name}:{version}"
                _MUTATE_TAG.queue(pipe, [tag_key], [limit, " ".join(edits)])
                order.append(version)
        return pipe

    replies = await execute_with_scripts(redis, [_MUTATE_TAG], queue)
    counts = {v: [0, 0] for v in versions}
    for version, reply in zip(order, replies, strict=True):
        if version:
            counts[version][0] += int(reply[0])
            counts[version][1] += int(reply[1])
    return {v: (c[0], c[1]) for v, c in counts.items()}


_INTSET_MAX: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


async def _intset_max_cached(redis: AnyRedis) -> int:
    if redis not in _INTSET_MAX:
        _INTSET_MAX[redis] = await intset_max(redis)
    return _INTSET_MAX[redis]


async def add_numbers(redis: AnyRedis, list_name: str, e164s: Iterable[str], *, source: str = "") -> int:
    """Add E.164 numbers to a list's live version; returns how many were new. Acknowledged by Redis on return."""
    added, _ = await apply_ops(redis, list_name, [(ADD, n) for n in e164s], source=source)
    return added


async def remove_numbers(redis: AnyRedis, list_name: str, e164s: Iterable[str], *, source: str = "") -> int:
    """Remove E.164 numbers from a list's live version; returns how many were there."""
    _, removed = await apply_ops(redis, list_name, [(REMOVE, n) for n in e164s], source=source)
    return removed


async def contains_in(redis: AnyRedis, list_name: str, version: str, e164: str) -> bool:
    """True when the number is in that version of the list (the decision's 2-key check)."""
    tag_key, block_key, tag_sfx, block_sfx = lookup_keys(list_name, version, e164)
    return bool(await _LOOKUP(redis, [tag_key, block_key], [tag_sfx, block_sfx]))


async def contains(redis: AnyRedis, list_name: str, e164: str) -> bool:
    """True when the number is in the list's live version."""
    version = text(await redis.hget(keys.dnc_meta_key(list_name), "version")) or EMPTY_VERSION
    return await contains_in(redis, list_name, version, e164)


async def contains_many(redis: AnyRedis, list_name: str, e164s: Sequence[str], *,
                        version: str | None = None) -> list[bool]:
    """Each number's membership in the list (live version unless given), in one pipeline (a list scrub)."""
    if version is None:
        version = text(await redis.hget(keys.dnc_meta_key(list_name), "version")) or EMPTY_VERSION

    def queue() -> Any:
        pipe = pipeline(redis)
        for e164 in e164s:
            tag_key, block_key, tag_sfx, block_sfx = lookup_keys(list_name, str(version), e164)
            _LOOKUP.queue(pipe, [tag_key, block_key], [tag_sfx, block_sfx])
        return pipe

    return [bool(r) for r in await execute_with_scripts(redis, [_LOOKUP], queue)]
