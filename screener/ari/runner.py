"""``run_ari``: the Stasis application inside ``screener serve`` (next to FastAGI, in the same loop)."""

from __future__ import annotations

import asyncio
import logging

from screener.ari.app import StasisApp
from screener.ari.client import AriClient, Backoff
from screener.ari.contract import AppOptions, ScreenerLike

log = logging.getLogger("screener.ari")


async def run_ari(screener: ScreenerLike, stop: asyncio.Event, *, options: AppOptions | None = None,
                  backoff: Backoff | None = None, grace_s: float = 5.0) -> None:
    """Run the application named by ``settings.ari`` until ``stop`` is set.

    While Asterisk does not answer it keeps retrying the WebSocket with backoff (and logs why, without
    credentials); it never raises for a connection problem, so FastAGI in the same process keeps serving.
    Reads ``settings.ari`` once: a change of URL, user or application name needs a restart.
    """
    ari = screener.settings.ari
    async with AriClient(ari.url, ari.username, ari.password, ari.app, backoff=backoff) as client:
        app = StasisApp(client, screener, options)
        log.info("ARI: application %r on %s", ari.app, client.base)
        try:
            await client.run(app.handle, stop)
        finally:
            await app.shutdown(grace_s)
