"""What the supervisor page reads: status (config, reload, lists, screeners alive), statistics over every
screener, and the live decisions (server-sent events fed from the audit stream)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from screener.service.tokens import Role
from tests.admin.conftest import Admin, AdminFactory


async def eventually(admin: Admin, path: str, ok: Any, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        status, body, _ = await admin.request("GET", path, Role.VIEWER)
        assert status == 200, body
        if ok(body) or time.monotonic() > deadline:
            return body
        await asyncio.sleep(0.1)


async def test_status_shows_config_lists_and_screeners(make_admin: AdminFactory) -> None:
    admin: Admin = await make_admin(heartbeat_s=60)  # only a config change makes it beat again in this test
    status, body, _ = await admin.request("GET", "/api/v1/status", Role.VIEWER)
    assert status == 200
    assert body["config"] == {"version": admin.holder.current.version, "last_reload": None, "reload_failures": 0}
    [internal] = body["lists"]
    assert internal["name"] == "internal" and internal["count"] == 0 and internal["stale"] is None  # no max age
    [me] = body["screeners"]
    assert me["config_version"] == admin.holder.current.version and me["pid"] > 0
    await admin.request("PATCH", "/api/v1/campaigns/lab", Role.SUPERVISOR, json={"calls_per_second": 3})
    # the heartbeat follows a new config version at once, not at the next beat
    body = await eventually(admin, "/api/v1/status",
                            lambda b: b["screeners"][0]["config_version"] == admin.holder.current.version)
    assert body["screeners"][0]["config_version"] == body["config"]["version"]
    admin.config.write_text(admin.config.read_text() + "\n[oops\n")
    admin.holder.reload()
    status, body, _ = await admin.request("GET", "/api/v1/status", Role.VIEWER)
    last = body["config"]["last_reload"]
    assert last["ok"] is False and "invalid TOML" in last["error"] and body["config"]["reload_failures"] == 1


async def test_stats_count_live_decisions_per_campaign_region_and_opt_outs(admin: Admin) -> None:
    for _ in range(3):
        assert (await admin.decide("+12125550142")).allowed  # New York
    assert not (await admin.decide("+12125550142")).allowed  # the lab's 3 per hour
    assert (await admin.decide("+13055550100")).allowed  # Florida
    await admin.decide("+12125550177", commit=False)  # a dry run is not a call: not counted
    await admin.screener.opt_out("+13055550100", "lab", source="test")

    def counted(body: Any) -> bool:
        lab = body["hour"]["campaigns"].get("lab", {})
        return lab.get("allowed") == 4 and lab.get("opt_outs") == 1

    body = await eventually(admin, "/api/v1/stats", counted)
    for window in ("hour", "day"):
        lab = body[window]["campaigns"]["lab"]
        assert lab == {"allowed": 4, "blocked": 1, "opt_outs": 1,
                       "top_reasons": [{"code": "frequency_limit", "count": 1}]}, window
        regions = {r["region"]: r for r in body[window]["regions"]}
        assert regions["US-NY"] == {"region": "US-NY", "allowed": 3, "blocked": 1, "block_rate": 0.25}
        assert regions["US-FL"] == {"region": "US-FL", "allowed": 1, "blocked": 0, "block_rate": 0.0}
    assert body["opt_outs_today"] == 1


async def test_stats_and_presence_cover_every_screener(make_admin: AdminFactory) -> None:
    first: Admin = await make_admin()
    second: Admin = await make_admin()
    await first.decide("+12125550142")
    await second.decide("+12125550143")
    body = await eventually(first, "/api/v1/stats",
                            lambda b: b["hour"]["campaigns"].get("lab", {}).get("allowed") == 2)
    assert body["hour"]["campaigns"]["lab"]["allowed"] == 2
    status, body, _ = await second.request("GET", "/api/v1/status", Role.VIEWER)
    assert status == 200 and len(body["screeners"]) == 2


async def read_events(resp: aiohttp.ClientResponse, want: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s):
        event: dict[str, str] = {}
        while len(events) < want:
            line = (await resp.content.readline()).decode().rstrip("\n")
            if not line:
                if event.get("event") == "entry":
                    events.append({"id": event["id"], **json.loads(event["data"])})
                event = {}
            elif not line.startswith(":"):
                key, _, val = line.partition(": ")
                event[key] = val
    return events


async def test_live_feed_streams_decisions_as_they_happen(admin: Admin) -> None:
    earlier = await admin.decide("+12125550101")
    async with admin.session.get(admin.url + "/api/v1/live", headers=admin.headers(Role.VIEWER)) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/event-stream")
        config, backlog = await read_events(resp, 2)  # the first decision stored its config version first
        assert config["kind"] == "config" and backlog["id"] == earlier.audit_id
        decision = await admin.decide("+12125550142")
        [live] = await read_events(resp, 1)
    assert live["id"] == decision.audit_id
    assert live["number"] == "+1212*****42" and "+12125550142" not in json.dumps(live)
    assert "number_hash" not in live
    assert (live["kind"], live["campaign"], live["verdict"], live["mode"]) == ("decision", "lab", "allow", "live")
    assert live["reasons"] == []


async def test_live_feed_needs_a_viewer_token(admin: Admin) -> None:
    status, body, _ = await admin.request("GET", "/api/v1/live")
    assert status == 401 and body["error"] == "unauthorized"


async def test_live_feed_reads_the_stream_only_while_watched(admin: Admin) -> None:
    feed = admin.server.context.feed
    await admin.decide("+12125550101")  # the config version's entry is written with the first decision
    assert not feed.reading
    first, second = await feed.watch(), await feed.watch()
    assert feed.reading
    decision = await admin.decide()
    seen = [await first.next(10.0) for _ in range(3)]  # the backlog (the config entry, the first decision), then it
    assert [v["id"] for v in seen if v is not None][-1] == decision.audit_id
    first.close()
    assert feed.reading
    second.close()
    assert not feed.reading
