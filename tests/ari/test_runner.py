"""run_ari: what `screener serve` runs when settings.ari.enabled."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from screener.ari import Backoff, run_ari
from screener.config.settings import AriSettings, Secret
from screener.embedded_redis import free_port
from tests.ari.fake_ari import PASSWORD, USER, FakeAri
from tests.ari.fakes import FakeScreener


async def test_run_ari_keeps_retrying_while_asterisk_is_away_and_returns_when_stopped(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    screener = FakeScreener()
    port = free_port()
    screener._settings = replace(screener.settings, ari=AriSettings(
        enabled=True, url=f"http://127.0.0.1:{port}", username=USER, password=Secret(PASSWORD), app="screener"))
    stop = asyncio.Event()
    task = asyncio.ensure_future(run_ari(screener, stop, backoff=Backoff(initial_s=0.05, max_s=0.2)))
    await asyncio.sleep(0.6)
    assert not task.done()  # it never gives up (FastAGI in the same process keeps serving)
    attempts = [r for r in caplog.records if "cannot reach" in r.getMessage()]
    assert len(attempts) >= 2

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
