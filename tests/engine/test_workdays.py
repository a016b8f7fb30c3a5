"""Working-day deadlines against the real calendar of the ``holidays`` package (China 2026: National Day and
Spring Festival with their make-up working days; the US and weekday-only calendars)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from screener.engine.workdays import WorkCalendar, add_working_days, stage_deadlines

CN = WorkCalendar("CN", None, "Asia/Shanghai")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_package_gives_the_2026_chinese_calendar_these_tests_rely_on() -> None:
    # National Day: 1-7 October off; Sunday 20 September and Saturday 10 October are make-up working days
    assert [CN.working(date(2026, 10, d)) for d in range(1, 11)] == [False] * 7 + [True, True, True]
    assert CN.working(date(2026, 9, 20)) and date(2026, 9, 20).weekday() == 6
    # Spring Festival: 15-23 February off; Saturdays 14 and 28 February are make-up working days
    assert [CN.working(date(2026, 2, d)) for d in range(14, 25)] == [True] + [False] * 9 + [True]
    assert CN.working(date(2026, 2, 28)) and date(2026, 2, 28).weekday() == 5


def test_the_day_of_receipt_does_not_count_and_an_ordinary_week_is_plain() -> None:
    # Tuesday 9 June 2026: Wednesday, Thursday, Friday
    assert add_working_days(CN, date(2026, 6, 9), 3) == date(2026, 6, 12)
    # received on Friday: Monday, Tuesday, Wednesday
    assert add_working_days(CN, date(2026, 6, 12), 3) == date(2026, 6, 17)
    assert add_working_days(CN, date(2026, 6, 12), 0) == date(2026, 6, 12)


def test_national_day_2026_12321_deadlines_skip_the_golden_week_and_count_its_make_up_saturday() -> None:
    received = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)  # Tuesday
    forward, reply, answer = stage_deadlines(CN, [("forward", 3), ("reply", 15), ("answer", 3)], received)
    # 30 Sep (1), 1-7 Oct off, 8 Oct (2), 9 Oct (3)
    assert forward.due_date == date(2026, 10, 9)
    assert forward.due_at == datetime(2026, 10, 10, 0, 0, tzinfo=SHANGHAI)
    # from 9 Oct: Saturday 10 Oct is a make-up working day (1), 12-16 (2-6), 19-23 (7-11), 26-29 (12-15)
    assert reply.due_date == date(2026, 10, 29)
    # 30 Oct (1), 2 Nov (2), 3 Nov (3)
    assert answer.due_date == date(2026, 11, 3)


def test_spring_festival_2026_a_make_up_saturday_counts_and_the_break_does_not() -> None:
    received = datetime(2026, 2, 12, 16, 30, tzinfo=SHANGHAI)  # Thursday
    [forward] = stage_deadlines(CN, [("forward", 3)], received)
    # Friday 13 (1), Saturday 14 a make-up working day (2), 15-23 off, Tuesday 24 (3)
    assert forward.due_date == date(2026, 2, 24)
    # received during the break: the first working day after it is the first that counts
    assert add_working_days(CN, date(2026, 2, 17), 1) == date(2026, 2, 24)
    # the Saturday after the break is a make-up working day too: Wed 25, Thu 26, Fri 27, Sat 28
    assert add_working_days(CN, date(2026, 2, 24), 4) == date(2026, 2, 28)


def test_received_on_a_rest_day_before_a_make_up_sunday() -> None:
    # Saturday 19 September 2026 (a rest day): Sunday 20 is a make-up working day
    assert add_working_days(CN, date(2026, 9, 19), 3) == date(2026, 9, 22)


def test_the_local_date_is_the_jurisdictions_not_utc() -> None:
    # 17:00 UTC on Thursday 8 Oct is 01:00 Friday 9 Oct in Shanghai: 3 working days from the Friday
    received = datetime.fromisoformat("2026-10-08T17:00:00+00:00")
    [forward] = stage_deadlines(CN, [("forward", 3)], received)
    # Saturday 10 October is a make-up working day: 10 (1), 12 (2), 13 (3); counted from the UTC date
    # (Thursday 8) it would have been 9, 10, 12
    assert forward.due_date == date(2026, 10, 13)


def test_a_stage_done_early_moves_the_next_deadline_earlier() -> None:
    received = datetime(2026, 9, 29, 10, 0, tzinfo=SHANGHAI)
    stages = [("forward", 3), ("reply", 15), ("answer", 3)]
    done = {"forward": datetime(2026, 9, 30, 9, 0, tzinfo=SHANGHAI)}
    forward, reply, _ = stage_deadlines(CN, stages, received, done)
    assert forward.due_date == date(2026, 10, 9)  # its own deadline does not change
    # 15 working days from 30 Sep: 8, 9, 10 (make-up), 12-16, 19-23, 26, 27 Oct
    assert reply.due_date == date(2026, 10, 27)


def test_us_federal_holidays_and_a_weekday_only_calendar() -> None:
    us = WorkCalendar("US", None, "America/New_York")
    # Wednesday 25 Nov 2026; Thursday 26 is Thanksgiving: Fri 27, Mon 30, Tue 1 Dec
    assert add_working_days(us, date(2026, 11, 25), 3) == date(2026, 12, 1)
    plain = WorkCalendar("", None, "UTC")
    assert add_working_days(plain, date(2026, 11, 25), 3) == date(2026, 11, 30)


def test_a_calendar_without_working_days_fails_instead_of_looping() -> None:
    class Never(WorkCalendar):
        def working(self, day: date) -> bool:
            return False

    with pytest.raises(ValueError, match="no working day"):
        add_working_days(Never("XX", None, "UTC"), date(2026, 1, 1), 1)
