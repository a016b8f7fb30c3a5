"""/healthz, /readyz and /metrics: readiness names the failing part; the metrics parse with prometheus_client's
own parser and move when decisions, opt-outs and disclosures happen."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from screener.decision import AnsweredCall, DisclosureEvent
from screener.embedded_redis import EmbeddedRedis
from screener.service.complaints import ComplaintDesk
from screener.service.probes import ARI_CALLS, ARI_CONNECTED, FASTAGI_SESSIONS
from screener.service.screening import StoreUnavailable
from screener.service.tokens import Role
from screener.store import keys
from tests.admin.conftest import Admin, AdminFactory

ARI_ON = '\n[ari]\nenabled = true\nurl = "http://127.0.0.1:1"\n'


async def scrape(admin: Admin, role: Role | None = None) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics: (name, sorted labels) -> value."""
    status, text, headers = await admin.request("GET", "/metrics", role)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_healthz_and_readyz_need_no_token_by_default(admin: Admin) -> None:
    assert (await admin.request("GET", "/healthz"))[:2] == (200, {"status": "ok"})
    status, body, _ = await admin.request("GET", "/readyz")
    assert status == 200
    assert body == {"ready": True, "failing": [], "checks": {
        "config": {"ok": True, "version": admin.holder.current.version}, "redis": {"ok": True}}}


async def test_readyz_names_redis_when_it_does_not_answer(make_admin: AdminFactory,
                                                          private_redis: EmbeddedRedis) -> None:
    admin: Admin = await make_admin(redis_url=private_redis.url)
    assert (await admin.request("GET", "/readyz"))[0] == 200
    private_redis.pause()
    try:
        status, body, _ = await admin.request("GET", "/readyz")
        assert status == 503
        assert body["failing"] == ["redis"] and body["ready"] is False
        assert body["checks"]["redis"]["detail"] == "Redis did not answer within 150 ms"
        assert (await admin.request("GET", "/healthz"))[0] == 200  # the process itself still answers
    finally:
        private_redis.resume()
    private_redis.stop()
    status, body, _ = await admin.request("GET", "/readyz")
    assert status == 503 and body["failing"] == ["redis"] and body["checks"]["redis"]["detail"].startswith("Redis")


async def test_readyz_names_ari_when_enabled_and_not_connected(make_admin: AdminFactory) -> None:
    admin: Admin = await make_admin(config_text=lambda text: text + ARI_ON)
    status, body, _ = await admin.request("GET", "/readyz")
    assert status == 503 and body["failing"] == ["ari"]
    assert "not running" in body["checks"]["ari"]["detail"]
    connected = False
    admin.probes.add_check(ARI_CONNECTED, lambda: connected)
    status, body, _ = await admin.request("GET", "/readyz")
    assert status == 503 and body["checks"]["ari"]["detail"] == "not connected to Asterisk ARI at http://127.0.0.1:1"
    connected = True
    status, body, _ = await admin.request("GET", "/readyz")
    assert status == 200 and body["checks"]["ari"] == {"ok": True}


async def test_readyz_masks_credentials_in_the_ari_url(make_admin: AdminFactory) -> None:
    admin: Admin = await make_admin(config_text=lambda text: text + ARI_ON.replace("//", "//asterisk:s3cret@"))
    admin.probes.add_check(ARI_CONNECTED, lambda: False)
    status, body, _ = await admin.request("GET", "/readyz")
    assert status == 503
    assert body["checks"]["ari"]["detail"] == "not connected to Asterisk ARI at http://asterisk:***@127.0.0.1:1"


async def test_metrics_require_token_when_configured(make_admin: AdminFactory) -> None:
    admin: Admin = await make_admin(metrics_require_token=True)
    for path in ("/metrics", "/healthz", "/readyz"):
        status, body, _ = await admin.request("GET", path)
        assert status == 401 and body["error"] == "unauthorized", path
        status, _, _ = await admin.request("GET", path, Role.VIEWER)
        assert status == 200, path


