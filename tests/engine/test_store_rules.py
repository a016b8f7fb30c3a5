"""evaluate: the store's facts against the plan (the Lua script implements the same rule)."""

from __future__ import annotations

import pytest

from screener.config.settings import FrequencyScope
from screener.decision import Reason
from screener.engine import evaluate
from screener.engine.facts import Attempt, StoreFacts
from screener.engine.plan import DncCheck, FrequencyCheck, StorePlan
from screener.engine.store_rules import COOLDOWN_DETAIL, MIN_INTERVAL_DETAIL
from screener.reasons import ReasonCode as R

NOW = 1_800_000_000_000  # ms
H = 3_600_000
PLAN = StorePlan(
    campaign="us-sales",
    subject="solar",
    dnc=(
        DncCheck("internal", R.DNC_INTERNAL),
        DncCheck("partner", R.DNC_CAMPAIGN),
        DncCheck("us-national", R.DNC_REGISTRY, exempt_by_consent=True),
        DncCheck("state-reg", R.DNC_REGISTRY),
    ),
    consent_purpose="solar",
)


def codes(plan: StorePlan, facts: StoreFacts, now_ms: int = NOW) -> list[R]:
    return [r.code for r in evaluate(plan, facts, now_ms)]


DNC_TABLE = [
    # (hits, consent_valid, expected)
    ((), False, []),
    (("internal",), False, [R.DNC_INTERNAL]),
    (("internal",), True, [R.DNC_INTERNAL]),  # consent never overrides the internal list
    (("partner",), True, [R.DNC_CAMPAIGN]),
    (("us-national",), False, [R.DNC_REGISTRY]),
    (("us-national",), True, []),  # a registry the campaign lets consent exempt
    (("state-reg",), True, [R.DNC_REGISTRY]),  # a registry without the exemption
    (("internal", "partner", "us-national", "state-reg"), False,
     [R.DNC_INTERNAL, R.DNC_CAMPAIGN, R.DNC_REGISTRY, R.DNC_REGISTRY]),
    (("other-campaigns-list",), False, []),  # hits in lists the plan does not check are ignored
]  # fmt: skip


@pytest.mark.parametrize(("hits", "consent", "expected"), DNC_TABLE)
def test_dnc(hits: tuple[str, ...], consent: bool, expected: list[R]) -> None:
    assert codes(PLAN, StoreFacts(dnc_hits=hits, consent_valid=consent)) == expected


def test_dnc_detail_is_the_list_name() -> None:
    assert evaluate(PLAN, StoreFacts(dnc_hits=("partner",)), NOW) == [Reason(R.DNC_CAMPAIGN, "partner")]


def test_a_list_whose_version_was_freed_blocks_as_unavailable_even_with_consent() -> None:
    """A list version freed since the screener read it cannot say whether the number is listed (decide.lua finds
    its freed marker): the call is blocked, screening_unavailable, whatever consent or other lists say."""
    facts = StoreFacts(dnc_gone=("us-national",), consent_valid=True)
    assert evaluate(PLAN, facts, NOW) == [Reason(R.SCREENING_UNAVAILABLE, "list us-national: version freed by an "
                                                                          "import meanwhile")]
    both = StoreFacts(dnc_hits=("internal",), dnc_gone=("partner",))
    assert codes(PLAN, both) == [R.DNC_INTERNAL, R.SCREENING_UNAVAILABLE]


def test_consent() -> None:
    required = StorePlan("c", "s", consent_purpose="service", consent_required=True)
    assert evaluate(required, StoreFacts(consent_valid=False), NOW) == [Reason(R.NO_CONSENT, "service")]
    assert codes(required, StoreFacts(consent_valid=True)) == []
    assert codes(StorePlan("c", "s"), StoreFacts(consent_valid=False)) == []


def test_internal_dnc_and_no_consent_are_both_reported() -> None:
    plan = StorePlan("c", "s", dnc=(DncCheck("internal", R.DNC_INTERNAL),), consent_purpose="p", consent_required=True)
    assert codes(plan, StoreFacts(dnc_hits=("internal",))) == [R.DNC_INTERNAL, R.NO_CONSENT]


def _attempts(*spec: tuple[int, str, str]) -> tuple[Attempt, ...]:
    return tuple(Attempt(at_ms, campaign, subject) for at_ms, campaign, subject in spec)


FREQ = FrequencyCheck(FrequencyScope.ANY, 3600, 3, "3 per 1h (any)")

WINDOW_TABLE = [
    # attempts relative to NOW (ms), expected count reaches 3?
    ((-1, -2, -3), True),
    ((-1, -2), False),
    ((-1, -2, -H), False),  # exactly one window ago: outside (start exclusive)
    ((-1, -2, -H + 1), True),  # just inside
    ((0, -2, -3), True),  # an attempt at "now" counts (end inclusive)
    ((1, -2, -3), False),  # an attempt after "now" (a dry run in the past) does not
    ((-1, -2, -3, -4), True),
]


