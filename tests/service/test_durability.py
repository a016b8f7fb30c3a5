"""``durability = "replica"``: an opt-out (and a consent, a DNC add) is acknowledged only once a replica has it;
otherwise the caller hears no confirmation and the write waits in the spool until it lands. Against real
topologies: a lone server (no replica), a Sentinel primary with replicas, SIGKILL failovers under load."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import replace
from pathlib import Path

import pytest

from screener.config.settings import Durability, Settings
from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.lab.topologies import SentinelTopology
from screener.reasons import ReasonCode as R
from screener.service.consent import ConsentLedger
from screener.service.screening import Screener, StoreUnavailable, connect
from screener.service.spool import Spool
from screener.store import dnc, keys
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
                topology.restart(old)  # it comes back empty (no persistence): Sentinel makes it a replica
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
