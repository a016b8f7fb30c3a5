"""Tokens and roles at every endpoint: 401 without a token, 403 below the endpoint's role, and bad tokens
from one address slowed down."""

from __future__ import annotations

from typing import Any

import pytest

from screener.admin.auth import BadTokenThrottle
from screener.service.tokens import Role
from tests.admin.conftest import Admin, AdminFactory

#: (method, path, body, the lowest role allowed); writes use bodies that would succeed for that role
ENDPOINTS: list[tuple[str, str, Any, Role]] = [
    ("GET", "/api/v1/whoami", None, Role.VIEWER),
    ("GET", "/api/v1/status", None, Role.VIEWER),
    ("GET", "/api/v1/stats", None, Role.VIEWER),
    ("GET", "/api/v1/campaigns", None, Role.VIEWER),
    ("POST", "/api/v1/check", {"number": "+12125550142", "campaign": "lab"}, Role.SUPERVISOR),
    ("PATCH", "/api/v1/campaigns/lab", {"calls_per_second": 7}, Role.SUPERVISOR),
    ("GET", "/api/v1/consent/+12125550142", None, Role.COMPLIANCE),
    ("POST", "/api/v1/consent/+12125550142", {"campaign": "lab", "source": "web form 7"}, Role.COMPLIANCE),
    ("GET", "/api/v1/audit", None, Role.COMPLIANCE),
    ("GET", "/api/v1/dnc", None, Role.VIEWER),
    ("GET", "/api/v1/dnc/internal/numbers/+12125550142", None, Role.SUPERVISOR),
    ("POST", "/api/v1/dnc/internal/numbers", {"number": "+12125550142"}, Role.SUPERVISOR),
    ("GET", "/api/v1/dnc/internal/numbers", None, Role.COMPLIANCE),
    ("DELETE", "/api/v1/dnc/internal/numbers/+12125550142?reason=complaint%20withdrawn", None, Role.COMPLIANCE),
    ("GET", "/api/v1/config", None, Role.ADMIN),
    ("GET", "/api/v1/tokens", None, Role.ADMIN),
    ("POST", "/api/v1/tokens", {"name": "new-one", "role": "viewer"}, Role.ADMIN),
    ("DELETE", "/api/v1/tokens/viewer-0", None, Role.ADMIN),
]
IDS = [f"{m} {p}" for m, p, _, _ in ENDPOINTS]


@pytest.mark.parametrize(("method", "path", "body", "lowest"), ENDPOINTS, ids=IDS)
async def test_no_token_is_401(admin: Admin, method: str, path: str, body: Any, lowest: Role) -> None:
    status, answer, headers = await admin.request(method, path, json=body)
    assert status == 401, answer
    assert answer["error"] == "unauthorized" and "Authorization: Bearer" in answer["detail"]
    assert headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "body", "lowest"), ENDPOINTS, ids=IDS)
async def test_each_role_below_is_refused_and_the_lowest_allowed_gets_through(
        admin: Admin, method: str, path: str, body: Any, lowest: Role) -> None:
    for role in Role:
        if role.allows(lowest):
            continue
        status, answer, _ = await admin.request(method, path, role, json=body)
        assert status == 403, (role, answer)
        assert answer == {"error": "forbidden",
                          "detail": f"role {role.value} may not do this (needs {lowest.value} or above)"}
    status, answer, _ = await admin.request(method, path, lowest, json=body)
    assert status in (200, 201), answer


async def test_put_config_refused_below_admin(admin: Admin) -> None:
    _, current, _ = await admin.request("GET", "/api/v1/config", Role.ADMIN)
    for role in (Role.VIEWER, Role.SUPERVISOR, Role.COMPLIANCE):
        status, answer, _ = await admin.request("PUT", "/api/v1/config", role, json={"files": current["files"]},
                                                headers={"If-Match": current["version"]})
        assert status == 403 and answer["error"] == "forbidden"
    assert admin.holder.current.version == current["version"]


