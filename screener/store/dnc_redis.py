"""Redis plumbing the DNC modules share: either client type, cached Lua scripts, pipelines."""

from __future__ import annotations

import hashlib
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

#: the store accepts a plain Redis client or a Redis Cluster client
AnyRedis: TypeAlias = "aioredis.Redis | RedisCluster"


class Script:
    """A Lua script run by EVALSHA (loaded on first use, and again after a server restart)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()
        self._loaded: weakref.WeakSet[Any] = weakref.WeakSet()

    async def __call__(self, client: AnyRedis, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            return await client.eval(self.source, len(keys), *keys, *args)

    async def load(self, client: AnyRedis) -> None:
        """Load the script on every primary (before EVALSHA in a pipeline)."""
        if isinstance(client, RedisCluster):
            for node in client.get_primaries():
                await client.execute_command("SCRIPT", "LOAD", self.source, target_nodes=node)
        else:
            await client.script_load(self.source)

    async def ensure(self, client: AnyRedis, *, force: bool = False) -> None:
        """Load the script once per client (``force``: again, e.g. after NOSCRIPT from a restarted server)."""
        if force or client not in self._loaded:
            await self.load(client)
            self._loaded.add(client)

    def queue(self, pipe: Any, keys: Sequence[str], args: Sequence[Any]) -> None:
        """Add an EVALSHA of the (loaded) script to a pipeline."""
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)  # pipe.evalsha is refused on a cluster


async def execute_with_scripts(client: AnyRedis, scripts: Sequence[Script], queue: Callable[[], Any]) -> list[Any]:
    """Run the pipeline ``queue()`` builds, its scripts loaded first; again after NOSCRIPT (a restarted server)."""
    for script in scripts:
        await script.ensure(client)
    try:
        return list(await queue().execute())
    except NoScriptError:
        for script in scripts:
            await script.ensure(client, force=True)
        return list(await queue().execute())


def is_cluster(client: AnyRedis) -> bool:
    return isinstance(client, RedisCluster)


def pipeline(client: AnyRedis) -> Any:
    """A non-transactional pipeline (one round trip per node)."""
    if isinstance(client, RedisCluster):
        return client.pipeline()
    return client.pipeline(transaction=False)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode()
    return str(value)


async def intset_max(client: AnyRedis) -> int:
    """The server's set-max-intset-entries, capped at the layout's 512 (512 when CONFIG is not allowed)."""
    from screener.store.dnc_layout import INTSET_MAX

    try:
        if isinstance(client, RedisCluster):
            values = []
            for node in client.get_primaries():
                reply = await client.config_get("set-max-intset-entries", target_nodes=node)
                values.append(int(_first_value(reply)))
            return min([INTSET_MAX, *values])
        reply = await client.config_get("set-max-intset-entries")
        return min(INTSET_MAX, int(_first_value(reply)))
    except Exception:  # CONFIG may be disabled (managed Redis): the default holds
        return INTSET_MAX


def _first_value(reply: Any) -> Any:
    if isinstance(reply, dict):
        for value in reply.values():
            if isinstance(value, dict):
                return _first_value(value)
            return value
    raise ValueError(f"unexpected CONFIG GET reply {reply!r}")
