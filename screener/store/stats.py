"""Decision counts per minute and per hour (UTC) in Redis hashes, added to by every screener."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from screener.store import keys

#: how long a minute's and an hour's counts are kept
TTL_S = {"m": 2 * 3600 + 300, "h": 26 * 3600}


async def add(redis: Any, counts: Mapping[tuple[str, str], Mapping[str, int]]) -> None:
    """Add ``counts[(granularity, bucket)][field]`` in one pipeline (non-transactional: counters only)."""
    if not counts:
        return
    async with redis.pipeline(transaction=False) as pipe:
        for (granularity, bucket), fields in counts.items():
            key = keys.stats_key(granularity, bucket)
            for field, n in fields.items():
                pipe.hincrby(key, field, n)
            pipe.expire(key, TTL_S[granularity])
        await pipe.execute()


async def read(redis: Any, buckets: Sequence[tuple[str, str]]) -> list[dict[str, int]]:
    """The counts of each (granularity, bucket), in order ({} for a bucket with none)."""
    async with redis.pipeline(transaction=False) as pipe:
        for granularity, bucket in buckets:
            pipe.hgetall(keys.stats_key(granularity, bucket))
        rows = await pipe.execute()
    return [{(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in row.items()} for row in rows]
