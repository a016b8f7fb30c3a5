"""POST /api/v1/check: a dry-run decision, answered in the CLI's ``check --json`` shape."""

from __future__ import annotations

from aiohttp import web

from screener.admin.context import context, requires
from screener.admin.errors import bad_request, check_fields, json_object, string_field
from screener.decision import ScreenRequest
from screener.service.tokens import Role
from screener.times import parse_aware


@requires(Role.SUPERVISOR)
async def check(request: web.Request) -> web.Response:
    body = await json_object(request)
    check_fields(body, ("number", "campaign", "at"))
    number = string_field(body, "number")
    campaign = string_field(body, "campaign")
    at_text = string_field(body, "at", required=False)
    at = None
    if at_text is not None:
        try:
            at = parse_aware(at_text)
        except ValueError as exc:
            raise bad_request("at", str(exc)) from None
    assert number is not None and campaign is not None
    decision = await context(request).screener.screen(
        ScreenRequest(dialed=number, campaign=campaign, at=at, commit=False, source="api"))
    return web.json_response(decision.to_json())


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/check", check)
