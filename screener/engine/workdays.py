"""Deadlines in working days of a jurisdiction: public holidays and substituted days off do not count,
make-up working days (调休) do; the calendar is the one the calling-hours rules use (``restdays.calendar``).

The day something arrives does not count (期间开始之日不计算在内): a complaint received on Tuesday with 3
working days to forward is due by the end of Friday when the week has no holiday. A deadline is the end of
its last day in the jurisdiction's time zone (the next midnight there).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from screener.engine.restdays import working_day

#: no run of days off is this long: a calendar that never works (a bad country) fails loudly instead of looping
_MAX_DAYS_OFF = 60


@dataclass(frozen=True)
class WorkCalendar:
    """Whose working days count: a ``holidays`` country (and subdivision), or weekdays only when ``country`` is
    empty; and the time zone whose midnights end the days."""

    country: str
    subdivision: str | None
    time_zone: str

    def working(self, day: date) -> bool:
        if not self.country:
            return day.weekday() < 5
        return working_day(self.country, self.subdivision, day)

    def local_date(self, when: datetime) -> date:
        return when.astimezone(ZoneInfo(self.time_zone)).date()

    def end_of(self, day: date) -> datetime:
        """The instant ``day`` ends in the calendar's zone (the next local midnight), as an aware datetime."""
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(self.time_zone))


def add_working_days(calendar: WorkCalendar, start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (``start`` itself does not count; 0 gives ``start``)."""
    day, left, idle = start, days, 0
    while left > 0:
        day += timedelta(days=1)
        if calendar.working(day):
            left -= 1
            idle = 0
        else:
            idle += 1
            if idle > _MAX_DAYS_OFF:
                raise ValueError(f"no working day in {calendar.country or 'the calendar'} for {idle} days "
                                 f"after {day - timedelta(days=idle)}")
    return day


@dataclass(frozen=True)
class StageDue:
    """When one stage of a ticket is due: its last day (local) and the instant that day ends."""

    name: str
    working_days: int
    due_date: date
    due_at: datetime


def stage_deadlines(calendar: WorkCalendar, stages: Sequence[tuple[str, int]], received: datetime,
                    done: Mapping[str, datetime] | None = None) -> list[StageDue]:
    """The deadline of each stage in order: the first counts from the day ``received``, each later one from the
    day the stage before it was done (``done``), or else from that stage's own deadline."""
    done = done or {}
    out: list[StageDue] = []
    start = calendar.local_date(received)
    for name, days in stages:
        due = add_working_days(calendar, start, days)
        out.append(StageDue(name, days, due, calendar.end_of(due)))
        finished = done.get(name)
        start = calendar.local_date(finished) if finished is not None else due
    return out
