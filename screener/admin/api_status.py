"""What the supervisor page shows (viewer role): who am I, the running config and its last reload, DNC
lists with their age, screeners alive, decision statistics, and live decisions (server-sent events)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from aiohttp import web

from screener.admin.auth import caller_of
from screener.admin.context import context, requires
from screener.admin.errors import ApiError
from screener.service.dnc import DncAdmin
from screener.service.presence import screeners_alive
from screener.service.stats import read_stats
from screener.service.store_errors import STORE_ERRORS
from screener.service.tokens import Role

#: seconds between SSE comments that keep idle connections (and proxies) open
KEEPALIVE_S = 15.0


@requires(Role.VIEWER)
async def whoami(request: web.Request) -> web.Response:
    caller = caller_of(request)
    return web.json_response({"name": caller.name, "role": caller.role.value})


def _reload_json(request: web.Request) -> dict[str, object] | None:
    last = context(request).holder.last_reload
    if last is None:
        return None
    return {"ok": last.ok, "version": last.version, "changed": last.changed,
            "at": datetime.fromtimestamp(last.at, UTC).isoformat(timespec="seconds"),
            "error": str(last.error) if last.error else None}


@requires(Role.VIEWER)
async def status(request: web.Request) -> web.Response:
    ctx = context(request)
    settings = ctx.holder.current
    now = ctx.clock()
    try:
        async with asyncio.timeout(2.0):
            lists = await DncAdmin(ctx.redis, settings).lists(now=now.timestamp())
            alive = await screeners_alive(ctx.redis)
    except STORE_ERRORS as exc:
        raise ApiError(503, "unavailable", f"Redis did not answer: {type(exc).__name__}") from None
    return web.json_response({
        "config": {"version": settings.version, "last_reload": _reload_json(request),
                   "reload_failures": ctx.holder.stats["reload_failures"]},
        "lists": [lst.to_json() for lst in lists],
        "screeners": [s.to_json() for s in alive],
        "now": now.isoformat(timespec="seconds"),
    })


@requires(Role.VIEWER)
async def stats(request: web.Request) -> web.Response:
    ctx = context(request)
    try:
        async with asyncio.timeout(2.0):
            body = await read_stats(ctx.redis, ctx.clock())
    except STORE_ERRORS as exc:
        raise ApiError(503, "unavailable", f"Redis did not answer: {type(exc).__name__}") from None
    return web.json_response(body)


@requires(Role.VIEWER)
async def live(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``event: entry`` with one audit entry (masked number) as JSON, as they happen."""
    ctx = context(request)
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    await response.write(b": live decisions\n\n")
    watcher = await ctx.feed.watch()
    try:
        while True:
            try:
                view = await watcher.next(KEEPALIVE_S)
            except EOFError:
                break
            if view is None:
                await response.write(b": keep-alive\n\n")
                continue
            data = json.dumps(view, ensure_ascii=False)
            await response.write(f"id: {view['id']}\nevent: entry\ndata: {data}\n\n".encode())
    except ConnectionResetError:
        pass  # the page went away
    finally:
        watcher.close()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/whoami", whoami)
    app.router.add_get("/api/v1/status", status)
    app.router.add_get("/api/v1/stats", stats)
    app.router.add_get("/api/v1/live", live)
