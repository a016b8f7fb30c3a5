"""Reading a whole version of a DNC list back as numbers (``screener dnc export``), one tag at a time.

An import may replace and free the version while it is read: each tag is read by one script that first looks
for the tag's freed marker, so a read that overlaps the freeing raises ``VersionFreed`` instead of ending early
with part of the list.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from screener.store import keys
from screener.store.client import AnyRedis, text
from screener.store.dnc.layout import BLOCK_SIZE, bitmap_members
from screener.store.dnc.lists import live_version
from screener.store.dnc.versions import VersionFreed, entry_keys, version_entries
from screener.store.scripts import Script

_DUMP_TAG = Script("dnc_dump_tag")


async def iter_version(redis: AnyRedis, list_name: str, version: str) -> AsyncIterator[str]:
    """Every number of one version of a list, E.164, sorted within each tag; ``VersionFreed`` when the version
    is freed before it was read whole."""
    entries = sorted(set(await version_entries(redis, list_name, version)))
    if not entries and await live_version(redis, list_name) != version:
        # no tag at all: an empty version, or one freed before its tags were read (its registry goes last)
        raise VersionFreed(list_name, version)
    for entry in entries:
        tag, _, block = entry.partition("/")
        tag_keys = entry_keys(list_name, version, entry)
        reply = await _DUMP_TAG(redis, [keys.dnc_freed_key(tag_keys[0]), *tag_keys], [])
        if reply == -1:
            raise VersionFreed(list_name, version)
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
