"""The one factory of settings built in Python, for every test that needs a config object (the TOML loader
has its own tests): campaigns, the engine's policy world (US, CA, CN, UK, lab), whole ``Settings``, and the
lab campaign the front ends' fakes use."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

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


def rng(text: str) -> TimeRange:
    """ "08:00-21:00" as a TimeRange ("24:00" is the end of the day)."""
    start, end = text.split("-")
    sh, sm = map(int, start.split(":"))
    eh, em = map(int, end.split(":"))
    return TimeRange(time(sh, sm), None if (eh, em) == (24, 0) else time(eh, em))


def hours(start: str, end: str, days: tuple[str, ...] = WEEKDAYS) -> dict[str, tuple[TimeRange, ...]]:
    return {d: (rng(f"{start}-{end}"),) for d in days}


def every_day(text: str) -> dict[str, tuple[TimeRange, ...]]:
    return {day: (rng(text),) for day in WEEKDAYS}


def at(local: str, zone: str) -> datetime:
    """An aware UTC datetime for a wall-clock time in ``zone``: at("2026-12-02 08:00", "America/New_York")."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


# -- the engine's world: the policies of the presets, in small ----------------------------------------------

FED = "47 CFR 64.1200(c)(1)"

US = Policy(
    "us",
    Rules(hours=every_day("08:00-21:00"), source=FED),
    regions={
        "FL": Rules(
            hours=every_day("08:00-20:00"),
            frequency=(FrequencyLimit(FrequencyScope.SUBJECT, 86_400, 3, "F.S. 501.616(6)"),),
            min_interval_s=600,
            source="F.S. 501.616(6)",
        ),
        # a state that only adds a limit: no hours of its own
        "NY": Rules(frequency=(FrequencyLimit(FrequencyScope.CAMPAIGN, 7 * 86_400, 5, "house rule"),)),
    },
)
CA = Policy(
    "ca",
    Rules(
        hours={**{d: (rng("09:00-21:30"),) for d in WEEKDAYS[:5]}, **{d: (rng("10:00-18:00"),) for d in WEEKDAYS[5:]}},
        source="CRTC UTR",
    ),
)
CN = Policy(
    "cn",
    Rules(hours=every_day("09:00-21:00"), quiet=(rng("12:00-14:00"),), source="CIRC 2013"),
    holidays=HolidayRule("CN", rest_days=True, makeup_workdays=True, makeup_hours_from="mon"),
    refusal_cooldown_s=183 * 86_400,
    consent_required=True,
)
UK = Policy(
    "uk",
    Rules(hours={**{d: (rng("09:00-20:00"),) for d in WEEKDAYS[:5]}, "sat": (rng("09:00-17:00"),)}),
    holidays=HolidayRule("GB"),
)
LAB = Policy(
    "lab",
    Rules(hours=every_day("00:00-24:00"), frequency=(FrequencyLimit(FrequencyScope.ANY, 3600, 3, "lab cap"),)),
)
POLICIES = {p.name: p for p in (US, CA, CN, UK, LAB)}

#: the DNC lists of the engine's tests
LISTS = {
    "internal": DncList("internal", ListKind.INTERNAL, "opt-outs"),
    "partner": DncList("partner", ListKind.CAMPAIGN, "partner's own list"),
    "us-national": DncList("us-national", ListKind.REGISTRY, "FTC National DNC Registry", max_age_days=31),
    "state-reg": DncList("state-reg", ListKind.REGISTRY, "a state list", max_age_days=90, stale_action="warn"),
}


# -- campaigns ------------------------------------------------------------------------------------------------

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


def us_sales(name: str = "us-sales", **kw: Any) -> Campaign:
    """The engine tests' campaign: US rules, the internal list and the national registry, subject solar."""
    base: dict[str, Any] = dict(
        company="Example Solar Inc.", purpose="rooftop solar", subject="solar", caller_id="+12025550143",
        callback_number="+12025550143", policy="us", dnc_lists=("internal", "us-national"), consent_purpose="solar",
        disclosures=(DisclosureText("en", "Example Solar. Press 9 to stop our calls."),))
    return campaign(name, **{**base, **kw})


def lab_campaign(name: str = "lab", **kw: Any) -> Campaign:
    """The front ends' campaign: a quoted company name (escaping is tested) and two languages."""
    base: dict[str, Any] = dict(
        company='Lab "Test" Co', purpose="testing", caller_id="+12025550144", callback_number="+12025550144",
        disclosures=(DisclosureText("en", "This is Lab Co. Press 9 to stop our calls."),
                     DisclosureText("zh", "这里是实验室公司。")))
    return campaign(name, **{**base, **kw})


def lab_prompt(language: str = "en", campaign: Campaign | None = None) -> str:
    """The sound the lab campaign's disclosure plays in ``language`` (its name carries the text's digest)."""
    from screener.sounds import DEFAULT_SOUNDS

    return DEFAULT_SOUNDS.disclosure(campaign or lab_campaign(), language)


def lab_settings(*campaigns: Campaign) -> Settings:
    """``make_settings`` whose campaigns are ``campaigns`` (default: the lab campaign)."""
    camps = campaigns or (lab_campaign(),)
    return make_settings(campaigns={c.name: c for c in camps})


class StaticHolder:
    """Stands in for ConfigHolder where a test needs fixed settings."""

    def __init__(self, settings: Settings) -> None:
        self.current = settings
