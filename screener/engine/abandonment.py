"""Abandoned calls (TSR 16 CFR 310.4(b)(1)(iv) and (b)(4)): whether an answered call was abandoned, a campaign's
rate over its rolling window, and the reasons they give. Pure: the counts and the call come in, words go out.

A call answered by the callee is abandoned when the agent is not connected within the policy's
``connect_within`` of the end of the disclosure (the prompt and its opt-out window: the screener's greeting),
including when the agent is never connected or the disclosure could not be played. It is not abandoned
when the callee opted out or hung up before the disclosure ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from screener.config.settings import AbandonmentRule
from screener.decision import AnsweredCall, Reason
from screener.engine.text import format_duration
from screener.reasons import ReasonCode

HOUR_S = 3_600


class CallOutcome(StrEnum):
    """How an answered call ended, for the accounting."""

    #: the agent was connected within the policy's time
    CONNECTED = "connected"
    #: the agent was connected, but later than the policy allows: abandoned
    CONNECTED_LATE = "connected_late"
    #: no agent was ever connected (the agent left during the disclosure, or was gone at its end): abandoned
    NOT_CONNECTED = "not_connected"
    #: the disclosure could not be played (or its result is unknown) and the call ended: abandoned
    NOT_DISCLOSED = "not_disclosed"
    #: the callee pressed the opt-out digit
    OPTED_OUT = "opted_out"
    #: the callee hung up before the disclosure ended
    CALLEE_HUNG_UP = "callee_hung_up"


ABANDONED = frozenset({CallOutcome.CONNECTED_LATE, CallOutcome.NOT_CONNECTED, CallOutcome.NOT_DISCLOSED})


@dataclass(frozen=True)
class Classified:
    outcome: CallOutcome
    #: milliseconds from the end of the disclosure to the agent's connection, when both are known
    connect_delay_ms: int | None = None

    @property
    def abandoned(self) -> bool:
        return self.outcome in ABANDONED


def classify(call: AnsweredCall, connect_within_s: float) -> Classified:
    """The outcome of an answered call under a policy that wants the agent within ``connect_within_s``."""
    if call.disclosure == "OPTOUT":
        return Classified(CallOutcome.OPTED_OUT)
    if call.disclosure == "HANGUP":
        return Classified(CallOutcome.CALLEE_HUNG_UP)
    if call.disclosure == "ABORTED":
        return Classified(CallOutcome.NOT_CONNECTED)
    if call.disclosure != "DONE" or call.handed_over_at is None:
        return Classified(CallOutcome.NOT_DISCLOSED)
    if call.connected_at is None:
        return Classified(CallOutcome.NOT_CONNECTED)
    # clocks of two processes may disagree by a few ms: a connection "before" the handover is an immediate one
    delay_ms = max(0, int((call.connected_at - call.handed_over_at).total_seconds() * 1000))
    if delay_ms > connect_within_s * 1000:
        return Classified(CallOutcome.CONNECTED_LATE, delay_ms)
    return Classified(CallOutcome.CONNECTED, delay_ms)


@dataclass(frozen=True)
class AbandonmentCounts:
    """Answered and abandoned calls of a campaign over a window."""

    answered: int = 0
    abandoned: int = 0

    def rate(self, min_answered: int = 1) -> float:
        """Abandoned per answered call, the denominator at least ``min_answered`` (0.0 with no answered call)."""
        if self.answered <= 0:
            return 0.0
        return self.abandoned / max(self.answered, min_answered)


def hour_of(when: datetime) -> int:
    """The hour bucket of a time (hours since the epoch)."""
    return int(when.timestamp()) // HOUR_S


def window_counts(buckets: Mapping[int, tuple[int, int]], now: datetime, window_s: int) -> AbandonmentCounts:
    """Sum the (answered, abandoned) hour buckets inside the rolling window that ends with ``now``'s hour."""
    last = hour_of(now)
    first = last - max(1, window_s // HOUR_S) + 1
    answered = abandoned = 0
    for hour, (n, a) in buckets.items():
        if first <= hour <= last:
            answered += n
            abandoned += a
    return AbandonmentCounts(answered, abandoned)


def over_limit(rule: AbandonmentRule, counts: AbandonmentCounts) -> bool:
    """True when the campaign's rate passes the policy's limit (a rate equal to the limit is within it)."""
    if rule.max_rate_percent is None or counts.answered <= 0:
        return False
    return counts.rate(rule.min_answered) * 100 > rule.max_rate_percent


def rate_reason(rule: AbandonmentRule, counts: AbandonmentCounts, campaign: str) -> Reason | None:
    """``abandonment_limit`` with the campaign's rate, its limit and their source, when over the limit."""
    if not over_limit(rule, counts):
        return None
    cite = f" ({rule.source})" if rule.source else ""
    return Reason(ReasonCode.ABANDONMENT_LIMIT,
                  f"campaign {campaign}: {counts.abandoned} of {counts.answered} answered calls abandoned in "
                  f"{format_duration(rule.window_s)} ({counts.rate(rule.min_answered) * 100:.1f} %, limit "
                  f"{rule.max_rate_percent:g} %){cite}")


def lockout_detail(rule: AbandonmentRule) -> str:
    """The detail of the per-number lock-out after an abandoned call (decide.lua writes the same text)."""
    cite = f" ({rule.source})" if rule.source else ""
    return f"abandoned call: no call by this campaign for {format_duration(rule.lockout_s)}{cite}"
