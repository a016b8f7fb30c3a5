"""Calling windows, quiet periods and rest days for one time zone: which of them forbid a call now."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from screener.config.settings import WEEKDAYS, HolidayRule, Rules, TimeRange
from screener.engine.restdays import DayKind, day_status
from screener.reasons import ReasonCode


@dataclass(frozen=True)
class RuleSet:
    """A set of rules with a label for the details: the policy's own ("") or a state's ("FL")."""

    label: str
    rules: Rules

    def cite(self) -> str:
        source = self.rules.source
        if self.label and source:
            return f" ({self.label}: {source})"
        if self.label:
            return f" ({self.label} rules)"
        return f" ({source})" if source else ""


@dataclass(frozen=True)
class Violation:
    """One rule that forbids the call in one zone; ``key`` groups the same rule over several zones."""

    code: ReasonCode
    key: str
    zone: str
    detail: str


def _ranges(ranges: Sequence[TimeRange]) -> str:
    return ", ".join(str(r) for r in ranges)


def check_zone(
    zone_name: str, local: datetime, rule_sets: Sequence[RuleSet], holiday_rule: HolidayRule | None
) -> list[Violation]:
    """Every calling-hours, quiet-period and holiday rule that forbids a call at ``local`` in ``zone_name``."""
    found: list[Violation] = []
    clock = local.strftime("%H:%M")
    today = WEEKDAYS[local.weekday()]
    status = day_status(holiday_rule, local.date())
    if status.blocks and holiday_rule is not None:
        what = (
            f"a public holiday in {holiday_rule.country}: {status.name}"
            if status.kind is DayKind.HOLIDAY
            else f"a rest day in {holiday_rule.country}"
        )
        found.append(
            Violation(ReasonCode.HOLIDAY, "", zone_name, f"{local.date().isoformat()} ({today}) {zone_name} is {what}")
        )
    hours_day = today
    day_note = ""
    if status.kind is DayKind.MAKEUP and holiday_rule is not None:
        hours_day = holiday_rule.makeup_hours_from
        day_note = f" ({today}, a make-up working day with {hours_day} hours)"
    t = local.time().replace(tzinfo=None)
    for rule_set in rule_sets:
        rules = rule_set.rules
        if rules.hours:
            allowed = rules.hours.get(hours_day, ())
            if not allowed:
                found.append(
                    Violation(
                        ReasonCode.OUTSIDE_CALLING_HOURS,
                        rule_set.label,
                        zone_name,
                        f"{clock} {zone_name}{day_note}: no calling hours on {hours_day}{rule_set.cite()}",
                    )
                )
            elif not any(r.contains(t) for r in allowed):
                found.append(
                    Violation(
                        ReasonCode.OUTSIDE_CALLING_HOURS,
                        rule_set.label,
                        zone_name,
                        f"{clock} {zone_name}{day_note} is outside {hours_day} {_ranges(allowed)}{rule_set.cite()}",
                    )
                )
        for quiet in rules.quiet:
            if quiet.contains(t):
                found.append(
                    Violation(
                        ReasonCode.QUIET_HOURS,
                        f"{rule_set.label}:{quiet}",
                        zone_name,
                        f"{clock} {zone_name} is in the quiet period {quiet}{rule_set.cite()}",
                    )
                )
    return found
