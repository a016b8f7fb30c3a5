"""DNC lists over the API: list them, check, add (supervisor), remove from internal/campaign lists and export
(compliance); changes audited with the actor, and the next decision sees them."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from screener.reasons import ReasonCode
from screener.service.dnc import Format, ImportOptions, import_file
from screener.service.tokens import Role
from tests.admin.conftest import Admin, AdminFactory, audit_rows
from tests.dnc_files import replaced_while_exported

NUMBER = "+12125550142"
WITH_LISTS = """
[lists.do-not-sell]
kind = "campaign"
source = "customers who asked"

[lists.national]
kind = "registry"
source = "a registry"
max_age_days = 31
"""


def with_lists(text: str) -> str:
    return text.replace("[campaigns.lab]", WITH_LISTS + "\n[campaigns.lab]").replace(
        'dnc_lists = ["internal"]', 'dnc_lists = ["internal", "do-not-sell"]')


async def test_add_check_remove_and_the_next_decision(admin: Admin) -> None:
    status, change, _ = await admin.request("POST", "/api/v1/dnc/internal/numbers", Role.SUPERVISOR,
                                            json={"number": "(212) 555-0142", "source": "complaint #7"})
    assert status == 201 and change["number"] == NUMBER and change["changed"] is True and change["audit_id"]
    assert (await admin.decide(NUMBER)).codes == (ReasonCode.DNC_INTERNAL,)
    status, again, _ = await admin.request("POST", "/api/v1/dnc/internal/numbers", Role.SUPERVISOR,
                                           json={"number": NUMBER})
    assert status == 200 and again["changed"] is False
    status, found, _ = await admin.request("GET", f"/api/v1/dnc/internal/numbers/{NUMBER}", Role.SUPERVISOR)
    assert found == {"list": "internal", "number": NUMBER, "listed": True, "by_prefix": ""}
    status, listed, _ = await admin.request("GET", "/api/v1/dnc", Role.VIEWER)
    [internal] = listed
    assert internal["name"] == "internal" and internal["count"] == 1
    status, text, _ = await admin.request("GET", "/api/v1/dnc/internal/numbers", Role.COMPLIANCE)
    assert status == 200 and text.splitlines() == [NUMBER]
    status, body, _ = await admin.request("DELETE", "/api/v1/dnc/internal/numbers/2125550142", Role.COMPLIANCE)
    assert status == 400 and "give the reason" in body["detail"]  # lifting an opt-out says why
    status, removed, _ = await admin.request("DELETE", "/api/v1/dnc/internal/numbers/2125550142?reason=withdrawn",
                                             Role.COMPLIANCE)
    assert status == 200 and removed["changed"] is True and removed["audit_id"]
    assert (await admin.decide(NUMBER)).allowed
    rows = await audit_rows(admin.redis)
    actions = [(f[b"actor"], f[b"action"], f[b"list"], f[b"number"], f[b"source"], f[b"reason"]) for _, f in rows
               if f.get(b"kind") == b"dnc_change"]
    assert actions == [
        (b"supervisor-0", b"add", b"internal", b"+1212*****42", b"complaint #7", b""),
        (b"supervisor-0", b"add", b"internal", b"+1212*****42", b"admin API: supervisor-0", b""),
        (b"compliance-0", b"remove", b"internal", b"+1212*****42", b"admin API: compliance-0", b"withdrawn"),
    ]


async def test_registry_lists_change_by_import_only_and_unknown_lists_are_404(make_admin: AdminFactory) -> None:
    admin: Admin = await make_admin(config_text=with_lists)
    status, change, _ = await admin.request("POST", "/api/v1/dnc/do-not-sell/numbers", Role.SUPERVISOR,
                                            json={"number": NUMBER})
    assert status == 201 and change["list"] == "do-not-sell"
    assert (await admin.decide(NUMBER)).codes == (ReasonCode.DNC_CAMPAIGN,)
    status, body, _ = await admin.request("DELETE", f"/api/v1/dnc/national/numbers/{NUMBER}", Role.ADMIN)
    assert status == 409 and "changes by import only" in body["detail"]
    status, body, _ = await admin.request("POST", "/api/v1/dnc/nope/numbers", Role.ADMIN, json={"number": NUMBER})
    assert status == 404 and "no DNC list 'nope'" in body["detail"]
    status, listed, _ = await admin.request("GET", "/api/v1/dnc", Role.VIEWER)
    national = next(row for row in listed if row["name"] == "national")
    assert national["kind"] == "registry" and national["stale"] is True and national["imported_at"] is None


async def test_a_registry_without_max_age_is_stale_for_decisions_and_for_the_api_alike(
        make_admin: AdminFactory) -> None:
    """One default (the loader's: 31 days for registries): a registry the config gives no max age and that was
    never imported blocks the campaigns that name it, and the API and /metrics say it is stale."""

    def with_registry(text: str) -> str:
        registry = '[lists.national]\nkind = "registry"\nsource = "a registry"\n'
        return text.replace("[campaigns.lab]", registry + "\n[campaigns.lab]").replace(
            'dnc_lists = ["internal"]', 'dnc_lists = ["internal", "national"]')

    admin: Admin = await make_admin(config_text=with_registry)
    decision = await admin.decide(NUMBER, commit=False)
    assert decision.codes == (ReasonCode.DNC_LIST_STALE,) and "max age 31 days" in decision.reasons[0].detail
    status, listed, _ = await admin.request("GET", "/api/v1/dnc", Role.VIEWER)
    national = next(row for row in listed if row["name"] == "national")
    assert status == 200 and (national["stale"], national["max_age_days"]) == (True, 31)
    status, metrics, _ = await admin.request("GET", "/metrics")
    assert status == 200
    assert 'screener_dnc_list_stale{list="national"} 1.0' in metrics
    assert 'screener_dnc_list_max_age_seconds{list="national"} 2.6784e+06' in metrics


async def test_dnc_bad_requests(admin: Admin) -> None:
    cases = [
        ("POST", "/api/v1/dnc/internal/numbers", {"number": "12"}, 400, "invalid number '12'"),
        ("POST", "/api/v1/dnc/internal/numbers", {"number": "911"}, 400, "emergency number"),
        ("POST", "/api/v1/dnc/internal/numbers", {}, 400, "number: missing"),
        ("POST", "/api/v1/dnc/internal/numbers", {"number": NUMBER, "list": "x"}, 400, "list: unknown field"),
        ("GET", "/api/v1/dnc/internal/numbers?format=csv", None, 400, "format: 'csv' is not a format"),
    ]
    for method, path, body, expected, words in cases:
        status, answer, _ = await admin.request(method, path, Role.ADMIN, json=body)
        assert status == expected, (path, body, answer)
        assert words in answer["detail"], answer


async def test_an_export_an_import_cuts_short_is_broken_off_never_complete_looking(
        admin: Admin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The status line (200) is sent before the numbers: an export whose version an import frees midway ends the
    transfer without its last chunk, so no client takes part of the list for all of it."""
    from screener.service.dnc import admin as admin_module

    numbers = [f"+1{ac}5550123" for ac in (201, 202, 203, 205, 206, 207, 208, 209)]
    path = tmp_path / "internal.txt"
    path.write_text("".join(n + "\n" for n in numbers))
    await import_file(admin.redis, "internal", path, ImportOptions(fmt=Format.E164, grace_s=0))
    monkeypatch.setattr(admin_module, "iter_version", replaced_while_exported(path, 2))
    async with admin.session.get(admin.url + "/api/v1/dnc/internal/numbers",
                                 headers=admin.headers(Role.COMPLIANCE)) as resp:
        assert resp.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            await resp.read()
    monkeypatch.undo()
    status, text, _ = await admin.request("GET", "/api/v1/dnc/internal/numbers", Role.COMPLIANCE)
    assert status == 200 and text.split() == numbers
