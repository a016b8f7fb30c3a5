"""Prefix entries of a DNC list (``+1201`` blocks every number under it), kept in the list's metadata hash.

Every screener reads a list's metadata (its live version) about once a second; the prefixes come with it and
are matched in Python (``screener.engine.prefixes``), so a decision's script and an exact lookup do not change
and pay nothing for them. The limits that follow: at most ``MAX_PREFIXES`` a list, and a new prefix reaches a
running screener within its list-state refresh (about a second), as a replaced version does.
"""

from __future__ import annotations

import time
from typing import NamedTuple

from screener.store import keys
from screener.store.client import AnyRedis, text
from screener.store.scripts import Script

#: the most prefix entries one list may hold (they travel with the list's state to every screener)
MAX_PREFIXES = 1_000

_EDIT = Script("dnc_prefix_edit")


class PrefixLimit(ValueError):
    """The list holds MAX_PREFIXES prefixes already."""


class PrefixEdit(NamedTuple):
    changed: bool
    #: prefixes the list holds after the edit
    held: int
    #: the list's live version
    version: str


async def edit_prefix(redis: AnyRedis, list_name: str, prefix: str, *, add: bool, source: str = "") -> PrefixEdit:
    """Add (``add``) or remove one prefix entry; PrefixLimit when the list is full."""
    reply = await _EDIT(redis, [keys.dnc_meta_key(list_name)],
                        ["a" if add else "r", prefix, MAX_PREFIXES, repr(time.time()), source])
    changed, held, version = int(reply[0]), int(reply[1]), text(reply[2])
    if changed < 0:
        raise PrefixLimit(f"list {list_name!r} holds {held} prefixes, the most a list may hold")
    await redis.sadd(keys.DNC_LISTS_KEY, list_name)  # another slot than the metadata's
    return PrefixEdit(bool(changed), held, version)

