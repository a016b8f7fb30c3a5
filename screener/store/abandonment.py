"""Abandoned-call accounting in Redis: a campaign's answered and abandoned calls per hour (for its rolling
rate), and a number's last abandoned call per campaign (read by decide.lua for the lock-out)."""

from __future__ import annotations

from collections.abc import Iterable

from screener.store import keys
from screener.store.client import AnyRedis, pipeline, text
from screener.store.scripts import Script

_COUNT = Script("abandonment_count")


async def count_call(redis: AnyRedis, campaign: str, *, hour: int, abandoned: bool, keep_hours: int,
                     current_hour: int) -> None:
    """Count one answered call of ``campaign`` in the bucket of ``hour``; returns once Redis acknowledged."""
    await _COUNT(redis, [keys.abandonment_key(campaign)], [hour, "1" if abandoned else "0", keep_hours, current_hour])


async def lock_out(redis: AnyRedis, e164: str, campaign: str, *, at_ms: int, keep_s: int) -> None:
    """Record the number's abandoned call by ``campaign`` at ``at_ms`` (kept ``keep_s``, the longest lock-out)."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(keys.abandoned_key(e164), campaign, at_ms)
        pipe.pexpire(keys.abandoned_key(e164), keep_s * 1000)
        await pipe.execute()


async def read_buckets(redis: AnyRedis, campaigns: Iterable[str]) -> dict[str, dict[int, tuple[int, int]]]:
    """Per campaign: hour -> (answered, abandoned), every bucket still kept."""
    names = list(campaigns)
    if not names:
        return {}
    pipe = pipeline(redis)
    for name in names:
        pipe.hgetall(keys.abandonment_key(name))
    rows = await pipe.execute()
    out: dict[str, dict[int, tuple[int, int]]] = {}
    for name, raw in zip(names, rows, strict=True):
        buckets: dict[int, list[int]] = {}
        for field, value in raw.items():
            kind, _, hour = text(field).partition(":")
            if kind in ("n", "a") and hour.isdigit():
                pair = buckets.setdefault(int(hour), [0, 0])
                pair[0 if kind == "n" else 1] = int(text(value))
        out[name] = {hour: (n, a) for hour, (n, a) in buckets.items()}
    return out


async def last_abandoned(redis: AnyRedis, e164: str) -> dict[str, int]:
    """The number's last abandoned call per campaign (epoch ms)."""
    raw = await redis.hgetall(keys.abandoned_key(e164))
    return {text(k): int(text(v)) for k, v in raw.items()}


async def forget_number(redis: AnyRedis, e164: str) -> int:
    """Delete the number's abandoned-call times (an erasure); how many keys went."""
    return int(await redis.delete(keys.abandoned_key(e164)))
