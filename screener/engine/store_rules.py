"""The store's rule in Python: which ``StoreFacts`` block a ``StorePlan``.

The store's Lua script implements exactly the same rule (the integration tests check they agree).
Reason details come from the plan only, so both sides produce the same text.
"""

from __future__ import annotations

from screener.config.settings import FrequencyScope
from screener.decision import Reason
from screener.engine.facts import Attempt, StoreFacts
from screener.engine.plan import StorePlan
from screener.reasons import ReasonCode

MIN_INTERVAL_DETAIL = "min interval"
COOLDOWN_DETAIL = "cool-down after refusal"


def _in_window(at_ms: int, now_ms: int, window_s: int) -> bool:
    return now_ms - window_s * 1000 < at_ms <= now_ms


def _matches(attempt: Attempt, scope: FrequencyScope, plan: StorePlan) -> bool:
    if scope is FrequencyScope.CAMPAIGN:
        return attempt.campaign == plan.campaign
    if scope is FrequencyScope.SUBJECT:
        return attempt.subject == plan.subject
    return True


def generated_detail(max_calls: int, window_s: int) -> str:
    """The detail of a frequency check that carries none: "3 per 86400s" (build_plan always sets one)."""
    return f"{max_calls} per {window_s}s"


def list_gone_detail(list_name: str) -> str:
    """The detail of a block because the list version the screener read was freed (decide.lua says the same)."""
    return f"list {list_name}: version freed by an import meanwhile"


def rate_detail(calls_per_second: int) -> str:
    return f"{calls_per_second} calls/s"


def concurrency_detail(max_concurrent_calls: int) -> str:
    return f"{max_concurrent_calls} concurrent calls"


def evaluate(plan: StorePlan, facts: StoreFacts, now_ms: int) -> list[Reason]:
    """Every reason the store's facts give to block the call, in canonical order."""
    reasons: list[Reason] = []
    for check in plan.dnc:
        if check.list_name in facts.dnc_gone:
            reasons.append(Reason(ReasonCode.SCREENING_UNAVAILABLE, list_gone_detail(check.list_name)))
        elif check.list_name in facts.dnc_hits and not (check.exempt_by_consent and facts.consent_valid):
            reasons.append(Reason(check.code, check.list_name))
    if plan.consent_required and not facts.consent_valid:
        reasons.append(Reason(ReasonCode.NO_CONSENT, plan.consent_purpose or ""))
    for freq in plan.frequency:
        count = sum(
            1
            for attempt in facts.attempts
            if _in_window(attempt.at_ms, now_ms, freq.window_s) and _matches(attempt, freq.scope, plan)
        )
        if count >= freq.max_calls:
            detail = freq.detail or generated_detail(freq.max_calls, freq.window_s)
            reasons.append(Reason(ReasonCode.FREQUENCY_LIMIT, detail))
    if plan.min_interval_s > 0 and any(
        _in_window(attempt.at_ms, now_ms, plan.min_interval_s) for attempt in facts.attempts
    ):
        reasons.append(Reason(ReasonCode.FREQUENCY_LIMIT, MIN_INTERVAL_DETAIL))
    if (
        plan.refusal_cooldown_s > 0
        and facts.last_refusal_ms is not None
        and _in_window(facts.last_refusal_ms, now_ms, plan.refusal_cooldown_s)
    ):
        reasons.append(Reason(ReasonCode.FREQUENCY_LIMIT, COOLDOWN_DETAIL))
    if plan.calls_per_second > 0 and facts.rate_count >= plan.calls_per_second:
        reasons.append(Reason(ReasonCode.RATE_LIMIT, rate_detail(plan.calls_per_second)))
    if (
        plan.abandon_lockout_s > 0
        and facts.last_abandoned_ms is not None
        and _in_window(facts.last_abandoned_ms, now_ms, plan.abandon_lockout_s)
    ):
        reasons.append(Reason(ReasonCode.ABANDONMENT_LIMIT, plan.abandon_lockout_detail))
    if plan.max_concurrent_calls > 0 and facts.calls_in_flight >= plan.max_concurrent_calls:
        reasons.append(Reason(ReasonCode.RATE_LIMIT, concurrency_detail(plan.max_concurrent_calls)))
    return reasons
