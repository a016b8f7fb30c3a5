"""GET /api/v1/audit (compliance role): the audit trail between two times, only a number's (found by its
keyed hash) or a campaign's entries when asked, as JSON lines or CSV; streamed in batches, so an export of
millions of entries holds a few hundred in memory at a time."""

from __future__ import annotations

import logging

from aiohttp import web

from screener.admin.context import context, requires
from screener.admin.errors import bad_request
from screener.config.paths import archive_dir
from screener.service.audit import AuditTrail
from screener.service.audit_export import FORMATS, export_chunks
from screener.service.numbers_input import DEFAULT_REGION
from screener.service.store_errors import STORE_ERRORS
from screener.service.tokens import Role
from screener.times import parse_aware

log = logging.getLogger("screener.admin")

QUERY = ("number", "campaign", "since", "until", "format", "region")
CONTENT_TYPES = {"jsonl": "application/x-ndjson; charset=utf-8", "csv": "text/csv; charset=utf-8"}


@requires(Role.COMPLIANCE)
async def export(request: web.Request) -> web.StreamResponse:
    query = request.query
    for name in query:
        if name not in QUERY:
            raise bad_request(name, f"unknown parameter (known: {', '.join(QUERY)})")
    fmt = query.get("format", "jsonl")
    if fmt not in FORMATS:
        raise bad_request("format", f"{fmt!r} is not a format (one of {', '.join(FORMATS)})")
    bounds = {}
    for name in ("since", "until"):
        if query.get(name):
            try:
                bounds[name] = parse_aware(query[name])
            except ValueError as exc:
                raise bad_request(name, str(exc)) from None
    ctx = context(request)
    trail = AuditTrail(ctx.redis, ctx.holder.current.audit_salt.value, archive_dir(ctx.holder.current))
    # a bad number is refused here, before anything is sent
    entries = trail.entries(since=bounds.get("since"), until=bounds.get("until"), number=query.get("number") or None,
                            region=query.get("region", DEFAULT_REGION), campaign=query.get("campaign") or None)
    response = web.StreamResponse(headers={
        "Content-Type": CONTENT_TYPES[fmt],
        "Content-Disposition": f'attachment; filename="screener-audit.{fmt}"'})
    response.enable_chunked_encoding()
    await response.prepare(request)
    try:
        async for chunk in export_chunks(entries, fmt):
            await response.write(chunk.encode())  # waits while the client is slower than Redis: memory stays flat
    except STORE_ERRORS as exc:
        # the status line is gone already: break the transfer, so the export never looks complete when it is not
        log.error("audit export broken off: Redis failed (%s: %s)", type(exc).__name__, exc)
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/audit", export)
