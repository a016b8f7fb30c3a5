"""Real Redis topologies on loopback ports, for the tests, the bench and the fault drills.

``SentinelTopology``: a primary, its replicas and three Sentinels (``redis-server --sentinel``, shipped in
Debian's redis-server package). ``ClusterTopology``: a Redis Cluster of N masters with R replicas each,
made by ``redis-cli --cluster create``. Each one knows its processes' pids, can kill (SIGKILL), pause
(SIGSTOP), resume (SIGCONT) and restart a node, and waits, with a deadline, until a failover is over.
Ports are picked free (a bind test), never fixed; ``stop()`` ends every process and removes the temp dir.
The waits are synchronous: an async test runs them with ``asyncio.to_thread``.
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import redis
from redis.asyncio.cluster import ClusterNode

from screener.embedded_redis import EmbeddedRedis, free_port

T = TypeVar("T")
#: a deadline generous enough for a loaded 2-core machine
DEFAULT_DEADLINE_S = 60.0
#: the Redis config samples the deployment guide ships (deploy/redis): the lab runs them as they are, adding
#: only its ports, folders, timings and passwords
SAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "redis"


def sample_config(name: str, replace: dict[str, str], extra: tuple[str, ...] = ()) -> str:
    """The text of ``deploy/redis/<name>``: each line starting with a key of ``replace`` (a directive such as
    ``sentinel monitor``) becomes that key and its value; ``extra`` lines are added at the end."""
    lines = []
    for line in (SAMPLES / name).read_text().splitlines():
        key = next((k for k in replace if line == k or line.startswith(k + " ")), None)
        lines.append(f"{key} {replace[key]}".rstrip() if key is not None else line)
    return "\n".join([*lines, *extra]) + "\n"


class TopologyError(RuntimeError):
    """A topology that did not start, or did not reach the state waited for, within its deadline."""


def wait_until(what: str, probe: Callable[[], T | None], deadline_s: float = DEFAULT_DEADLINE_S,
               interval_s: float = 0.1) -> T:
    """Call ``probe`` until it returns something other than None (errors count as not yet)."""
    end = time.monotonic() + deadline_s
    last: Exception | None = None
    while True:
        try:
            result = probe()
            if result is not None:
                return result
        except (redis.RedisError, OSError) as exc:
            last = exc
        if time.monotonic() > end:
            raise TopologyError(f"{what}: not within {deadline_s:.0f} s" + (f" (last error: {last})" if last else ""))
        time.sleep(interval_s)


def cluster_ports(n: int) -> list[int]:
    """n free ports whose cluster bus port (port + 10000) is free too."""
    rng = random.Random()
    ports: list[int] = []
    while len(ports) < n:
        port = rng.randrange(20_000, 45_000)
        if port not in ports and _bindable(port) and _bindable(port + 10_000):
            ports.append(port)
    return ports


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class _Topology:
    """Processes under one temp dir, and what can be done to one of them."""

    def __init__(self, prefix: str, password: str | None) -> None:
        if password is not None and (not password.isprintable() or " " in password or '"' in password):
            raise ValueError("a lab password has no spaces, quotes or control characters (it goes on a command line)")
        self.base = Path(tempfile.mkdtemp(prefix=prefix))
        self.password = password
        self.servers: list[EmbeddedRedis] = []

    def client(self, server: EmbeddedRedis, password: str | None = None) -> redis.Redis:
        """A synchronous client on one process (the data nodes' password unless another is given)."""
        return redis.Redis(host="127.0.0.1", port=server.port, password=password or self.password,
                           socket_timeout=5, socket_connect_timeout=5, decode_responses=True)

    def _query(self, server: EmbeddedRedis, *command: Any, password: str | None = None) -> Any:
        with self.client(server, password) as c:
            return c.execute_command(*command)

    def _processes(self) -> list[EmbeddedRedis]:
        return self.servers

    @property
    def pids(self) -> dict[int, int]:
        """port -> pid of every running process."""
        return {s.port: s.proc.pid for s in self._processes() if s.proc and s.proc.poll() is None}

    def kill(self, server: EmbeddedRedis) -> None:
        server.kill()

    def pause(self, server: EmbeddedRedis) -> None:
        server.pause()

    def resume(self, server: EmbeddedRedis) -> None:
        server.resume()

    def restart(self, server: EmbeddedRedis) -> None:
        """Start a killed node again on its port, with its own folder (it rejoins as a replica)."""
        server.kill()
        server.start()

    def stop(self) -> None:
        for server in self._processes():
            server.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def _node_args(self) -> tuple[str, ...]:
        auth = ("--requirepass", self.password, "--masterauth", self.password) if self.password else ()
        return auth  # the rest is deploy/redis/redis.conf

    def _node_conf(self, i: int) -> Path:
        """A data node's own copy of deploy/redis/redis.conf (Sentinel makes nodes rewrite their file)."""
        conf = self.base / f"node{i}.conf"
        conf.write_text(sample_config("redis.conf", {}))
        return conf

    def wait_until_replica(self, server: EmbeddedRedis, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        """Until a (restarted) node is a replica in sync with its master."""
        self._wait_linked(server, deadline_s)

    def _wait_linked(self, replica: EmbeddedRedis, deadline_s: float) -> None:
        wait_until(f":{replica.port} a replica in sync", lambda: self._linked(replica), deadline_s)

    def _linked(self, replica: EmbeddedRedis) -> bool | None:
        with self.client(replica) as c:
            return True if c.info("replication").get("master_link_status") == "up" else None


class ReplicatedServer(_Topology):
    """One Redis server (its writes in an AOF file: a restart keeps them) with one replica, no Sentinel: the
    screener talks to the primary alone, and ``durability = "replica"`` has a replica to wait for."""

    def __init__(self, *, password: str | None = None) -> None:
        super().__init__("screener-replicated-", password)

    def start(self, deadline_s: float = DEFAULT_DEADLINE_S) -> ReplicatedServer:
        try:
            self.servers.append(EmbeddedRedis(self.base / "node0", persist=True, extra_args=self._node_args(),
                                              config_file=self._node_conf(0)).start())
            args = (*self._node_args(), "--replicaof", "127.0.0.1", str(self.primary.port))
            self.servers.append(EmbeddedRedis(self.base / "node1", persist=False, extra_args=args,
                                              config_file=self._node_conf(1)).start())
            self._wait_linked(self.replica, deadline_s)
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def primary(self) -> EmbeddedRedis:
        return self.servers[0]

    @property
    def replica(self) -> EmbeddedRedis:
        return self.servers[1]

    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.primary.port}/0"


class SentinelTopology(_Topology):
    """A primary with ``replicas`` replicas, watched by ``sentinels`` Sentinels (quorum 2).

    ``password`` protects the data nodes, ``sentinel_password`` the Sentinels (both optional, and
    different on purpose in the tests: the URL carries each where it belongs).
    """

    def __init__(self, *, service: str = "screener", replicas: int = 1, sentinels: int = 3,
                 password: str | None = None, sentinel_password: str | None = None,
                 down_after_ms: int = 1000, failover_timeout_ms: int = 4000) -> None:
        super().__init__("screener-sentinel-", password)
        self.service = service
        self.sentinel_password = sentinel_password
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self._replica_count = replicas
        self._sentinel_count = sentinels
        self.sentinels: list[EmbeddedRedis] = []

    def _processes(self) -> list[EmbeddedRedis]:
        return self.servers + self.sentinels

    def start(self, deadline_s: float = DEFAULT_DEADLINE_S) -> SentinelTopology:
        try:
            primary = EmbeddedRedis(self.base / "node0", persist=False, extra_args=self._node_args(),
                                    config_file=self._node_conf(0)).start()
            self.servers.append(primary)
            for i in range(1, self._replica_count + 1):
                args = (*self._node_args(), "--replicaof", "127.0.0.1", str(primary.port))
                self.servers.append(EmbeddedRedis(self.base / f"node{i}", persist=False, extra_args=args,
                                                  config_file=self._node_conf(i)).start())
            for replica in self.servers[1:]:
                self._wait_linked(replica, deadline_s)
            for i in range(self._sentinel_count):
                self.sentinels.append(self._start_sentinel(i, primary.port))
            wait_until("every Sentinel sees the others and the replicas", self._all_watching, deadline_s)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_sentinel(self, i: int, primary_port: int) -> EmbeddedRedis:
        folder = self.base / f"sentinel{i}"
        folder.mkdir(parents=True)
        conf = folder / "sentinel.conf"
        extra: list[str] = []
        if self.password:
            extra.append(f"sentinel auth-pass {self.service} {self.password}")
        if self.sentinel_password:
            extra += [f"requirepass {self.sentinel_password}", f"sentinel sentinel-pass {self.sentinel_password}"]
        conf.write_text(sample_config("sentinel.conf", {
            "port": "0",  # the command line names the lab's port
            "sentinel monitor": f"{self.service} 127.0.0.1 {primary_port} 2",
            "sentinel down-after-milliseconds": f"{self.service} {self.down_after_ms}",
            "sentinel failover-timeout": f"{self.service} {self.failover_timeout_ms}",
            "sentinel parallel-syncs": f"{self.service} 1",
        }, tuple(extra)))
        return EmbeddedRedis(folder, free_port(), persist=False, config_file=conf, extra_args=("--sentinel",)).start()

    def _master_addr(self, sentinel: EmbeddedRedis) -> int:
        """The port of the master ``sentinel`` names."""
        with self.client(sentinel, self.sentinel_password) as c:
            _host, port = c.sentinel_get_master_addr_by_name(self.service)
        return int(port)

    def _all_watching(self) -> bool | None:
        """Every live Sentinel sees the master up, the other Sentinels, and every replica up and in sync
        (what it needs before it can promote one)."""
        for sentinel in self.sentinels:
            if not (sentinel.proc and sentinel.proc.poll() is None):
                continue
            with self.client(sentinel, self.sentinel_password) as c:
                state = c.sentinel_master(self.service)
                replicas = c.sentinel_slaves(self.service)
            usable = [r for r in replicas if not r["is_sdown"] and r.get("master-link-status") == "ok"]
            if (not state["is_master"] or state["is_sdown"] or state["is_odown"]
                    or state["num-other-sentinels"] < self._sentinel_count - 1
                    or len(usable) < len(self.servers) - 1):
                return None
        return True

    # -- what the tests need -----------------------------------------------------------------------

    def url(self, db: int = 0, *, scheme: str = "redis+sentinel") -> str:
        """The screener's URL for this topology (passwords in it, percent-encoded)."""
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        query = f"?sentinel_password={quote(self.sentinel_password, safe='')}" if self.sentinel_password else ""
        return f"{scheme}://{auth}{hosts}/{self.service}/{db}{query}"

    def server_on(self, port: int) -> EmbeddedRedis:
        [server] = [s for s in self.servers if s.port == port]
        return server

    def primary(self) -> EmbeddedRedis:
        """The data node the (first answering) Sentinel names as the master."""
        for sentinel in self.sentinels:
            try:
                return self.server_on(self._master_addr(sentinel))
            except (redis.RedisError, OSError):
                continue
        raise TopologyError("no Sentinel answers")

    def replicas(self) -> list[EmbeddedRedis]:
        primary = self.primary()
        return [s for s in self.servers if s is not primary]

    def failover(self) -> None:
        """``SENTINEL FAILOVER``: promote a replica now, without waiting for the primary to fail."""
        with self.client(self.sentinels[0], self.sentinel_password) as c:
            c.sentinel_failover(self.service)

    def wait_for_new_primary(self, old: EmbeddedRedis, deadline_s: float = DEFAULT_DEADLINE_S) -> EmbeddedRedis:
        """Until every Sentinel names one master other than ``old`` and that node says it is a master."""

        def promoted() -> EmbeddedRedis | None:
            ports = {self._master_addr(s) for s in self.sentinels if s.proc and s.proc.poll() is None}
            if len(ports) != 1 or old.port in ports:
                return None
            new = self.server_on(ports.pop())
            return new if self._query(new, "ROLE")[0] == "master" else None

        return wait_until(f"a primary other than :{old.port} elected", promoted, deadline_s)

    def wait_until_replica(self, server: EmbeddedRedis, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        """Until a restarted node is a replica in sync with the primary, and every Sentinel knows it."""
        self._wait_linked(server, deadline_s)
        if self.sentinels:
            wait_until("every Sentinel sees the replicas in sync", self._all_watching, deadline_s)


class ClusterTopology(_Topology):
    """A Redis Cluster: ``masters`` masters with ``replicas`` replicas each, slots spread by redis-cli."""

    def __init__(self, *, masters: int = 3, replicas: int = 0, node_timeout_ms: int = 5000,
                 password: str | None = None) -> None:
        super().__init__("screener-cluster-", password)
        self._masters = masters
        self._replicas = replicas
        self.node_timeout_ms = node_timeout_ms

    def start(self, deadline_s: float = DEFAULT_DEADLINE_S) -> ClusterTopology:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise TopologyError("redis-cli is needed for a Redis Cluster (Debian package redis-tools)")
        try:
            conf = self.base / "cluster.conf"
            conf.write_text(sample_config("cluster.conf", {"include": str(SAMPLES / "redis.conf")}))
            args = (*self._node_args(), "--cluster-node-timeout", str(self.node_timeout_ms))
            for i, port in enumerate(cluster_ports(self._masters * (1 + self._replicas))):
                self.servers.append(EmbeddedRedis(self.base / f"node{i}", port, persist=False, extra_args=args,
                                                  config_file=conf).start())
            auth = ["-a", self.password, "--no-auth-warning"] if self.password else []
            subprocess.run([cli, *auth, "--cluster", "create", *(f"127.0.0.1:{s.port}" for s in self.servers),
                            "--cluster-replicas", str(self._replicas), "--cluster-yes"],
                           check=True, capture_output=True, timeout=deadline_s)
            wait_until("the cluster is formed", self._formed, deadline_s, 0.2)
        except BaseException:
            self.stop()
            raise
        return self

    def _live(self) -> list[EmbeddedRedis]:
        return [s for s in self.servers if s.proc and s.proc.poll() is None]

    def _nodes(self, server: EmbeddedRedis) -> list[list[str]]:
        """CLUSTER NODES as seen by ``server``: id, address, flags, master id, ..."""
        return [line.split() for line in self._query(server, "CLUSTER", "NODES").splitlines() if line]

    def _formed(self) -> bool | None:
        for server in self._live():
            if "cluster_state:ok" not in self._query(server, "CLUSTER", "INFO"):
                return None
            nodes = self._nodes(server)
            flags = [n[2] for n in nodes]
            if len(flags) != len(self.servers) or any("handshake" in f or "noaddr" in f for f in flags):
                return None
            if sum("slave" in n[2] for n in nodes) != self._masters * self._replicas:
                return None  # every node knows every replica as one
        return True if all(self._linked(r) for r in self.replicas()) else None

    # -- what the tests need -----------------------------------------------------------------------

    @property
    def nodes(self) -> list[ClusterNode]:
        return [ClusterNode("127.0.0.1", s.port) for s in self.servers]

    def url(self, *, scheme: str = "redis+cluster") -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"{scheme}://{auth}" + ",".join(f"127.0.0.1:{s.port}" for s in self.servers)

    def _roles(self) -> Iterator[tuple[EmbeddedRedis, list[str]]]:
        viewer = self._live()[0]
        by_port = {s.port: s for s in self.servers}
        for node in self._nodes(viewer):
            port = int(node[1].split("@")[0].rsplit(":", 1)[1])
            yield by_port[port], node

    def masters(self) -> list[EmbeddedRedis]:
        """The live masters that serve slots, as a live node sees them now."""
        return [s for s, n in self._roles() if "master" in n[2] and "fail" not in n[2] and len(n) > 8]

    def replicas(self) -> list[EmbeddedRedis]:
        return [s for s, n in self._roles() if "slave" in n[2] and "fail" not in n[2]]

    def replica_of(self, master: EmbeddedRedis) -> EmbeddedRedis:
        roles = list(self._roles())
        [master_id] = [n[0] for s, n in roles if s is master]
        [replica] = [s for s, n in roles if n[3] == master_id]
        return replica

    def slots_of(self, master: EmbeddedRedis) -> list[tuple[int, int]]:
        """The slot ranges a master serves."""
        return [(int(r[0]), int(r[1])) for r in self._query(master, "CLUSTER", "SLOTS") if int(r[2][1]) == master.port]

    def master_of_slot(self, slot: int) -> EmbeddedRedis:
        """The live master serving ``slot``."""
        for master in self.masters():
            if any(lo <= slot <= hi for lo, hi in self.slots_of(master)):
                return master
        raise TopologyError(f"no live master serves slot {slot}")

    def migrate_slot(self, slot: int, target: EmbeddedRedis, *, batch: int = 10, pause_s: float = 0.0) -> int:
        """Move ``slot`` to master ``target`` as ``redis-cli --cluster reshard`` does: IMPORTING / MIGRATING,
        the keys ``batch`` at a time (``pause_s`` between batches, to stretch the migration), then the slot's new
        owner told to every master. Returns how many keys moved."""
        source = self.master_of_slot(slot)
        if source is target:
            return 0
        source_id = self._query(source, "CLUSTER", "MYID")
        target_id = self._query(target, "CLUSTER", "MYID")
        self._query(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        self._query(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        moved = 0
        auth = ("AUTH", self.password) if self.password else ()
        while keys := self._query(source, "CLUSTER", "GETKEYSINSLOT", slot, batch):
            self._query(source, "MIGRATE", "127.0.0.1", target.port, "", 0, 10_000, *auth, "KEYS", *keys)
            moved += len(keys)
            if pause_s:
                time.sleep(pause_s)
        for master in (target, source, *(m for m in self.masters() if m not in (source, target))):
            self._query(master, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return moved

    def wait_for_takeover(self, failed: EmbeddedRedis, replica: EmbeddedRedis,
                          deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        """Until ``replica`` is a master serving slots and every live node says the cluster is ok."""

        def taken_over() -> bool | None:
            if self._query(replica, "ROLE")[0] != "master" or not self.slots_of(replica):
                return None
            live = [s for s in self._live() if s is not failed]
            return True if all("cluster_state:ok" in self._query(s, "CLUSTER", "INFO") for s in live) else None

        wait_until(f"a replica took over from :{failed.port}", taken_over, deadline_s)

    def wait_until_replica(self, server: EmbeddedRedis, deadline_s: float = DEFAULT_DEADLINE_S) -> None:
        """Until a restarted node is a replica in sync, and no live node flags it as failed."""
        self._wait_linked(server, deadline_s)

        def known() -> bool | None:
            return True if all("fail" not in n[2] for s, n in self._roles() if s is server) else None

        wait_until(f":{server.port} known again as a replica", known, deadline_s)


__all__ = ["DEFAULT_DEADLINE_S", "ClusterTopology", "ReplicatedServer", "SentinelTopology", "TopologyError",
           "cluster_ports", "wait_until"]
