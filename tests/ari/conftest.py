"""Fixtures of the ARI tests: a fake ARI server on loopback, a client and the Stasis app on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from screener.ari import AppOptions, AriClient, Backoff, StasisApp
from screener.config.settings import Secret
from tests.ari.fake_ari import PASSWORD, USER, FakeAri
from tests.fakes import FakeScreener

FAST = Backoff(initial_s=0.02, max_s=0.1, jitter=0.0)


@pytest.fixture
async def fake_ari() -> AsyncIterator[FakeAri]:
    async with FakeAri().serve() as fake:
        yield fake


@dataclass
class Running:
    fake: FakeAri
    screener: FakeScreener
    app: StasisApp
    client: AriClient
    stop: asyncio.Event

    async def settle(self, timeout_s: float = 10.0) -> None:
        """Until every call in flight has finished (its teardown included)."""
        async with asyncio.timeout(timeout_s):
            while self.app.active_calls:
                await asyncio.sleep(0.01)

    async def call(self, channel_id: str, number: str = "12125550101", campaign: str = "lab",
                   trunk: str = "carrier") -> None:
        await self.started(channel_id, [number, campaign, trunk])

    async def started(self, channel_id: str, args: list[str]) -> None:
        """An agent's call enters Stasis; returns once the app has taken it."""
        await self.fake.start_call(channel_id, args)
        async with asyncio.timeout(5):
            while not (self.app.has_call(channel_id) or channel_id in self.app.outcomes):
                await asyncio.sleep(0.005)


@pytest.fixture
async def running(fake_ari: FakeAri) -> AsyncIterator[Running]:
    """The Stasis app connected to the fake ARI, with a FakeScreener (tests may replace its attributes)."""
    screener = FakeScreener()
    options = AppOptions(ring_timeout_s=1, opt_out_window_s=0.2, blocked_prompt_timeout_s=2.0)
    async with AriClient(fake_ari.url, USER, Secret(PASSWORD), "screener", backoff=FAST) as client:
        app = StasisApp(client, screener, options)
        stop = asyncio.Event()
        task = asyncio.ensure_future(client.run(app.handle, stop))
        await fake_ari.wait_connected()
        yield Running(fake_ari, screener, app, client, stop)
        stop.set()
        await task
        await app.shutdown(2.0)
