"""Store fixtures: a client on the session's real 3-master Redis Cluster (``redis_cluster``, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio.cluster import RedisCluster

from screener.lab.topologies import ClusterTopology


@pytest.fixture
async def cluster_client(redis_cluster: ClusterTopology) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(startup_nodes=redis_cluster.nodes)
    await client.initialize()
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    await client.aclose()
