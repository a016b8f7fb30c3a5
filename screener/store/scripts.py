"""Lua scripts: read from the package's ``lua/*.lua`` files and registered once per client.

``PackedScript`` is the decision's hot path: it packs EVALSHA itself (one bytes join instead of
redis-py's per-argument encoding) and sends it on ``Connections`` of its own. Like redis-py's ``AsyncScript``
it loads the script again after NOSCRIPT (a Redis restart, a failover or ``SCRIPT FLUSH``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache
from importlib.resources import files
from typing import Any

from redis.exceptions import NoScriptError, RedisError, ResponseError


@cache
def script_source(name: str) -> str:
    """The text of ``screener/store/lua/<name>.lua``."""
    return files("screener.store").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


def _bulk(value: str | int | bytes) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%b\r\n" % (len(data), data)


def pack_command(*parts: str | int | bytes) -> bytes:
    """One RESP command: ``*N`` then each part as a bulk string."""
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(p) for p in parts)


class DecisionNeedsOneServer(RedisError):
    """The hot path was given a Redis Cluster client: a decision's keys span several slots (not supported
    yet), so the call is blocked (a store error), never decided on part of its facts."""


class Connections:
    """Connections of the decision's hot path, kept apart from redis-py's pool.

    The idle connections are a plain list, taken and given back without awaiting, so a decision
    cancelled at its deadline can never leak a connection; a connection is reused only after a complete
    reply (a timeout, a cancel or a broken socket mid-reply closes it).
    """

    #: idle connections kept for reuse; more concurrent commands open more, closed when given back
    MAX_IDLE = 64

    def __init__(self, client: Any) -> None:
        self.client = client
        self._idle: list[Any] = []

    async def execute(self, packed: bytes) -> Any:
        """Send one packed command and read its reply (error replies raise, as redis-py's do)."""
        conn = self._idle.pop() if self._idle else self._new_connection()
        reusable = False
        try:
            if not conn.is_connected:
                await conn.connect()
            await conn.send_packed_command(packed, check_health=False)
            try:
                response = await conn.read_response()
            except ResponseError:
                reusable = True  # a clean error reply
                raise
            reusable = True
            return response
        finally:
            if reusable and len(self._idle) < self.MAX_IDLE:
                self._idle.append(conn)
            else:
                await conn.disconnect()

    def _new_connection(self) -> Any:
        pool = getattr(self.client, "connection_pool", None)
        if pool is None:  # a RedisCluster client: one pool per node
            raise DecisionNeedsOneServer(
                "live decisions need one Redis server or a Sentinel master: on a Redis Cluster the decision's "
                "keys (rate counter, audit stream) are in other slots than the number's (not supported yet)")
        return pool.make_connection()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.disconnect()


class PackedScript:
    """A Lua script called with EVALSHA on ``Connections``; loaded again after NOSCRIPT."""

    def __init__(self, connections: Connections, source: str) -> None:
        self.connections = connections
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()

    async def __call__(self, keys: Sequence[str], args: Sequence[str | int | bytes]) -> Any:
        packed = pack_command(b"EVALSHA", self.sha, len(keys), *keys, *args)
        try:
            return await self.connections.execute(packed)
        except NoScriptError:
            await self.connections.execute(pack_command(b"SCRIPT", b"LOAD", self.source))
            return await self.connections.execute(packed)


class Scripts:
    """The registered scripts of one Redis client."""

    def __init__(self, client: Any) -> None:
        self.connections = Connections(client)
        self.decide = PackedScript(self.connections, script_source("decide"))

    async def aclose(self) -> None:
        await self.connections.aclose()
