"""The screening service against real Redis: every reason code, precedence, fail-closed. The store's cases run
on every topology (one server, Sentinel, Cluster: the ``topology`` fixture); the pure rules' on one server."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis

from screener.decision import ScreenRequest
from screener.embedded_redis import EmbeddedRedis
from screener.reasons import ReasonCode as R
from screener.reasons import Verdict
from screener.service.audit import AuditTrail
from screener.service.audit_fields import number_hash
from screener.service.audit_verify import Verifier
from screener.service.screening import Screener, connect
from screener.store import audit, consent, dnc, keys
from tests.conftest import StoreTopology
from tests.factories import StaticHolder, make_settings

#: Wednesday 2 December 2026, 15:00 in New York (20:00 UTC)
WED_3PM_NY = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
NUMBER = "+12125550142"


async def mark_imported(redis: Any, name: str) -> None:
    """Give a registry list metadata that says it was imported just now (so it is not stale)."""
    await redis.hset(keys.dnc_meta_key(name), mapping={"version": "0", "imported_at": time.time(), "source": "test"})


@pytest.fixture
async def screener(redis_server: EmbeddedRedis, redis_client: aioredis.Redis) -> AsyncIterator[Screener]:
    await mark_imported(redis_client, "registry")
    s = Screener(StaticHolder(make_settings()), connect(redis_server.url, 0.15))  # type: ignore[arg-type]
    yield s
    await s.aclose()


@pytest.fixture
async def any_screener(topology: StoreTopology) -> AsyncIterator[Screener]:
    """A screener on each topology, with a budget that holds on a loaded machine (a cluster client's first
    decision reads the slot map)."""
    await mark_imported(topology.client, "registry")
    s = Screener(StaticHolder(make_settings(time_budget_ms=2000)), connect(topology.url, 2.0))
    yield s
    await s.aclose()


async def latest_entries(topology: StoreTopology, number: str, count: int) -> list[audit.AuditEntry]:
    """The latest ``count`` entries of the number's audit stream (its group's, in its slot on a Cluster), oldest
    first."""
    return (await audit.tail(topology.client, count, [keys.audit_group(number)]))


async def decide(s: Screener, campaign: str, number: str = NUMBER, at: datetime = WED_3PM_NY,
                 commit: bool = False) -> Any:
    return await s.screen(ScreenRequest(dialed=number, campaign=campaign, at=at, commit=commit))


def consent_entry(record: consent.ConsentRecord, action: str) -> dict[str, str]:
    """The audit entry of a consent change (the service builds a fuller one)."""
    return {"kind": "consent", "action": action, "purpose": record.purpose}


def codes(decision: Any) -> set[R]:
    return set(decision.codes)


async def test_clean_number_is_allowed_with_caller_id_and_audited(any_screener: Screener,
                                                                  topology: StoreTopology) -> None:
    d = await decide(any_screener, "open")
    assert d.verdict is Verdict.ALLOW and d.reasons == ()
    assert d.number == NUMBER and d.caller_id == "+12025550100"
    assert d.disclosure is not None and d.disclosure.opt_out_digit == "9"
    [entry] = await latest_entries(topology, NUMBER, 1)
    assert entry.id == d.audit_id
    assert entry.verdict == "allow" and entry.fields["mode"] == "dry_run" and entry.group == "+1212"
    assert entry.fields["config_version"] == "test0001"
    assert NUMBER not in str(entry.fields) and entry.fields["number_hash"] == number_hash(NUMBER, "test-salt")


async def test_invalid_number_and_unknown_campaign(screener: Screener) -> None:
    assert codes(await decide(screener, "open", number="12")) == {R.INVALID_NUMBER}
    assert codes(await decide(screener, "open", number="+1 999 000 0000")) == {R.INVALID_NUMBER}
    d = await decide(screener, "no-such-campaign")
    assert d.verdict is Verdict.BLOCK and codes(d) == {R.UNKNOWN_CAMPAIGN}


async def test_emergency_number_beats_everything(screener: Screener, redis_client: Any) -> None:
    night = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)  # 03:00 in New York: outside hours
    d = await decide(screener, "us", number="911", at=night)
    assert d.verdict is Verdict.ALLOW and codes(d) == {R.EMERGENCY_NUMBER}
    assert (await decide(screener, "no-such-campaign", number="911")).verdict is Verdict.ALLOW
    d = await decide(screener, "cn", number="110", commit=True)
    assert d.verdict is Verdict.ALLOW and codes(d) == {R.EMERGENCY_NUMBER}
    assert await redis_client.keys("scr:{*}:att:*") == []  # never counted


async def test_each_dnc_kind_blocks_and_all_reasons_are_reported(any_screener: Screener,
                                                                 topology: StoreTopology) -> None:
    for name in ("internal", "camp-list", "registry"):
        await dnc.add_numbers(topology.client, name, [NUMBER])
    d = await decide(any_screener, "all-lists")
    assert codes(d) == {R.DNC_INTERNAL, R.DNC_CAMPAIGN, R.DNC_REGISTRY}
    assert [r.code for r in d.reasons] == [R.DNC_INTERNAL, R.DNC_CAMPAIGN, R.DNC_REGISTRY]
    assert (await decide(any_screener, "open", number="+12125550143")).allowed


async def test_consent_exempts_registry_but_never_internal(any_screener: Screener, topology: StoreTopology) -> None:
    await dnc.add_numbers(topology.client, "registry", [NUMBER])
    assert codes(await decide(any_screener, "exempt")) == {R.DNC_REGISTRY}
    granted = int((WED_3PM_NY - timedelta(days=1)).timestamp() * 1000)
    record = consent.ConsentRecord(NUMBER, "sales", "web form 7", granted_ms=granted)
    await consent.grant(topology.client, record, consent_entry)
    assert (await decide(any_screener, "exempt")).allowed
    await dnc.add_numbers(topology.client, "internal", [NUMBER])
    assert codes(await decide(any_screener, "exempt")) == {R.DNC_INTERNAL}


async def test_consent_required_valid_expired_revoked(any_screener: Screener, topology: StoreTopology) -> None:
    assert codes(await decide(any_screener, "consent")) == {R.NO_CONSENT}
    day = 86_400_000
    t = int(WED_3PM_NY.timestamp() * 1000)
    await consent.grant(topology.client, consent.ConsentRecord(NUMBER, "sales", "form", granted_ms=t - day),
                        consent_entry)
    assert codes(await decide(any_screener, "consent")) == {R.NO_CONSENT}  # wrong purpose
    await consent.grant(topology.client, consent.ConsentRecord(NUMBER, "service", "form", granted_ms=t - day,
                                                            expires_ms=t + day), consent_entry)
    assert (await decide(any_screener, "consent")).allowed
    assert codes(await decide(any_screener, "consent", at=WED_3PM_NY + timedelta(days=2))) == {R.NO_CONSENT}
    await consent.revoke(topology.client, NUMBER, "service", t - 1000, consent_entry)
    assert codes(await decide(any_screener, "consent")) == {R.NO_CONSENT}


async def test_calling_hours_quiet_hours_and_state_rules(screener: Screener) -> None:
    ny_10pm = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)
    assert codes(await decide(screener, "us", at=ny_10pm)) == {R.OUTSIDE_CALLING_HOURS}
    ny_1pm = datetime(2026, 12, 2, 18, 0, tzinfo=UTC)
    assert codes(await decide(screener, "quiet", at=ny_1pm)) == {R.QUIET_HOURS}
    # 20:30 in Miami: inside the federal window, outside Florida's 8-20
    miami = "+13055550142"
    fl_830pm = datetime(2026, 12, 3, 1, 30, tzinfo=UTC)
    assert codes(await decide(screener, "us", number=miami, at=fl_830pm)) == {R.OUTSIDE_CALLING_HOURS}
    assert (await decide(screener, "us", at=fl_830pm)).allowed  # New York number at 20:30


async def test_multi_zone_number_needs_every_zone_open(screener: Screener) -> None:
    # a toll-free number may be anywhere from Guam to Newfoundland: 15:00 New York is night in Guam
    d = await decide(screener, "us", number="+18005550142")
    assert codes(d) == {R.OUTSIDE_CALLING_HOURS}


async def test_cn_holiday_and_make_up_working_day(screener: Screener, redis_client: Any) -> None:
    cn = "+8613800138000"
    t = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    await consent.grant(redis_client, consent.ConsentRecord(cn, "service", "app", granted_ms=t), consent_entry)
    spring_festival = datetime(2026, 2, 17, 2, 0, tzinfo=UTC)  # 10:00 Beijing, a public holiday
    assert codes(await decide(screener, "cn", number=cn, at=spring_festival)) == {R.HOLIDAY}
    makeup_saturday = datetime(2026, 2, 14, 2, 0, tzinfo=UTC)  # 10:00 Beijing, a make-up working day
    assert (await decide(screener, "cn", number=cn, at=makeup_saturday)).allowed
    ordinary_saturday = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)
    assert codes(await decide(screener, "cn", number=cn, at=ordinary_saturday)) == {R.HOLIDAY}
    lunch = datetime(2026, 3, 4, 4, 30, tzinfo=UTC)  # 12:30 Beijing, a Wednesday
    assert codes(await decide(screener, "cn", number=cn, at=lunch)) == {R.QUIET_HOURS}


async def test_stale_registry_blocks(any_screener: Screener, topology: StoreTopology) -> None:
    await topology.client.delete(keys.dnc_meta_key("registry"))
    any_screener.invalidate_list_states()
    assert R.DNC_LIST_STALE in codes(await decide(any_screener, "all-lists"))


async def test_frequency_window_counts_only_live_attempts(any_screener: Screener) -> None:
    for _ in range(3):
        assert (await decide(any_screener, "limited")).allowed  # dry runs reserve nothing
    for i in range(3):
        d = await decide(any_screener, "limited", at=WED_3PM_NY + timedelta(minutes=i), commit=True)
        assert d.allowed and d.attempt_id
    d = await decide(any_screener, "limited", at=WED_3PM_NY + timedelta(minutes=5), commit=True)
    assert codes(d) == {R.FREQUENCY_LIMIT} and d.attempt_id is None
    # the window slides: an hour after the first attempt, one slot is free again
    assert (await decide(any_screener, "limited", at=WED_3PM_NY + timedelta(minutes=61))).allowed
    # --at in the past sees only the attempts made before it
    assert (await decide(any_screener, "limited", at=WED_3PM_NY - timedelta(minutes=1))).allowed


async def test_min_interval_and_refusal_cooldown(any_screener: Screener) -> None:
    assert (await decide(any_screener, "interval", commit=True)).allowed
    assert codes(await decide(any_screener, "interval", at=WED_3PM_NY + timedelta(minutes=5))) == {R.FREQUENCY_LIMIT}
    assert (await decide(any_screener, "interval", at=WED_3PM_NY + timedelta(minutes=11))).allowed
    other = "+12125550199"
    any_screener._clock = lambda: WED_3PM_NY  # the refusal happens at the decision time
    await any_screener.opt_out(other, "limited", source="test")
    d = await decide(any_screener, "limited", number=other, at=WED_3PM_NY + timedelta(days=1))
    assert codes(d) == {R.DNC_INTERNAL, R.FREQUENCY_LIMIT}


@pytest.mark.parametrize("topology", ["server", "sentinel"], indirect=True)
async def test_rate_limit_per_campaign_second(any_screener: Screener) -> None:
    # exact, in decide.lua, per second of the decision's time (a Cluster's allowance counts the master's real
    # seconds instead: tests/service/test_campaign_limits.py)
    screener = any_screener
    results = [await decide(screener, "rated", number=f"+1212555{i:04d}", commit=True) for i in range(3)]
    assert [d.allowed for d in results] == [True, True, False]
    assert codes(results[2]) == {R.RATE_LIMIT}
    assert (await decide(screener, "rated", at=WED_3PM_NY + timedelta(seconds=1), commit=True)).allowed


async def test_opt_out_blocks_the_next_call_and_is_audited(any_screener: Screener, topology: StoreTopology) -> None:
    assert (await decide(any_screener, "open")).allowed
    await any_screener.opt_out(NUMBER, "open", source="test", call_id="call-1")
    assert await dnc.contains(topology.client, "internal", NUMBER)
    assert R.DNC_INTERNAL in codes(await decide(any_screener, "open"))
    kinds = [e.kind for e in await audit.tail(topology.client, 3)]
    assert audit.OPT_OUT in kinds


async def test_script_is_reloaded_after_script_flush(any_screener: Screener, topology: StoreTopology) -> None:
    assert (await decide(any_screener, "open")).allowed
    await topology.script_flush()
    assert (await decide(any_screener, "open")).allowed


def _race(url: str, tasks: int, out: Any) -> None:
    async def run() -> int:
        s = Screener(StaticHolder(make_settings(time_budget_ms=5000)), connect(url, 5))  # type: ignore[arg-type]
        results = await asyncio.gather(*(decide(s, "limited", commit=True) for _ in range(tasks)))
        await s.aclose()
        return sum(d.allowed for d in results)

    out.put(asyncio.run(run()))


async def test_two_processes_never_both_take_the_last_attempt(topology: StoreTopology) -> None:
    # two screener processes, 20 concurrent live decisions each, for a number allowed 3 calls per hour
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(topology.url, 20, queue)) for _ in range(2)]
    for p in procs:
        p.start()
    allowed = [queue.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(10)
    assert sum(allowed) == 3
    assert await topology.client.zcard(keys.attempts_key(NUMBER)) == 3


async def test_redis_stopped_blocks_with_screening_unavailable(private_redis: EmbeddedRedis) -> None:
    s = Screener(StaticHolder(make_settings()), connect(private_redis.url, 0.15))  # type: ignore[arg-type]
    await decide(s, "open")  # the client has connected once before Redis goes away
    private_redis.stop()
    started = time.monotonic()
    d = await decide(s, "open", commit=True)
    assert d.verdict is Verdict.BLOCK and codes(d) == {R.SCREENING_UNAVAILABLE}
    assert time.monotonic() - started < 5  # blocked, not hung
    await s.aclose()


async def test_redis_too_slow_blocks_within_budget(private_redis: EmbeddedRedis) -> None:
    s = Screener(StaticHolder(make_settings()), connect(private_redis.url, 0.15))  # type: ignore[arg-type]
    await mark_imported(s.redis, "registry")
    assert (await decide(s, "open")).allowed
    private_redis.pause()
    try:
        started = time.monotonic()
        d = await decide(s, "open", commit=True)
        assert codes(d) == {R.SCREENING_UNAVAILABLE}
        assert "150 ms" in d.reasons[0].detail
        assert time.monotonic() - started < 5  # blocked, not hung
    finally:
        private_redis.resume()
    await s.aclose()


async def test_decisions_cut_at_their_deadline_leave_the_connection_count_unchanged_and_write_nothing_late(
        private_redis: EmbeddedRedis) -> None:
    observer = aioredis.Redis(port=private_redis.port)
    s = Screener(StaticHolder(make_settings(max_in_flight=1000)), connect(private_redis.url, 0.15))  # type: ignore[arg-type]

    async def live(number: str) -> Any:  # at Redis's own clock, as a call is decided
        return await s.screen(ScreenRequest(dialed=number, campaign="open", call_id=number))

    async def connections() -> tuple[int, int]:
        stats, clients = await observer.info("stats"), await observer.info("clients")
        return int(stats["total_connections_received"]), int(clients["connected_clients"])

    try:
        await s.open()
        assert (await live(NUMBER)).allowed
        await s.redis.ping()  # the client the spool is written with has its connection too
        before = await connections()
        cut_numbers = [f"+1212555{i:04d}" for i in range(150)]
        private_redis.pause()
        try:
            stalled = await asyncio.gather(*(live(n) for n in cut_numbers))
            await asyncio.sleep(0.2)  # the stall outlasts their deadlines
        finally:
            private_redis.resume()
        assert {tuple(d.codes) for d in stalled} == {(R.SCREENING_UNAVAILABLE,)}
        # after Redis is back, 150 concurrent decisions all get answers on the same connection (a generous
        # budget here: this asserts answers, not speed)
        s.holder.current = make_settings(time_budget_ms=10_000, max_in_flight=1000)  # type: ignore[misc]
        answered = await asyncio.gather(*(live(f"+1212556{i:04d}") for i in range(150)))
        assert all(d.allowed for d in answered), {r.detail for d in answered for r in d.reasons}
        assert await connections() == before  # not one connection opened, none left behind
        # the cut decisions' scripts ran after the screener had blocked their calls: they expired and wrote
        # nothing; each cut call has one audit entry, its block, from the spool
        await s.flush_pending()
        trail = AuditTrail(observer, "test-salt")
        for number in cut_numbers[:20]:
            entries = [e async for e in trail.entries(number=number)]
            assert [(e.verdict, e.reserved) for e in entries] == [("block", False)], number
        report = await Verifier(trail).run()  # the spooled blocks joined the chain; no late script broke it
        assert report.ok, [b.line() for b in report.breaks]
    finally:
        await s.aclose()
        await observer.aclose()


async def test_unknown_campaign_lets_through_only_an_unambiguous_emergency_number(
        redis_server: EmbeddedRedis, redis_client: Any) -> None:
    from tests.factories import campaign

    settings = make_settings(campaigns={"lu": campaign("lu", region="LU"), "in": campaign("in", region="IN")})
    s = Screener(StaticHolder(settings), connect(redis_server.url, 0.15))  # type: ignore[arg-type]
    # 2611 is an emergency number in India and an ordinary number in Luxembourg: not let through unscreened
    assert codes(await decide(s, "typo", number="2611")) == {R.UNKNOWN_CAMPAIGN}
    assert codes(await decide(s, "", number="+112")) == {R.UNKNOWN_CAMPAIGN}
    assert codes(await decide(s, "", number="112")) == {R.EMERGENCY_NUMBER}
    for disguised in ("*911", "911#", "9*1*1", "#112", "1 1 2"):  # service codes around the digits: screened
        assert codes(await decide(s, "", number=disguised)) == {R.UNKNOWN_CAMPAIGN}, disguised
    await s.aclose()


async def test_a_list_added_by_a_reload_is_looked_up_at_once(redis_server: EmbeddedRedis, redis_client: Any) -> None:
    from dataclasses import replace

    from screener.config.settings import DncList, ListKind

    await dnc.add_numbers(redis_client, "complaints", [NUMBER])
    before = make_settings()
    s = Screener(StaticHolder(before), connect(redis_server.url, 0.15))  # type: ignore[arg-type]
    assert (await decide(s, "open")).allowed  # list states are now cached, without "complaints"
    lists = {**before.lists, "complaints": DncList("complaints", ListKind.CAMPAIGN, "complaints")}
    campaigns = {**before.campaigns, "open": replace(before.campaigns["open"], dnc_lists=("internal", "complaints"))}
    s.holder.current = replace(before, lists=lists, campaigns=campaigns)  # type: ignore[misc]
    assert codes(await decide(s, "open")) == {R.DNC_CAMPAIGN}
    await s.aclose()


async def test_live_decisions_use_the_redis_clock_so_a_screener_running_ahead_is_seen(
        redis_server: EmbeddedRedis, redis_client: Any) -> None:
    ahead = Screener(StaticHolder(make_settings()), connect(redis_server.url, 0.15))  # type: ignore[arg-type]
    behind = Screener(StaticHolder(make_settings()), connect(redis_server.url, 0.15))  # type: ignore[arg-type]
    ahead._clock = lambda: datetime.now(UTC) + timedelta(seconds=300)
    behind._clock = lambda: datetime.now(UTC) - timedelta(seconds=300)
    live = ScreenRequest(dialed=NUMBER, campaign="interval", commit=True)  # no --at: a live call
    assert (await ahead.screen(live)).allowed
    assert codes(await behind.screen(live)) == {R.FREQUENCY_LIMIT}  # the 10-minute minimum interval
    await ahead.aclose()
    await behind.aclose()


async def test_a_refusal_is_kept_as_long_as_the_longest_cool_down(
        redis_server: EmbeddedRedis, redis_client: Any) -> None:
    from dataclasses import replace

    base = make_settings()
    long_cooldown = replace(base.policies["limited"], refusal_cooldown_s=183 * 86_400)
    settings = replace(base, policies={**base.policies, "limited": long_cooldown})
    s = Screener(StaticHolder(settings), connect(redis_server.url, 0.15))  # type: ignore[arg-type]
    await s.opt_out(NUMBER, "limited", source="test")
    assert await redis_client.pttl(keys.refusal_key(NUMBER)) > 182 * 86_400_000
    await s.aclose()


async def test_engine_and_script_disagreeing_blocks_the_call(any_screener: Screener, topology: StoreTopology,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    import screener.service.screening as service  # where the service looks the engine's evaluate() up
    from screener.decision import Reason

    # the script finds the number on the internal list, the (broken) engine sees nothing: blocked
    await dnc.add_numbers(topology.client, "internal", [NUMBER])
    monkeypatch.setattr(service, "evaluate", lambda plan, facts, now_ms: [])
    assert codes(await decide(any_screener, "open", commit=True)) == {R.DNC_INTERNAL}
    # the engine finds a reason the script did not: blocked (the attempt the script reserved stays counted)
    other = "+12125550177"
    monkeypatch.setattr(service, "evaluate", lambda plan, facts, now_ms: [Reason(R.RATE_LIMIT, "engine")])
    d = await decide(any_screener, "open", number=other, commit=True)
    assert d.verdict is Verdict.BLOCK and codes(d) == {R.RATE_LIMIT}


async def test_a_request_with_a_problem_is_blocked_as_invalid_and_audited(screener: Screener,
                                                                          redis_client: Any) -> None:
    request = ScreenRequest(dialed="2125550142", campaign="open", at=WED_3PM_NY, commit=True,
                            problem="a line that is not agi_* after agi_callerid")
    d = await screener.screen(request)
    assert d.verdict is Verdict.BLOCK and codes(d) == {R.INVALID_REQUEST} and d.attempt_id is None
    [entry] = await audit.tail(redis_client, 1)
    assert entry.id == d.audit_id and entry.fields["verdict"] == "block"
    assert entry.reasons == [("invalid_request", "a line that is not agi_* after agi_callerid")]
    assert entry.fields["number_hash"] == number_hash(NUMBER, "test-salt")  # found under the number
    assert await redis_client.keys("scr:{*}:att:*") == []  # nothing reserved


async def test_a_decision_the_store_wrote_no_audit_entry_for_is_blocked(screener: Screener, monkeypatch: Any) -> None:
    """Whatever the reason the script appended no entry (not only a full stream), the call is not allowed."""
    import dataclasses

    from screener.service import screening

    real = screening.run_decision

    async def without_entry(*args: Any, **kwargs: Any) -> Any:
        outcome = await real(*args, **kwargs)
        return dataclasses.replace(outcome, audit_id="", reasons=())

    monkeypatch.setattr(screening, "run_decision", without_entry)
    d = await screener.screen(ScreenRequest(dialed="+12125550177", campaign="open", commit=True))
    assert not d.allowed and d.codes == (R.SCREENING_UNAVAILABLE,)
    assert "no audit entry was written" in d.reasons[0].detail
