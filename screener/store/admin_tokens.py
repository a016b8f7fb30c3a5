"""The admin API's bearer tokens in Redis: only a SHA-256 digest of each token is kept, never the token.

Two hashes under one hash tag (one slot, so a create or a revoke is one transaction): the tokens by name,
and the names by digest (the one lookup an API request makes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.exceptions import WatchError

from screener.store import keys


class TokenExists(ValueError):
    """A token of that name exists already."""


class TokenNotFound(LookupError):
    """No token of that name."""


@dataclass(frozen=True)
class StoredToken:
    name: str
    role: str
    digest: str
    #: epoch seconds
    created: float


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def create(redis: Any, token: StoredToken) -> None:
    """Store a new token; raise ``TokenExists`` when the name is taken."""
    record = json.dumps({"role": token.role, "digest": token.digest, "created": token.created})
    async with redis.pipeline(transaction=True) as pipe:
        for _ in range(10):
            try:
                await pipe.watch(keys.ADMIN_TOKENS_KEY)
                if await pipe.hexists(keys.ADMIN_TOKENS_KEY, token.name):
                    raise TokenExists(token.name)
                pipe.multi()
                pipe.hset(keys.ADMIN_TOKENS_KEY, token.name, record)
                pipe.hset(keys.ADMIN_TOKEN_DIGESTS_KEY, token.digest,
                          json.dumps({"name": token.name, "role": token.role}))
                await pipe.execute()
                return
            except WatchError:
                continue
    raise TokenExists(f"{token.name} (changed concurrently; try again)")


async def all_tokens(redis: Any) -> list[StoredToken]:
    """Every token, oldest first."""
    raw = await redis.hgetall(keys.ADMIN_TOKENS_KEY)
    out = []
    for name, value in raw.items():
        record = json.loads(_text(value))
        out.append(StoredToken(_text(name), record["role"], record["digest"], float(record["created"])))
    return sorted(out, key=lambda t: (t.created, t.name))


async def revoke(redis: Any, name: str) -> None:
    """Delete a token (both entries, in one transaction); raise ``TokenNotFound``."""
    raw = await redis.hget(keys.ADMIN_TOKENS_KEY, name)
    if raw is None:
        raise TokenNotFound(name)
    digest = json.loads(_text(raw))["digest"]
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hdel(keys.ADMIN_TOKENS_KEY, name)
        pipe.hdel(keys.ADMIN_TOKEN_DIGESTS_KEY, digest)
        await pipe.execute()


async def find_by_digest(redis: Any, digest: str) -> tuple[str, str] | None:
    """(name, role) of the token with this digest, or None."""
    raw = await redis.hget(keys.ADMIN_TOKEN_DIGESTS_KEY, digest)
    if raw is None:
        return None
    record = json.loads(_text(raw))
    return str(record["name"]), str(record["role"])
