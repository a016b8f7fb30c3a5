"""Consent over the API (compliance role), as ``screener consent`` does it: show a number's records (the
CLI's ``--json`` list), grant, revoke. Grants and revokes are audited with the token's name."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from aiohttp import web

from screener.admin.auth import caller_of
from screener.admin.context import context, requires
from screener.admin.errors import bad_request, check_fields, json_object, string_field
from screener.service.admin_log import record_admin_action
from screener.service.consent import ConsentLedger
from screener.service.tokens import Role
from screener.times import parse_aware

GRANT_FIELDS = ("campaign", "source", "purpose", "granted", "expires", "text_version", "channel", "evidence")


def _ledger(request: web.Request) -> ConsentLedger:
    ctx = context(request)
    return ConsentLedger(ctx.redis, ctx.holder.current)


def _when(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_aware(value)
    except ValueError as exc:
        raise bad_request(field, str(exc)) from None


def _optional(body: dict[str, Any], field: str) -> str:
    return string_field(body, field, required=False) or ""


@requires(Role.COMPLIANCE)
async def show(request: web.Request) -> web.Response:
    campaign = request.query.get("campaign") or None
    found = await _ledger(request).show(request.match_info["number"], campaign)
    return web.json_response([asdict(r) for r in found.records])


@requires(Role.COMPLIANCE)
async def grant(request: web.Request) -> web.Response:
    body = await json_object(request)
    check_fields(body, GRANT_FIELDS)
    campaign, source = string_field(body, "campaign"), string_field(body, "source")
    assert campaign is not None and source is not None
    record = await _ledger(request).grant(
        request.match_info["number"], campaign, source=source, purpose=string_field(body, "purpose", required=False),
        granted=_when(string_field(body, "granted", required=False), "granted"),
        expires=_when(string_field(body, "expires", required=False), "expires"),
        text_version=_optional(body, "text_version"), channel=_optional(body, "channel"),
        evidence=_optional(body, "evidence"))
    data = asdict(record)
    data["audit_id"] = await record_admin_action(context(request).screener, caller_of(request).name, "consent.grant",
                                                 record.purpose, f"source: {record.source}", number=record.number,
                                                 campaign=record.campaign)
    return web.json_response(data, status=201)


@requires(Role.COMPLIANCE)
async def revoke(request: web.Request) -> web.Response:
    campaign = request.query.get("campaign")
    if not campaign:
        raise bad_request("campaign", "missing (required): ?campaign=NAME (its consent purpose and region apply)")
    record = await _ledger(request).revoke(request.match_info["number"], campaign,
                                           purpose=request.query.get("purpose") or None,
                                           at=_when(request.query.get("at"), "at"))
    data = asdict(record)
    data["audit_id"] = await record_admin_action(context(request).screener, caller_of(request).name,
                                                 "consent.revoke", record.purpose, "", number=record.number,
                                                 campaign=campaign)
    return web.json_response(data)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/consent/{number}", show)
    app.router.add_post("/api/v1/consent/{number}", grant)
    app.router.add_delete("/api/v1/consent/{number}", revoke)
