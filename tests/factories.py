"""Settings built in Python for the service and store tests (the TOML loader has its own tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from typing import Any

from screener.config.settings import (
    WEEKDAYS,
    AriSettings,
    Campaign,
    DisclosureText,
    DncList,
    FastAgiSettings,
    FrequencyLimit,
    FrequencyScope,
    HolidayRule,
    ListKind,
    Policy,
    Rules,
    Secret,
    Settings,
    TimeRange,
)

ALL_DAY = (TimeRange(time(0, 0), None),)


def hours(start: str, end: str, days: tuple[str, ...] = WEEKDAYS) -> dict[str, tuple[TimeRange, ...]]:
    sh, sm = map(int, start.split(":"))
    eh, em = map(int, end.split(":"))
    rng = TimeRange(time(sh, sm), None if (eh, em) == (24, 0) else time(eh, em))
    return {d: (rng,) for d in days}


def campaign(name: str, **kw: Any) -> Campaign:
    base = Campaign(
        name=name, company="Example Corp", purpose="a test", subject="sales", caller_id="+12025550100",
        callback_number="+12025550100", region="US", policy="open", dnc_lists=("internal",),
        consent_required=False, consent_purpose="sales",
        disclosures=(DisclosureText("en", "This is Example Corp. Press 9 to stop our calls."),),
    )
    return replace(base, **kw)


def make_settings(**overrides: Any) -> Settings:
    lists = {
        "internal": DncList("internal", ListKind.INTERNAL, "opt-outs"),
        "camp-list": DncList("camp-list", ListKind.CAMPAIGN, "campaign list"),
        "registry": DncList("registry", ListKind.REGISTRY, "national registry", max_age_days=31),
    }
    policies = {
        "open": Policy("open", Rules(hours=hours("00:00", "24:00"))),
        "us": Policy("us", Rules(hours=hours("08:00", "21:00")),
                     regions={"FL": Rules(hours=hours("08:00", "20:00"), frequency=(
                         FrequencyLimit(FrequencyScope.SUBJECT, 86_400, 3, "FL 3/24h"),))}),
        "quiet": Policy("quiet", Rules(hours=hours("08:00", "21:00"), quiet=(TimeRange(time(12), time(14)),))),
        "cn": Policy("cn", Rules(hours=hours("09:00", "21:00"), quiet=(TimeRange(time(12), time(14)),)),
                     holidays=HolidayRule("CN", rest_days=True, makeup_workdays=True), consent_required=True),
        "limited": Policy("limited", Rules(hours=hours("00:00", "24:00"), frequency=(
            FrequencyLimit(FrequencyScope.ANY, 3600, 3, "3 per hour"),)), refusal_cooldown_s=30 * 86_400),
        "interval": Policy("interval", Rules(hours=hours("00:00", "24:00"), min_interval_s=600)),
    }
    campaigns = {
        "open": campaign("open"),
        "all-lists": campaign("all-lists", dnc_lists=("internal", "camp-list", "registry")),
        "exempt": campaign("exempt", dnc_lists=("internal", "registry"), consent_exempts_registries=("registry",)),
        "consent": campaign("consent", consent_required=True, consent_purpose="service"),
        "us": campaign("us", policy="us"),
        "quiet": campaign("quiet", policy="quiet"),
        "cn": campaign("cn", region="CN", policy="cn", consent_purpose="service", caller_id="+861012345678"),
        "limited": campaign("limited", policy="limited"),
        "limited-2": campaign("limited-2", policy="limited", subject="sales"),
        "interval": campaign("interval", policy="interval"),
        "rated": campaign("rated", calls_per_second=2),
    }
    base = Settings(
        path="tests/factories.py", version="test0001", redis_url="", state_dir="var", time_budget_ms=150,
        audit_salt=Secret("test-salt"), audit_maxlen=100_000, fastagi=FastAgiSettings(), ari=AriSettings(),
        lists=lists, policies=policies, campaigns=campaigns,
    )
    return replace(base, **overrides)


class StaticHolder:
    """Stands in for ConfigHolder where a test needs fixed settings."""

    def __init__(self, settings: Settings) -> None:
        self.current = settings
