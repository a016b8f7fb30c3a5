"""The admin HTTP server inside ``screener serve`` (or a test): it shares the process, the Screener (and
so its Redis connections) and the ConfigHolder with FastAGI and ARI, and stops with them."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from screener.admin.app import build_app
from screener.admin.auth import BadTokenThrottle
from screener.admin.context import AdminContext
from screener.admin.metrics import Metrics
from screener.config.settings import AdminSettings
from screener.service.config_edit import ConfigEditor
from screener.service.connection import open_redis
from screener.service.live import LiveFeed
from screener.service.probes import Probes
from screener.service.screening import Screener

#: seconds an admin operation's Redis command may take (decisions keep their own, much shorter, budget)
ADMIN_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class AdminServer:
    url: str
    context: AdminContext


def admin_context(screener: Screener, redis_url: str, probes: Probes, settings: AdminSettings,
                  throttle: BadTokenThrottle | None = None) -> AdminContext:
    holder = screener.holder
    return AdminContext(holder=holder, screener=screener, redis=open_redis(redis_url, timeout_s=ADMIN_TIMEOUT_S),
                        probes=probes, metrics=Metrics(holder, probes, screener.spool,
                                                       counters=lambda: screener.counters),
                        feed=LiveFeed(redis_url), editor=ConfigEditor(holder),
                        throttle=throttle or BadTokenThrottle(), settings=settings)


def _ssl_context(settings: AdminSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


@contextlib.asynccontextmanager
async def admin_server(ctx: AdminContext) -> AsyncIterator[AdminServer]:
    """Listen on ``ctx.settings.listen`` (HTTPS with tls_cert/tls_key) until the context exits."""
    runner = web.AppRunner(build_app(ctx), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    try:
        tls = _ssl_context(ctx.settings)
        site = web.TCPSite(runner, ctx.settings.host, ctx.settings.port, ssl_context=tls, reuse_address=True)
        await site.start()
        host, port = runner.addresses[0][:2]
        host = f"[{host}]" if ":" in host else host
        yield AdminServer(f"{'https' if tls else 'http'}://{host}:{port}/", ctx)
    finally:
        await runner.cleanup()
