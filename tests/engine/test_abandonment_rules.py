"""Abandoned calls, pure: which answered calls are abandoned, the rolling rate and its limit, the lock-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from screener.config.settings import AbandonmentRule
from screener.decision import AnsweredCall
from screener.engine.abandonment import (
    AbandonmentCounts,
    CallOutcome,
    classify,
    hour_of,
    over_limit,
    rate_reason,
    window_counts,
)
from screener.engine.facts import StoreFacts
from screener.engine.plan import StorePlan
from screener.engine.store_rules import evaluate
from screener.reasons import ReasonCode

T0 = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
US = AbandonmentRule(connect_within_s=2, max_rate_percent=3.0, source="16 CFR 310.4(b)(4)(i)")


def answered(disclosure: str = "DONE", handed_over_s: float | None = 6.0,
             connected_s: float | None = 6.1) -> AnsweredCall:
    return AnsweredCall(
        number="+12125550101", campaign="c", call_id="x", answered_at=T0, disclosure=disclosure,
        handed_over_at=None if handed_over_s is None else T0 + timedelta(seconds=handed_over_s),
        connected_at=None if connected_s is None else T0 + timedelta(seconds=connected_s))


def test_an_agent_connected_within_two_seconds_of_the_end_of_the_disclosure_is_no_abandoned_call() -> None:
    result = classify(answered(connected_s=8.0), 2)
    assert result.outcome is CallOutcome.CONNECTED and not result.abandoned and result.connect_delay_ms == 2000


def test_later_than_that_never_and_not_disclosed_are_abandoned() -> None:
    late = classify(answered(connected_s=8.001), 2)
    assert late.outcome is CallOutcome.CONNECTED_LATE and late.abandoned and late.connect_delay_ms == 2001
    assert classify(answered(connected_s=None), 2).outcome is CallOutcome.NOT_CONNECTED
    assert classify(answered("ABORTED", None, None), 2).outcome is CallOutcome.NOT_CONNECTED
    for failed in ("FAILED", "", "DONE"):
        call = answered(failed, None, None)
        assert classify(call, 2).outcome is CallOutcome.NOT_DISCLOSED and classify(call, 2).abandoned
    # a longer policy time makes the late call a connected one
    assert not classify(answered(connected_s=8.001), 3).abandoned


def test_the_callees_own_choices_are_not_abandoned_calls() -> None:
    assert classify(answered("OPTOUT", None, None), 2).outcome is CallOutcome.OPTED_OUT
    assert classify(answered("HANGUP", None, None), 2).outcome is CallOutcome.CALLEE_HUNG_UP
    assert not classify(answered("HANGUP", None, None), 2).abandoned


def test_a_connection_a_few_ms_before_the_handover_on_anothers_clock_is_immediate() -> None:
    assert classify(answered(connected_s=5.995), 2).connect_delay_ms == 0


def test_the_rolling_window_counts_whole_hours_ending_with_the_current_one() -> None:
    now = T0 + timedelta(minutes=30)
    h = hour_of(now)
    buckets = {h: (10, 1), h - 23: (5, 1), h - 24: (100, 50), h + 1: (7, 7)}
    assert window_counts(buckets, now, 86_400) == AbandonmentCounts(15, 2)
    assert window_counts(buckets, now, 25 * 3600) == AbandonmentCounts(115, 52)


def test_the_limit_is_passed_only_above_it_and_min_answered_is_the_least_denominator() -> None:
    assert not over_limit(US, AbandonmentCounts(100, 3))  # 3 % is within a 3 % limit
    assert over_limit(US, AbandonmentCounts(100, 4))
    assert not over_limit(US, AbandonmentCounts(0, 0))
    assert over_limit(US, AbandonmentCounts(1, 1))
    young = AbandonmentRule(max_rate_percent=3.0, min_answered=100)
    assert not over_limit(young, AbandonmentCounts(5, 3))  # 3 of at least 100
    assert over_limit(young, AbandonmentCounts(5, 4))
    assert not over_limit(AbandonmentRule(), AbandonmentCounts(10, 10))  # no limit: counted only
    reason = rate_reason(US, AbandonmentCounts(50, 2), "us-sales")
    assert reason is not None and reason.code is ReasonCode.ABANDONMENT_LIMIT
    assert reason.detail == ("campaign us-sales: 2 of 50 answered calls abandoned in 30d (4.0 %, limit 3 %) "
                             "(16 CFR 310.4(b)(4)(i))")
    assert rate_reason(US, AbandonmentCounts(50, 1), "us-sales") is None


def test_the_lock_out_after_an_abandoned_call_blocks_the_campaign_for_its_length() -> None:
    plan = StorePlan(campaign="c", subject="s", abandon_lockout_s=72 * 3600, abandon_lockout_detail="72h")
    now_ms = int(T0.timestamp() * 1000)
    within = StoreFacts(last_abandoned_ms=now_ms - (72 * 3600 - 1) * 1000)
    after = StoreFacts(last_abandoned_ms=now_ms - 72 * 3600 * 1000)
    assert [r.code for r in evaluate(plan, within, now_ms)] == [ReasonCode.ABANDONMENT_LIMIT]
    assert evaluate(plan, after, now_ms) == []
    assert evaluate(StorePlan(campaign="c", subject="s"), within, now_ms) == []