async def test_metrics_parse_and_move_with_decisions(admin: Admin) -> None:
    before = await scrape(admin)
    assert value(before, "screener_config_info", version=admin.holder.current.version) == 1
    assert value(before, "screener_decisions_total", campaign="lab", verdict="allow", mode="live") == 0
    for _ in range(3):
        assert (await admin.decide()).allowed
    blocked = await admin.decide()
    assert not blocked.allowed
    status, _, _ = await admin.request("POST", "/api/v1/check", Role.SUPERVISOR,
                                       json={"number": "+12125550199", "campaign": "lab"})
    assert status == 200
    await admin.decide(campaign="no-such-campaign")
    after = await scrape(admin)
    assert value(after, "screener_decisions_total", campaign="lab", verdict="allow", mode="live") == 3
    assert value(after, "screener_decisions_total", campaign="lab", verdict="block", mode="live") == 1
    assert value(after, "screener_decisions_total", campaign="lab", verdict="allow", mode="dry_run") == 1
    assert value(after, "screener_decisions_total", campaign="(unknown)", verdict="block", mode="live") == 1
    assert value(after, "screener_decision_reasons_total", campaign="lab", reason="frequency_limit") == 1
    assert value(after, "screener_decision_reasons_total", campaign="(unknown)", reason="unknown_campaign") == 1
    assert value(after, "screener_decision_seconds_count") == 6
    assert value(after, "screener_decision_seconds_bucket", le="+Inf") == 6
    assert value(after, "screener_redis_up") == 1
    assert value(after, "screener_config_reload_failures_total") == 0


async def test_metrics_opt_outs_disclosures_lists_screeners_and_in_flight(admin: Admin) -> None:
    await admin.screener.opt_out("+12125550142", "lab", source="test")
    await admin.screener.record_disclosure(DisclosureEvent(number="+12125550142", campaign="lab", call_id="c1",
                                                           answer_to_prompt_ms=180, prompt_finished=True,
                                                           opted_out=True))
    admin.probes.add_gauge(FASTAGI_SESSIONS, lambda: 4)
    admin.probes.add_gauge(ARI_CALLS, lambda: 2)
    samples = await scrape(admin)
    assert value(samples, "screener_opt_outs_total", campaign="lab") == 1
    assert value(samples, "screener_answer_to_prompt_ms_count") == 1
    assert value(samples, "screener_answer_to_prompt_ms_bucket", le="200.0") == 1
    assert value(samples, "screener_answer_to_prompt_ms_bucket", le="100.0") == 0
    assert value(samples, "screener_dnc_list_size", list="internal") == 1
    assert value(samples, "screener_dnc_list_stale", list="internal") == 0
    assert value(samples, "screener_screeners_alive") == 1
    assert value(samples, "screener_fastagi_sessions_in_flight") == 4
    assert value(samples, "screener_ari_calls_in_flight") == 2


async def test_metrics_show_overdue_complaints_and_abandoned_call_rates(admin: Admin) -> None:
    # received in February 2026 from 12321: its forward deadline (24 February) has passed
    await ComplaintDesk(admin.screener).add("+8613800138000", source="12321",
                                            received=datetime(2026, 2, 12, 8, 30, tzinfo=UTC))
    answered = datetime.now(UTC) - timedelta(minutes=1)
    await admin.screener.record_answered_call(AnsweredCall("+12125550142", "lab", "c1", answered, "DONE",
                                                           answered + timedelta(seconds=5), None))
    samples = await scrape(admin)
    assert value(samples, "screener_complaints_open") == 1
    assert value(samples, "screener_complaints_overdue") == 1
    assert value(samples, "screener_abandonment_answered", campaign="lab") == 1
    assert value(samples, "screener_abandonment_rate_percent", campaign="lab") == 100
    assert value(samples, "screener_abandonment_over_limit", campaign="lab") == 0  # the lab policy sets no limit


async def test_metrics_count_reload_failures_and_redis_errors(make_admin: AdminFactory,
                                                              private_redis: EmbeddedRedis) -> None:
    admin: Admin = await make_admin(redis_url=private_redis.url)
    good = admin.config.read_text()
    admin.config.write_text(good + "\n[oops\n")
    assert not admin.holder.reload().ok
    private_redis.stop()
    decision = await admin.decide()
    assert decision.codes[0].value == "screening_unavailable"
    await asyncio.sleep(1.1)  # the Redis facts are read at most once a second
    samples = await scrape(admin)
    assert value(samples, "screener_config_reload_failures_total") == 1
    assert value(samples, "screener_config_last_reload_ok") == 0
    # a stopped server is a refused connection or a timeout, depending on the client's retries
    assert value(samples, "screener_redis_errors_total", kind="error") + value(
        samples, "screener_redis_errors_total", kind="timeout") == 1
    assert value(samples, "screener_redis_up") == 0


