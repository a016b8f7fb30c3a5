"""Refusals: the time of a number's last refusal (an opt-out press), read by decide.lua for the cool-down."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from screener.store import keys


async def record(redis: Any, e164: str, *, at_ms: int, retention_s: int, audit_fields: Mapping[str, str],
                 audit_maxlen: int) -> None:
    """Set the refusal time and append its audit entry, in one round trip; returns once Redis acknowledged."""
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(keys.refusal_key(e164), at_ms, px=retention_s * 1000)
        pipe.xadd(keys.AUDIT_STREAM, dict(audit_fields), maxlen=audit_maxlen, approximate=True)
        await pipe.execute()


async def last_refusal_ms(redis: Any, e164: str) -> int | None:
    """When the number last refused (epoch ms), or None."""
    raw = await redis.get(keys.refusal_key(e164))
    return int(raw) if raw is not None else None
