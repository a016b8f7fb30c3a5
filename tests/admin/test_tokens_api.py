"""Tokens over the API (admin role): a created token works at once, a revoked one stops; both audited."""

from __future__ import annotations

from screener.service.tokens import Role
from tests.admin.conftest import Admin, audit_rows


async def test_create_use_and_revoke_a_token(admin: Admin) -> None:
    status, body, _ = await admin.request("POST", "/api/v1/tokens", Role.ADMIN,
                                          json={"name": "wallboard", "role": "viewer"})
    assert status == 201 and body["name"] == "wallboard" and body["token"].startswith("scr_")
    token = body["token"]
    status, me, _ = await admin.request("GET", "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert (status, me) == (200, {"name": "wallboard", "role": "viewer"})
    status, listing, _ = await admin.request("GET", "/api/v1/tokens", Role.ADMIN)
    assert "wallboard" in [t["name"] for t in listing["tokens"]] and token not in str(listing)
    status, body, _ = await admin.request("POST", "/api/v1/tokens", Role.ADMIN,
                                          json={"name": "wallboard", "role": "admin"})
    assert status == 409
    status, body, _ = await admin.request("POST", "/api/v1/tokens", Role.ADMIN, json={"name": "x", "role": "boss"})
    assert status == 400 and body["detail"].startswith("role: 'boss' is not a role")
    status, _, _ = await admin.request("DELETE", "/api/v1/tokens/wallboard", Role.ADMIN)
    assert status == 200
    status, _, _ = await admin.request("GET", "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"})
    assert status == 401
    status, body, _ = await admin.request("DELETE", "/api/v1/tokens/wallboard", Role.ADMIN)
    assert status == 404
    rows = await audit_rows(admin.redis)
    actions = [(f[b"actor"], f[b"action"], f[b"target"]) for _, f in rows if f.get(b"kind") == b"admin"]
    assert actions == [(b"admin-0", b"token.create", b"wallboard"), (b"admin-0", b"token.revoke", b"wallboard")]
