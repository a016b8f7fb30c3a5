"""Bearer tokens and roles on every API request; bad tokens from one address are slowed down.

No token: 401. A token the store does not know (or revoked): 401, counted against the caller's address.
After ``limit`` bad tokens within ``window_s`` the address is refused with 429 (and a Retry-After) for a
lockout that doubles with each further bad token, up to ``max_lockout_s``; while locked out not even a good
token is looked at, so guessing gets no faster by trying harder. A role too low: 403.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from screener.admin.errors import ApiError
from screener.service.store_errors import STORE_ERRORS
from screener.service.tokens import Caller, Role, authenticate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CALLER_KEY = web.RequestKey("caller", Caller)


@dataclass
class _Address:
    failures: list[float] = field(default_factory=list)
    locked_until: float = 0.0
    level: int = 0


class BadTokenThrottle:
    """Counts bad tokens per client address (in this process)."""

    def __init__(self, *, limit: int = 5, window_s: float = 60.0, lockout_s: float = 1.0,
                 max_lockout_s: float = 300.0, clock: Callable[[], float] = time.monotonic,
                 max_addresses: int = 10_000) -> None:
        self.limit = limit
        self.window_s = window_s
        self.lockout_s = lockout_s
        self.max_lockout_s = max_lockout_s
        self.clock = clock
        self.max_addresses = max_addresses
        self._addresses: dict[str, _Address] = {}

    def retry_after(self, address: str) -> float | None:
        """Seconds until ``address`` may try again, or None when it may now."""
        state = self._addresses.get(address)
        if state is None:
            return None
        left = state.locked_until - self.clock()
        return left if left > 0 else None

    def failed(self, address: str) -> None:
        now = self.clock()
        if address not in self._addresses and len(self._addresses) >= self.max_addresses:
            self._prune(now)
        state = self._addresses.setdefault(address, _Address())
        state.failures = [t for t in state.failures if now - t < self.window_s] + [now]
        if len(state.failures) >= self.limit:
            state.level += 1
            state.locked_until = now + min(self.max_lockout_s, self.lockout_s * 2 ** (state.level - 1))

    def succeeded(self, address: str) -> None:
        self._addresses.pop(address, None)

    def _prune(self, now: float) -> None:
        for address, state in list(self._addresses.items()):
            if state.locked_until <= now and all(now - t >= self.window_s for t in state.failures):
                del self._addresses[address]
        if len(self._addresses) >= self.max_addresses:
            self._addresses.clear()


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def authorize(request: web.Request, needed: Role, throttle: BadTokenThrottle, redis: object) -> Caller:
    """The caller of ``request`` when its token allows ``needed``; an ApiError (401, 403, 429, 503) otherwise."""
    address = request.remote or "unknown"
    wait = throttle.retry_after(address)
    if wait is not None:
        seconds = math.ceil(wait)
        raise ApiError(429, "too_many_requests", f"too many bad tokens from {address}: try again in {seconds} s",
                       {"Retry-After": str(seconds)})
    token = bearer_token(request)
    if token is None:
        raise ApiError(401, "unauthorized", "no token: send the header Authorization: Bearer <token>",
                       {"WWW-Authenticate": 'Bearer realm="screener"'})
    try:
        async with asyncio.timeout(2.0):
            caller = await authenticate(redis, token)
    except STORE_ERRORS:
        raise ApiError(503, "unavailable", "the token store (Redis) did not answer") from None
    if caller is None:
        throttle.failed(address)
        raise ApiError(401, "unauthorized", "unknown or revoked token",
                       {"WWW-Authenticate": 'Bearer realm="screener", error="invalid_token"'})
    throttle.succeeded(address)
    if not caller.role.allows(needed):
        raise ApiError(403, "forbidden", f"role {caller.role.value} may not do this (needs {needed.value} or above)")
    return caller


def caller_of(request: web.Request) -> Caller:
    if CALLER_KEY not in request:
        raise RuntimeError("handler reached without authorize()")
    return request[CALLER_KEY]
