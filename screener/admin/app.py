"""The admin application: health and metrics, the JSON API under /api/v1/, the supervisor page."""

from __future__ import annotations

from aiohttp import web

from screener.admin import (
    api_audit,
    api_check,
    api_config,
    api_consent,
    api_dnc,
    api_status,
    api_tokens,
    health,
    page,
)
from screener.admin.context import CONTEXT, AdminContext
from screener.admin.errors import errors_as_json

#: the largest request body accepted (a whole config with its presets fits many times over)
MAX_BODY = 4 * 1024 * 1024


def build_app(ctx: AdminContext) -> web.Application:
    app = web.Application(middlewares=[errors_as_json], client_max_size=MAX_BODY)
    app[CONTEXT] = ctx
    for module in (health, api_check, api_config, api_status, api_tokens, api_consent, api_audit, api_dnc, page):
        module.add_routes(app)

    async def on_startup(app: web.Application) -> None:
        ctx.screener.observers.add(ctx.metrics.observe)

    async def on_shutdown(app: web.Application) -> None:
        await ctx.feed.aclose()  # ends the live streams, so the server stops at once

    async def on_cleanup(app: web.Application) -> None:
        ctx.screener.observers.remove(ctx.metrics.observe)
        await ctx.redis.aclose()

    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
