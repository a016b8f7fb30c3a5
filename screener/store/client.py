"""Redis plumbing the store shares: either client type, opening one from a URL, pipelines, replies, CONFIG."""

from __future__ import annotations

from typing import Any, TypeAlias

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

#: the store accepts a plain Redis client or a Redis Cluster client
AnyRedis: TypeAlias = "aioredis.Redis | RedisCluster"


async def connect(url: str, *, timeout_s: float = 5.0) -> AnyRedis:
    """A client for one-shot commands (the CLI, the lab), of the URL's topology (``store.topology``); a
    plain ``redis://`` URL that names a node of a Redis Cluster gives a cluster client (asked with
    ``INFO cluster``). Raises RedisError/OSError when unreachable."""
    from dataclasses import replace

    from screener.store.topology import Topology, open_client, parse_redis_url

    target = parse_redis_url(url)
    client: AnyRedis = open_client(target, socket_timeout=timeout_s, connect_timeout=timeout_s)
    if target.topology is not Topology.SERVER or target.path:
        return client
    try:
        enabled = await cluster_enabled(client)
    except BaseException:
        await client.aclose()
        raise
    if enabled:  # the same URL (credentials, TLS options) as a cluster seed node
        await client.aclose()
        client = open_client(replace(target, topology=Topology.CLUSTER, db=0), socket_timeout=timeout_s,
                             connect_timeout=timeout_s)
    return client


async def cluster_enabled(client: AnyRedis) -> bool:
    """True when the client's server is a Redis Cluster node."""
    info = await client.info("cluster")
    return bool(int(info.get("cluster_enabled", 0) or 0))


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


async def config_int(client: AnyRedis, parameter: str) -> int:
    """An integer CONFIG parameter: the smallest value over the primaries of a cluster.

    Raises when CONFIG is not allowed (managed Redis) or the reply is not understood.
    """
    if isinstance(client, RedisCluster):
        values = []
        for node in client.get_primaries():
            reply = await client.config_get(parameter, target_nodes=node)
            values.append(int(_first_value(reply)))
        return min(values)
    return int(_first_value(await client.config_get(parameter)))


def _first_value(reply: Any) -> Any:
    if isinstance(reply, dict):
        for value in reply.values():
            if isinstance(value, dict):
                return _first_value(value)
            return value
    raise ValueError(f"unexpected CONFIG GET reply {reply!r}")
