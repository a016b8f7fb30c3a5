"""The config over the API: GET/PUT /api/v1/config with If-Match, PATCH /api/v1/campaigns/{name}. A refused
edit leaves the running config and the files untouched; an accepted one is running when answered."""

from __future__ import annotations

from typing import Any

import pytest

from screener.reasons import ReasonCode
from screener.service.errors import InvalidInput, UnknownCampaign
from screener.service.tokens import Role
from tests.admin.conftest import COMMENT, Admin, AdminFactory, audit_rows

#: the lab config's audit salt (shown as ***)
SALT = "test-salt-test-salt"


def stored(shown: str) -> str:
    """The lab config file as stored, for the text GET shows (its secret masked)."""
    return shown.replace('audit_salt = "***"', f'audit_salt = "{SALT}"')


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
    assert body["files"]["screener.toml"] == admin.config.read_text().replace(SALT, "***")  # secrets masked


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
    assert admin.config.read_text() == stored(edited)
    assert admin.holder.current.campaigns["lab"].company == "Renamed Lab"
    assert (await admin.decide()).disclosure.company == "Renamed Lab"  # type: ignore[union-attr]
    [entry] = await admin_entries(admin)
    assert (entry["actor"], entry["action"], entry["target"]) == ("admin-0", "config.replace", "screener.toml")
    assert entry["id"] == answer["audit_id"]
    # the old version no longer matches
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN, json={"files": body["files"]},
                                            headers={"If-Match": body["version"]})
    assert status == 412 and answer["error"] == "version_conflict"
    assert admin.config.read_text() == stored(edited)


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


async def put_main(admin: Admin, text: str, version: str) -> tuple[int, Any]:
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN,
                                            json={"files": {"screener.toml": text}}, headers={"If-Match": version})
    return status, answer


async def test_put_without_campaigns_is_refused_nothing_written_and_the_next_edit_taken(admin: Admin) -> None:
    """The reload refuses a config with no campaign: the editor refuses it the same way, before writing (a file
    left on disk would make every later edit a 412, and a restart start with no campaign)."""
    body = await get_config(admin)
    text = body["files"]["screener.toml"]
    no_campaigns = text.split(COMMENT)[0]
    assert "[campaigns" not in no_campaigns
    status, answer = await put_main(admin, no_campaigns, body["version"])
    assert status == 422 and (answer["file"], answer["key"]) == ("screener.toml", "campaigns"), answer
    assert "no campaign" in answer["problem"]
    assert admin.config.read_text() == stored(text) and admin.holder.current.version == body["version"]
    assert admin.holder.stats["reload_failures"] == 0  # refused before anything reached the running screener
    status, answer = await put_main(admin, text.replace("Example Solar Inc. test lab", "Lab Two"), body["version"])
    assert status == 200, answer
    assert admin.holder.current.campaigns["lab"].company == "Lab Two"


async def test_put_renaming_the_internal_list_is_refused_and_nothing_written(admin: Admin) -> None:
    body = await get_config(admin)
    text = body["files"]["screener.toml"]
    renamed = text.replace("[lists.internal]", "[lists.opt-outs]").replace('dnc_lists = ["internal"]',
                                                                             'dnc_lists = ["opt-outs"]')
    status, answer = await put_main(admin, renamed, body["version"])
    assert status == 422 and (answer["file"], answer["key"]) == ("screener.toml", "lists.internal"), answer
    assert 'internal list "internal" is removed (or renamed)' in answer["problem"]
    assert admin.config.read_text() == stored(text) and admin.holder.current.version == body["version"]
    assert await admin_entries(admin) == []


async def test_an_edit_the_running_screener_refuses_after_writing_is_put_back(admin: Admin, monkeypatch: Any) -> None:
    """Another writer breaks the preset between the editor's check and the reload: the holder refuses the
    result, and the file the editor wrote is put back as it was (the running config goes on)."""
    from screener.service import config_edit

    body = await get_config(admin)
    text = body["files"]["screener.toml"]
    preset = admin.config.parent / "presets" / "lab.toml"
    real_write = config_edit._write_atomically
    raced: list[Any] = []

    def write_then_another_writer(path: Any, new_text: str) -> None:
        real_write(path, new_text)
        if not raced:
            raced.append(path)
            preset.write_text(preset.read_text() + "\n[policies.lab\n")

    monkeypatch.setattr(config_edit, "_write_atomically", write_then_another_writer)
    status, answer = await put_main(admin, text.replace("Example Solar Inc. test lab", "Lab Two"), body["version"])
    assert status == 422 and "refused it" in answer["detail"] and "put back" in answer["detail"], answer
    assert raced == [admin.config.parent / "screener.toml"]
    assert admin.config.read_text() == stored(text)
    assert admin.holder.current.version == body["version"]
    assert admin.holder.current.campaigns["lab"].company == "Example Solar Inc. test lab"


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


