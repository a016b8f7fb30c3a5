"""Acknowledging a write that must not be lost: the one function every such write goes through (an opt-out,
a consent grant or revoke, a DNC add; complaints too).

With ``durability = "master"`` (the default) a write is acknowledged once the Redis master has it. With
``durability = "replica"`` only once a replica has it as well (``WAIT 1 replica_wait_ms``): a write the
replicas do not confirm in time raises, and the caller does not report success (an opt-out then waits in
the screener's spool and is written again until a replica confirms it). docs/redis-topologies.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from screener.config.settings import Durability, Settings
from screener.store.client import AnyRedis
from screener.store.durable import NotReplicated, replicated

T = TypeVar("T")

__all__ = ["NotReplicated", "acknowledged"]


async def acknowledged(redis: AnyRedis, settings: Settings, write: Callable[[], Awaitable[T]], *,
                       keys: Sequence[str]) -> T:
    """Run ``write`` (its writes touch ``keys``, whose slots' masters are asked) and return its result once the
    write is as durable as ``settings.durability`` says; raises a store error (``NotReplicated``) otherwise."""
    if settings.durability is Durability.MASTER:
        return await write()
    async with replicated(redis, keys, replicas=1, wait_ms=settings.replica_wait_ms):
        result = await write()
    return result
