"""Admin API tokens and roles: create (the token is shown once), list, revoke, authenticate.

A token is 32 random bytes (URL-safe base64, prefixed ``scr_``); Redis keeps only its SHA-256, so every
screener accepts it and nobody can read it back. High-entropy random tokens need no slow password hash.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from screener.store import admin_tokens
from screener.store.admin_tokens import StoredToken, TokenExists, TokenNotFound

TOKEN_PREFIX = "scr_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}")


class Role(StrEnum):
    """What a token may do; each role may do everything the ones before it may."""

    #: read the dashboards, health and metrics-like JSON (masked numbers only)
    VIEWER = "viewer"
    #: also edit campaign limits and calling windows, add numbers to DNC lists
    SUPERVISOR = "supervisor"
    #: also read unmasked audit entries, export the audit trail, manage consent
    COMPLIANCE = "compliance"
    #: everything: tokens and the whole config too
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    name: str
    role: Role
    #: epoch seconds
    created: float

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role.value,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.created))}


@dataclass(frozen=True)
class Caller:
    """Who an API request comes from: the token's name (the actor in the audit trail) and its role."""

    name: str
    role: Role


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not a token name (letters, digits, '_', '.', '@' and '-', at most 64)")
    return name


async def create_token(redis: Any, name: str, role: Role) -> str:
    """Store a new token for ``name`` with ``role`` and return it (the only time it is ever seen).
    Raises ``ValueError`` for a bad name, ``TokenExists`` when the name is taken."""
    check_name(name)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await admin_tokens.create(redis, StoredToken(name, role.value, digest(token), time.time()))
    return token


async def list_tokens(redis: Any) -> list[TokenInfo]:
    return [TokenInfo(t.name, Role(t.role), t.created) for t in await admin_tokens.all_tokens(redis)]


async def revoke_token(redis: Any, name: str) -> None:
    """Raises ``TokenNotFound``; the token stops working at once on every screener."""
    await admin_tokens.revoke(redis, name)


async def authenticate(redis: Any, token: str) -> Caller | None:
    """The caller a token stands for, or None for an unknown (or revoked) token."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    found = await admin_tokens.find_by_digest(redis, digest(token))
    if found is None:
        return None
    name, role = found
    return Caller(name, Role(role))


__all__ = ["Caller", "Role", "TokenExists", "TokenInfo", "TokenNotFound", "authenticate", "create_token",
           "list_tokens", "revoke_token"]
