"""Tokens over the API (admin role): list, create (the token is in the answer, once), revoke. Audited."""

from __future__ import annotations

from aiohttp import web

from screener.admin.auth import caller_of
from screener.admin.context import context, requires
from screener.admin.errors import ApiError, bad_request, check_fields, json_object, string_field
from screener.service.admin_log import record_admin_action
from screener.service.tokens import Role, TokenExists, TokenNotFound, create_token, list_tokens, revoke_token


@requires(Role.ADMIN)
async def get_tokens(request: web.Request) -> web.Response:
    tokens = await list_tokens(context(request).redis)
    return web.json_response({"tokens": [t.to_json() for t in tokens]})


@requires(Role.ADMIN)
async def post_token(request: web.Request) -> web.Response:
    body = await json_object(request)
    check_fields(body, ("name", "role"))
    name = string_field(body, "name")
    role_text = string_field(body, "role")
    assert name is not None and role_text is not None
    try:
        role = Role(role_text)
    except ValueError:
        raise bad_request("role", f"{role_text!r} is not a role (one of {', '.join(r.value for r in Role)})") from None
    ctx = context(request)
    try:
        token = await create_token(ctx.redis, name, role)
    except TokenExists:
        raise ApiError(409, "conflict", f"a token named {name!r} exists already (revoke it first)") from None
    except ValueError as exc:
        raise bad_request("name", str(exc)) from None
    audit_id = await record_admin_action(ctx.screener, caller_of(request).name, "token.create", name, role.value)
    return web.json_response({"name": name, "role": role.value, "token": token, "audit_id": audit_id}, status=201)


@requires(Role.ADMIN)
async def delete_token(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    ctx = context(request)
    try:
        await revoke_token(ctx.redis, name)
    except TokenNotFound:
        raise ApiError(404, "not_found", f"no token named {name!r}") from None
    audit_id = await record_admin_action(ctx.screener, caller_of(request).name, "token.revoke", name)
    return web.json_response({"revoked": name, "audit_id": audit_id})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/tokens", get_tokens)
    app.router.add_post("/api/v1/tokens", post_token)
    app.router.add_delete("/api/v1/tokens/{name}", delete_token)
