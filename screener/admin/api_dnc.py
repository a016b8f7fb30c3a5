"""DNC lists over the API, through the service's ``DncAdmin`` (as ``screener dnc`` does it, with its JSON):

- ``GET /api/v1/dnc`` (viewer): every list's size, version, source, age and staleness;
- ``GET /api/v1/dnc/{list}/numbers/{number}`` (supervisor): is the number on the list;
- ``POST /api/v1/dnc/{list}/numbers`` ``{number, region?, source?}`` (supervisor): put a number on a list;
- ``DELETE /api/v1/dnc/{list}/numbers/{number}?reason=...`` (compliance): take a number off an internal or
  campaign list (registries change by import only, and lifting an opt-out is a compliance decision: from the
  internal list ``reason`` is required, and recorded);
- ``GET /api/v1/dnc/{list}/numbers`` (compliance): the list's numbers, one a line, streamed (an import that frees
  the version while it is read breaks the transfer off: never a complete-looking part of the list).

Only the lists of the running config are reachable here. Changes are audited by the service (``dnc_change``
entries) with the token's name as the actor.
"""

from __future__ import annotations

import logging

from aiohttp import web

from screener.admin.auth import caller_of
from screener.admin.context import AdminContext, context, requires
from screener.admin.errors import ApiError, bad_request, check_fields, json_object, string_field
from screener.config.settings import DncList, ListKind
from screener.service.dnc import EXPORT_FORMATS, DncAdmin, ExportIncomplete
from screener.service.numbers_input import DEFAULT_REGION
from screener.service.tokens import Role

log = logging.getLogger("screener.admin")

#: the kinds of list a number may be taken off over the API
REMOVABLE = (ListKind.INTERNAL, ListKind.CAMPAIGN)


def _list(ctx: AdminContext, request: web.Request) -> DncList:
    name = request.match_info["list"]
    found = ctx.holder.current.lists.get(name)
    if found is None:
        known = ", ".join(sorted(ctx.holder.current.lists)) or "none"
        raise ApiError(404, "not_found", f"no DNC list {name!r} in the running config (known: {known})")
    return found


def _admin(ctx: AdminContext) -> DncAdmin:
    return DncAdmin(ctx.redis, ctx.holder.current)


@requires(Role.VIEWER)
async def lists(request: web.Request) -> web.Response:
    rows = await _admin(context(request)).lists()
    return web.json_response([row.to_json() for row in rows])


@requires(Role.SUPERVISOR)
async def check(request: web.Request) -> web.Response:
    ctx = context(request)
    lst = _list(ctx, request)
    found = await _admin(ctx).check(lst.name, request.match_info["number"],
                                    region=request.query.get("region", DEFAULT_REGION))
    return web.json_response(found.to_json())


@requires(Role.SUPERVISOR)
async def add(request: web.Request) -> web.Response:
    ctx = context(request)
    lst = _list(ctx, request)
    body = await json_object(request)
    check_fields(body, ("number", "region", "source"))
    number = string_field(body, "number")
    assert number is not None
    caller = caller_of(request)
    source = string_field(body, "source", required=False) or f"admin API: {caller.name}"
    change = await _admin(ctx).add(lst.name, number, actor=caller.name,
                                   region=string_field(body, "region", required=False) or DEFAULT_REGION, source=source)
    ctx.screener.invalidate_list_states()
    return web.json_response(change.to_json(), status=201 if change.changed else 200)  # audited by the service


@requires(Role.COMPLIANCE)
async def remove(request: web.Request) -> web.Response:
    ctx = context(request)
    lst = _list(ctx, request)
    if lst.kind not in REMOVABLE:
        raise ApiError(409, "conflict", f"{lst.name} is a {lst.kind.value} list: it changes by import only "
                       "(screener dnc import), never one number at a time")
    caller = caller_of(request)
    change = await _admin(ctx).remove(lst.name, request.match_info["number"], actor=caller.name,
                                      region=request.query.get("region", DEFAULT_REGION),
                                      source=f"admin API: {caller.name}", reason=request.query.get("reason", ""))
    ctx.screener.invalidate_list_states()
    return web.json_response(change.to_json())  # audited by the service


@requires(Role.COMPLIANCE)
async def export(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    lst = _list(ctx, request)
    fmt = request.query.get("format", "e164")
    if fmt not in EXPORT_FORMATS:
        raise bad_request("format", f"{fmt!r} is not a format (one of {', '.join(EXPORT_FORMATS)})")
    response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    batch: list[str] = []
    try:
        async for number in _admin(ctx).export(lst.name, fmt):
            batch.append(number)
            if len(batch) >= 5000:
                await response.write(("\n".join(batch) + "\n").encode())
                batch = []
    except ExportIncomplete as exc:
        # the status line is gone already: break the transfer, so the export never looks complete when it is not
        log.warning("DNC export broken off: %s", exc)
        if request.transport is not None:
            request.transport.abort()
        return response
    if batch:
        await response.write(("\n".join(batch) + "\n").encode())
    await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/dnc", lists)
    app.router.add_get("/api/v1/dnc/{list}/numbers", export)
    app.router.add_post("/api/v1/dnc/{list}/numbers", add)
    app.router.add_get("/api/v1/dnc/{list}/numbers/{number}", check)
    app.router.add_delete("/api/v1/dnc/{list}/numbers/{number}", remove)
