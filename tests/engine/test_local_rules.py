"""precheck: calling hours, quiet periods, holidays, state rules, every zone, DST, stale lists."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import holidays
import pytest

from screener.config.settings import HolidayRule, Policy, Rules
from screener.engine import Precheck, precheck
from screener.engine.facts import ListState
from screener.numbers import NumberInfo, normalize
from screener.reasons import ReasonCode as R
from tests.factories import CA, CN, FED, LAB, LISTS, UK, US, at, every_day, rng, us_sales

NY = "+12125551234"  # America/New_York, NY
FL = "+13055551234"  # America/New_York, FL
CHI = "+13125550100"  # America/Chicago, IL
IDAHO = "+12085550100"  # America/Boise + America/Los_Angeles
TORONTO = "+14165550123"
BEIJING = "+8613800138000"
LONDON = "+442079460958"
FRESH = {"us-national": ListState("us-national", "v1", imported_at=datetime(2026, 11, 30, tzinfo=UTC).timestamp())}


def check(number: str, policy: Policy, now: datetime, region: str = "US", **kw: object) -> Precheck:
    info = normalize(number, region)
    camp = us_sales(policy=policy.name, region=region, **kw)  # type: ignore[arg-type]
    return precheck(info, camp, policy, LISTS, FRESH, now)


def codes(pre: Precheck) -> list[R]:
    return [r.code for r in pre.reasons]


HOURS_TABLE = [
    # (number, policy, local time, zone of that time, expected codes)
    (NY, US, "2026-12-02 08:00", "America/New_York", []),  # 08:00 allowed (start inclusive)
    (NY, US, "2026-12-02 07:59", "America/New_York", [R.OUTSIDE_CALLING_HOURS]),
    (NY, US, "2026-12-02 20:59", "America/New_York", []),
    (NY, US, "2026-12-02 21:00", "America/New_York", [R.OUTSIDE_CALLING_HOURS]),  # 21:00 blocked (end exclusive)
    (NY, US, "2026-12-06 10:00", "America/New_York", []),  # Sunday: federal hours every day
    (CHI, US, "2026-12-02 21:30", "America/Chicago", [R.OUTSIDE_CALLING_HOURS]),
    (CHI, US, "2026-12-02 20:30", "America/Chicago", []),  # 21:30 in New York, but the callee is in Chicago
    # Florida: 8-20 on top of the federal 8-21
    (FL, US, "2026-12-02 19:59", "America/New_York", []),
    (FL, US, "2026-12-02 20:00", "America/New_York", [R.OUTSIDE_CALLING_HOURS]),
    (FL, US, "2026-12-02 21:30", "America/New_York", [R.OUTSIDE_CALLING_HOURS, R.OUTSIDE_CALLING_HOURS]),
    # a state with only a frequency rule adds no hours
    (NY, US, "2026-12-02 20:30", "America/New_York", []),
    # Canada: 9-21:30 weekdays, 10-18 weekends
    (TORONTO, CA, "2026-12-02 21:29", "America/Toronto", []),
    (TORONTO, CA, "2026-12-02 21:30", "America/Toronto", [R.OUTSIDE_CALLING_HOURS]),
    (TORONTO, CA, "2026-12-02 08:59", "America/Toronto", [R.OUTSIDE_CALLING_HOURS]),
    (TORONTO, CA, "2026-12-05 09:59", "America/Toronto", [R.OUTSIDE_CALLING_HOURS]),  # Saturday
    (TORONTO, CA, "2026-12-05 10:00", "America/Toronto", []),
    (TORONTO, CA, "2026-12-06 18:00", "America/Toronto", [R.OUTSIDE_CALLING_HOURS]),  # Sunday
    # UK: no hours on Sunday; bank holidays (public holidays only, not rest days)
    (LONDON, UK, "2026-12-06 10:00", "Europe/London", [R.OUTSIDE_CALLING_HOURS]),
    (LONDON, UK, "2026-12-05 10:00", "Europe/London", []),  # Saturday has hours
    (LONDON, UK, "2026-12-25 10:00", "Europe/London", [R.HOLIDAY]),  # Christmas, a Friday
    # lab: open all day, every day, holidays included
    (NY, LAB, "2026-12-25 03:00", "America/New_York", []),
]


@pytest.mark.parametrize(("number", "policy", "local", "zone", "expected"), HOURS_TABLE)
def test_calling_hours(number: str, policy: Policy, local: str, zone: str, expected: list[R]) -> None:
    region = "CN" if number.startswith("+86") else "GB" if number.startswith("+44") else "US"
    assert codes(check(number, policy, at(local, zone), region)) == expected


def test_detail_names_time_zone_window_and_source() -> None:
    pre = check(CHI, US, at("2026-11-30 21:30", "America/Chicago"))
    assert [r.detail for r in pre.reasons] == [f"21:30 America/Chicago is outside mon 08:00-21:00 ({FED})"]


def test_state_rule_detail_names_the_state_and_its_source() -> None:
    pre = check(FL, US, at("2026-12-02 20:30", "America/New_York"))
    assert pre.reasons[0].detail == "20:30 America/New_York is outside wed 08:00-20:00 (FL: F.S. 501.616(6))"


def test_both_policy_and_state_report_when_both_forbid() -> None:
    details = [r.detail for r in check(FL, US, at("2026-12-02 22:00", "America/New_York")).reasons]
    assert any(FED in d for d in details) and any("FL: F.S. 501.616(6)" in d for d in details)


def test_campaign_hours_narrow_the_policy() -> None:
    narrow = Rules(hours=every_day("10:00-16:00"), quiet=(rng("12:00-13:00"),))
    # 09:00: the policy allows it, the campaign's own window does not
    pre = check(NY, US, at("2026-12-02 09:00", "America/New_York"), calling=narrow)
    assert [r.detail for r in pre.reasons] == [
        "09:00 America/New_York is outside wed 10:00-16:00 (campaign us-sales rules)"]
    assert codes(check(NY, US, at("2026-12-02 12:30", "America/New_York"), calling=narrow)) == [R.QUIET_HOURS]
    assert codes(check(NY, US, at("2026-12-02 10:00", "America/New_York"), calling=narrow)) == []
    assert codes(check(NY, US, at("2026-12-02 09:00", "America/New_York"))) == []
    # 22:00: both the policy and the campaign forbid it, each reported
    late = check(NY, US, at("2026-12-02 22:00", "America/New_York"), calling=narrow)
    assert codes(late) == [R.OUTSIDE_CALLING_HOURS, R.OUTSIDE_CALLING_HOURS]


def test_campaign_hours_change_is_seen_in_the_same_minute() -> None:
    now = at("2026-12-02 09:00", "America/New_York")
    assert codes(check(NY, US, now, calling=Rules(hours=every_day("08:00-16:00")))) == []
    assert codes(check(NY, US, now, calling=Rules(hours=every_day("10:00-16:00")))) == [R.OUTSIDE_CALLING_HOURS]


# -- every time zone the number may be in must allow the call ----------------------------------------------


def test_multi_zone_number_needs_every_zone_open() -> None:
    # Idaho: Boise (Mountain) and Los Angeles (Pacific). 08:30 in Boise is 07:30 in Los Angeles.
    blocked = check(IDAHO, US, at("2026-07-01 08:30", "America/Boise"))
    assert codes(blocked) == [R.OUTSIDE_CALLING_HOURS]
    assert "America/Los_Angeles" in blocked.reasons[0].detail
    assert "07:30" in blocked.reasons[0].detail
    # 08:00 in Los Angeles is 09:00 in Boise: both open
    assert codes(check(IDAHO, US, at("2026-07-01 08:00", "America/Los_Angeles"))) == []
    # 21:00 in Boise is 20:00 in Los Angeles: Boise is closed
    late = check(IDAHO, US, at("2026-07-01 21:00", "America/Boise"))
    assert codes(late) == [R.OUTSIDE_CALLING_HOURS]
    assert "America/Boise" in late.reasons[0].detail


def test_toll_free_number_is_open_only_while_every_nanp_zone_is() -> None:
    # +1 800 may ring anywhere from Guam (UTC+10) to Adak (UTC-10): few hours are 8-21 in all of them
    number = normalize("+1 800 555 1234", "US")
    open_hours = []
    for hour in range(24):
        pre = precheck(number, us_sales(), US, LISTS, FRESH, datetime(2026, 12, 2, hour, tzinfo=UTC))
        if not pre.reasons:
            open_hours.append(hour)
        else:
            assert codes(pre) == [R.OUTSIDE_CALLING_HOURS]
            assert "more of the number's" in pre.reasons[0].detail or len(number.time_zones) == 1
    # 00:00 UTC: Guam 10:00, Adak 14:00 (the day before), New York 19:00, St John's 20:30: all open
    assert 0 in open_hours
    # 17:00 UTC: 03:00 in Guam, 07:00 in Adak
    assert 17 not in open_hours
    assert 0 < len(open_hours) < 13


def test_synthetic_zones_straddling_midnight() -> None:
    info = NumberInfo("x", "+10000000000", "US", None, ("Pacific/Honolulu", "America/New_York"))
    # 14:00 in New York = 09:00 in Honolulu (winter): both open
    assert codes(precheck(info, us_sales(), US, LISTS, FRESH, at("2026-12-02 14:00", "America/New_York"))) == []
    # 09:00 New York = 04:00 Honolulu
    pre = precheck(info, us_sales(), US, LISTS, FRESH, at("2026-12-02 09:00", "America/New_York"))
    assert codes(pre) == [R.OUTSIDE_CALLING_HOURS]
    assert "04:00 Pacific/Honolulu" in pre.reasons[0].detail


# -- daylight saving time ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        ("2026-03-07T12:30:00+00:00", [R.OUTSIDE_CALLING_HOURS]),  # Saturday, EST: 07:30
        ("2026-03-08T12:30:00+00:00", []),  # Sunday after spring-forward, EDT: 08:30
        ("2026-10-31T12:30:00+00:00", []),  # Saturday, EDT: 08:30
        ("2026-11-01T12:30:00+00:00", [R.OUTSIDE_CALLING_HOURS]),  # Sunday after fall-back, EST: 07:30
        ("2026-11-02T01:30:00+00:00", []),  # 20:30 EST
        ("2026-11-02T02:00:00+00:00", [R.OUTSIDE_CALLING_HOURS]),  # 21:00 EST
    ],
)
def test_dst_uses_the_callee_wall_clock(utc: str, expected: list[R]) -> None:
    assert codes(check(NY, US, datetime.fromisoformat(utc))) == expected


def test_decision_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        check(NY, US, datetime(2026, 12, 2, 12, 0))


def test_other_offsets_are_the_same_instant() -> None:
    # 08:30 in Beijing is 19:30 the day before in New York: the time's own offset does not matter
    now = datetime.fromisoformat("2026-12-03T08:30:00+08:00")
    assert codes(check(NY, US, now)) == []


# -- quiet periods ------------------------------------------------------------------------------------------

QUIET_TABLE = [
    ("2026-12-02 11:59", []),
    ("2026-12-02 12:00", [R.QUIET_HOURS]),
    ("2026-12-02 13:59", [R.QUIET_HOURS]),
    ("2026-12-02 14:00", []),
    ("2026-12-02 08:59", [R.OUTSIDE_CALLING_HOURS]),
    ("2026-12-02 09:00", []),
    ("2026-12-02 20:59", []),
    ("2026-12-02 21:00", [R.OUTSIDE_CALLING_HOURS]),
]


@pytest.mark.parametrize(("local", "expected"), QUIET_TABLE)
def test_cn_lunch_quiet_period_and_hours(local: str, expected: list[R]) -> None:
    assert codes(check(BEIJING, CN, at(local, "Asia/Shanghai"), "CN")) == expected


def test_quiet_detail() -> None:
    pre = check(BEIJING, CN, at("2026-12-02 12:30", "Asia/Shanghai"), "CN")
    assert pre.reasons[0].detail == "12:30 Asia/Shanghai is in the quiet period 12:00-14:00 (CIRC 2013)"


def test_state_quiet_period_adds_to_the_policy() -> None:
    policy = replace(US, regions={"FL": Rules(quiet=(rng("12:00-13:00"),), source="lunch")})
    assert codes(check(FL, policy, at("2026-12-02 12:30", "America/New_York"))) == [R.QUIET_HOURS]
    assert codes(check(NY, policy, at("2026-12-02 12:30", "America/New_York"))) == []


# -- holidays, rest days, make-up working days (调休) ----------------------------------------------------------


def test_holidays_package_knows_the_2026_make_up_day() -> None:
    cal = holidays.country_holidays("CN")
    assert date(2026, 2, 14).weekday() == 5  # a Saturday
    assert cal.is_working_day(date(2026, 2, 14))
    assert not cal.is_working_day(date(2026, 2, 15))
    assert date(2026, 2, 17) in cal


CN_DAYS = [
    ("2026-02-14 10:00", []),  # Saturday, make-up working day: called with Monday's hours
    ("2026-02-14 12:30", [R.QUIET_HOURS]),  # the lunch rest still applies on a make-up day
    ("2026-02-14 21:00", [R.OUTSIDE_CALLING_HOURS]),
    ("2026-02-15 10:00", [R.HOLIDAY]),  # Sunday: rest day
    ("2026-02-17 10:00", [R.HOLIDAY]),  # Spring Festival
    ("2026-02-20 10:00", [R.HOLIDAY]),  # a weekday off, substituted for the 14th
    ("2026-02-24 10:00", []),  # an ordinary Tuesday
    ("2026-02-28 10:00", []),  # Saturday, make-up day
    ("2026-03-01 10:00", [R.HOLIDAY]),  # an ordinary Sunday
    ("2026-10-01 10:00", [R.HOLIDAY]),  # National Day
    ("2026-10-10 10:00", []),  # Saturday, make-up day
    ("2026-02-15 22:00", [R.OUTSIDE_CALLING_HOURS, R.HOLIDAY]),  # every reason is reported
]


@pytest.mark.parametrize(("local", "expected"), CN_DAYS)
def test_cn_rest_days_and_make_up_days(local: str, expected: list[R]) -> None:
    assert sorted(codes(check(BEIJING, CN, at(local, "Asia/Shanghai"), "CN"))) == sorted(expected)


def test_holiday_details() -> None:
    spring = check(BEIJING, CN, at("2026-02-17 10:00", "Asia/Shanghai"), "CN").reasons[0].detail
    assert spring.startswith("2026-02-17 (tue) Asia/Shanghai is a public holiday in CN: ")
    assert "Spring Festival" in spring
    rest = check(BEIJING, CN, at("2026-02-15 10:00", "Asia/Shanghai"), "CN").reasons[0].detail
    assert rest == "2026-02-15 (sun) Asia/Shanghai is a rest day in CN"


def test_make_up_day_takes_the_hours_of_makeup_hours_from() -> None:
    hours = every_day("09:00-21:00") | {"mon": (rng("09:00-18:00"),)}
    policy = replace(CN, rules=replace(CN.rules, hours=hours))
    pre = check(BEIJING, policy, at("2026-02-14 19:00", "Asia/Shanghai"), "CN")
    assert codes(pre) == [R.OUTSIDE_CALLING_HOURS]
    assert pre.reasons[0].detail.startswith(
        "19:00 Asia/Shanghai (sat, a make-up working day with mon hours) is outside mon 09:00-18:00"
    )
    # an ordinary Saturday keeps its own hours (here: a rest day anyway)
    assert codes(check(BEIJING, policy, at("2026-02-21 19:00", "Asia/Shanghai"), "CN")) == [R.HOLIDAY]


def test_without_makeup_workdays_a_make_up_saturday_is_a_rest_day() -> None:
    policy = replace(CN, holidays=HolidayRule("CN", rest_days=True, makeup_workdays=False))
    assert codes(check(BEIJING, policy, at("2026-02-14 10:00", "Asia/Shanghai"), "CN")) == [R.HOLIDAY]


def test_public_holidays_only_keep_weekends_open() -> None:
    policy = replace(CN, holidays=HolidayRule("CN", rest_days=False, makeup_workdays=False))
    assert codes(check(BEIJING, policy, at("2026-03-01 10:00", "Asia/Shanghai"), "CN")) == []  # Sunday
    assert codes(check(BEIJING, policy, at("2026-02-17 10:00", "Asia/Shanghai"), "CN")) == [R.HOLIDAY]


def test_holiday_is_decided_by_the_callee_local_date() -> None:
    # 2026-10-01 00:30 in Beijing is still 30 September 16:30 UTC: National Day in Beijing
    assert codes(check(BEIJING, replace(CN, rules=replace(CN.rules, hours=every_day("00:00-24:00"), quiet=())),
                       datetime(2026, 9, 30, 16, 30, tzinfo=UTC), "CN")) == [R.HOLIDAY]  # fmt: skip


# -- emergency numbers ---------------------------------------------------------------------------------------


def test_emergency_number_is_never_blocked_by_precheck() -> None:
    info = normalize("911", "US")
    never_imported: dict[str, ListState] = {}
    pre = precheck(info, us_sales(), US, LISTS, never_imported, at("2026-12-02 03:00", "America/New_York"))
    assert pre == Precheck((), ())


# -- stale DNC lists -----------------------------------------------------------------------------------------

NOW = at("2026-12-02 12:00", "America/New_York")


def _state(days_ago: float | None, name: str = "us-national") -> dict[str, ListState]:
    imported = None if days_ago is None else (NOW - timedelta(days=days_ago)).timestamp()
    return {name: ListState(name, "v1", imported_at=imported)}


@pytest.mark.parametrize(
    ("days_ago", "stale"), [(None, True), (0, False), (30, False), (31, False), (31.01, True), (45, True)]
)
def test_registry_older_than_max_age_blocks(days_ago: float | None, stale: bool) -> None:
    pre = precheck(normalize(NY, "US"), us_sales(), US, LISTS, _state(days_ago), NOW)
    assert codes(pre) == ([R.DNC_LIST_STALE] if stale else [])


def test_stale_details() -> None:
    never = precheck(normalize(NY, "US"), us_sales(), US, LISTS, {}, NOW).reasons[0].detail
    assert never == "us-national: never imported (max age 31 days, FTC National DNC Registry)"
    old = precheck(normalize(NY, "US"), us_sales(), US, LISTS, _state(45), NOW).reasons[0].detail
    assert old.startswith("us-national: last imported 2026-10-18") and "45 days ago" in old


def test_stale_warn_action_warns_without_blocking() -> None:
    camp = us_sales(dnc_lists=("internal", "state-reg"))
    pre = precheck(normalize(NY, "US"), camp, US, LISTS, _state(100, "state-reg"), NOW)
    assert pre.reasons == ()
    assert len(pre.warnings) == 1 and pre.warnings[0].startswith("dnc_list_stale: state-reg:")


def test_lists_without_max_age_are_never_stale_and_other_campaigns_lists_do_not_count() -> None:
    camp = us_sales(dnc_lists=("internal", "partner"))
    assert precheck(normalize(NY, "US"), camp, US, LISTS, {}, NOW) == Precheck((), ())


def test_reasons_come_in_canonical_order() -> None:
    pre = precheck(normalize(BEIJING, "CN"), us_sales(region="CN", policy="cn"), CN, LISTS, {},
                   at("2026-02-15 12:30", "Asia/Shanghai"))  # fmt: skip
    assert codes(pre) == [R.DNC_LIST_STALE, R.QUIET_HOURS, R.HOLIDAY]
    assert pre.blocks


def test_province_rules_apply_to_canadian_numbers() -> None:
    policy = replace(CA, regions={"QC": Rules(hours=every_day("10:00-20:00"), source="house rule")})
    montreal = "+15145550100"
    assert codes(check(montreal, policy, at("2026-12-02 09:30", "America/Toronto"), "CA")) == [R.OUTSIDE_CALLING_HOURS]
    assert codes(check(TORONTO, policy, at("2026-12-02 09:30", "America/Toronto"), "CA")) == []


def test_memoized_zone_verdicts_hold_to_the_second_at_a_boundary() -> None:
    # 20:59:59 and 21:00:00 New York differ, although the first filled the cache for its minute
    before = at("2026-12-02 20:59:00", "America/New_York")
    assert codes(check("+12125550142", US, before)) == []
    assert codes(check("+12125550142", US, before + timedelta(seconds=59))) == []
    assert codes(check("+12125550142", US, before + timedelta(seconds=60))) == [R.OUTSIDE_CALLING_HOURS]


def test_memoized_zone_verdicts_follow_a_new_policy_object() -> None:
    noon = at("2026-12-02 12:00", "America/New_York")
    assert codes(check("+12125550142", US, noon)) == []
    closed = replace(US, rules=replace(US.rules, hours=every_day("08:00-09:00")))
    assert codes(check("+12125550142", closed, noon)) == [R.OUTSIDE_CALLING_HOURS]
