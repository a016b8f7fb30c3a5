"""The hot path's pipelined connection against real servers: commands cut at their deadline cost no
connection, replies stay matched to their commands, one connection per process whatever the load, every
URL form (unix socket and database, Sentinel with passwords, a failover), and paced reconnection."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError, ResponseError

from screener.embedded_redis import EmbeddedRedis
from screener.lab.topologies import DEFAULT_DEADLINE_S, ClusterTopology, SentinelTopology
from screener.store.connections import HOLD_AFTER_S, Connections, DecisionNeedsOneServer, pack_command
from screener.store.topology import open_client


def client_for(url: str) -> Any:
    return open_client(url, timeout_s=2.0)


async def server_connections(observer: aioredis.Redis) -> tuple[int, int]:
    """(connections accepted since the server started, clients connected now)."""
    stats, clients = await observer.info("stats"), await observer.info("clients")
    return int(stats["total_connections_received"]), int(clients["connected_clients"])


async def test_commands_cut_at_their_deadline_cost_no_connection_and_replies_stay_in_order(
        private_redis: EmbeddedRedis) -> None:
    observer = aioredis.Redis(port=private_redis.port)
    conns = Connections(client_for(private_redis.url))
    try:
        await conns.connect()
        before = await server_connections(observer)
        private_redis.pause()
        try:
            cut = await asyncio.gather(*(asyncio.wait_for(conns.execute(pack_command("INCR", "cut")), 0.1)
                                         for _ in range(300)), return_exceptions=True)
        finally:
            private_redis.resume()
        assert all(isinstance(r, TimeoutError) for r in cut)
        # the connection goes on: each new command gets its own reply, after the dropped replies of the cut ones
        replies = await asyncio.gather(*(conns.execute(pack_command("INCR", "answered")) for _ in range(300)))
        assert replies == list(range(1, 301))
        assert await conns.execute(pack_command("GET", "cut")) == b"300"  # they ran; their replies were dropped
        assert await server_connections(observer) == before and conns.opened == 1
    finally:
        await conns.aclose()
        await observer.aclose()


async def test_during_a_stall_commands_are_held_and_those_nobody_waits_for_never_reach_redis(
        private_redis: EmbeddedRedis) -> None:
    conns = Connections(client_for(private_redis.url))
    try:
        await conns.connect()
        private_redis.pause()
        try:
            first = asyncio.ensure_future(conns.execute(pack_command("INCR", "held:first")))  # sent, unanswered
            await asyncio.sleep(HOLD_AFTER_S * 4)  # a stall by now
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(conns.execute(pack_command("INCR", "held:gave-up")), 0.1)
            waiting = asyncio.ensure_future(conns.execute(pack_command("INCR", "held:waited")))
            await asyncio.sleep(0.1)
            assert not first.done() and not waiting.done()
        finally:
            private_redis.resume()
        assert await first == 1 and await waiting == 1  # held, then sent once Redis answered
        assert await conns.execute(pack_command("GET", "held:gave-up")) is None  # never sent: never run
        assert conns.opened == 1
    finally:
        await conns.aclose()


async def test_an_error_reply_fails_its_own_command_only(redis_server: EmbeddedRedis) -> None:
    conns = Connections(client_for(redis_server.url))
    try:
        results = await asyncio.gather(conns.execute(pack_command("SET", "conn:e", "1")),
                                       conns.execute(pack_command("INCRBY", "conn:e", "x")),
                                       conns.execute(pack_command("GET", "conn:e")), return_exceptions=True)
        assert results[0] == b"OK" and isinstance(results[1], ResponseError) and results[2] == b"1"
    finally:
        await conns.aclose()


async def test_a_unix_socket_and_a_database(tmp_path: Path) -> None:
    sock = tmp_path / "r.sock"
    with EmbeddedRedis(tmp_path / "unix", persist=False, extra_args=("--unixsocket", str(sock))) as server:
        conns = Connections(client_for(f"unix://{sock}?db=2"))
        try:
            assert await conns.execute(pack_command("SET", "conn:unix", "v")) == b"OK"
        finally:
            await conns.aclose()
        direct = aioredis.Redis(port=server.port, db=2)
        assert await direct.get("conn:unix") == b"v"
        await direct.aclose()


async def test_the_sentinels_master_with_both_passwords_and_its_database(redis_sentinel: SentinelTopology) -> None:
    conns = Connections(client_for(redis_sentinel.url(db=3)))
    try:
        assert await conns.execute(pack_command("SET", "conn:sentinel", "v")) == b"OK"
    finally:
        await conns.aclose()
    with redis_sentinel.client(redis_sentinel.primary()) as primary:
        primary.select(3)
        assert primary.get("conn:sentinel") == "v"


async def test_after_a_sentinel_failover_the_same_connections_reach_the_new_master() -> None:
    topology = await asyncio.to_thread(lambda: SentinelTopology(password="pw", sentinel_password="spw").start())
    client = client_for(topology.url())
    conns = Connections(client)
    try:
        assert await conns.execute(pack_command("SET", "before", "1")) == b"OK"
        assert await client.execute_command("WAIT", 1, 10_000) == 1  # the replica has it
        old = topology.primary()
        topology.kill(old)
        deadline = time.monotonic() + DEFAULT_DEADLINE_S
        while True:
            try:
                async with asyncio.timeout(1):
                    assert await conns.execute(pack_command("SET", "after", "2")) == b"OK"
                break
            except (ConnectionError, TimeoutError, OSError):
                assert time.monotonic() < deadline, "no new master reached"
                await asyncio.sleep(0.1)
        new = topology.primary()
        assert new is not old
        with topology.client(new) as direct:
            assert direct.get("after") == "2" and direct.get("before") == "1"
        assert conns.opened >= 2
    finally:
        await conns.aclose()
        await client.aclose()
        await asyncio.to_thread(topology.stop)


async def test_reconnecting_after_an_outage_is_paced(private_redis: EmbeddedRedis) -> None:
    conns = Connections(client_for(private_redis.url))
    try:
        assert await conns.execute(pack_command("PING")) == b"PONG"
        private_redis.kill()
        with pytest.raises(ConnectionError):
            await conns.execute(pack_command("PING"))  # the connection is lost, or the attempt refused
        with pytest.raises(ConnectionError):
            await conns.execute(pack_command("PING"))
        # attempts follow each other at a growing interval: callers in between fail at once, without one
        with pytest.raises(ConnectionError, match="next attempt in"):
            for _ in range(3):
                await conns.execute(pack_command("PING"))
        private_redis.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                assert await conns.execute(pack_command("PING")) == b"PONG"
                break
            except ConnectionError:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
        assert conns.opened == 2
    finally:
        await conns.aclose()


@pytest.mark.cluster
async def test_a_cluster_client_is_refused(redis_cluster: ClusterTopology) -> None:
    conns = Connections(client_for(redis_cluster.url()))
    with pytest.raises(DecisionNeedsOneServer):
        await conns.execute(pack_command("PING"))
    await conns.aclose()
