"""Refusals: the time of a number's last refusal (an opt-out press), read by decide.lua for the cool-down."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from screener.store import audit, keys
from screener.store.scripts import Script

_RECORD = Script("refusal_record")


async def record(redis: Any, e164: str, *, at_ms: int, retention_s: int, audit_fields: Mapping[str, str],
                 groups: audit.AuditGroups | None = None) -> str:
    """Set the refusal time and append its audit entry to the number's group, in one atomic step; returns the
    entry's id once Redis acknowledged."""
    group = keys.audit_group(e164)
    await (groups or audit.AuditGroups()).ensure(redis, group)
    reply = await _RECORD(redis, [keys.refusal_key(e164), *audit.stream_keys(group)],
                          [at_ms, retention_s * 1000, *audit.append_args(audit_fields)])
    return str(reply[0].decode() if isinstance(reply[0], bytes) else reply[0])


async def last_refusal_ms(redis: Any, e164: str) -> int | None:
    """When the number last refused (epoch ms), or None."""
    raw = await redis.get(keys.refusal_key(e164))
    return int(raw) if raw is not None else None
