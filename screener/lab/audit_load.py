"""Fill audit streams fast, for the archive's tests and benchmark: millions of entries whose chains verify,
written with explicit ids (spread over a time range) in pipelines, the links computed here with hashlib (what
Lua would compute, ``store/audit_chain.py``), the heads and the group registry set as the appends would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from screener.store import audit_chain, keys


@dataclass(frozen=True)
class Loaded:
    """What was written: every entry id per group, and the time range."""

    ids: dict[str, list[str]]
    first_ms: int
    last_ms: int

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.ids.values())


def _fields(i: int, group: str) -> dict[str, str]:
    return {"kind": "decision", "at": "2026-12-02T20:00:00.000+00:00", "campaign": "lab", "config_version": "lab1",
            "source": "load", "mode": "live", "verdict": "allow", "pre_reasons": "", "i": str(i),
            audit_chain.KEY_FIELD: f"k{i:014d}", "number": f"{group}***{i % 100:02d}",
            "number_hash": f"{i:024x}", "call_id": f"load-{i}"}


async def load_chains(redis: Any, groups: Sequence[str], total: int, *, first_ms: int, last_ms: int,
                      pipeline: int = 2000) -> Loaded:
    """``total`` entries over ``groups`` (round robin), ids evenly spread over [first_ms, last_ms], each group's
    chain from its genesis; the streams must not exist yet."""
    await redis.sadd(keys.AUDIT_GROUPS_KEY, *groups)
    ids: dict[str, list[str]] = {g: [] for g in groups}
    links = {g: audit_chain.GENESIS for g in groups}
    last_ms_of: dict[str, int] = {}
    step = (last_ms - first_ms) / max(1, total - 1)
    pipe = redis.pipeline(transaction=False)
    queued = 0
    for i in range(total):
        group = groups[i % len(groups)]
        ms = max(int(first_ms + i * step), last_ms_of.get(group, -1) + 1)
        last_ms_of[group] = ms
        entry_id = f"{ms}-0"
        fields = _fields(i, group)
        position = str(len(ids[group]) + 1)
        link = audit_chain.link(links[group], audit_chain.client_digest(fields.items()), entry_id, position)
        pipe.xadd(keys.audit_stream_key(group), {**fields, audit_chain.LINK_FIELD: link,
                                                 audit_chain.POSITION_FIELD: position}, id=entry_id)
        links[group] = link
        ids[group].append(entry_id)
        queued += 1
        if queued >= pipeline:
            await pipe.execute()
            pipe = redis.pipeline(transaction=False)
            queued = 0
    if queued:
        await pipe.execute()
    for group in groups:
        if ids[group]:
            await redis.set(keys.audit_head_key(group), f"{links[group]} {ids[group][-1]} {len(ids[group])}")
    return Loaded(ids, first_ms, last_ms)