@pytest.mark.parametrize(("offsets", "blocked"), WINDOW_TABLE)
def test_sliding_window_boundaries(offsets: tuple[int, ...], blocked: bool) -> None:
    plan = StorePlan("us-sales", "solar", frequency=(FREQ,))
    facts = StoreFacts(attempts=_attempts(*((NOW + o, "x", "y") for o in sorted(offsets))))
    assert codes(plan, facts) == ([R.FREQUENCY_LIMIT] if blocked else [])


ATTEMPTS = _attempts((NOW - 3, "us-sales", "solar"), (NOW - 2, "us-sales", "solar"), (NOW - 1, "other", "solar"),
                     (NOW - 4, "other", "windows"))  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "max_calls", "blocked"),
    [
        (FrequencyScope.CAMPAIGN, 2, True),  # 2 of this campaign
        (FrequencyScope.CAMPAIGN, 3, False),
        (FrequencyScope.SUBJECT, 3, True),  # 3 on the subject "solar", from two campaigns
        (FrequencyScope.SUBJECT, 4, False),
        (FrequencyScope.ANY, 4, True),  # 4 in all
        (FrequencyScope.ANY, 5, False),
    ],
)
def test_scopes(scope: FrequencyScope, max_calls: int, blocked: bool) -> None:
    plan = StorePlan("us-sales", "solar", frequency=(FrequencyCheck(scope, 3600, max_calls, "d"),))
    assert codes(plan, StoreFacts(attempts=ATTEMPTS)) == ([R.FREQUENCY_LIMIT] if blocked else [])


def test_every_frequency_limit_that_applies_is_reported_with_its_detail() -> None:
    plan = StorePlan("us-sales", "solar", frequency=(
        FrequencyCheck(FrequencyScope.SUBJECT, 86_400, 3, "3 per 24h (subject) FL: F.S. 501.616(6)"),
        FrequencyCheck(FrequencyScope.ANY, 3600, 2, ""),
        FrequencyCheck(FrequencyScope.CAMPAIGN, 3600, 9, "not reached"),
    ))  # fmt: skip
    assert evaluate(plan, StoreFacts(attempts=ATTEMPTS), NOW) == [
        Reason(R.FREQUENCY_LIMIT, "3 per 24h (subject) FL: F.S. 501.616(6)"),
        Reason(R.FREQUENCY_LIMIT, "2 per 3600s"),  # generated when the check has no detail
    ]


@pytest.mark.parametrize(
    ("last_ms", "blocked"),
    [(None, False), (NOW - 1, True), (NOW - 600_000, False), (NOW - 599_999, True), (NOW, True), (NOW + 5, False)],
)
def test_min_interval_counts_any_campaign(last_ms: int | None, blocked: bool) -> None:
    plan = StorePlan("us-sales", "solar", min_interval_s=600)
    attempts = () if last_ms is None else _attempts((last_ms, "another-campaign", "other-subject"))
    expected = [Reason(R.FREQUENCY_LIMIT, MIN_INTERVAL_DETAIL)] if blocked else []
    assert evaluate(plan, StoreFacts(attempts=attempts), NOW) == expected


@pytest.mark.parametrize(
    ("cooldown_s", "last_ms", "blocked"),
    [(86_400, None, False), (86_400, NOW - 1000, True), (86_400, NOW - 86_400_000, False),
     (86_400, NOW - 86_400_000 + 1, True), (0, NOW - 1000, False), (86_400, NOW + 1000, False)],
)  # fmt: skip
def test_refusal_cool_down(cooldown_s: int, last_ms: int | None, blocked: bool) -> None:
    plan = StorePlan("c", "s", refusal_cooldown_s=cooldown_s)
    expected = [Reason(R.FREQUENCY_LIMIT, COOLDOWN_DETAIL)] if blocked else []
    assert evaluate(plan, StoreFacts(last_refusal_ms=last_ms), NOW) == expected


@pytest.mark.parametrize(("cps", "count", "blocked"), [(0, 1000, False), (5, 4, False), (5, 5, True), (5, 9, True)])
def test_rate_limit(cps: int, count: int, blocked: bool) -> None:
    plan = StorePlan("c", "s", calls_per_second=cps)
    expected = [Reason(R.RATE_LIMIT, f"{cps} calls/s")] if blocked else []
    assert evaluate(plan, StoreFacts(rate_count=count), NOW) == expected


def test_every_reason_in_canonical_order() -> None:
    plan = StorePlan(
        "us-sales", "solar", dnc=(DncCheck("internal", R.DNC_INTERNAL),), consent_purpose="solar",
        consent_required=True, frequency=(FREQ,), min_interval_s=60, refusal_cooldown_s=60, calls_per_second=1,
    )  # fmt: skip
    facts = StoreFacts(dnc_hits=("internal",), attempts=ATTEMPTS, last_refusal_ms=NOW - 1, rate_count=1)
    assert codes(plan, facts) == [R.DNC_INTERNAL, R.NO_CONSENT, R.FREQUENCY_LIMIT, R.FREQUENCY_LIMIT,
                                  R.FREQUENCY_LIMIT, R.RATE_LIMIT]  # fmt: skip
