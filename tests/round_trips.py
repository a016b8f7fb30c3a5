"""Exact interleavings against a real redis-server: a client that runs a step of another party before each of
its round trips (a hook in its connections), so a test can put an opt-out, a second import or a check between
any two round trips of an import, one after the other, without timing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import redis.asyncio as aioredis

#: what runs before round trip number ``n`` (1, 2, ...) of the hooked client
BeforeRoundTrip = Callable[[int], Awaitable[None]]


def hooked_client(url: str, before: BeforeRoundTrip) -> aioredis.Redis:
    """A client on ``url`` that awaits ``before(n)`` before sending its n-th command or pipeline (a connection's
    own handshake counts too). ``before`` must use another client."""
    sent = 0

    class Hooked(aioredis.Connection):
        async def send_packed_command(self, command: bytes | str | Iterable[bytes], check_health: bool = True) -> Any:
            nonlocal sent
            sent += 1
            await before(sent)
            return await super().send_packed_command(command, check_health)

    return aioredis.Redis(connection_pool=aioredis.ConnectionPool.from_url(url, connection_class=Hooked))
