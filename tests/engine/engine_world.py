"""Settings objects for the engine's tests, built in Python (the TOML loader has its own tests)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from screener.config.settings import (
    WEEKDAYS,
    Campaign,
    DisclosureText,
    DncList,
    FrequencyLimit,
    FrequencyScope,
    HolidayRule,
    ListKind,
    Policy,
    Rules,
    TimeRange,
)


def rng(text: str) -> TimeRange:
    start, end = text.split("-")
    sh, sm = map(int, start.split(":"))
    eh, em = map(int, end.split(":"))
    return TimeRange(time(sh, sm), None if (eh, em) == (24, 0) else time(eh, em))


def every_day(text: str) -> dict[str, tuple[TimeRange, ...]]:
    return {day: (rng(text),) for day in WEEKDAYS}


def at(local: str, zone: str) -> datetime:
    """An aware UTC datetime for a wall-clock time in ``zone``: at("2026-12-02 08:00", "America/New_York")."""
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


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

LISTS = {
    "internal": DncList("internal", ListKind.INTERNAL, "opt-outs"),
    "partner": DncList("partner", ListKind.CAMPAIGN, "partner's own list"),
    "us-national": DncList("us-national", ListKind.REGISTRY, "FTC National DNC Registry", max_age_days=31),
    "state-reg": DncList("state-reg", ListKind.REGISTRY, "a state list", max_age_days=90, stale_action="warn"),
}


def campaign(name: str = "us-sales", **kw: Any) -> Campaign:
    base = Campaign(
        name=name,
        company="Example Solar Inc.",
        purpose="rooftop solar",
        subject="solar",
        caller_id="+12025550143",
        callback_number="+12025550143",
        region="US",
        policy="us",
        dnc_lists=("internal", "us-national"),
        consent_required=False,
        consent_purpose="solar",
        disclosures=(DisclosureText("en", "Example Solar. Press 9 to stop our calls."),),
    )
    return replace(base, **kw)
