"""Screeners alive: each ``screener serve`` heartbeats into one sorted set (score: the Redis clock, ms)."""

from __future__ import annotations

import json
from typing import Any

from screener.store import keys
from screener.store.client import text
from screener.store.scripts import Script

_BEAT = Script("presence_beat")



async def server_ms(redis: Any) -> int:
    """The Redis server's clock (every screener compares heartbeats on the same clock)."""
    seconds, micros = await redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


async def beat(redis: Any, screener_id: str, info: dict[str, object], ttl_ms: int) -> int:
    """Record a heartbeat now (the Redis clock) and forget the screeners silent for longer than ``ttl_ms``;
    the heartbeat's time, epoch ms."""
    return int(await _BEAT(redis, [keys.SCREENERS_ALIVE_KEY, keys.SCREENERS_INFO_KEY],
                           [screener_id, json.dumps(info), ttl_ms]))


async def leave(redis: Any, screener_id: str) -> None:
    """Forget this screener (its info first: a heartbeat left alone expires by itself)."""
    await redis.hdel(keys.SCREENERS_INFO_KEY, screener_id)
    await redis.zrem(keys.SCREENERS_ALIVE_KEY, screener_id)


async def alive(redis: Any, ttl_ms: int) -> list[tuple[str, int, dict[str, Any]]]:
    """(id, last heartbeat ms, info) of every screener heard from within ``ttl_ms``."""
    now = await server_ms(redis)
    rows = await redis.zrangebyscore(keys.SCREENERS_ALIVE_KEY, now - ttl_ms, "+inf", withscores=True)
    if not rows:
        return []
    ids = [text(member) for member, _ in rows]
    infos = await redis.hmget(keys.SCREENERS_INFO_KEY, ids)
    return [(sid, int(score), json.loads(text(info)) if info is not None else {})
            for sid, (_, score), info in zip(ids, rows, infos, strict=True)]
