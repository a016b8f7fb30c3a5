"""Fixtures of the AGI tests: a FastAGI server on an ephemeral loopback port with a fake screener."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from screener.agi.options import ScriptOptions
from screener.agi.server import FastAgiServer
from screener.config.settings import FastAgiSettings
from tests.agi.fake_asterisk import ServerFactory
from tests.fakes import FakeScreener


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    started: list[FastAgiServer] = []

    async def factory(screener: FakeScreener | None = None, *, peers: tuple[str, ...] = ("127.0.0.1",),
                      grace_s: float = 5.0, **options: Any) -> FastAgiServer:
        header_timeout_s = options.pop("header_timeout_s", 5.0)
        server = FastAgiServer(
            screener or FakeScreener(),
            FastAgiSettings(bind="127.0.0.1", port=0, allowed_peers=peers, grace_s=grace_s),
            options=ScriptOptions(**options), header_timeout_s=header_timeout_s,
        )
        await server.start()
        started.append(server)
        return server

    yield factory
    for server in started:
        await server.shutdown(grace_s=0)
