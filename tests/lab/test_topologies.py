"""The lab's Redis topologies know their processes: pids that are theirs, a node frozen and thawed; a node run from
the shipped deploy/redis/redis.conf keeps what it acknowledged through a SIGKILL."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import redis

from screener.embedded_redis import EmbeddedRedis
from screener.lab.topologies import SAMPLES, SentinelTopology, wait_until


def ping(port: int, timeout_s: float) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as s:
        s.sendall(b"PING\r\n")
        return s.recv(64)


def test_a_topology_knows_its_pids_and_freezes_and_thaws_a_node(redis_sentinel: SentinelTopology) -> None:
    pids = redis_sentinel.pids
    assert set(pids) == {s.port for s in redis_sentinel.servers + redis_sentinel.sentinels} and len(pids) == 5
    for port, pid in pids.items():  # redis-server titles itself "redis-server 127.0.0.1:PORT [sentinel]"
        title = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert title.startswith(b"/usr/bin/redis-server 127.0.0.1:%d" % port), title[:60]
        assert title.rstrip(b"\0").endswith(b"[sentinel]") == (port in {s.port for s in redis_sentinel.sentinels})
    [replica] = redis_sentinel.replicas()
    redis_sentinel.pause(replica)
    try:
        stat = Path(f"/proc/{pids[replica.port]}/stat")
        wait_until("the replica stopped", lambda: True if stat.read_text().split()[2] == "T" else None, 10)
        with pytest.raises(TimeoutError):
            ping(replica.port, 0.5)  # the kernel accepts, the server answers nothing
    finally:
        redis_sentinel.resume(replica)
    assert ping(replica.port, 5).startswith(b"-NOAUTH")  # up again, and asking for its password


def test_a_write_acknowledged_by_a_node_run_from_the_shipped_redis_conf_survives_its_sigkill(tmp_path: Path) -> None:
    # deploy/redis/redis.conf as shipped (every data node of every topology runs it), no persistence option added
    node = EmbeddedRedis(tmp_path / "node", persist=None, config_file=SAMPLES / "redis.conf").start()
    try:
        with redis.Redis(port=node.port, decode_responses=True) as c:
            assert c.config_get("appendonly") == {"appendonly": "yes"}
            assert c.sadd("scr:dnc:internal:optouts", "+12125550100") == 1  # acknowledged
        node.kill()  # SIGKILL right after the reply: no shutdown, no final save
        node.start()
        with redis.Redis(port=node.port, decode_responses=True) as c:
            assert c.smembers("scr:dnc:internal:optouts") == {"+12125550100"}
    finally:
        node.stop()
