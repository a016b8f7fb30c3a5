"""The config over the API: GET/PUT /api/v1/config with If-Match, PATCH /api/v1/campaigns/{name}. A refused
edit leaves the running config and the files untouched; an accepted one is running when answered."""

from __future__ import annotations

from typing import Any

from screener.reasons import ReasonCode
from screener.service.tokens import Role
from tests.admin.conftest import COMMENT, Admin, audit_rows


async def admin_entries(admin: Admin) -> list[dict[str, str]]:
    rows = await audit_rows(admin.redis)
    entries = [{"id": i.decode(), **{k.decode(): v.decode() for k, v in fields.items()}} for i, fields in rows]
    return [e for e in entries if e.get("kind") == "admin"]


async def get_config(admin: Admin) -> dict[str, Any]:
    status, body, headers = await admin.request("GET", "/api/v1/config", Role.ADMIN)
    assert status == 200
    assert headers["ETag"] == f'"{body["version"]}"'
    return dict(body)


async def test_get_config_gives_the_running_version_and_every_file(admin: Admin) -> None:
    body = await get_config(admin)
    assert body["version"] == admin.holder.current.version
    assert set(body["files"]) == {"screener.toml", "presets/lab.toml"}
    assert body["files"]["screener.toml"] == admin.config.read_text()


async def test_put_needs_if_match(admin: Admin) -> None:
    body = await get_config(admin)
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN, json={"files": body["files"]})
    assert status == 428 and answer["error"] == "precondition_required"


async def test_put_writes_loads_and_audits(admin: Admin) -> None:
    body = await get_config(admin)
    edited = body["files"]["screener.toml"].replace("Example Solar Inc. test lab", "Renamed Lab")
    status, answer, headers = await admin.request("PUT", "/api/v1/config", Role.ADMIN,
                                                  json={"files": {"screener.toml": edited}},
                                                  headers={"If-Match": body["version"]})
    assert status == 200, answer
    assert answer["version"] != body["version"] and answer["version"] == admin.holder.current.version
    assert headers["ETag"] == f'"{answer["version"]}"'
    assert '-company = "Example Solar Inc. test lab"' in answer["diff"]
    assert '+company = "Renamed Lab"' in answer["diff"]
    assert admin.config.read_text() == edited
    assert admin.holder.current.campaigns["lab"].company == "Renamed Lab"
    assert (await admin.decide()).disclosure.company == "Renamed Lab"  # type: ignore[union-attr]
    [entry] = await admin_entries(admin)
    assert (entry["actor"], entry["action"], entry["target"]) == ("admin-0", "config.replace", "screener.toml")
    assert entry["id"] == answer["audit_id"]
    # the old version no longer matches
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN, json={"files": body["files"]},
                                            headers={"If-Match": body["version"]})
    assert status == 412 and answer["error"] == "version_conflict"
    assert admin.config.read_text() == edited


async def test_put_a_preset(admin: Admin) -> None:
    body = await get_config(admin)
    preset = body["files"]["presets/lab.toml"].replace("max_calls = 3", "max_calls = 2")
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN,
                                            json={"files": {"presets/lab.toml": preset}},
                                            headers={"If-Match": body["version"]})
    assert status == 200, answer
    assert admin.holder.current.policies["lab"].rules.frequency[0].max_calls == 2
    assert (admin.config.parent / "presets" / "lab.toml").read_text() == preset