async def test_a_refused_write_changes_nothing(admin: Admin) -> None:
    before = admin.config.read_text()
    status, _, _ = await admin.request("PATCH", "/api/v1/campaigns/lab", Role.VIEWER, json={"calls_per_second": 9})
    assert status == 403
    assert admin.config.read_text() == before
    assert admin.holder.current.campaigns["lab"].calls_per_second == 0


async def test_unknown_and_malformed_tokens_are_401(admin: Admin) -> None:
    for header in ("Bearer scr_not-a-real-token", "Bearer", "Basic dXNlcjpwYXNz", admin.tokens[Role.ADMIN]):
        status, answer, _ = await admin.request("GET", "/api/v1/whoami", headers={"Authorization": header})
        assert status == 401, header
        assert answer["error"] == "unauthorized"


async def test_whoami_names_the_token(admin: Admin) -> None:
    status, answer, _ = await admin.request("GET", "/api/v1/whoami", Role.SUPERVISOR)
    assert (status, answer) == (200, {"name": "supervisor-0", "role": "supervisor"})


async def test_revoked_token_stops_working_at_once(admin: Admin) -> None:
    status, _, _ = await admin.request("GET", "/api/v1/whoami", Role.VIEWER)
    assert status == 200
    status, _, _ = await admin.request("DELETE", "/api/v1/tokens/viewer-0", Role.ADMIN)
    assert status == 200
    status, answer, _ = await admin.request("GET", "/api/v1/whoami", Role.VIEWER)
    assert status == 401 and answer["detail"] == "unknown or revoked token"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_repeated_bad_tokens_from_one_address_are_slowed_down(make_admin: AdminFactory) -> None:
    clock = FakeClock()
    admin: Admin = await make_admin(throttle=BadTokenThrottle(limit=5, window_s=60, lockout_s=10, clock=clock))
    bad = {"Authorization": "Bearer scr_guess"}
    for _ in range(5):
        status, _, _ = await admin.request("GET", "/api/v1/whoami", headers=bad)
        assert status == 401
    # locked out: even a good token is not looked at, and the answer says how long to wait
    status, answer, headers = await admin.request("GET", "/api/v1/whoami", Role.ADMIN)
    assert status == 429 and answer["error"] == "too_many_requests"
    assert headers["Retry-After"] == "10" and "127.0.0.1" in answer["detail"]
    clock.now += 10.5
    status, _, _ = await admin.request("GET", "/api/v1/whoami", headers=bad)
    assert status == 401
    # one more bad token within the window: locked out again, for twice as long
    status, _, headers = await admin.request("GET", "/api/v1/whoami", Role.ADMIN)
    assert status == 429 and headers["Retry-After"] == "20"
    clock.now += 20.5
    status, answer, _ = await admin.request("GET", "/api/v1/whoami", Role.ADMIN)
    assert status == 200 and answer["role"] == "admin"
    # a good token clears the record: the next bad one alone does not lock the address
    status, _, _ = await admin.request("GET", "/api/v1/whoami", headers=bad)
    assert status == 401
    status, _, _ = await admin.request("GET", "/api/v1/whoami", Role.VIEWER)
    assert status == 200


def test_throttle_forgets_failures_outside_the_window_and_caps_the_lockout() -> None:
    clock = FakeClock()
    throttle = BadTokenThrottle(limit=3, window_s=60, lockout_s=1, max_lockout_s=4, clock=clock)
    for _ in range(2):
        throttle.failed("10.0.0.1")
    clock.now += 61
    throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") is None  # the first two fell out of the window
    for _ in range(2):
        throttle.failed("10.0.0.1")
    assert throttle.retry_after("10.0.0.1") == pytest.approx(1)
    for expected in (2, 4, 4):
        throttle.failed("10.0.0.1")
        assert throttle.retry_after("10.0.0.1") == pytest.approx(expected)
    assert throttle.retry_after("10.0.0.2") is None
