"""Is a number on a DNC list? The decision's check (lua/dnc_lookup.lua), one number or a whole scrub.

A version freed meanwhile (an import replaced it) cannot answer: ``contains`` reads the live version again,
``contains_in`` and ``contains_many`` with a version given raise ``VersionFreed`` (never a false "not listed").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from screener.store import keys
from screener.store.client import AnyRedis, pipeline
from screener.store.dnc.lists import live_version
from screener.store.dnc.versions import VersionFreed
from screener.store.scripts import Script, execute_with_scripts

_LOOKUP = Script("dnc_lookup")
#: the lookup's answer when the version's tag was freed
_FREED = -1
#: times ``contains`` reads the live version again after finding the one it read freed
LIVE_TRIES = 3


def lookup_keys(list_name: str, version: str, e164: str) -> tuple[str, str, int, int]:
    """(tag_key, block_key, tag_suffix, block_suffix) of a number in one version of a list."""
    return (keys.dnc_tag_key(list_name, version, e164), keys.dnc_block_key(list_name, version, e164),
            keys.tag_suffix(e164), keys.block_suffix(e164))


def _lookup_args(list_name: str, version: str, e164: str) -> tuple[list[str], list[int]]:
    tag_key, block_key, tag_sfx, block_sfx = lookup_keys(list_name, version, e164)
    return [tag_key, block_key, keys.dnc_freed_key(tag_key)], [tag_sfx, block_sfx]


def _listed(reply: Any, list_name: str, version: str) -> bool:
    if int(reply) == _FREED:
        raise VersionFreed(list_name, version)
    return bool(reply)


async def contains_in(redis: AnyRedis, list_name: str, version: str, e164: str) -> bool:
    """True when the number is in that version of the list; ``VersionFreed`` when that version was freed."""
    return _listed(await _LOOKUP(redis, *_lookup_args(list_name, version, e164)), list_name, version)


async def contains(redis: AnyRedis, list_name: str, e164: str) -> bool:
    """True when the number is in the list's live version (read again when an import freed the one read)."""
    for _ in range(LIVE_TRIES - 1):
        try:
            return await contains_in(redis, list_name, await live_version(redis, list_name), e164)
        except VersionFreed:
            continue  # a switch and its grace period passed between the two calls: read the live version again
    return await contains_in(redis, list_name, await live_version(redis, list_name), e164)


async def contains_many(redis: AnyRedis, list_name: str, e164s: Sequence[str], *,
                        version: str | None = None) -> list[bool]:
    """Each number's membership in the list (live version unless given), in one pipeline (a list scrub);
    ``VersionFreed`` when the version was freed meanwhile."""
    in_version = version if version is not None else await live_version(redis, list_name)

    def queue() -> Any:
        pipe = pipeline(redis)
        for e164 in e164s:
            _LOOKUP.queue(pipe, *_lookup_args(list_name, in_version, e164))
        return pipe

    return [_listed(r, list_name, in_version) for r in await execute_with_scripts(redis, [_LOOKUP], queue)]
