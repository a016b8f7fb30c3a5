"""What the store holds about one number, for a data-subject request (GDPR Art. 15 export, Art. 17 erasure):
its keys in its own slot (attempts, consent records, last refusal, abandoned calls), and its entries in its
tag's consent history stream (the same slot)."""

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


async def consent_history(redis: Any, e164: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(stream id, action, record) of every grant and revoke of the number in its tag's consent history,
    oldest first (the stream is shared by the numbers of the tag: only this number's entries)."""
    out: list[tuple[str, str, dict[str, Any]]] = []
    for raw_id, raw_fields in await redis.xrange(keys.consent_log_key(e164)):
        fields = {text(k): text(v) for k, v in (raw_fields or {}).items()}
        if fields.get("number") != e164:
            continue
        try:
            record = json.loads(fields.get("record", "{}"))
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append((text(raw_id), fields.get("action", ""), record))
    return out


async def delete_consent_history(redis: AnyRedis, e164: str, ids: list[str]) -> int:
    """Delete the number's entries of its tag's consent history (an erasure); how many went."""
    return int(await redis.xdel(keys.consent_log_key(e164), *ids)) if ids else 0
