"""Is a number on a DNC list? The decision's 2-key check (lua/dnc_lookup.lua), one number or a whole scrub."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from screener.store import keys
from screener.store.client import AnyRedis, pipeline
from screener.store.dnc.lists import live_version
from screener.store.scripts import Script, execute_with_scripts

_LOOKUP = Script("dnc_lookup")


def lookup_keys(list_name: str, version: str, e164: str) -> tuple[str, str, int, int]:
    """(tag_key, block_key, tag_suffix, block_suffix) of a number in one version of a list."""
    return (keys.dnc_tag_key(list_name, version, e164), keys.dnc_block_key(list_name, version, e164),
            keys.tag_suffix(e164), keys.block_suffix(e164))


async def contains_in(redis: AnyRedis, list_name: str, version: str, e164: str) -> bool:
    """True when the number is in that version of the list (the decision's 2-key check)."""
    tag_key, block_key, tag_sfx, block_sfx = lookup_keys(list_name, version, e164)
    return bool(await _LOOKUP(redis, [tag_key, block_key], [tag_sfx, block_sfx]))


async def contains(redis: AnyRedis, list_name: str, e164: str) -> bool:
    """True when the number is in the list's live version."""
    return await contains_in(redis, list_name, await live_version(redis, list_name), e164)


async def contains_many(redis: AnyRedis, list_name: str, e164s: Sequence[str], *,
                        version: str | None = None) -> list[bool]:
    """Each number's membership in the list (live version unless given), in one pipeline (a list scrub)."""
    in_version = version if version is not None else await live_version(redis, list_name)

    def queue() -> Any:
        pipe = pipeline(redis)
        for e164 in e164s:
            tag_key, block_key, tag_sfx, block_sfx = lookup_keys(list_name, in_version, e164)
            _LOOKUP.queue(pipe, [tag_key, block_key], [tag_sfx, block_sfx])
        return pipe

    return [bool(r) for r in await execute_with_scripts(redis, [_LOOKUP], queue)]
