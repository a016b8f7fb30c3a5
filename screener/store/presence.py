"""Screeners alive: each ``screener serve`` heartbeats into one sorted set (score: the Redis clock, ms)."""

from __future__ import annotations

import json
from typing import Any

from screener.store import keys


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def server_ms(redis: Any) -> int:
    """The Redis server's clock (every screener compares heartbeats on the same clock)."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def beat(redis: Any, screener_id: str, info: dict[str, object], ttl_ms: int) -> None:
    """Record a heartbeat now and forget the screeners silent for longer than ``ttl_ms``."""
    now = await server_ms(redis)
    stale = [_text(m) for m in await redis.zrangebyscore(keys.SCREENERS_ALIVE_KEY, "-inf", now - ttl_ms)]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zadd(keys.SCREENERS_ALIVE_KEY, {screener_id: now})
        pipe.hset(keys.SCREENERS_INFO_KEY, screener_id, json.dumps(info))
        if stale:
            pipe.zrem(keys.SCREENERS_ALIVE_KEY, *stale)
            pipe.hdel(keys.SCREENERS_INFO_KEY, *stale)
        await pipe.execute()


async def leave(redis: Any, screener_id: str) -> None:
    async with redis.pipeline(transaction=True) as pipe:
        pipe.zrem(keys.SCREENERS_ALIVE_KEY, screener_id)
        pipe.hdel(keys.SCREENERS_INFO_KEY, screener_id)
        await pipe.execute()


async def alive(redis: Any, ttl_ms: int) -> list[tuple[str, int, dict[str, Any]]]:
    """(id, last heartbeat ms, info) of every screener heard from within ``ttl_ms``."""
    now = await server_ms(redis)
    rows = await redis.zrangebyscore(keys.SCREENERS_ALIVE_KEY, now - ttl_ms, "+inf", withscores=True)
    if not rows:
        return []
    ids = [_text(member) for member, _ in rows]
    infos = await redis.hmget(keys.SCREENERS_INFO_KEY, ids)
    return [(sid, int(score), json.loads(_text(info)) if info is not None else {})
            for sid, (_, score), info in zip(ids, rows, infos, strict=True)]
