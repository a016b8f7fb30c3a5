"""A DNC list's metadata: its live version, count, provenance and the build in progress (``scr:dncmeta:<list>``).

The metadata hash (keys.dnc_meta_key) holds ``version`` (live), ``source``, ``imported_at``, ``count``,
``kind``, ``format``, ``building`` / ``building_at`` / ``building_added`` (an import writing a new version,
its heartbeat, opt-outs it received meanwhile), ``seq``, ``last_change_at`` / ``last_change_source``,
``retired:<version>`` (a replaced version until its keys are freed) and ``prefixes`` (prefix entries, space
separated: ``prefixes.py``).
A lookup reads ``version`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from screener.engine.facts import ListState
from screener.store import keys
from screener.store.client import AnyRedis, pipeline, text
from screener.store.connections import Connections, pack_command

#: the version of a list that has no metadata (never imported): empty unless numbers were added to it
EMPTY_VERSION = "0"


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
                      count=int(count) if count.lstrip("-").isdigit() else 0, source=meta.get("source", ""),
                      prefixes=frozenset(meta.get("prefixes", "").split()))
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


async def read_list_states_on(connections: Connections, names: Iterable[str]) -> dict[str, ListState]:
    """``read_list_states`` on the decision's hot path (one pipelined HGETALL per list), so that a decision
    cut at its deadline while it reads them costs no connection either."""
    names = list(dict.fromkeys(names))
    replies = await connections.execute_many([pack_command(b"HGETALL", keys.dnc_meta_key(name)) for name in names])
    return {name: _info(name, dict(zip(reply[::2], reply[1::2], strict=True))).state
            for name, reply in zip(names, replies, strict=True)}


async def live_version(redis: AnyRedis, list_name: str) -> str:
    """The list's live version (``"0"`` when it has no metadata)."""
    return text(await redis.hget(keys.dnc_meta_key(list_name), "version")) or EMPTY_VERSION


async def list_names(redis: AnyRedis) -> list[str]:
    """Every list that has metadata."""
    return sorted(text(m) for m in await redis.smembers(keys.DNC_LISTS_KEY))
