"""The engine end to end (no store) with the shipped example config and presets: precedence and scenarios."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from screener.config.load import load_settings
from screener.config.settings import Settings
from screener.decision import Reason, sort_reasons
from screener.engine import build_plan, evaluate, precheck
from screener.engine.facts import Attempt, ListState, StoreFacts
from screener.numbers import normalize
from screener.reasons import ReasonCode as R
from tests.factories import at

CONFIG = Path(__file__).resolve().parents[2] / "config" / "screener.toml"


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings(CONFIG)


def decide(settings: Settings, dialed: str, campaign_name: str, now: datetime, facts: StoreFacts,
           states: dict[str, ListState] | None = None) -> list[R]:  # fmt: skip
    """The service's order: normalize, emergency, precheck, plan, store facts; every reason, sorted."""
    campaign = settings.campaigns[campaign_name]
    policy = settings.policies[campaign.policy]
    number = normalize(dialed, campaign.region)
    if number.emergency:
        return [R.EMERGENCY_NUMBER]
    if states is None:
        states = {n: ListState(n, "v1", imported_at=now.timestamp() - 86_400) for n in settings.lists}
    pre = precheck(number, campaign, policy, settings.lists, states, now)
    plan = build_plan(number, campaign, policy, settings.lists)
    reasons: list[Reason] = [*pre.reasons, *evaluate(plan, facts, int(now.timestamp() * 1000))]
    return [r.code for r in sort_reasons(reasons)]


WED_NOON_NY = at("2026-12-02 12:00", "America/New_York")


def test_clean_call_is_allowed(settings: Settings) -> None:
    assert decide(settings, "(212) 555-1234", "us-sales", WED_NOON_NY, StoreFacts()) == []


def test_internal_dnc_beats_consent(settings: Settings) -> None:
    facts = StoreFacts(dnc_hits=("internal",), consent_valid=True)
    assert decide(settings, "+8613800138000", "cn-service", at("2026-12-02 10:00", "Asia/Shanghai"), facts) == [
        R.DNC_INTERNAL
    ]


def test_emergency_beats_everything(settings: Settings) -> None:
    facts = StoreFacts(dnc_hits=("internal",), rate_count=10_000)
    three_am = at("2026-12-25 03:00", "America/New_York")
    assert decide(settings, "911", "us-sales", three_am, facts, states={}) == [R.EMERGENCY_NUMBER]
    assert decide(settings, "110", "cn-service", three_am, facts, states={}) == [R.EMERGENCY_NUMBER]
    assert decide(settings, "120", "cn-service", three_am, facts, states={}) == [R.EMERGENCY_NUMBER]


def test_every_applicable_reason_is_reported(settings: Settings) -> None:
    facts = StoreFacts(dnc_hits=("internal", "us-national"))
    late = at("2026-12-02 22:00", "America/New_York")
    assert decide(settings, "+13055551234", "us-sales", late, facts, states={}) == [
        R.DNC_INTERNAL, R.DNC_REGISTRY, R.DNC_LIST_STALE, R.OUTSIDE_CALLING_HOURS, R.OUTSIDE_CALLING_HOURS,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("dialed", "local", "expected"),
    [
        ("+13055551234", "2026-12-02 19:59", []),  # Florida
        ("+13055551234", "2026-12-02 20:00", [R.OUTSIDE_CALLING_HOURS]),
        ("+14055550100", "2026-12-02 20:30", [R.OUTSIDE_CALLING_HOURS]),  # Oklahoma (America/Chicago)
        ("+14105550100", "2026-12-02 20:30", [R.OUTSIDE_CALLING_HOURS]),  # Maryland
        ("+12125551234", "2026-12-02 20:30", []),  # New York: federal hours only
    ],
)
def test_us_preset_state_hours(settings: Settings, dialed: str, local: str, expected: list[R]) -> None:
    zone = normalize(dialed, "US").time_zones[0]
    assert decide(settings, dialed, "us-sales", at(local, zone), StoreFacts()) == expected