async def test_admin_actions_whose_audit_entry_redis_refuses_wait_in_the_spool(admin: Admin) -> None:
    """Redis refuses the audit append (the stream key is no stream: every XADD fails, like a Redis that
    times out): the action is answered without an audit id, its entry waits in the spool, and lands in the
    audit trail once Redis takes it again."""
    await admin.redis.set("scr:{global}:audit", "not a stream")  # the admin actions' group: about no number
    status, answer, _ = await admin.request("PATCH", "/api/v1/campaigns/lab", Role.SUPERVISOR,
                                            json={"calls_per_second": 7})
    assert status == 200 and answer["audit_id"] is None
    status, answer, _ = await admin.request("POST", "/api/v1/tokens", Role.ADMIN,
                                            json={"name": "ops", "role": "viewer"})
    assert status == 201 and answer["audit_id"] is None
    assert [item.data["action"] for item in admin.screener.spool.items] == ["campaign.patch", "token.create"]
    await admin.redis.delete("scr:{global}:audit")  # Redis takes writes again: serve's flush loop writes them
    assert await admin.screener.flush_pending() == 2
    entries = await admin_entries(admin)
    assert [(e["actor"], e["action"], e["target"]) for e in entries] == [
        ("supervisor-0", "campaign.patch", "lab"), ("admin-0", "token.create", "ops")]
    assert len(admin.screener.spool) == 0


def with_secrets(text: str) -> str:
    """The lab config with a Redis password in redis_url and an ARI password (the Screener under test connects
    with the URL it was given: the config's is only text here)."""
    return text.replace('redis_url = "redis://', 'redis_url = "redis://:hunter2@') + (
        '\n[ari]\npassword = "ari-s3cret"  # the ARI user\'s\n'
        'url = "http://screener:ari-url-pw@127.0.0.1:8088/?api_key=screener:ari-key-pw"\n')


