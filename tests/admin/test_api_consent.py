"""Consent over the API (compliance role): grant, show (the CLI's --json list), revoke; audited with the actor."""

from __future__ import annotations

from screener.reasons import ReasonCode
from screener.service.audit_fields import number_hash
from screener.service.tokens import Role
from tests.admin.conftest import Admin, audit_rows

NUMBER = "+12125550142"


async def admin_entries(admin: Admin) -> list[dict[str, str]]:
    rows = await audit_rows(admin.redis)
    entries = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in rows]
    return [e for e in entries if e.get("kind") == "admin"]


async def test_grant_show_revoke(admin: Admin) -> None:
    status, record, _ = await admin.request(
        "POST", "/api/v1/consent/(212) 555-0142", Role.COMPLIANCE,
        json={"campaign": "lab", "source": "web form 7", "channel": "web", "expires": "2030-01-01T00:00:00Z"})
    assert status == 201, record
    assert (record["number"], record["purpose"], record["source"], record["channel"]) == (
        NUMBER, "lab", "web form 7", "web")
    assert record["expires_ms"] == 1893456000000 and record["revoked_ms"] == 0
    status, listed, _ = await admin.request("GET", f"/api/v1/consent/{NUMBER}", Role.COMPLIANCE)
    assert status == 200 and [r["source"] for r in listed] == ["web form 7"]
    status, revoked, _ = await admin.request("DELETE", f"/api/v1/consent/{NUMBER}?campaign=lab", Role.COMPLIANCE)
    assert status == 200 and revoked["revoked_ms"] > 0
    grant, revoke = await admin_entries(admin)
    assert (grant["actor"], grant["action"], grant["target"]) == ("compliance-0", "consent.grant", "lab")
    assert grant["number"] == "+1212*****42" and grant["number_hash"] == number_hash(NUMBER, "test-salt-test-salt")
    assert (revoke["action"], revoke["campaign"]) == ("consent.revoke", "lab")


async def test_consent_errors(admin: Admin) -> None:
    cases = [
        ("POST", f"/api/v1/consent/{NUMBER}", {"campaign": "lab"}, 400, "source: missing"),
        ("POST", f"/api/v1/consent/{NUMBER}", {"campaign": "nope", "source": "x"}, 400, "unknown campaign 'nope'"),
        ("POST", "/api/v1/consent/12", {"campaign": "lab", "source": "x"}, 400, "invalid number '12'"),
        ("POST", f"/api/v1/consent/{NUMBER}", {"campaign": "lab", "source": "x", "expires": "soon"}, 400,
         "expires: 'soon' is not an ISO"),
        ("POST", f"/api/v1/consent/{NUMBER}", {"campaign": "lab", "source": "x", "note": "y"}, 400,
         "note: unknown field"),
        ("DELETE", f"/api/v1/consent/{NUMBER}", None, 400, "campaign: missing"),
        ("DELETE", f"/api/v1/consent/{NUMBER}?campaign=lab", None, 404, ""),
    ]
    for method, path, body, expected, words in cases:
        status, answer, _ = await admin.request(method, path, Role.COMPLIANCE, json=body)
        assert status == expected, (path, body, answer)
        assert words in answer["detail"], answer
    assert await admin_entries(admin) == []


async def test_revoke_refused_below_compliance(admin: Admin) -> None:
    await admin.request("POST", f"/api/v1/consent/{NUMBER}", Role.COMPLIANCE, json={"campaign": "lab", "source": "x"})
    for role in (Role.VIEWER, Role.SUPERVISOR):
        status, _, _ = await admin.request("DELETE", f"/api/v1/consent/{NUMBER}?campaign=lab", role)
        assert status == 403
    status, listed, _ = await admin.request("GET", f"/api/v1/consent/{NUMBER}", Role.ADMIN)
    assert listed[0]["revoked_ms"] == 0


async def test_a_consent_granted_over_the_api_is_what_a_decision_reads(make_admin: object) -> None:
    admin: Admin = await make_admin(  # type: ignore[operator]
        config_text=lambda text: text.replace('consent_required = false', 'consent_required = true'))
    assert (await admin.decide(NUMBER)).codes == (ReasonCode.NO_CONSENT,)
    await admin.request("POST", f"/api/v1/consent/{NUMBER}", Role.COMPLIANCE, json={"campaign": "lab", "source": "x"})
    assert (await admin.decide(NUMBER)).allowed
