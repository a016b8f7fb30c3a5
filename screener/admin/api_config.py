"""The config over the API: GET/PUT /api/v1/config (admin), GET /api/v1/campaigns (viewer) and
PATCH /api/v1/campaigns/{name} (supervisor: limits and calling windows). Edits are guarded by If-Match
(the running version), validated by the reload's own loader and audited with the token's name."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from screener.admin.auth import caller_of
from screener.admin.context import context, requires
from screener.admin.errors import ApiError, bad_request, check_fields, json_object
from screener.service.admin_log import record_admin_action
from screener.service.config_edit import (
    BadEdit,
    ConfigNotWritable,
    EditRefused,
    EditResult,
    VersionConflict,
    campaign_view,
)
from screener.service.errors import UnknownCampaign
from screener.service.tokens import Role


def _if_match(request: web.Request, *, required: bool) -> str | None:
    value = request.headers.get("If-Match")
    if value is None and required:
        raise ApiError(428, "precondition_required", "send If-Match: <version> (GET /api/v1/config gives it)")
    return value


def _dry_run(request: web.Request) -> bool:
    return request.query.get("dry_run", "").lower() in ("1", "true", "yes")


async def _edit(request: web.Request, action: str, target: str, detail: str, edit: Any) -> web.Response:
    """Run one edit and turn its outcome into the answer (and an audit entry when something was written)."""
    ctx = context(request)
    try:
        result: EditResult = await edit
    except VersionConflict as exc:
        raise ApiError(412, "version_conflict", str(exc), {"ETag": f'"{exc.running}"'}) from None
    except EditRefused as exc:
        error = exc.error
        return web.json_response({"error": "invalid_config", "detail": str(error), "file": error.file,
                                  "key": error.key, "problem": error.problem}, status=422)
    except BadEdit as exc:
        raise bad_request(exc.field, exc.problem) from None
    except ConfigNotWritable as exc:
        raise ApiError(409, "config_read_only", str(exc)) from None
    except UnknownCampaign as exc:  # the campaign is the resource edited here: 404 (elsewhere a bad input, 400)
        raise ApiError(404, "not_found", f"no campaign {exc.name!r} in the running config") from None
    body = result.to_json()
    if not result.dry_run and result.diff:
        body["audit_id"] = await record_admin_action(ctx.screener, caller_of(request).name, action, target, detail)
    return web.json_response(body, headers={"ETag": f'"{result.version}"'})


@requires(Role.ADMIN)
async def get_config(request: web.Request) -> web.Response:
    files = context(request).editor.read()
    return web.json_response(files.to_json(), headers={"ETag": f'"{files.version}"'})


@requires(Role.ADMIN)
async def put_config(request: web.Request) -> web.Response:
    if_match = _if_match(request, required=True)
    body = await json_object(request)
    check_fields(body, ("files",))
    files = body.get("files")
    if not isinstance(files, dict) or not files:
        raise bad_request("files", "expected an object of file name -> text, e.g. {\"screener.toml\": \"...\"}")
    for name, text in files.items():
        if not isinstance(text, str):
            raise bad_request(f"files.{name}", "expected the file's text as a string")
    assert if_match is not None
    editor = context(request).editor
    return await _edit(request, "config.replace", ",".join(sorted(files)), "",
                       editor.replace(files, if_match, dry_run=_dry_run(request)))


@requires(Role.VIEWER)
async def get_campaigns(request: web.Request) -> web.Response:
    settings = context(request).holder.current
    campaigns = [campaign_view(c, settings) for c in settings.campaigns.values()]
    return web.json_response({"version": settings.version, "campaigns": campaigns},
                             headers={"ETag": f'"{settings.version}"'})


@requires(Role.SUPERVISOR)
async def patch_campaign(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    body = await json_object(request)
    editor = context(request).editor
    return await _edit(request, "campaign.patch", name, json.dumps(body, sort_keys=True)[:500],
                       editor.patch_campaign(name, body, _if_match(request, required=False),
                                             dry_run=_dry_run(request)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/config", get_config)
    app.router.add_put("/api/v1/config", put_config)
    app.router.add_get("/api/v1/campaigns", get_campaigns)
    app.router.add_patch("/api/v1/campaigns/{name}", patch_campaign)
