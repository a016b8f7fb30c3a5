"""Shared fixtures: a real redis-server started for the test session (never a fake), and the real
topologies (a Redis Cluster; a primary, a replica and three Sentinels) started once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster

from screener.embedded_redis import EmbeddedRedis
from screener.lab.topologies import ClusterTopology, SentinelTopology
from screener.store.topology import AnyClient, open_client

#: passwords of the session's Sentinel topology: the master's and the Sentinels' differ on purpose, and
#: hold characters a URL must percent-encode
SENTINEL_MASTER_PASSWORD = "m@ster:pw/1"
SENTINEL_PASSWORD = "sentinel#pw"


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """One real redis-server for the session; tests that stop or pause it use ``private_redis`` instead."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), persist=False).start()
    yield server
    server.stop()


@pytest.fixture
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    """A redis-server of the test's own, free to stop, pause or kill."""
    server = EmbeddedRedis(tmp_path_factory.mktemp("private-redis"), persist=False).start()
    yield server
    server.stop()


@pytest.fixture
async def redis_client(redis_server: EmbeddedRedis) -> AsyncIterator[aioredis.Redis]:
    """A client on the session server, with the database emptied before the test."""
    client = aioredis.Redis.from_url(redis_server.url)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterTopology]:
    """Three masters, no replicas, slots spread by ``redis-cli --cluster create`` (never failed over)."""
    cluster = ClusterTopology(masters=3, replicas=0).start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelTopology]:
    """A primary with one replica and three Sentinels, password-protected (tests that fail it over start
    their own ``SentinelTopology``)."""
    topology = SentinelTopology(password=SENTINEL_MASTER_PASSWORD, sentinel_password=SENTINEL_PASSWORD,
                                down_after_ms=5000).start()  # no failover of its own on a loaded machine
    yield topology
    topology.stop()


@dataclass(frozen=True)
class StoreTopology:
    """A real Redis topology a test runs on: its name, the screener's URL, and a client on it (emptied)."""

    name: str
    url: str
    client: AnyClient

    @property
    def cluster(self) -> bool:
        return self.name == "cluster"

    async def script_flush(self) -> None:
        if isinstance(self.client, RedisCluster):
            for node in self.client.get_primaries():
                await self.client.execute_command("SCRIPT", "FLUSH", target_nodes=node)
        else:
            await self.client.script_flush()


TOPOLOGIES = ("server", "sentinel", "cluster")


@pytest.fixture(params=TOPOLOGIES)
async def topology(request: pytest.FixtureRequest) -> AsyncIterator[StoreTopology]:
    """The test once per topology: one server, a Sentinel-watched primary, a 3-master Redis Cluster (the
    session's own; only the one the test runs on is started)."""
    name = request.param
    if name == "server":
        url = request.getfixturevalue("redis_server").url
    elif name == "sentinel":
        url = request.getfixturevalue("redis_sentinel").url()
    else:
        url = request.getfixturevalue("redis_cluster").url()
    client = open_client(url, socket_timeout=10, connect_timeout=10)
    if isinstance(client, RedisCluster):
        await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    else:
        await client.flushall()
    yield StoreTopology(name, url, client)
    await client.aclose()