async def test_a_refused_config_leaves_the_running_config_and_the_files_untouched(admin: Admin) -> None:
    body = await get_config(admin)
    before_files = {name: (admin.config.parent / name).read_text() for name in body["files"]}
    edited = body["files"]["screener.toml"].replace('policy = "lab"', 'policy = "labb"')
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN,
                                            json={"files": {"screener.toml": edited}},
                                            headers={"If-Match": body["version"]})
    assert status == 422
    assert answer["error"] == "invalid_config"
    assert (answer["file"], answer["key"]) == ("screener.toml", "campaigns.lab.policy")
    assert answer["detail"] == 'screener.toml: campaigns.lab.policy: unknown policy "labb" (known: lab)'
    assert admin.holder.current.version == body["version"]
    assert {name: (admin.config.parent / name).read_text() for name in body["files"]} == before_files
    assert sorted(p.name for p in admin.config.parent.iterdir()) == ["presets", "screener.toml"]  # no temp file left
    assert await admin_entries(admin) == []


async def test_put_refuses_broken_toml_and_foreign_files(admin: Admin) -> None:
    body = await get_config(admin)
    version = {"If-Match": body["version"]}
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN,
                                            json={"files": {"screener.toml": "[screener\n"}}, headers=version)
    assert status == 422 and "invalid TOML" in answer["detail"] and answer["file"] == "screener.toml"
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN,
                                            json={"files": {"../etc/passwd": "x"}}, headers=version)
    assert status == 400 and answer["detail"].startswith("files.../etc/passwd: not the config file")
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN,
                                            json={"files": {"screener.toml": 3}}, headers=version)
    assert status == 400 and answer["detail"].startswith("files.screener.toml:")
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN, json={"file": {}}, headers=version)
    assert status == 400 and answer["detail"].startswith("file: unknown field")
    assert admin.holder.current.version == body["version"]


async def test_put_refused_while_the_files_on_disk_are_not_the_running_ones(admin: Admin) -> None:
    body = await get_config(admin)
    admin.config.write_text(admin.config.read_text() + "\n[oops\n")  # an edit by hand, refused by the reload
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN, json={"files": body["files"]},
                                            headers={"If-Match": body["version"]})
    assert status == 412 and "files on disk differ" in answer["detail"]
    assert admin.config.read_text().endswith("[oops\n")


async def test_patch_campaign_limit_is_used_by_the_next_decision(admin: Admin) -> None:
    version = admin.holder.current.version
    status, answer, _ = await admin.request(
        "PATCH", "/api/v1/campaigns/lab", Role.SUPERVISOR, headers={"If-Match": version},
        json={"frequency": [{"scope": "campaign", "max_calls": 1, "window": "1h", "source": "supervisor"}],
              "calls_per_second": 5})
    assert status == 200, answer
    assert answer["version"] == admin.holder.current.version != version
    campaign = admin.holder.current.campaigns["lab"]
    assert campaign.calls_per_second == 5 and campaign.frequency[0].max_calls == 1
    text = admin.config.read_text()
    assert COMMENT in text  # the rest of the file stays as it was, comments included
    assert [line for line in answer["diff"].splitlines() if line.startswith(("+", "-"))] == [
        "--- a/screener.toml", "+++ b/screener.toml",
        '+frequency = [{scope = "campaign", max_calls = 1, window = "1h", source = "supervisor"}]',
        "+calls_per_second = 5"]
    assert (await admin.decide()).allowed
    second = await admin.decide()
    assert second.codes == (ReasonCode.FREQUENCY_LIMIT,)
    assert "1 per 1h (campaign) campaign lab: supervisor" in second.reasons[0].detail
    [entry] = await admin_entries(admin)
    assert (entry["actor"], entry["action"], entry["target"]) == ("supervisor-0", "campaign.patch", "lab")
    assert '"calls_per_second": 5' in entry["detail"] and entry["config_version"] == answer["version"]
    status, view, _ = await admin.request("GET", "/api/v1/campaigns", Role.VIEWER)
    [lab] = view["campaigns"]
    assert lab["calls_per_second"] == 5
    assert lab["frequency"] == [{"scope": "campaign", "max_calls": 1, "window": "1h", "source": "supervisor"}]


