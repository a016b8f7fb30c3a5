"""``durability = "replica"``: an opt-out (and a consent, a DNC change: a number, a prefix entry, an import; a
complaint ticket, an erasure) is acknowledged only once a replica has it; otherwise the caller hears no
confirmation and the write waits in the spool until it lands (the others: an error, nothing reported done).
Against real topologies: a lone server (no replica), a primary whose replica is frozen (SIGSTOP), a Sentinel
primary with replicas, SIGKILL failovers under load, a 3-master Cluster."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio.cluster import RedisCluster

from screener.config.settings import Durability, Settings
from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.lab.topologies import ClusterTopology, ReplicatedServer, SentinelTopology
from screener.reasons import ReasonCode as R
from screener.service.audit import AuditTrail
from screener.service.complaints import ComplaintDesk
from screener.service.consent import ConsentLedger
from screener.service.dnc import DncAdmin
from screener.service.dnc.errors import ImportFailed
from screener.service.durability import NotReplicated
from screener.service.observe import OptOut
from screener.service.privacy import PrivacyDesk
from screener.service.screening import Screener, StoreUnavailable, connect
from screener.service.spool import Spool
from screener.store import dnc, keys
from screener.store.durable import _spread_keys
from tests.conftest import StoreTopology
from tests.factories import StaticHolder, make_settings

OPT_OUTS = 1000


def replica_settings(budget_ms: int = 1000) -> Settings:
    return replace(make_settings(time_budget_ms=budget_ms), durability=Durability.REPLICA, replica_wait_ms=1000)


async def test_with_no_replica_an_opt_out_is_not_acknowledged_and_waits_in_the_spool(
        private_redis: EmbeddedRedis, tmp_path: Path) -> None:
    s = Screener(StaticHolder(replica_settings()), connect(private_redis.url, 1.0), spool=Spool(tmp_path))
    try:
        with pytest.raises(StoreUnavailable, match="replica"):
            await s.opt_out("+12125550142", "open", source="test")
        assert len(s.spool) == 1  # kept on disk, retried until a replica confirms it
        # meanwhile this screener blocks the number itself
        d = await s.screen(ScreenRequest(dialed="+12125550142", campaign="open", commit=True))
        assert R.DNC_INTERNAL in d.codes
        ledger = ConsentLedger(s.redis, s.settings)
        with pytest.raises(Exception, match="replica"):
            await ledger.grant("+12125550143", "open", source="web form")
    finally:
        await s.aclose()


@pytest.mark.parametrize("topology", ["sentinel", "cluster"], indirect=True)
async def test_with_a_replica_an_acknowledged_opt_out_is_on_the_replica(topology: StoreTopology,
                                                                        request: pytest.FixtureRequest) -> None:
    if topology.name == "sentinel":
        sentinel: SentinelTopology = request.getfixturevalue("redis_sentinel")
        s = Screener(StaticHolder(replica_settings()), connect(topology.url, 1.0))
        try:
            await s.opt_out("+12125550144", "open", source="test")
            [replica] = sentinel.replicas()
            with sentinel.client(replica) as direct:  # the replica itself has it once acknowledged
                assert direct.exists(keys.refusal_key("+12125550144")) == 1
        finally:
            await s.aclose()
    else:
        # the session's Cluster has no replicas: nothing can be confirmed, nothing is acknowledged
        s = Screener(StaticHolder(replica_settings()), connect(topology.url, 1.0))
        try:
            with pytest.raises(StoreUnavailable, match="replica"):
                await s.opt_out("+12125550145", "open", source="test")
        finally:
            await s.aclose()


async def test_a_thousand_opt_outs_through_repeated_primary_sigkills_none_acknowledged_is_lost(
        tmp_path: Path) -> None:
    topology = await asyncio.to_thread(lambda: SentinelTopology(replicas=2).start())
    screeners = [Screener(StaticHolder(replica_settings()), connect(topology.url(), 1.0),
                          spool=Spool(tmp_path / "spool", name=f"screener-{i}")) for i in range(2)]
    stop = asyncio.Event()
    flushers = [asyncio.create_task(s.keep_flushing(stop, every_s=0.5)) for s in screeners]
    acknowledged: list[str] = []
    refused: list[str] = []
    kills: list[float] = []
    try:
        async def opt_outs(k: int) -> None:
            # 1,000 opt-outs over about 40 s, from both screeners, while the primary is killed
            for i in range(k, OPT_OUTS, 2):
                number = f"+1212{5550000 + i}"
                try:
                    await screeners[k].opt_out(number, "open", source="press 9", call_id=f"call-{i}")
                    acknowledged.append(number)
                except StoreUnavailable:
                    refused.append(number)  # the callee was told nothing; it waits in the spool
                await asyncio.sleep(0.08)

        def chaos() -> None:
            for _ in range(3):
                time.sleep(6)
                old = topology.primary()
                kills.append(time.monotonic())
                topology.kill(old)
                topology.wait_for_new_primary(old)
                topology.restart(old)  # back with its AOF (deploy/redis/redis.conf): Sentinel makes it a replica
                topology.wait_until_replica(old)

        chaos_task = asyncio.create_task(asyncio.to_thread(chaos))
        await asyncio.gather(opt_outs(0), opt_outs(1))
        await chaos_task
        assert len(kills) == 3 and len(acknowledged) + len(refused) == OPT_OUTS

        # every acknowledged opt-out is on the list now, before any spool is flushed again: on the primary
        # and on each replica
        stop.set()
        await asyncio.gather(*flushers)
        primary = topology.primary()
        replicas = topology.replicas()
        with topology.client(primary) as direct:  # WAIT 1 confirmed one replica: let every replica catch up
            direct.set("test:sync", "1")
            assert direct.execute_command("WAIT", len(replicas), 30_000) == len(replicas)
        for node in [primary, *replicas]:
            with topology.client(node) as direct:
                missing = [n for n in acknowledged if not direct.exists(keys.refusal_key(n))]
                assert missing == [], f"acknowledged opt-outs lost on :{node.port}: {missing[:5]}"
        # the refused ones land from the spools; then all 1,000 are on the internal list, read by every screener
        deadline = time.monotonic() + 120
        while any(len(s.spool) for s in screeners):
            for s in screeners:
                with contextlib.suppress(Exception):
                    await s.flush_pending()
            assert time.monotonic() < deadline, [len(s.spool) for s in screeners]
            await asyncio.sleep(0.5)
        numbers = [f"+1212{5550000 + i}" for i in range(OPT_OUTS)]
        for s in screeners:
            listed = await dnc.contains_many(s.redis, "internal", numbers)
            assert all(listed), [n for n, ok in zip(numbers, listed, strict=True) if not ok][:5]
        print(f"\n{OPT_OUTS} opt-outs through {len(kills)} SIGKILLs of the primary: {len(acknowledged)} acknowledged "
              f"(all kept), {len(refused)} refused and spooled, then written; all {OPT_OUTS} listed")
    finally:
        stop.set()
        for s in screeners:
            await s.aclose()
        await asyncio.to_thread(topology.stop)


# -- every other write that must not be lost goes through the same acknowledgement ----------------------------


@pytest.fixture
async def replicated() -> AsyncIterator[ReplicatedServer]:
    """A primary run from deploy/redis/redis.conf with one replica, no Sentinel: the replica can be frozen."""
    topology = await asyncio.to_thread(lambda: ReplicatedServer().start())
    yield topology
    topology.resume(topology.replica)
    await asyncio.to_thread(topology.stop)


def on_replica(topology: ReplicatedServer, *command: Any) -> Any:
    with topology.client(topology.replica) as direct:
        return direct.execute_command(*command)


async def test_a_prefix_entry_and_an_import_are_acknowledged_only_once_a_replica_has_them(
        replicated: ReplicatedServer, tmp_path: Path) -> None:
    s = Screener(StaticHolder(replica_settings()), connect(replicated.url(), 2.0))
    admin = DncAdmin(s.redis, s.settings)
    try:
        # a prefix on the internal list is a suppression entry: returned once the replica has it
        await admin.add_prefix("internal", "+1201", actor="test")
        assert "+1201" in on_replica(replicated, "HGET", keys.dnc_meta_key("internal"), "prefixes")
        (tmp_path / "first.txt").write_text("2125550101\n2125550102\n")
        result = await admin.import_file("registry", tmp_path / "first.txt", actor="test", create=True)
        assert on_replica(replicated, "HGET", keys.dnc_meta_key("registry"), "version") == result.version
        replicated.pause(replicated.replica)  # the replica answers nothing now: nothing can be confirmed
        with pytest.raises(NotReplicated, match="replica"):
            await admin.add_prefix("internal", "+1202", actor="test")
        (tmp_path / "second.txt").write_text("2125550103\n")
        with pytest.raises(ImportFailed, match=r"landed .* but was not acknowledged"):
            await admin.import_file("registry", tmp_path / "second.txt", actor="test")
    finally:
        replicated.resume(replicated.replica)
        await s.aclose()


async def test_a_complaint_ticket_is_acknowledged_only_once_a_replica_has_it(
        replicated: ReplicatedServer) -> None:
    s = Screener(StaticHolder(replica_settings()), connect(replicated.url(), 2.0))
    desk = ComplaintDesk(s)
    try:
        first = await desk.add("+12125550160", source="internal", received=datetime.now(UTC))
        assert on_replica(replicated, "HGET", keys.complaint_key(first.ticket.id), "status") == "open"
        # the replica stops right after the complaint's opt-out was acknowledged: the ticket is not
        s.observers.add(lambda event: replicated.pause(replicated.replica) if isinstance(event, OptOut) else None)
        with pytest.raises(NotReplicated, match="replica"):
            await desk.add("+12125550161", source="internal", received=datetime.now(UTC))
        with pytest.raises(NotReplicated, match="replica"):  # a ticket's change neither
            await desk.close(first.ticket.id, "called back, apologised")
    finally:
        replicated.resume(replicated.replica)
        await s.aclose()


class _FreezeAfterListing(Screener):
    """A screener whose replica freezes once an erasure put the number on the internal list (the erasure reads
    the list states again right after that write)."""

    def __init__(self, *args: Any, topology: ReplicatedServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.topology = topology
        self.freeze = False

    def invalidate_list_states(self) -> None:
        super().invalidate_list_states()
        if self.freeze:
            self.topology.pause(self.topology.replica)


async def test_an_erasure_is_acknowledged_only_once_a_replica_has_it(replicated: ReplicatedServer) -> None:
    s = _FreezeAfterListing(StaticHolder(replica_settings()), connect(replicated.url(), 2.0), topology=replicated)
    try:
        await ConsentLedger(s.redis, s.settings).grant("+12125550170", "open", source="web form")
        await PrivacyDesk(s).erase("+12125550171")  # a replica takes it: done
        s.freeze = True
        with pytest.raises(NotReplicated, match="replica"):  # its removals not confirmed: not reported done
            await PrivacyDesk(s).erase("+12125550170")
    finally:
        replicated.resume(replicated.replica)
        await s.aclose()


class _FreezeAtTheTrail(AuditTrail):
    """An audit trail whose replica freezes (``freeze``) when the erasure comes to the number's audit entries,
    after its other removals were acknowledged: only the streams' rewrites are left to acknowledge."""

    def __init__(self, *args: Any, topology: ReplicatedServer, freeze: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.topology, self.freeze = topology, freeze

    async def erase_number(self, e164: str, **kwargs: Any) -> int:
        if self.freeze:
            self.topology.pause(self.topology.replica)
        return await super().erase_number(e164, **kwargs)


class _DeskFreezingAtTheTrail(PrivacyDesk):
    def __init__(self, screener: Screener, topology: ReplicatedServer, *, freeze: bool) -> None:
        super().__init__(screener)
        self.topology, self.freeze = topology, freeze

    def _trail(self) -> AuditTrail:
        trail = super()._trail()
        return _FreezeAtTheTrail(trail.redis, trail.salt, trail.archive.path if trail.archive else None,
                                 settings=trail.settings, topology=self.topology, freeze=self.freeze)


async def test_an_erasures_audit_rewrites_are_acknowledged_only_once_a_replica_has_them(
        replicated: ReplicatedServer) -> None:
    s = Screener(StaticHolder(replica_settings()), connect(replicated.url(), 2.0))
    erased, frozen = "+12125550172", "+12125550173"
    stream = keys.audit_stream_key(keys.audit_group(erased))
    try:
        for n in (erased, frozen):
            await s.screen(ScreenRequest(dialed=n, campaign="open", commit=False, call_id=f"call-{n}"))
        await _DeskFreezingAtTheTrail(s, replicated, freeze=False).erase(erased)  # a replica takes it: done
        on_replica_now = str(on_replica(replicated, "XRANGE", stream, "-", "+"))
        assert f"call-{erased}" not in on_replica_now and f"call-{frozen}" in on_replica_now  # the tombstones
        with pytest.raises(NotReplicated, match="replica"):  # its tombstones not confirmed: not reported done
            await _DeskFreezingAtTheTrail(s, replicated, freeze=True).erase(frozen)
    finally:
        replicated.resume(replicated.replica)
        await s.aclose()


async def test_on_a_cluster_an_import_asks_every_master(redis_cluster: ClusterTopology, tmp_path: Path) -> None:
    client = RedisCluster(startup_nodes=redis_cluster.nodes)
    try:
        await client.initialize()
        spread = _spread_keys(client)
        masters = {n.name for n in client.get_primaries()}
        assert {getattr(client.get_node_from_key(k), "name", None) for k in spread} == masters
        assert len(spread) == len(masters)
        # the session's Cluster has no replicas: an import is never acknowledged with durability = "replica"
        (tmp_path / "list.txt").write_text("2125550101\n3125550102\n4155550103\n")
        admin = DncAdmin(client, replica_settings())
        with pytest.raises(ImportFailed, match="not acknowledged"):
            await admin.import_file("registry", tmp_path / "list.txt", actor="test", create=True)
    finally:
        await client.aclose()
