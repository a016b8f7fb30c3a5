"""What the store holds about one number, for a data-subject request (GDPR Art. 15 export, Art. 17 erasure):
its keys in its own slot (attempts, consent records, last refusal, abandoned calls), and its entries in the
consent ledger's history stream."""

from __future__ import annotations

import json
from typing import Any

from screener.store import keys
from screener.store.client import AnyRedis, text


def number_keys(e164: str) -> list[str]:
    """The keys that hold only this number's data (all in its hash-tag slot)."""
    return [keys.attempts_key(e164), keys.consent_key(e164), keys.refusal_key(e164), keys.abandoned_key(e164)]


async def attempts(redis: AnyRedis, e164: str) -> list[str]:
    """The number's remembered attempts (members ``<ms>|<campaign>|<subject>|<id>``), oldest first."""
    return [text(m) for m in await redis.zrange(keys.attempts_key(e164), 0, -1)]


async def forget(redis: AnyRedis, e164: str) -> int:
    """Delete the number's own keys in one command (one slot); how many existed."""
    return int(await redis.delete(*number_keys(e164)))


async def consent_history(redis: Any, e164: str, batch: int = 1000) -> list[tuple[str, str, dict[str, Any]]]:
    """(stream id, action, record) of every grant and revoke of the number in the consent history, oldest first
    (a scan of the whole stream: a data-subject request is rare)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    cursor, exclusive = "-", False
    while True:
        rows = await redis.xrange(keys.CONSENT_LOG_STREAM, min=f"({cursor}" if exclusive else cursor, max="+",
                                  count=batch)
        for raw_id, raw_fields in rows:
            fields = {text(k): text(v) for k, v in (raw_fields or {}).items()}
            try:
                record = json.loads(fields.get("record", "{}"))
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("number") == e164:
                out.append((text(raw_id), fields.get("action", ""), record))
        if len(rows) < batch:
            return out
        cursor, exclusive = text(rows[-1][0]), True


async def delete_consent_history(redis: AnyRedis, ids: list[str]) -> int:
    """Delete entries of the consent history stream (an erasure); how many went."""
    return int(await redis.xdel(keys.CONSENT_LOG_STREAM, *ids)) if ids else 0