async def test_metrics_show_the_admission_bound_and_refusals(make_admin: AdminFactory,
                                                                       private_redis: EmbeddedRedis) -> None:
    admin: Admin = await make_admin(redis_url=private_redis.url, config_text=lambda text: text.replace(
        "time_budget_ms = 150", "time_budget_ms = 60000\nmax_in_flight = 2"))
    assert (await admin.decide("+12125550170")).allowed
    private_redis.pause()
    try:
        held = [asyncio.ensure_future(admin.decide(f"+1212555017{i}")) for i in (1, 2)]
        for _ in range(1000):
            await asyncio.sleep(0.01)
            if admin.screener.counters.in_flight == 2:
                break
        refused = await admin.decide("+12125550173")
        assert refused.reasons[0].detail == "overloaded"
        samples = await scrape(admin)  # /metrics answers while Redis is frozen (its facts are read in time)
    finally:
        private_redis.resume()
    await asyncio.gather(*held)
    assert value(samples, "screener_max_in_flight") == 2
    assert value(samples, "screener_decisions_in_flight") == 2
    assert value(samples, "screener_decisions_refused_overloaded_total") == 1
    assert value(samples, "screener_spool_pending_writes") == 1  # the refused call, noted for when it is over
    assert value(samples, "screener_spool_overflowed_total") == 0
    # a refusal is no Redis failure
    assert value(samples, "screener_redis_errors_total", kind="error") + value(
        samples, "screener_redis_errors_total", kind="timeout") == 0


async def test_metrics_show_the_spool_waiting_for_redis_and_what_it_refused(make_admin: AdminFactory,
                                                                            private_redis: EmbeddedRedis) -> None:
    admin: Admin = await make_admin(redis_url=private_redis.url)
    samples = await scrape(admin)
    assert value(samples, "screener_spool_pending_writes") == 0
    assert value(samples, "screener_spool_overflowed_total") == 0
    admin.screener.spool.max_items = 3
    private_redis.pause()  # Redis hangs: the opt-out and the blocked calls' audit entries wait in the spool
    try:
        with pytest.raises(StoreUnavailable, match="kept in the spool"):
            await admin.screener.opt_out("+12125550142", "lab", source="test")
        for _ in range(3):  # the third finds the spool full
            assert (await admin.decide("+12125550177")).codes[0].value == "screening_unavailable"
        samples = await scrape(admin)
    finally:
        private_redis.resume()
    assert value(samples, "screener_spool_pending_writes") == 3
    assert value(samples, "screener_spool_pending_opt_outs") == 1
    assert value(samples, "screener_spool_overflowed_total") == 1
    assert value(samples, "screener_spool_rejected_total") == 0
    assert await admin.screener.flush_pending() == 3  # Redis takes them again: the gauges fall back
    samples = await scrape(admin)
    assert value(samples, "screener_spool_pending_writes") == value(samples, "screener_spool_pending_opt_outs") == 0
    assert value(samples, "screener_spool_overflowed_total") == 1  # a counter: what was refused is lost


async def test_two_apps_keep_their_own_registries(make_admin: AdminFactory) -> None:
    first: Admin = await make_admin()
    second: Admin = await make_admin()
    await first.decide()
    assert value(await scrape(first), "screener_decisions_total", campaign="lab", verdict="allow", mode="live") == 1
    assert value(await scrape(second), "screener_decisions_total", campaign="lab", verdict="allow", mode="live") == 0


async def test_every_metric_in_the_shipped_rules_and_dashboard_is_exposed(admin: Admin) -> None:
    root = Path(__file__).resolve().parents[2] / "deploy"
    rules = (root / "prometheus" / "screener-rules.yml").read_text()
    dashboard = json.loads((root / "grafana" / "screener-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    # metric names, not the recording rules' level:metric:operation names
    named = set(re.findall(r"(?<![:\w])screener_[a-z_]+(?![:\w])", rules + "\n".join(exprs)))
    assert len(named) >= 12
    await admin.redis.hset(keys.dnc_meta_key("internal"), mapping={"version": "0", "imported_at": time.time()})
    await admin.decide()
    await admin.decide(campaign="nope")
    await admin.screener.opt_out("+12125550142", "lab", source="test")
    exposed = {name for name, _ in await scrape(admin)}
    assert named <= exposed, named - exposed
