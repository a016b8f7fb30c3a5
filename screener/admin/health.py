"""/healthz (the process answers), /readyz (config loaded, Redis within the budget, ARI connected when
enabled; 503 naming the failing part) and /metrics. Readable without a token unless
``[admin] metrics_require_token``."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from screener.admin.auth import CALLER_KEY, authorize
from screener.admin.context import AdminContext, context
from screener.service.connection import redact
from screener.service.probes import ARI_CONNECTED
from screener.service.store_errors import STORE_ERRORS
from screener.service.tokens import Role


async def _guard(request: web.Request) -> AdminContext:
    ctx = context(request)
    if ctx.settings.metrics_require_token:
        request[CALLER_KEY] = await authorize(request, Role.VIEWER, ctx.throttle, ctx.redis)
    return ctx


async def healthz(request: web.Request) -> web.Response:
    await _guard(request)
    return web.json_response({"status": "ok"})


async def _redis_check(ctx: AdminContext) -> dict[str, object]:
    budget_ms = ctx.holder.current.time_budget_ms
    try:
        async with asyncio.timeout(budget_ms / 1000):
            await ctx.screener.redis.ping()
    except TimeoutError:
        return {"ok": False, "detail": f"Redis did not answer within {budget_ms} ms"}
    except STORE_ERRORS as exc:
        return {"ok": False, "detail": f"Redis: {type(exc).__name__}: {exc}"}
    return {"ok": True}


def _ari_check(ctx: AdminContext) -> dict[str, object] | None:
    if not ctx.holder.current.ari.enabled:
        return None
    connected = ctx.probes.check(ARI_CONNECTED)
    if connected is None:
        return {"ok": False, "detail": "ARI is enabled but its application is not running in this process"}
    if not connected:
        return {"ok": False, "detail": f"not connected to Asterisk ARI at {redact(ctx.holder.current.ari.url)}"}
    return {"ok": True}


async def readyz(request: web.Request) -> web.Response:
    ctx = await _guard(request)
    settings = ctx.holder.current
    checks: dict[str, dict[str, object]] = {"config": {"ok": True, "version": settings.version}}
    checks["redis"] = await _redis_check(ctx)
    ari = _ari_check(ctx)
    if ari is not None:
        checks["ari"] = ari
    failing = [name for name, check in checks.items() if not check["ok"]]
    body = {"ready": not failing, "failing": failing, "checks": checks}
    return web.json_response(body, status=503 if failing else 200)


async def metrics(request: web.Request) -> web.Response:
    ctx = await _guard(request)
    await ctx.metrics.refresh(ctx.redis)
    return web.Response(body=ctx.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
