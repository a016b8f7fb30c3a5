"""The hot path's connections on a Redis Cluster: each command goes to the master that owns its key's slot.

A decision is one EVALSHA whose keys all share the number's slot, so it runs on one master in one round
trip. The slot map is the cluster client's (``RedisCluster.nodes_manager``); the connections are our own,
per node, kept like ``scripts.Connections`` keeps them (an idle list taken and given back without
awaiting: a decision cut at its deadline never leaks one).

Redirections end in a correct answer or an error, never a hang (the caller's deadline bounds them all):

* ``MOVED`` (the slot has a new owner: resharding, a failover): the map is updated and the command sent
  to the new owner; the script had not run.
* ``ASK`` (the slot is migrating and a key is already on the target): ``ASKING`` and the command, in one
  write, to the target; the map stays.
* ``TRYAGAIN`` (a migrating slot with the keys split between the two masters): sent again every 10 ms
  until the migration is over or the caller's deadline blocks the call.
* a broken or silent node: the error goes up (the call is blocked) and the slot map is read again in the
  background, so the next decisions reach the replica that takes over.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import AskError, MovedError, NoScriptError, RedisError, ResponseError, TryAgainError

log = logging.getLogger("screener.store.cluster")

_ASKING = b"*1\r\n$6\r\nASKING\r\n"


class TooManyRedirects(RedisError):
    """A command bounced between masters more often than a slot migration explains."""


class SlotConnections:
    """Connections of the hot path to a Redis Cluster's masters, chosen by key slot."""

    #: idle connections kept per node
    MAX_IDLE = 64
    #: MOVED/ASK answers followed for one command
    MAX_REDIRECTS = 8
    #: TRYAGAIN answers waited out for one command (the caller's deadline cuts it shorter)
    MAX_TRYAGAIN = 200
    TRYAGAIN_PAUSE_S = 0.01
    #: the slot map is read again at most this often after errors (seconds)
    REFRESH_EVERY_S = 0.5

    def __init__(self, client: RedisCluster) -> None:
        self.client = client
        self._idle: dict[str, list[Any]] = {}
        self._ready = False
        self._refresh: asyncio.Task[None] | None = None
        self._refreshed_at = -1e9
        #: redirections followed (MOVED, ASK, TRYAGAIN), for the tests and the drills
        self.redirects = {"moved": 0, "ask": 0, "tryagain": 0}

    async def execute(self, packed: bytes, *, key: str | None = None, load: bytes | None = None) -> Any:
        """Send one packed command to the master of ``key``'s slot (any master when None) and read its reply;
        ``load``: the script's ``SCRIPT LOAD``, sent first when the node answers NOSCRIPT."""
        if not self._ready:
            await self.client.initialize()
            self._ready = True
        manager = self.client.nodes_manager
        slot = self.client.keyslot(key) if key is not None else None
        node = manager.get_node_from_slot(slot) if slot is not None else self.client.get_default_node()
        asking = False
        redirects = tries = 0
        while redirects < self.MAX_REDIRECTS and tries < self.MAX_TRYAGAIN:
            try:
                return await self._send(node, packed, asking=asking, load=load)
            except MovedError as exc:
                redirects += 1
                self.redirects["moved"] += 1
                await manager.move_slot(exc)
                node, asking = manager.get_node_from_slot(exc.slot_id), False
                self.refresh_soon()
            except AskError as exc:
                redirects += 1
                self.redirects["ask"] += 1
                node, asking = self._node(exc.host, exc.port), True
            except TryAgainError:
                # a migrating slot whose keys are split between two masters for now: wait it out
                tries += 1
                self.redirects["tryagain"] += 1
                await asyncio.sleep(self.TRYAGAIN_PAUSE_S)
                node = manager.get_node_from_slot(slot) if slot is not None else node
                asking = False
            except ResponseError:
                raise
            except (RedisError, OSError, TimeoutError):
                self.refresh_soon()
                raise
        raise TooManyRedirects(f"a command for slot {slot} was redirected {redirects} times and asked to try "
                               f"again {tries} times")

    def _node(self, host: str, port: int) -> ClusterNode:
        found = self.client.nodes_manager.get_node(host=host, port=port)
        if found is not None:
            return found
        node = ClusterNode(host, port, **self.client.nodes_manager.connection_kwargs)
        self.client.nodes_manager.nodes_cache[node.name] = node
        return node

    async def _send(self, node: ClusterNode, packed: bytes, *, asking: bool, load: bytes | None) -> Any:
        idle = self._idle.setdefault(node.name, [])
        conn = idle.pop() if idle else node.connection_class(**node.connection_kwargs)
        reusable = False
        try:
            if not conn.is_connected:
                await conn.connect()
            try:
                reply = await self._roundtrip(conn, packed, asking)
            except NoScriptError:
                if load is None:
                    reusable = True
                    raise
                await self._roundtrip(conn, load, asking)
                reply = await self._roundtrip(conn, packed, asking)
            reusable = True
            return reply
        except ResponseError:
            reusable = True  # a clean error reply (MOVED, ASK...): the connection is in step
            raise
        finally:
            if reusable and len(idle) < self.MAX_IDLE:
                idle.append(conn)
            else:
                await conn.disconnect()

    @staticmethod
    async def _roundtrip(conn: Any, packed: bytes, asking: bool) -> Any:
        await conn.send_packed_command(_ASKING + packed if asking else packed, check_health=False)
        if asking:
            await conn.read_response()  # +OK
        return await conn.read_response()

    def refresh_soon(self) -> None:
        """Read the slot map again in the background (at most every ``REFRESH_EVERY_S``)."""
        if (self._refresh is None or self._refresh.done()) and \
                time.monotonic() - self._refreshed_at > self.REFRESH_EVERY_S:
            self._refreshed_at = time.monotonic()
            self._refresh = asyncio.ensure_future(self._read_slot_map())

    async def _read_slot_map(self) -> None:
        try:
            await self.client.nodes_manager.initialize()
        except (RedisError, OSError) as exc:
            log.warning("Redis Cluster slot map not read again yet: %s: %s", type(exc).__name__, exc)

    async def aclose(self) -> None:
        if self._refresh is not None and not self._refresh.done():
            self._refresh.cancel()
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                await conn.disconnect()
