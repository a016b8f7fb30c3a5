"""Clients made from Redis URLs against real topologies: one server (TCP, unix socket), a Sentinel-watched
primary, a Redis Cluster; and the same client objects surviving a SIGKILLed primary / master."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AuthenticationError, ConnectionError, RedisError

from screener.embedded_redis import EmbeddedRedis
from screener.lab.topologies import DEFAULT_DEADLINE_S, ClusterTopology, SentinelTopology, wait_until
from screener.store.topology import AnyClient, SentinelMaster, open_client, parse_redis_url
from tests.conftest import SENTINEL_MASTER_PASSWORD


def client_for(url: str) -> AnyClient:
    return open_client(url, socket_timeout=2.0, connect_timeout=2.0)


@pytest.fixture
async def closing() -> AsyncIterator[list[AnyClient]]:
    clients: list[AnyClient] = []
    yield clients
    for client in clients:
        await client.aclose()


async def test_one_server_over_tcp(redis_server: EmbeddedRedis, closing: list[AnyClient]) -> None:
    client = client_for(redis_server.url.replace("/0", "/5"))
    closing.append(client)
    assert type(client) is aioredis.Redis
    await client.set("topology:tcp", "v")
    assert await client.get("topology:tcp") == b"v"
    direct = aioredis.Redis(port=redis_server.port, db=5)
    closing.append(direct)
    assert await direct.get("topology:tcp") == b"v"  # the URL's database, on that server


async def test_one_server_over_a_unix_socket(tmp_path: Path, closing: list[AnyClient]) -> None:
    sock = tmp_path / "r.sock"
    with EmbeddedRedis(tmp_path / "unix", persist=False, extra_args=("--unixsocket", str(sock))):
        client = client_for(f"unix://{sock}?db=2")
        closing.append(client)
        await client.set("topology:unix", "v")
        assert await client.get("topology:unix") == b"v"
        assert (await client.client_info())["db"] == 2
        await client.aclose()


async def test_sentinel_url_reaches_the_primary_with_each_password_where_it_belongs(
        redis_sentinel: SentinelTopology, closing: list[AnyClient]) -> None:
    client = client_for(redis_sentinel.url(db=3))
    closing.append(client)
    assert isinstance(client, SentinelMaster)
    await client.set("topology:sentinel", "v")
    assert await client.get("topology:sentinel") == b"v"
    with redis_sentinel.client(redis_sentinel.primary()) as primary:
        primary.select(3)
        assert primary.get("topology:sentinel") == "v"  # written on the primary, in the URL's database

    # without the Sentinels' password no master is found; with a wrong master password the master refuses
    no_sentinel_password = client_for(redis_sentinel.url(db=3).partition("?")[0])
    closing.append(no_sentinel_password)
    with pytest.raises(ConnectionError, match="No master found"):
        await no_sentinel_password.get("topology:sentinel")
    wrong_master_password = client_for(redis_sentinel.url(db=3).replace("m%40ster", "nope"))
    closing.append(wrong_master_password)
    with pytest.raises(AuthenticationError):
        await wrong_master_password.get("topology:sentinel")
    assert SENTINEL_MASTER_PASSWORD not in repr(parse_redis_url(redis_sentinel.url()))


@pytest.mark.cluster
async def test_cluster_url_spreads_keys_over_every_master(redis_cluster: ClusterTopology,
                                                          closing: list[AnyClient]) -> None:
    client = client_for(redis_cluster.url())
    closing.append(client)
    assert isinstance(client, RedisCluster)
    keys = [f"topology:cluster:{i}" for i in range(60)]
    for key in keys:
        await client.set(key, key)
    assert [await client.get(k) for k in keys] == [k.encode() for k in keys]
    holders = {client.get_node_from_key(k).port for k in keys}
    assert holders == {s.port for s in redis_cluster.servers}
    await client.delete(*keys)


@pytest.mark.cluster
async def test_a_plain_url_naming_a_cluster_node_connects_a_cluster_client(redis_cluster: ClusterTopology,
                                                                            closing: list[AnyClient]) -> None:
    from screener.store.client import connect

    client = await connect(f"redis://127.0.0.1:{redis_cluster.servers[0].port}/0", timeout_s=3.0)
    closing.append(client)
    assert isinstance(client, RedisCluster)
    assert client.nodes_manager.connection_kwargs["socket_timeout"] == 3.0
    keys = [f"topology:seed:{i}" for i in range(30)]
    for key in keys:
        await client.set(key, key)
    assert [await client.get(k) for k in keys] == [k.encode() for k in keys]
    assert {client.get_node_from_key(k).port for k in keys} == {s.port for s in redis_cluster.servers}
    await client.delete(*keys)


def test_tls_schemes_build_tls_connections_and_every_client_gets_the_callers_timeouts() -> None:
    from redis.asyncio.connection import SSLConnection
    from redis.asyncio.sentinel import SentinelManagedSSLConnection

    sentinel = open_client("rediss+sentinel://s1:26379,s2:26379/m?ssl_cert_reqs=none", socket_timeout=0.3,
                           connect_timeout=0.2)
    assert isinstance(sentinel, SentinelMaster)
    assert sentinel.connection_pool.connection_class is SentinelManagedSSLConnection
    kwargs = sentinel.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"], kwargs["ssl_cert_reqs"]) == (0.3, 0.2, "none")
    watcher = sentinel.connection_pool.sentinel_manager.sentinels[0].connection_pool  # type: ignore[attr-defined]
    assert watcher.connection_class is SSLConnection
    watched = watcher.connection_kwargs
    assert (watched["socket_timeout"], watched["socket_connect_timeout"]) == (0.3, 0.2)
    assert watched["ssl_cert_reqs"] == "none"

    cluster = open_client("rediss+cluster://a:7000,b:7001", socket_timeout=0.3, connect_timeout=0.2)
    assert isinstance(cluster, RedisCluster)
    node_kwargs = cluster.nodes_manager.connection_kwargs
    assert node_kwargs["connection_class"] is SSLConnection
    assert (node_kwargs["socket_timeout"], node_kwargs["socket_connect_timeout"]) == (0.3, 0.2)

    server = open_client("rediss://h:6390/1", socket_timeout=0.3, connect_timeout=0.2)
    assert isinstance(server, aioredis.Redis)
    assert server.connection_pool.connection_class is SSLConnection
    assert server.connection_pool.connection_kwargs["socket_connect_timeout"] == 0.2


# -- failover: the same client objects work again on the new primary / master --------------------------


async def retry_until_ok(what: Callable[[], Awaitable[None]]) -> tuple[float, int]:
    """Run ``what`` until it succeeds (every store error retried after 50 ms): (seconds taken, failures)."""
    started, failures = time.monotonic(), 0
    while True:
        try:
            await what()
            return time.monotonic() - started, failures
        except (RedisError, OSError):
            failures += 1
            if time.monotonic() - started > DEFAULT_DEADLINE_S:
                raise
            await asyncio.sleep(0.05)


async def test_a_sentinel_client_writes_again_after_its_primary_is_sigkilled(closing: list[AnyClient]) -> None:
    topology = await asyncio.to_thread(lambda: SentinelTopology(password="pw", sentinel_password="spw").start())
    try:
        client = client_for(topology.url())
        closing.append(client)
        await client.set("before", "1")
        assert await client.execute_command("WAIT", 1, 10_000) == 1  # the replica has it
        old = topology.primary()
        started = time.monotonic()
        topology.kill(old)
        promotion = asyncio.create_task(asyncio.to_thread(topology.wait_for_new_primary, old))

        async def write_and_read() -> None:
            await client.set("after", "2")
            assert await client.get("after") == b"2"

        client_s, failures = await retry_until_ok(write_and_read)
        new = await promotion
        promoted_s = time.monotonic() - started
        print(f"\nsentinel failover (SIGKILL of the primary :{old.port}): the same client wrote and read again "
              f"after {client_s:.2f} s ({failures} failed attempts); every Sentinel named :{new.port} "
              f"by {promoted_s:.2f} s")
        assert new is not old
        with topology.client(new) as direct:
            assert direct.get("after") == "2" and direct.get("before") == "1"  # on the new primary
        assert await client.get("before") == b"1"
    finally:
        await asyncio.to_thread(topology.stop)


@pytest.mark.cluster
async def test_a_cluster_client_serves_a_failed_masters_slots_again_after_its_replica_takes_over(
        closing: list[AnyClient]) -> None:
    topology = await asyncio.to_thread(lambda: ClusterTopology(replicas=1, node_timeout_ms=2000).start())
    try:
        client = client_for(topology.url())
        assert isinstance(client, RedisCluster)
        closing.append(client)
        victim = topology.masters()[0]
        replica = topology.replica_of(victim)
        ranges = topology.slots_of(victim)
        keys = [k for k in (f"{{failover:{i}}}" for i in range(2000))  # k and k + ":after" share k's slot
                if any(lo <= client.keyslot(k) <= hi for lo, hi in ranges)][:20]
        assert len(keys) == 20
        for key in keys:
            await client.set(key, "before")
        with topology.client(replica) as direct:
            direct.execute_command("READONLY")
            await asyncio.to_thread(_wait_replicated, direct, keys)
        started = time.monotonic()
        topology.kill(victim)
        takeover = asyncio.create_task(asyncio.to_thread(topology.wait_for_takeover, victim, replica))

        async def write_and_read() -> None:
            for key in keys:
                await client.set(key + ":after", "after")
                assert await client.get(key) == b"before"

        client_s, failures = await retry_until_ok(write_and_read)
        await takeover
        took_over_s = time.monotonic() - started
        print(f"\ncluster failover (SIGKILL of the master :{victim.port}): the same client read and wrote its "
              f"slots again after {client_s:.2f} s ({failures} failed attempts); replica :{replica.port} "
              f"serving them, cluster ok everywhere, by {took_over_s:.2f} s")
        assert client.get_node_from_key(keys[0]).port == replica.port
        with topology.client(replica) as direct:
            assert all(direct.get(k + ":after") == "after" for k in keys)
    finally:
        await asyncio.to_thread(topology.stop)


def _wait_replicated(direct: redis.Redis, keys: list[str]) -> None:
    wait_until("the replica has the keys", lambda: True if all(direct.get(k) for k in keys) else None)
