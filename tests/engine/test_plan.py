"""build_plan: which DNC lists, consent, frequency limits and rates the store must check."""

from __future__ import annotations

from dataclasses import replace

import pytest

from screener.config.settings import FrequencyLimit, FrequencyScope, Rules
from screener.engine import build_plan
from screener.engine.plan import DncCheck, FrequencyCheck, StorePlan
from screener.numbers import normalize
from screener.reasons import ReasonCode as R
from tests.factories import CN, LAB, LISTS, US, us_sales

NY = normalize("+12125551234", "US")
FL = normalize("+13055551234", "US")
BEIJING = normalize("+8613800138000", "CN")


def test_us_sales_plan_for_a_new_york_number() -> None:
    plan = build_plan(NY, us_sales(), US, LISTS)
    assert plan == StorePlan(
        campaign="us-sales",
        subject="solar",
        dnc=(DncCheck("internal", R.DNC_INTERNAL), DncCheck("us-national", R.DNC_REGISTRY)),
        consent_purpose=None,
        consent_required=False,
        frequency=(FrequencyCheck(FrequencyScope.CAMPAIGN, 7 * 86_400, 5, "5 per 7d (campaign) NY: house rule"),),
    )


def test_florida_number_gets_the_state_limit_and_interval() -> None:
    plan = build_plan(FL, us_sales(), US, LISTS)
    assert plan.frequency == (
        FrequencyCheck(FrequencyScope.SUBJECT, 86_400, 3, "3 per 24h (subject) FL: F.S. 501.616(6)"),
    )
    assert plan.min_interval_s == 600


def test_min_interval_is_the_larger_of_policy_and_state() -> None:
    policy = replace(US, rules=replace(US.rules, min_interval_s=900))
    assert build_plan(FL, us_sales(), policy, LISTS).min_interval_s == 900
    assert build_plan(NY, us_sales(), policy, LISTS).min_interval_s == 900
    policy = replace(US, rules=replace(US.rules, min_interval_s=60))
    assert build_plan(FL, us_sales(), policy, LISTS).min_interval_s == 600


@pytest.mark.parametrize(
    ("lists", "codes"),
    [
        (("internal",), [R.DNC_INTERNAL]),
        (("internal", "partner"), [R.DNC_INTERNAL, R.DNC_CAMPAIGN]),
        (("partner", "us-national", "internal"), [R.DNC_CAMPAIGN, R.DNC_REGISTRY, R.DNC_INTERNAL]),
    ],
)
def test_dnc_code_by_list_kind(lists: tuple[str, ...], codes: list[R]) -> None:
    plan = build_plan(NY, us_sales(dnc_lists=lists), US, LISTS)
    assert [c.list_name for c in plan.dnc] == list(lists)
    assert [c.code for c in plan.dnc] == codes


def test_consent_exempts_only_named_registries_never_internal() -> None:
    camp = us_sales(
        dnc_lists=("internal", "partner", "us-national", "state-reg"),
        consent_exempts_registries=("us-national", "internal", "partner"),
    )
    plan = build_plan(NY, camp, US, LISTS)
    exempt = {c.list_name: c.exempt_by_consent for c in plan.dnc}
    assert exempt == {"internal": False, "partner": False, "us-national": True, "state-reg": False}
    # an exemption needs the consent record read, though consent is not required
    assert plan.consent_purpose == "solar"
    assert not plan.consent_required


def test_consent_required_by_the_campaign() -> None:
    plan = build_plan(NY, us_sales(consent_required=True, consent_purpose="marketing"), US, LISTS)
    assert plan.consent_required and plan.consent_purpose == "marketing"


def test_consent_required_by_the_policy_and_refusal_cool_down() -> None:
    camp = us_sales("cn-service", region="CN", policy="cn", dnc_lists=("internal",), consent_purpose="service",
                    subject="service")  # fmt: skip
    plan = build_plan(BEIJING, camp, CN, LISTS)
    assert plan.consent_required and plan.consent_purpose == "service"
    assert plan.refusal_cooldown_s == 183 * 86_400
    assert plan.subject == "service" and plan.campaign == "cn-service"


def test_campaign_frequency_and_rate() -> None:
    limit = FrequencyLimit(FrequencyScope.CAMPAIGN, 86_400, 2, "attempt cap")
    plan = build_plan(FL, us_sales(frequency=(limit,), calls_per_second=7), US, LISTS)
    assert [f.detail for f in plan.frequency] == [
        "2 per 24h (campaign) campaign us-sales: attempt cap",
        "3 per 24h (subject) FL: F.S. 501.616(6)",
    ]
    assert plan.calls_per_second == 7


def test_lab_policy_three_per_hour_any_campaign() -> None:
    plan = build_plan(NY, us_sales("lab", policy="lab", dnc_lists=("internal",)), LAB, LISTS)
    assert plan.frequency == (FrequencyCheck(FrequencyScope.ANY, 3600, 3, "3 per 1h (any) lab cap"),)
    assert plan.dnc == (DncCheck("internal", R.DNC_INTERNAL),)


def test_state_rules_only_apply_to_that_state() -> None:
    policy = replace(US, regions={"FL": Rules(min_interval_s=60)})
    assert build_plan(NY, us_sales(), policy, LISTS).min_interval_s == 0
    assert build_plan(FL, us_sales(), policy, LISTS).min_interval_s == 60


def test_unknown_list_is_an_error_not_a_silent_skip() -> None:
    with pytest.raises(KeyError, match="nope"):
        build_plan(NY, us_sales(dnc_lists=("internal", "nope")), US, LISTS)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(90, "90s"), (60, "1m"), (1800, "30m"), (3600, "1h"), (86_400, "24h"), (172_800, "2d"), (604_800, "7d"),
     (5400, "90m"), (0, "0s")],
)  # fmt: skip
def test_format_duration(seconds: int, text: str) -> None:
    from screener.engine.text import format_duration

    assert format_duration(seconds) == text
