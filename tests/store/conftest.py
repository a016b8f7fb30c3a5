"""Store fixtures: a real 3-master Redis Cluster on loopback ports (session scope, torn down at the end)."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from redis.asyncio.cluster import ClusterNode, RedisCluster

from screener.embedded_redis import EmbeddedRedis


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_ports(n: int) -> list[int]:
    """n ports whose cluster bus port (port + 10000) is free too."""
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        port = rng.randrange(20_000, 45_000)
        if port not in ports and _bindable(port) and _bindable(port + 10_000):
            ports.append(port)
    return ports


@dataclass
class Cluster:
    servers: list[EmbeddedRedis]

    @property
    def nodes(self) -> list[ClusterNode]:
        return [ClusterNode("127.0.0.1", s.port) for s in self.servers]


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    """Three masters, no replicas, slots spread by ``redis-cli --cluster create``."""
    cli = shutil.which("redis-cli")
    assert cli is not None, "redis-cli is needed for the cluster tests"
    base = Path(tempfile.mkdtemp(prefix="screener-cluster-"))
    servers: list[EmbeddedRedis] = []
    try:
        for i, port in enumerate(_cluster_ports(3)):
            server = EmbeddedRedis(base / f"node{i}", port, persist=False,
                                   extra_args=("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                               "--cluster-node-timeout", "5000"))
            servers.append(server.start())
        subprocess.run([cli, "--cluster", "create", *(f"127.0.0.1:{s.port}" for s in servers),
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [subprocess.run([cli, "-p", str(s.port), "cluster", "info"], capture_output=True, text=True,
                                     timeout=10).stdout for s in servers]
            if all("cluster_state:ok" in st for st in states):
                break
            time.sleep(0.2)
        else:
            raise RuntimeError("the test cluster did not reach cluster_state:ok")
        yield Cluster(servers)
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def cluster_client(redis_cluster: Cluster) -> AsyncIterator[RedisCluster]:
    client = RedisCluster(startup_nodes=redis_cluster.nodes)
    await client.initialize()
    await client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    await client.aclose()
