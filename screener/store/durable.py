"""Writes acknowledged only once a replica has them (``durability = "replica"``; docs/redis-topologies.md).

``replicated(client, keys, replicas, wait_ms)`` wraps the writes of one acknowledged change (an opt-out, a
consent grant, a DNC add)::

    async with replicated(client, [keys.refusal_key(e164)], replicas=1, wait_ms=1000):
        ...  # the writes, on any connection of ``client``

Before the writes it opens one connection of its own to the master of each key's slot (one server or the
Sentinel master: one connection) and names it. After them, on each of those connections: a small write
(the probe, in the same slot), ``WAIT replicas wait_ms``, and ``CLIENT GETNAME``. Replication is in order,
so a replica that has the probe has every write the master acknowledged before it. It raises
``NotReplicated`` when fewer replicas answered in time, when the connection is no longer the one named
(a reconnect, another server), or when the node is no longer a master (a failover in between: the probe
is refused): the caller then keeps the change in its spool and writes it again.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from screener.store.client import AnyRedis

_TAG = re.compile(r"\{([^{}]+)\}")
#: ms a probe key lives
PROBE_TTL_MS = 60_000


class NotReplicated(RedisError):
    """A write the master took but no replica confirmed in time (or the master changed meanwhile)."""


def probe_key(key: str) -> str:
    """A key in ``key``'s slot for the probe write: its hash tag's, or the key itself as the tag."""
    found = _TAG.search(key)
    return f"scr:{{{found.group(1)}}}:durable-probe" if found else f"{{{key}}}:durable-probe"


class _Pinned:
    """One connection of our own to the master of one slot, named so that a reconnect shows."""

    def __init__(self, conn: Any, key: str) -> None:
        self.conn = conn
        self.key = key
        self.name = "screener-durable-" + uuid.uuid4().hex[:12]

    async def open(self) -> None:
        await self.conn.connect()
        await self._command(5.0, "CLIENT", "SETNAME", self.name)

    async def confirm(self, replicas: int, wait_ms: int) -> None:
        await self._command(5.0, "SET", probe_key(self.key), self.name, "PX", PROBE_TTL_MS)
        acked = int(await self._command(wait_ms / 1000 + 5.0, "WAIT", replicas, wait_ms))
        name = await self._command(5.0, "CLIENT", "GETNAME")
        if (name.decode() if isinstance(name, bytes) else str(name)) != self.name:
            raise NotReplicated("the connection to the master changed before the replicas confirmed")
        if acked < replicas:
            raise NotReplicated(f"{acked} of {replicas} replica(s) confirmed within {wait_ms} ms")

    async def _command(self, timeout_s: float, *args: Any) -> Any:
        await self.conn.send_command(*args, check_health=False)
        return await self.conn.read_response(timeout=timeout_s)

    async def close(self) -> None:
        await self.conn.disconnect()


async def _connections(client: AnyRedis, keys: Sequence[str]) -> list[_Pinned]:
    if isinstance(client, RedisCluster):
        await client.initialize()
        by_node: dict[str, _Pinned] = {}
        for key in keys:
            node = client.get_node_from_key(key)
            if node is None:
                raise NotReplicated(f"no master serves the slot of {key}")
            if node.name not in by_node:
                by_node[node.name] = _Pinned(node.connection_class(**node.connection_kwargs), key)
        return list(by_node.values())
    pool: Any = client.connection_pool
    return [_Pinned(pool.make_connection(), keys[0] if keys else "scr:durable")]


@asynccontextmanager
async def replicated(client: AnyRedis, keys: Sequence[str], *, replicas: int, wait_ms: int) -> AsyncIterator[None]:
    """Around the writes of one change to ``keys``: returns once ``replicas`` replicas have them, else raises
    (``NotReplicated``, or the store error met on the way)."""
    pinned = await _connections(client, keys)
    try:
        for p in pinned:
            await p.open()
        yield
        for p in pinned:
            await p.confirm(replicas, wait_ms)
    finally:
        for p in pinned:
            await p.close()
