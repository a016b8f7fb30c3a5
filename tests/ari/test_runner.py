"""run_ari: what `screener serve` runs when settings.ari.enabled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from screener.ari import Backoff, run_ari
from screener.config.settings import AriSettings, Secret
from screener.embedded_redis import free_port
from tests.ari.fake_ari import PASSWORD, USER, FakeAri
from tests.fakes import FakeScreener


async def test_run_ari_keeps_retrying_while_asterisk_is_away_and_returns_when_stopped(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    screener = FakeScreener()
    port = free_port()
    ari = AriSettings(
        enabled=True, url=f"http://127.0.0.1:{port}", username=USER, password=Secret(PASSWORD), app="screener")
    stop = asyncio.Event()
    task = asyncio.ensure_future(run_ari(screener, ari, stop, backoff=Backoff(initial_s=0.05, max_s=0.2)))
    async with asyncio.timeout(10):
        while len([r for r in caplog.records if "cannot reach" in r.getMessage()]) < 3:
            await asyncio.sleep(0.02)
    assert not task.done()  # it never gives up (FastAGI in the same process keeps serving)

    # Asterisk comes up on that port: the application connects and takes calls
    async with FakeAri(port=port).serve() as fake:
        await fake.wait_connected(timeout_s=5)
        await fake.start_call("agent-1", ["12125550101", "lab", "carrier"])
        async with asyncio.timeout(5):
            while not fake.made("POST", "channels/create"):
                await asyncio.sleep(0.01)
        await fake.far_end_hangup("agent-1")
        stop.set()
        async with asyncio.timeout(10):
            await task
        assert fake.channels == {} and fake.bridges == {}
    assert PASSWORD not in "\n".join(r.getMessage() for r in caplog.records)


async def test_on_stop_new_calls_go_back_to_the_dialplan_and_calls_in_flight_finish_with_their_events() -> None:
    screener = FakeScreener()
    async with FakeAri().serve() as fake:
        fake.playback_s = None  # call A stays in its disclosure until the test ends it
        ari = AriSettings(
            enabled=True, url=fake.url, username=USER, password=Secret(PASSWORD), app="screener")
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_ari(screener, ari, stop, backoff=Backoff(initial_s=0.05), grace_s=5.0))
        await fake.wait_connected()
        await fake.start_call("agent-a", ["12125550101", "lab", "carrier"])
        async with asyncio.timeout(5):
            while not [r for r in fake.made("POST", "channels/screener-callee") if r.path.endswith("/play")]:
                await asyncio.sleep(0.01)
        stop.set()
        await asyncio.sleep(0.1)
        # a new call while stopping: handed back to [screener-outbound-ari] at label "next" (the next instance)
        await fake.start_call("agent-b", ["12125550102", "lab", "carrier"])
        async with asyncio.timeout(5):
            while "agent-b" not in fake.continued:
                await asyncio.sleep(0.01)
        assert fake.made("POST", "channels/agent-b/continue")[0].query == {
            "context": "screener-outbound-ari", "extension": "12125550102", "label": "next"}
        assert len(screener.requests) == 1  # agent-b was never screened here
        # call A still gets its events: its callee hangs up, and A is torn down by the book
        callee = fake.made("POST", "channels/create")[0].query["channelId"]
        await fake.far_end_hangup(callee)
        async with asyncio.timeout(10):
            await task
        assert fake.channels == {} and fake.bridges == {}
        assert fake.made("DELETE", "channels/agent-a")


async def test_run_ari_reports_its_connection_and_calls_in_flight_to_the_probes() -> None:
    from screener.service.probes import ARI_CALLS, ARI_CONNECTED, Probes

    probes = Probes()
    async with FakeAri().serve() as fake:
        fake.playback_s = None  # the call stays in its disclosure while the test looks
        ari = AriSettings(enabled=True, url=fake.url, username=USER, password=Secret(PASSWORD), app="screener")
        stop = asyncio.Event()
        task = asyncio.ensure_future(run_ari(FakeScreener(), ari, stop, backoff=Backoff(initial_s=0.05), grace_s=0.5,
                                             probes=probes))
        await fake.wait_connected()
        async with asyncio.timeout(5):
            while probes.check(ARI_CONNECTED) is not True:
                await asyncio.sleep(0.01)
        assert probes.gauge(ARI_CALLS) == 0
        await fake.start_call("agent-p", ["12125550101", "lab", "carrier"])
        async with asyncio.timeout(5):
            while probes.gauge(ARI_CALLS) != 1:
                await asyncio.sleep(0.01)
        stop.set()
        async with asyncio.timeout(10):
            await task
    assert probes.gauge(ARI_CALLS) == 0 and probes.check(ARI_CONNECTED) is False
