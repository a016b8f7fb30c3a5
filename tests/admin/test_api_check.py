"""POST /api/v1/check: the CLI's decision JSON, a dry run; malformed bodies are 400s naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from screener.decision import ScreenRequest
from screener.service.tokens import Role
from tests.admin.conftest import Admin


async def test_check_answers_the_decision_as_a_dry_run(admin: Admin) -> None:
    status, body, _ = await admin.request("POST", "/api/v1/check", Role.SUPERVISOR,
                                          json={"number": "(212) 555-0142", "campaign": "lab"})
    assert status == 200
    assert body["verdict"] == "allow" and body["reasons"] == [] and body["number"] == "+1212*****42"
    assert body["dry_run"] is True and body["attempt_id"] is None
    assert body["config_version"] == admin.holder.current.version
    # the CLI's `check --json` shape: Decision.to_json
    same = await admin.screener.screen(ScreenRequest(dialed="+12125550142", campaign="lab", commit=False))
    assert set(body) == set(same.to_json())
    assert body["caller_id_name"] == same.caller_id_name and body["disclosure"] == same.to_json()["disclosure"]
    # a dry run reserves nothing: three more live calls still fit the lab's 3 per hour
    for _ in range(3):
        assert (await admin.decide()).allowed


async def test_check_with_at_and_a_block(admin: Admin) -> None:
    status, body, _ = await admin.request("POST", "/api/v1/check", Role.SUPERVISOR,
                                          json={"number": "12", "campaign": "lab", "at": "2026-12-02T10:00:00Z"})
    assert status == 200
    assert body["verdict"] == "block" and [r["code"] for r in body["reasons"]] == ["invalid_number"]
    assert body["decided_at"] == "2026-12-02T10:00:00+00:00"
    status, body, _ = await admin.request("POST", "/api/v1/check", Role.SUPERVISOR,
                                          json={"number": "+12125550142", "campaign": "nope"})
    assert status == 200 and body["reasons"][0]["code"] == "unknown_campaign"


BAD_BODIES: list[tuple[str, Any, str]] = [
    ("not json", "{number:", "body: not JSON"),
    ("empty", "", "body: empty"),
    ("a list", "[1, 2]", "body: expected a JSON object, got list"),
    ("no number", '{"campaign": "lab"}', "number: missing (required)"),
    ("number not a string", '{"number": 2125550142, "campaign": "lab"}', "number: expected a non-empty string"),
    ("empty campaign", '{"number": "+12125550142", "campaign": " "}', "campaign: expected a non-empty string"),
    ("unknown field", '{"number": "+12125550142", "campaign": "lab", "commit": true}', "commit: unknown field"),
    ("naive time", '{"number": "+12125550142", "campaign": "lab", "at": "2026-12-02T10:00:00"}',
     "at: '2026-12-02T10:00:00' has no UTC offset"),
    ("not a time", '{"number": "+12125550142", "campaign": "lab", "at": "tomorrow"}', "at: 'tomorrow' is not an ISO"),
]


@pytest.mark.parametrize(("text", "words"), [c[1:] for c in BAD_BODIES], ids=[c[0] for c in BAD_BODIES])
async def test_malformed_body_is_a_400_naming_the_field(admin: Admin, text: str, words: str) -> None:
    status, body, headers = await admin.request("POST", "/api/v1/check", Role.SUPERVISOR, data=text)
    assert status == 400, body
    assert body["error"] == "bad_request" and body["detail"].startswith(words), body
    assert headers["Content-Type"].startswith("application/json")


async def test_unknown_path_and_method_are_json_errors(admin: Admin) -> None:
    status, body, _ = await admin.request("GET", "/api/v1/nope", Role.ADMIN)
    assert status == 404 and body["error"] == "not_found"
    status, body, headers = await admin.request("DELETE", "/api/v1/check", Role.ADMIN)
    assert status == 405 and body["error"] == "method_not_allowed" and "POST" in headers["Allow"]