async def test_get_masks_secrets_and_a_round_trip_keeps_them(make_admin: AdminFactory) -> None:
    admin: Admin = await make_admin(config_text=with_secrets)
    on_disk = admin.config.read_text()
    body = await get_config(admin)
    shown = body["files"]["screener.toml"]
    for secret in (SALT, "hunter2", "ari-s3cret", "ari-url-pw", "ari-key-pw"):
        assert secret in on_disk and secret not in shown
    assert 'audit_salt = "***"' in shown and 'password = "***"  # the ARI user\'s' in shown
    assert 'redis_url = "redis://:***@127.0.0.1:' in shown
    assert 'url = "http://screener:***@127.0.0.1:8088/?api_key=***"' in shown
    # GET -> edit -> PUT: the masked values sent back keep the stored secrets
    status, answer = await put_main(admin, shown.replace("Example Solar Inc. test lab", "Lab Two"), body["version"])
    assert status == 200, answer
    assert [line[1:] for line in answer["diff"].splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")] \
        == ['company = "Example Solar Inc. test lab"', 'company = "Lab Two"']
    assert admin.config.read_text() == on_disk.replace("Example Solar Inc. test lab", "Lab Two")
    current = admin.holder.current
    assert (current.audit_salt.value, current.ari.password.value) == (SALT, "ari-s3cret")
    assert current.redis_url.startswith("redis://:hunter2@")
    assert current.ari.url == "http://screener:ari-url-pw@127.0.0.1:8088/?api_key=screener:ari-key-pw"
    # a file on disk that is not valid TOML is shown with its secrets masked all the same
    admin.config.write_text(on_disk + "\n[oops\n")
    shown = (await admin.request("GET", "/api/v1/config", Role.ADMIN))[1]["files"]["screener.toml"]
    assert all(secret not in shown for secret in (SALT, "hunter2", "ari-s3cret", "ari-url-pw", "ari-key-pw"))
    assert "[oops" in shown and "***" in shown


async def test_a_changed_secret_is_written_and_shown_only_as_changed(make_admin: AdminFactory) -> None:
    admin: Admin = await make_admin(config_text=with_secrets)
    body = await get_config(admin)
    edited = body["files"]["screener.toml"].replace('audit_salt = "***"', 'audit_salt = "a-new-salt-a-new-salt"')
    status, answer = await put_main(admin, edited, body["version"])
    assert status == 200, answer
    assert "a-new-salt" not in answer["diff"] and SALT not in answer["diff"]
    assert '-audit_salt = "***"' in answer["diff"] and '+audit_salt = "*** (changed)"' in answer["diff"]
    assert admin.holder.current.audit_salt.value == "a-new-salt-a-new-salt"
    assert admin.holder.current.ari.password.value == "ari-s3cret"
    [entry] = await admin_entries(admin)
    assert entry["action"] == "config.replace" and entry["id"] == answer["audit_id"]


async def test_a_masked_url_that_is_not_the_stored_one_is_refused(make_admin: AdminFactory) -> None:
    """The host changed but the password still reads ***: the stored password cannot be put back."""
    admin: Admin = await make_admin(config_text=with_secrets)
    on_disk = admin.config.read_text()
    body = await get_config(admin)
    edited = body["files"]["screener.toml"].replace("@127.0.0.1:", "@127.0.0.2:")
    status, answer = await put_main(admin, edited, body["version"])
    assert status == 422 and (answer["file"], answer["key"]) == ("screener.toml", "screener.redis_url"), answer
    assert "write the secret itself" in answer["problem"] and "hunter2" not in answer["detail"]
    assert admin.config.read_text() == on_disk


async def test_an_unknown_campaign_to_edit_is_the_services_one_unknown_campaign(admin: Admin) -> None:
    """One UnknownCampaign for every use case (the API answers it 404 here, where the campaign is the resource
    edited, and 400 where it is an input, such as a consent grant's)."""
    with pytest.raises(UnknownCampaign) as caught:
        await admin.server.context.editor.patch_campaign("nope", {"calls_per_second": 1})
    assert isinstance(caught.value, InvalidInput) and caught.value.name == "nope"
    assert str(caught.value) == "unknown campaign 'nope' (known: lab)"


async def test_an_edit_of_a_read_only_config_folder_is_409_and_changes_nothing(admin: Admin,
                                                                               monkeypatch: Any) -> None:
    """The config folder is read-only to the screener (systemd's ProtectSystem=strict without ReadWritePaths for
    it: every write fails with EROFS, even as root, which these tests run as: so the write is made to fail the
    way the kernel fails it). The second file cannot be written: the first is put back, 409 says why."""
    import errno

    from screener.service import config_edit

    body = await get_config(admin)
    preset_path = admin.config.parent / "presets" / "lab.toml"
    before = {path: path.read_text() for path in (admin.config, preset_path)}
    real_write = config_edit._write_atomically

    def read_only_presets(path: Any, text: str) -> None:
        if path.parent.name == "presets":
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        real_write(path, text)

    monkeypatch.setattr(config_edit, "_write_atomically", read_only_presets)
    files = {"screener.toml": body["files"]["screener.toml"].replace("Example Solar Inc. test lab", "Lab Two"),
             "presets/lab.toml": body["files"]["presets/lab.toml"].replace("max_calls = 3", "max_calls = 2")}
    status, answer, _ = await admin.request("PUT", "/api/v1/config", Role.ADMIN, json={"files": files},
                                            headers={"If-Match": body["version"]})
    assert status == 409 and answer["error"] == "config_read_only", answer
    assert "Read-only file system" in answer["detail"] and "nothing was changed" in answer["detail"]
    assert {path: path.read_text() for path in before} == before
    assert admin.holder.current.version == body["version"] and await admin_entries(admin) == []
    status, answer, _ = await admin.request("PATCH", "/api/v1/campaigns/lab", Role.SUPERVISOR,
                                            json={"calls_per_second": 7})
    assert status == 200  # the main file's folder is writable: a campaign edit goes through
