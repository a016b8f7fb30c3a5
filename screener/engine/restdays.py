"""Public holidays, rest days and make-up working days (调休) of a country, from ``holidays``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

import holidays

from screener.config.settings import HolidayRule


class DayKind(StrEnum):
    #: an ordinary day: its own weekday's calling hours apply
    WORKING = "working"
    #: a weekend day worked in exchange for a holiday: the hours of ``makeup_hours_from`` apply
    MAKEUP = "makeup"
    #: a public holiday (or a substituted day off): no calls
    HOLIDAY = "holiday"
    #: a weekend day under ``rest_days``: no calls
    REST = "rest"


@dataclass(frozen=True)
class DayStatus:
    kind: DayKind
    #: the holiday's name, for HOLIDAY
    name: str = ""

    @property
    def blocks(self) -> bool:
        return self.kind in (DayKind.HOLIDAY, DayKind.REST)


@lru_cache(maxsize=64)
def calendar(country: str, subdivision: str | None) -> holidays.HolidayBase:
    """The (lazily expanding) holiday calendar of a country; raises for a country ``holidays`` lacks."""
    return holidays.country_holidays(country, subdiv=subdivision)


def working_day(country: str, subdivision: str | None, day: date) -> bool:
    """True when ``day`` is a working day of the country: not a weekend day unless it is a make-up working day
    (调休), not a public holiday or substituted day off (``holidays``' ``is_working_day``)."""
    return bool(calendar(country, subdivision).is_working_day(day))


def day_status(rule: HolidayRule | None, day: date) -> DayStatus:
    """How ``rule`` treats the local date ``day`` (see ``HolidayRule``)."""
    if rule is None:
        return DayStatus(DayKind.WORKING)
    cal = calendar(rule.country, rule.subdivision)
    if day in cal:  # also expands the calendar (and its make-up days) to the day's year
        return DayStatus(DayKind.HOLIDAY, str(cal.get(day)))
    weekend = day.weekday() in cal.weekend
    if weekend and rule.makeup_workdays and cal.is_working_day(day):
        return DayStatus(DayKind.MAKEUP)
    if weekend and rule.rest_days:
        return DayStatus(DayKind.REST)
    return DayStatus(DayKind.WORKING)