async def test_patch_calling_hours(admin: Admin) -> None:
    status, answer, _ = await admin.request("PATCH", "/api/v1/campaigns/lab", Role.SUPERVISOR,
                                            json={"hours": {"weekdays": "09:00-17:00"}, "quiet": "12:00-13:00"})
    assert status == 200, answer
    check = {"number": "+12125550142", "campaign": "lab"}
    status, body, _ = await admin.request("POST", "/api/v1/check", Role.SUPERVISOR,
                                          json={**check, "at": "2026-12-02T18:00:00-05:00"})
    assert [r["code"] for r in body["reasons"]] == ["outside_calling_hours"]
    assert "campaign lab rules" in body["reasons"][0]["detail"]
    status, body, _ = await admin.request("POST", "/api/v1/check", Role.SUPERVISOR,
                                          json={**check, "at": "2026-12-02T12:30:00-05:00"})
    assert [r["code"] for r in body["reasons"]] == ["quiet_hours"]
    status, view, _ = await admin.request("GET", "/api/v1/campaigns", Role.VIEWER)
    lab = view["campaigns"][0]
    assert lab["hours"] == {d: ["09:00-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    assert lab["quiet"] == ["12:00-13:00"]
    # null removes the campaign's own hours again
    status, answer, _ = await admin.request("PATCH", "/api/v1/campaigns/lab", Role.SUPERVISOR,
                                            json={"hours": None, "quiet": None})
    assert status == 200 and admin.holder.current.campaigns["lab"].calling is None


async def test_refused_patch_names_the_key_and_changes_nothing(admin: Admin) -> None:
    before, version = admin.config.read_text(), admin.holder.current.version
    for change, key, words in [
        ({"calls_per_second": -1}, "campaigns.lab.calls_per_second", "out of range"),
        ({"hours": {"weekdays": "18:00-09:00"}}, "campaigns.lab.hours.weekdays", "end must be after the start"),
        ({"frequency": [{"scope": "any", "max_calls": 0, "window": "1h"}]}, "campaigns.lab.frequency[0].max_calls",
         "out of range"),
        ({"calls_per_second": "fast"}, "campaigns.lab.calls_per_second", "expected an integer"),
    ]:
        status, answer, _ = await admin.request("PATCH", "/api/v1/campaigns/lab", Role.SUPERVISOR, json=change)
        assert status == 422, change
        assert answer["key"] == key and words in answer["problem"], answer
    assert admin.config.read_text() == before and admin.holder.current.version == version


async def test_patch_dry_run_shows_the_diff_and_writes_nothing(admin: Admin) -> None:
    before, version = admin.config.read_text(), admin.holder.current.version
    status, answer, _ = await admin.request("PATCH", "/api/v1/campaigns/lab?dry_run=1", Role.SUPERVISOR,
                                            json={"calls_per_second": 4})
    assert status == 200 and answer["dry_run"] is True
    assert "+calls_per_second = 4" in answer["diff"] and answer["version"] != version
    assert admin.config.read_text() == before and admin.holder.current.version == version
    assert await admin_entries(admin) == []


async def test_patch_bad_requests(admin: Admin) -> None:
    cases: list[tuple[str, Any, dict[str, str], int, str]] = [
        ("/api/v1/campaigns/nope", {"calls_per_second": 1}, {}, 404, "no campaign 'nope'"),
        ("/api/v1/campaigns/lab", {"company": "x"}, {}, 400, "company: not editable here"),
        ("/api/v1/campaigns/lab", {}, {}, 400, "body: no change given"),
        ("/api/v1/campaigns/lab", {"hours": {"mon": None}}, {}, 400, "hours.mon: null"),
        ("/api/v1/campaigns/lab", {"calls_per_second": 1}, {"If-Match": "0123456789ab"}, 412, "not 0123456789ab"),
    ]
    for path, body, headers, expected, words in cases:
        status, answer, _ = await admin.request("PATCH", path, Role.SUPERVISOR, json=body, headers=headers)
        assert status == expected, (body, answer)
        assert words in answer["detail"], answer
