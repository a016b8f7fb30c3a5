"""``run_ari``: the Stasis application inside ``screener serve`` (next to FastAGI, in the same loop)."""

from __future__ import annotations

import asyncio
import logging

from screener.ari.app import StasisApp
from screener.ari.client import AriClient, Backoff
from screener.ari.options import AppOptions
from screener.config.settings import AriSettings
from screener.service.probes import ARI_CALLS, ARI_CONNECTED, Probes
from screener.service.protocol import ScreenerLike

log = logging.getLogger("screener.ari")


async def run_ari(screener: ScreenerLike, ari: AriSettings, stop: asyncio.Event, *, options: AppOptions | None = None,
                  backoff: Backoff | None = None, grace_s: float = 5.0, probes: Probes | None = None) -> None:
    """Run the application named by ``ari`` (the config's ``[ari]``) until ``stop`` is set.

    On ``stop``: new calls are handed back to the dialplan (the next instance of SCREENER_ARI_APPS, or 403),
    calls in flight get ``grace_s`` seconds to finish with their events still flowing, then the rest are
    cancelled (each one hangs up its legs and destroys its bridge) and the WebSocket closes.

    While Asterisk does not answer it keeps retrying the WebSocket with backoff (and logs why, without
    credentials); it never raises for a connection problem, so FastAGI in the same process keeps serving.
    A change of URL, user or application name needs a restart. With ``probes`` it reports its calls in
    flight and whether its WebSocket is connected (for /readyz and /metrics).
    """
    async with AriClient(ari.url, ari.username, ari.password, ari.app, backoff=backoff) as client:
        app = StasisApp(client, screener, options)
        if probes is not None:
            probes.add_gauge(ARI_CALLS, lambda: app.active_calls)
            probes.add_check(ARI_CONNECTED, client.connected.is_set)
        log.info("ARI: application %r on %s", ari.app, client.base)
        closed = asyncio.Event()
        events = asyncio.ensure_future(client.run(app.handle, closed))
        try:
            await stop.wait()
            # the WebSocket stays open while calls in flight finish (they need their events); new calls go
            # back to the dialplan (the next instance, or 403)
            app.drain()
            await app.shutdown(grace_s)
        finally:
            closed.set()
            await asyncio.gather(events, return_exceptions=True)
            await app.shutdown(0)
