"""Shared fixtures: a real redis-server started for the test session (never a fake), and the real
topologies (a Redis Cluster; a primary, a replica and three Sentinels) started once per session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from screener.embedded_redis import EmbeddedRedis
from screener.lab.topologies import ClusterTopology, SentinelTopology

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
