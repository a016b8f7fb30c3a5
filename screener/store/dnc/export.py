"""Reading a whole version of a DNC list back as numbers (``screener dnc export``), one tag at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from screener.store.client import AnyRedis, text
from screener.store.dnc.layout import BLOCK_SIZE, bitmap_members
from screener.store.dnc.versions import entry_keys, version_entries
from screener.store.scripts import Script

_DUMP_TAG = Script("dnc_dump_tag")


async def iter_version(redis: AnyRedis, list_name: str, version: str) -> AsyncIterator[str]:
    """Every number of one version of a list, E.164, sorted within each tag."""
    for entry in sorted(set(await version_entries(redis, list_name, version))):
        tag, _, block = entry.partition("/")
        reply = await _DUMP_TAG(redis, entry_keys(list_name, version, entry), [])
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
