"""Parse ``[policies.NAME]``: calling hours, quiet periods, frequency limits, holidays, state rules."""

from __future__ import annotations

from functools import lru_cache

import holidays

from screener.config.reader import DAY_GROUPS, Node, ranges
from screener.config.settings import (
    DEFAULT_ABANDONMENT,
    WEEKDAYS,
    AbandonmentRule,
    FrequencyLimit,
    FrequencyScope,
    HolidayRule,
    Policy,
    Rules,
    TimeRange,
)
from screener.numbers import KNOWN_SUBDIVISIONS

#: the longest frequency window or minimum interval: attempts are remembered this long (store/keys.py)
MAX_WINDOW_S = 31 * 86_400
#: the longest refusal cool-down accepted (10 years)
MAX_COOLDOWN_S = 3_660 * 86_400

RULE_KEYS = ("source", "hours", "quiet", "frequency", "min_interval")
POLICY_KEYS = (*RULE_KEYS, "consent_required", "refusal_cooldown", "holidays", "regions", "abandonment")
HOLIDAY_KEYS = ("country", "subdivision", "rest_days", "makeup_workdays", "makeup_hours_from")
FREQUENCY_KEYS = ("scope", "max_calls", "window", "source")
ABANDONMENT_KEYS = ("connect_within", "max_rate_percent", "window", "action", "lockout", "min_answered", "source")
#: the longest abandonment window (the counts are kept this long) and lock-out
MAX_ABANDONMENT_WINDOW_S = 31 * 86_400
MAX_LOCKOUT_S = 31 * 86_400


@lru_cache(maxsize=1)
def _supported_countries() -> frozenset[str]:
    """The country codes (and aliases such as UK) the holidays package knows, read from its registry without
    importing every country's module (``holidays.list_supported_countries()`` imports them all: 0.25 s)."""
    from holidays.registry import EntityLoader

    return frozenset(EntityLoader.get_country_codes(include_aliases=True))


def supported_holiday_country(code: str) -> bool:
    """True when the holidays package has a calendar for ``code`` (ISO 3166-1 alpha-2, or an alias)."""
    return code.upper() in _supported_countries()


@lru_cache(maxsize=64)
def _subdivisions(country: str) -> tuple[str, ...]:
    """The subdivision codes of one supported country (imports that country's module only)."""
    return tuple(getattr(holidays, country).subdivisions)


def parse_hours(node: Node) -> dict[str, tuple[TimeRange, ...]]:
    """``{daily|weekdays|weekend|mon..sun = "HH:MM-HH:MM" | [..] | "closed"}``; single days win over groups."""
    node.check_keys((*DAY_GROUPS, *WEEKDAYS))
    hours: dict[str, tuple[TimeRange, ...]] = {}
    for group in ("daily", "weekdays", "weekend"):
        if node.has(group):
            value = ranges(node, group, wrap=False)
            for day in DAY_GROUPS[group]:
                hours[day] = value
    for day in WEEKDAYS:
        if node.has(day):
            hours[day] = ranges(node, day, wrap=False)
    return {day: hours[day] for day in WEEKDAYS if hours.get(day)}


def parse_frequency(node: Node) -> FrequencyLimit:
    node.check_keys(FREQUENCY_KEYS)
    scope_text = node.string("scope", "any").strip().lower()
    try:
        scope = FrequencyScope(scope_text)
    except ValueError:
        known = ", ".join(s.value for s in FrequencyScope)
        raise node.error("scope", f"{scope_text!r} is not a scope (one of {known})") from None
    window_s = node.duration("window", high=MAX_WINDOW_S)
    if window_s <= 0:
        raise node.error("window", "must be longer than 0s")
    return FrequencyLimit(
        scope=scope,
        window_s=window_s,
        max_calls=node.integer("max_calls", low=1, high=100_000),
        source=node.string("source", ""),
    )