def test_us_preset_florida_three_calls_per_day_on_the_same_subject(settings: Settings) -> None:
    now = WED_NOON_NY
    ms = int(now.timestamp() * 1000)
    # three earlier attempts today on the subject "solar-sales", one of them by another campaign
    facts = StoreFacts(attempts=(Attempt(ms - 3 * 3_600_000, "us-sales", "solar-sales"),
                                 Attempt(ms - 2 * 3_600_000, "other", "solar-sales"),
                                 Attempt(ms - 1 * 3_600_000, "us-sales", "solar-sales")))  # fmt: skip
    assert decide(settings, "+13055551234", "us-sales", now, facts) == [R.FREQUENCY_LIMIT]
    assert decide(settings, "+12125551234", "us-sales", now, facts) == []  # not a Florida number
    # the first attempt (09:00) leaves the 24 h window at 09:00 the next day
    just_before = datetime.fromtimestamp((ms + 21 * 3_600_000 - 1) / 1000, UTC)
    assert decide(settings, "+13055551234", "us-sales", just_before, facts) == [R.FREQUENCY_LIMIT]
    later = datetime.fromtimestamp((ms + 21 * 3_600_000) / 1000, UTC)
    assert decide(settings, "+13055551234", "us-sales", later, facts) == []


def test_cn_service_needs_consent_and_respects_rest_days(settings: Settings) -> None:
    workday = at("2026-12-02 10:00", "Asia/Shanghai")
    assert decide(settings, "13800138000", "cn-service", workday, StoreFacts()) == [R.NO_CONSENT]
    assert decide(settings, "13800138000", "cn-service", workday, StoreFacts(consent_valid=True)) == []
    makeup_saturday = at("2026-02-14 10:00", "Asia/Shanghai")
    assert decide(settings, "13800138000", "cn-service", makeup_saturday, StoreFacts(consent_valid=True)) == []
    sunday = at("2026-02-15 10:00", "Asia/Shanghai")
    assert decide(settings, "13800138000", "cn-service", sunday, StoreFacts(consent_valid=True)) == [R.HOLIDAY]
    lunch = at("2026-12-02 12:30", "Asia/Shanghai")
    assert decide(settings, "13800138000", "cn-service", lunch, StoreFacts(consent_valid=True)) == [R.QUIET_HOURS]
    refused = StoreFacts(consent_valid=True, last_refusal_ms=int(workday.timestamp() * 1000) - 90 * 86_400_000)
    assert decide(settings, "13800138000", "cn-service", workday, refused) == [R.FREQUENCY_LIMIT]


def test_lab_is_open_at_night_and_on_holidays_but_capped(settings: Settings) -> None:
    night = at("2026-12-25 03:00", "America/New_York")
    assert decide(settings, "+12125551234", "lab", night, StoreFacts()) == []
    ms = int(night.timestamp() * 1000)
    three = StoreFacts(attempts=tuple(Attempt(ms - i * 60_000, f"c{i}", f"s{i}") for i in (1, 2, 3)))
    assert decide(settings, "+12125551234", "lab", night, three) == [R.FREQUENCY_LIMIT]


def test_stale_registry_blocks_us_sales_but_not_lab(settings: Settings) -> None:
    assert decide(settings, "+12125551234", "us-sales", WED_NOON_NY, StoreFacts(), states={}) == [R.DNC_LIST_STALE]
    assert decide(settings, "+12125551234", "lab", WED_NOON_NY, StoreFacts(), states={}) == []


def test_canada_number_on_the_ca_preset(settings: Settings) -> None:
    campaign = replace(settings.campaigns["us-sales"], policy="ca", region="CA")
    local = replace(settings, campaigns={**settings.campaigns, "ca-sales": replace(campaign, name="ca-sales")})
    saturday_9am = at("2026-12-05 09:30", "America/Toronto")
    assert decide(local, "416 555 0123", "ca-sales", saturday_9am, StoreFacts()) == [R.OUTSIDE_CALLING_HOURS]
