"""The admin API's bearer tokens in Redis: only a SHA-256 digest of each token is kept, never the token.

Two hashes under one hash tag (one slot, so a create or a revoke is one Lua script): the tokens by name,
and the names by digest (the one lookup an API request makes).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from screener.store import keys
from screener.store.client import text
from screener.store.scripts import Script

_CREATE = Script("token_create")
_REVOKE = Script("token_revoke")


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



async def create(redis: Any, token: StoredToken) -> None:
    """Store a new token; raise ``TokenExists`` when the name is taken."""
    record = json.dumps({"role": token.role, "digest": token.digest, "created": token.created})
    digest_record = json.dumps({"name": token.name, "role": token.role})
    stored = await _CREATE(redis, [keys.ADMIN_TOKENS_KEY, keys.ADMIN_TOKEN_DIGESTS_KEY],
                           [token.name, record, token.digest, digest_record])
    if not int(stored):
        raise TokenExists(token.name)


async def all_tokens(redis: Any) -> list[StoredToken]:
    """Every token, oldest first."""
    raw = await redis.hgetall(keys.ADMIN_TOKENS_KEY)
    out = []
    for name, value in raw.items():
        record = json.loads(text(value))
        out.append(StoredToken(text(name), record["role"], record["digest"], float(record["created"])))
    return sorted(out, key=lambda t: (t.created, t.name))


async def revoke(redis: Any, name: str) -> None:
    """Delete a token (its record and its digest, in one step); raise ``TokenNotFound``."""
    if not int(await _REVOKE(redis, [keys.ADMIN_TOKENS_KEY, keys.ADMIN_TOKEN_DIGESTS_KEY], [name])):
        raise TokenNotFound(name)


async def find_by_digest(redis: Any, digest: str) -> tuple[str, str] | None:
    """(name, role) of the token with this digest, or None."""
    raw = await redis.hget(keys.ADMIN_TOKEN_DIGESTS_KEY, digest)
    if raw is None:
        return None
    record = json.loads(text(raw))
    return str(record["name"]), str(record["role"])