def parse_rules(node: Node, *, require_hours: bool) -> Rules:
    if require_hours and not node.has("hours"):
        raise node.error(
            "hours", 'missing: a policy must name its calling hours (write daily = "00:00-24:00" for none)'
        )
    hours = parse_hours(node.table("hours"))
    if node.has("hours") and not hours:
        raise node.error("hours", "allows no calls on any day")
    return Rules(
        hours=hours,
        quiet=ranges(node, "quiet", wrap=True) if node.has("quiet") else (),
        frequency=tuple(parse_frequency(item) for item in node.tables("frequency")),
        min_interval_s=node.duration("min_interval", 0, high=MAX_WINDOW_S),
        source=node.string("source", ""),
    )


def check_holiday_country(node: Node) -> tuple[str, str | None]:
    """``country`` (and the optional ``subdivision``) of a table, checked against the holidays package."""
    country = node.string("country", nonempty=True).strip().upper()
    if country not in _supported_countries():
        raise node.error("country", f"{country!r} is not a country the holidays package knows (ISO 3166-1)")
    subdivision: str | None = None
    if node.has("subdivision"):
        subdivision = node.string("subdivision", nonempty=True).strip().upper()
        if subdivision not in _subdivisions(country):
            known = ", ".join(_subdivisions(country)) or "none"
            raise node.error("subdivision", f"{subdivision!r} is not a subdivision of {country} (known: {known})")
    return country, subdivision


def parse_holidays(node: Node) -> HolidayRule:
    node.check_keys(HOLIDAY_KEYS)
    country, subdivision = check_holiday_country(node)
    return HolidayRule(
        country=country,
        subdivision=subdivision,
        rest_days=node.boolean("rest_days", False),
        makeup_workdays=node.boolean("makeup_workdays", False),
        makeup_hours_from=node.weekday("makeup_hours_from", "mon"),
    )


def parse_abandonment(node: Node) -> AbandonmentRule:
    """``[policies.NAME.abandonment]``: when a call counts as abandoned, the rate limit and the lock-out."""
    node.check_keys(ABANDONMENT_KEYS)
    connect_within = node.duration("connect_within", DEFAULT_ABANDONMENT.connect_within_s, high=3_600)
    if connect_within <= 0:
        raise node.error("connect_within", "must be longer than 0s")
    window_s = node.duration("window", DEFAULT_ABANDONMENT.window_s, high=MAX_ABANDONMENT_WINDOW_S)
    if window_s < 3_600:
        raise node.error("window", "must be at least 1h (calls are counted per hour)")
    action = node.string("action", "block").strip().lower()
    if action not in ("block", "warn"):
        raise node.error("action", f'{action!r} must be "block" or "warn"')
    rate = node.number("max_rate_percent", low=0, high=100) if node.has("max_rate_percent") else None
    return AbandonmentRule(
        connect_within_s=connect_within,
        max_rate_percent=rate,
        window_s=window_s,
        action=action,
        lockout_s=node.duration("lockout", 0, high=MAX_LOCKOUT_S),
        min_answered=node.integer("min_answered", 1, low=1, high=10_000_000),
        source=node.string("source", ""),
    )


def parse_policy(name: str, node: Node) -> Policy:
    node.check_keys(POLICY_KEYS)
    regions: dict[str, Rules] = {}
    regions_node = node.table("regions")
    for code, region_node in regions_node.children():
        if code not in KNOWN_SUBDIVISIONS:
            raise regions_node.error(code, f"{code!r} is not a US state or Canadian province code (e.g. FL, NY, ON)")
        region_node.check_keys(RULE_KEYS)
        regions[code] = parse_rules(region_node, require_hours=False)
    return Policy(
        name=name,
        rules=parse_rules(node, require_hours=True),
        regions=regions,
        holidays=parse_holidays(node.table("holidays")) if node.has("holidays") else None,
        refusal_cooldown_s=node.duration("refusal_cooldown", 0, high=MAX_COOLDOWN_S),
        consent_required=node.boolean("consent_required", False),
        source=node.string("source", ""),
        abandonment=parse_abandonment(node.table("abandonment")) if node.has("abandonment") else DEFAULT_ABANDONMENT,
    )
