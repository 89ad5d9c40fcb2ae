"""Business calendars: working days, 调休, pack overrides, due times, business time and paused time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.calendar import CN_YEARS, SPEC_SCHEMA, BusinessCalendar, CalendarError
from engine.durations import BUSINESS_HOURS, CALENDAR, MONTH, WORKING_DAYS, Duration

SH = ZoneInfo("Asia/Shanghai")
OFFICE = ["08:30-12:00", "13:30-17:30"]  # 7.5 working hours
OFFICE_MINUTES = [(510, 720), (810, 1050)]
WEEKDAY_SPEC: dict[str, Any] = {"week": {day: OFFICE for day in ("mon", "tue", "wed", "thu", "fri")}}
# The first year the installed package has no data for, so these tests outlive a package upgrade.
BEYOND = max(CN_YEARS) + 1


def at(text: str) -> datetime:
    """A Shanghai wall time, or any ISO time that carries its own offset."""
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=SH)


def make(**changes: Any) -> BusinessCalendar:
    return BusinessCalendar.from_spec({**WEEKDAY_SPEC, **changes})


OFFICE_CAL = make()


# ── which days work ──

DAYS = [
    ("2024-09-13", True, "ordinary-friday"),
    ("2024-09-14", True, "make-up-saturday"),
    ("2024-09-15", False, "sunday"),
    ("2024-09-16", False, "mid-autumn-monday"),
    ("2024-09-17", False, "mid-autumn-tuesday"),
    ("2024-09-29", True, "national-day-make-up-sunday"),
    ("2024-10-01", False, "national-day"),
    ("2024-10-07", False, "national-day-last"),
    ("2024-10-08", True, "after-national-day"),
    ("2024-10-12", True, "national-day-make-up-saturday"),
    ("2024-10-13", False, "sunday-after"),
    ("2024-12-31", True, "new-years-eve"),
    ("2025-01-01", False, "new-year"),
    ("2025-01-26", True, "spring-festival-make-up-sunday"),
    ("2025-01-28", False, "spring-festival-eve"),
    ("2025-02-04", False, "spring-festival-last"),
    ("2025-02-05", True, "after-spring-festival"),
    ("2025-02-08", True, "spring-festival-make-up-saturday"),
]


@pytest.mark.parametrize(("day", "working"), [(d, w) for d, w, _ in DAYS], ids=[i for *_, i in DAYS])
def test_is_working_day(day: str, working: bool) -> None:
    assert OFFICE_CAL.is_working_day(date.fromisoformat(day)) is working


def test_package_years() -> None:
    assert {2004, 2024, 2025, 2026} <= CN_YEARS
    assert CN_YEARS == set(range(min(CN_YEARS), max(CN_YEARS) + 1))


@pytest.mark.parametrize(
    ("changes", "day", "want"),
    [
        ({"closures": ["2024-12-31"]}, "2024-12-31", []),
        ({"extra_workdays": ["2025-01-04"]}, "2025-01-04", OFFICE),
        ({"extra_workdays": ["2024-10-02"]}, "2024-10-02", OFFICE),
        ({}, "2024-09-14", OFFICE),
        ({"week": {**WEEKDAY_SPEC["week"], "sat": ["09:00-12:00"]}}, "2024-09-07", ["09:00-12:00"]),
        ({"week": {**WEEKDAY_SPEC["week"], "sat": ["09:00-12:00"]}}, "2024-10-05", []),
        ({"week": {**WEEKDAY_SPEC["week"], "sat": ["09:00-12:00"]}}, "2024-09-14", OFFICE),
        (
            {"week": {**WEEKDAY_SPEC["week"], "fri": ["08:30-12:00"]}, "makeup_hours": "fri"},
            "2024-09-14",
            ["08:30-12:00"],
        ),
        ({"holidays": "none"}, "2024-10-01", OFFICE),
        ({"holidays": "none"}, "2024-09-14", []),
        ({"years": {"2024": {"holidays": [], "workdays": []}}}, "2024-10-01", OFFICE),
        ({"years": {2024: {"holidays": ["2024-03-01"]}}}, "2024-03-01", []),
        ({"week": {"mon": ["00:00-24:00"]}, "holidays": "none"}, "2024-09-09", ["00:00-24:00"]),
    ],
    ids=[
        "closure",
        "extra-workday-saturday",
        "extra-workday-on-holiday",
        "make-up-day-works-monday-hours",
        "ordinary-saturday-own-hours",
        "holiday-saturday-off",
        "make-up-saturday-weekday-hours",
        "makeup-hours-from-friday",
        "holidays-none-national-day-works",
        "holidays-none-no-make-up",
        "year-table-replaces-package",
        "year-table-int-key",
        "round-the-clock",
    ],
)
def test_intervals_on(changes: dict[str, Any], day: str, want: list[str]) -> None:
    d = date.fromisoformat(day)
    got = make(**changes).intervals_on(d)
    assert [f"{s:%H:%M}-{'24:00' if e.date() > d else format(e, '%H:%M')}" for s, e in got] == want
    assert all(s.tzinfo is not None and e.tzinfo is not None and s.date() == d for s, e in got)


def test_intervals_are_in_the_calendar_zone() -> None:
    (start, end), _ = OFFICE_CAL.intervals_on(date(2024, 9, 9))
    assert start == datetime(2024, 9, 9, 0, 30, tzinfo=UTC)
    assert start.utcoffset() == timedelta(hours=8)


def test_an_instant_stands_for_its_local_date() -> None:
    # 2024-09-30 20:00 UTC is 2024-10-01 04:00 in Shanghai: National Day.
    assert OFFICE_CAL.is_working_day(datetime(2024, 9, 30, 20, tzinfo=UTC)) is False


# ── years without data ──


def test_year_beyond_package_raises_naming_the_year() -> None:
    with pytest.raises(CalendarError, match=rf"no public-holiday data for {BEYOND}\b.*fallback: weekday_only"):
        OFFICE_CAL.is_working_day(date(BEYOND, 3, 2))


def test_year_before_package_raises_naming_the_year() -> None:
    early = min(CN_YEARS) - 1
    with pytest.raises(CalendarError, match=f"for {early}"):
        OFFICE_CAL.is_working_day(date(early, 6, 1))


def test_counting_into_an_uncovered_year_raises() -> None:
    with pytest.raises(CalendarError, match=f"for {BEYOND}"):
        OFFICE_CAL.add(at(f"{BEYOND - 1}-12-31 18:00"), "1wd")


def _weekdays_from(first: date, skip: set[date]) -> list[date]:
    days, day = [], first
    while len(days) < 2:
        if day.weekday() < 5 and day not in skip:
            days.append(day)
        day += timedelta(days=1)
    return days


def test_pack_year_table_covers_a_year_beyond_the_package() -> None:
    new_year = date(BEYOND, 1, 1)
    cal = make(years={str(BEYOND): {"holidays": [new_year.isoformat()], "workdays": []}})
    assert cal.is_working_day(new_year) is False
    receipt, due_day = _weekdays_from(date(BEYOND, 1, 2), skip={new_year})
    assert cal.is_working_day(receipt)
    assert cal.add(at(f"{BEYOND - 1}-12-31 18:00"), "1wd") == at(f"{due_day} 17:30")


def test_closures_and_extra_workdays_need_no_year_data() -> None:
    cal = make(closures=[f"{BEYOND}-03-02"], extra_workdays=[f"{BEYOND}-03-04"])
    assert cal.is_working_day(date(BEYOND, 3, 2)) is False
    assert cal.is_working_day(date(BEYOND, 3, 4)) is True


def test_weekday_only_fallback() -> None:
    cal = make(fallback="weekday_only")
    for offset in range(14):
        day = date(BEYOND, 1, 1) + timedelta(days=offset)
        assert cal.is_working_day(day) is (day.weekday() < 5)
    assert cal.is_working_day(date(2024, 10, 1)) is False  # covered years still use the package


def test_holidays_none_never_needs_data() -> None:
    assert make(holidays="none").is_working_day(date(BEYOND + 40, 1, 1)) is (date(BEYOND + 40, 1, 1).weekday() < 5)


# ── due times ──

DUE = [
    # working days: the receipt day is not counted; after hours / non-working days receive on the next working day
    ("2024-09-06 10:00", "1wd", "2024-09-09 17:30", "in-hours-friday"),
    ("2024-09-06 07:00", "1wd", "2024-09-09 17:30", "before-hours-friday"),
    ("2024-09-06 17:30", "1wd", "2024-09-10 17:30", "at-closing-time"),
    ("2024-09-06 18:00", "1wd", "2024-09-10 17:30", "after-hours-friday"),
    ("2024-09-07 10:00", "1wd", "2024-09-10 17:30", "on-a-saturday"),
    ("2024-09-06T10:00:00+00:00", "1wd", "2024-09-10 17:30", "utc-input-is-after-hours-in-shanghai"),
    ("2024-09-16 10:00", "1wd", "2024-09-19 17:30", "on-mid-autumn-holiday"),
    ("2024-09-14 10:00", "1wd", "2024-09-18 17:30", "on-make-up-saturday"),
    ("2024-09-14 10:00", "6bh", "2024-09-14 17:30", "make-up-saturday-business-hours"),
    ("2024-09-14 10:00", "7bh", "2024-09-18 09:30", "make-up-saturday-into-wednesday"),
    ("2024-09-29 10:00", "1wd", "2024-09-30 17:30", "national-day-make-up-sunday"),
    ("2024-09-30 10:00", "1wd", "2024-10-08 17:30", "across-national-day"),
    ("2024-09-30 10:00", "5wd", "2024-10-12 17:30", "across-national-day-to-make-up-saturday"),
    ("2024-10-03 10:00", "1wd", "2024-10-09 17:30", "during-national-day"),
    ("2024-09-30 16:30", "2bh", "2024-10-08 09:30", "business-hours-across-national-day"),
    ("2025-01-27 10:00", "1wd", "2025-02-05 17:30", "across-spring-festival"),
    ("2025-01-26 16:00", "3bh", "2025-01-27 10:00", "spring-festival-make-up-sunday"),
    ("2025-01-27 10:00", "10wd", "2025-02-17 17:30", "ten-days-across-spring-festival"),
    ("2024-12-31 10:00", "1wd", "2025-01-02 17:30", "across-year-end"),
    ("2024-12-31 17:00", "1bh", "2025-01-02 09:00", "business-hours-across-year-end"),
    ("2024-09-09 10:00", "0wd", "2024-09-09 17:30", "zero-working-days"),
    # half days: a fraction of the working time of the day it falls in
    ("2024-09-09 10:00", "0.5wd", "2024-09-10 13:45", "half-day"),
    ("2024-09-09 10:00", "1/2 working day", "2024-09-10 13:45", "half-day-fraction"),
    ("2024-09-09 10:00", "1.5wd", "2024-09-11 13:45", "one-and-a-half-days"),
    ("2024-09-13 16:00", "0.5wd", "2024-09-14 13:45", "half-day-on-make-up-saturday"),
    # business hours
    ("2024-09-09 10:00", "2bh", "2024-09-09 12:00", "lands-on-interval-end"),
    ("2024-09-09 10:00", "2.5bh", "2024-09-09 14:00", "over-lunch"),
    ("2024-09-09 12:30", "1bh", "2024-09-09 14:30", "starts-at-lunch"),
    ("2024-09-07 10:00", "1bh", "2024-09-09 09:30", "starts-on-weekend"),
    ("2024-09-09 10:00", "0bh", "2024-09-09 10:00", "zero-business-hours"),
    # calendar time and months
    ("2024-09-30 10:00", "24h", "2024-10-01 10:00", "24h-ignores-holidays"),
    ("2024-09-30 10:00", "13d", "2024-10-13 10:00", "13-days"),
    ("2024-09-30 23:45", "30min", "2024-10-01 00:15", "30-minutes"),
    ("2024-01-31 10:00", "1 month", "2024-02-29 10:00", "month-clamped-leap"),
    ("2025-01-31 10:00", "1 month", "2025-02-28 10:00", "month-clamped"),
    ("2024-03-15 10:00", "1 month", "2024-04-15 10:00", "month-same-day"),
    ("2024-11-30 10:00", "2 months", "2025-01-30 10:00", "months-across-year"),
]


@pytest.mark.parametrize(("start", "duration", "due"), [d[:3] for d in DUE], ids=[d[3] for d in DUE])
def test_add(start: str, duration: str, due: str) -> None:
    got = OFFICE_CAL.add(at(start), duration)
    assert got == at(due)
    assert got.tzinfo == SH


def test_add_takes_a_duration_value() -> None:
    assert OFFICE_CAL.add(at("2024-09-09 10:00"), Duration(WORKING_DAYS, Decimal("0.5"))) == at("2024-09-10 13:45")


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(CalendarError, match="naive datetime"):
        OFFICE_CAL.add(datetime(2024, 9, 9, 10), "1wd")


def test_dst_days_are_counted_in_real_time() -> None:
    berlin = BusinessCalendar.from_spec(
        {"timezone": "Europe/Berlin", "holidays": "none", "week": {"sun": ["00:00-24:00"], "mon": ["09:00-17:00"]}}
    )
    assert berlin.working_time_on(date(2024, 3, 31)) == timedelta(hours=23)
    start = datetime(2024, 3, 30, 22, tzinfo=ZoneInfo("Europe/Berlin"))
    assert berlin.add(start, "23bh") == datetime(2024, 4, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert berlin.add(start, "24h") == datetime(2024, 3, 31, 23, tzinfo=ZoneInfo("Europe/Berlin"))


# ── business time and paused time ──

BETWEEN = [
    ("2024-09-09 08:30", "2024-09-09 17:30", timedelta(hours=7, minutes=30), "one-day"),
    ("2024-09-09 11:00", "2024-09-09 14:00", timedelta(hours=1, minutes=30), "over-lunch"),
    ("2024-09-09 18:00", "2024-09-10 08:00", timedelta(0), "overnight"),
    ("2024-09-30 17:00", "2024-10-08 09:00", timedelta(hours=1), "across-national-day"),
    ("2024-09-13 17:00", "2024-09-18 09:00", timedelta(hours=8, minutes=30), "make-up-saturday-counts"),
    ("2024-12-31 17:00", "2025-01-02 09:00", timedelta(hours=1), "across-year-end"),
    ("2024-09-10 10:00", "2024-09-09 10:00", timedelta(0), "backwards"),
]


@pytest.mark.parametrize(("a", "b", "want"), [x[:3] for x in BETWEEN], ids=[x[3] for x in BETWEEN])
def test_business_time_between(a: str, b: str, want: timedelta) -> None:
    assert OFFICE_CAL.business_time_between(at(a), at(b)) == want


ELAPSED = [
    (CALENDAR, [], timedelta(days=2), "calendar-no-pause"),
    (CALENDAR, [("2024-09-09 12:00", "2024-09-10 12:00")], timedelta(days=1), "calendar-one-day-paused"),
    (
        CALENDAR,
        [("2024-09-09 12:00", "2024-09-10 12:00"), ("2024-09-10 00:00", "2024-09-10 18:00")],
        timedelta(hours=18),
        "overlapping-pauses-merged",
    ),
    (MONTH, [("2024-09-08 00:00", "2024-09-09 10:00")], timedelta(days=2), "pause-before-start-ignored"),
    (BUSINESS_HOURS, [], timedelta(hours=15), "business-no-pause"),
    (BUSINESS_HOURS, [("2024-09-09 13:30", "2024-09-10 13:30")], timedelta(hours=7, minutes=30), "business-paused"),
    (WORKING_DAYS, [("2024-09-09 12:00", "2024-09-09 13:30")], timedelta(hours=15), "pause-over-lunch-costs-nothing"),
    (BUSINESS_HOURS, [("2024-09-09 00:00", "2024-09-12 00:00")], timedelta(0), "paused-throughout"),
    (BUSINESS_HOURS, [("2024-09-09 15:00", "2024-09-09 15:00")], timedelta(hours=15), "empty-pause"),
]


@pytest.mark.parametrize(("kind", "pauses", "want"), [x[:3] for x in ELAPSED], ids=[x[3] for x in ELAPSED])
def test_elapsed(kind: str, pauses: list[tuple[str, str]], want: timedelta) -> None:
    start, end = at("2024-09-09 10:00"), at("2024-09-11 10:00")
    assert OFFICE_CAL.elapsed(start, end, kind, [(at(p), at(q)) for p, q in pauses]) == want


@pytest.mark.parametrize(
    ("kind", "pauses", "fragment"),
    [
        ("fortnights", [], "unknown duration kind"),
        (CALENDAR, [("2024-09-10 10:00", "2024-09-09 10:00")], "before it starts"),
    ],
    ids=["bad-kind", "backwards-pause"],
)
def test_elapsed_refusals(kind: str, pauses: list[tuple[str, str]], fragment: str) -> None:
    with pytest.raises(CalendarError, match=fragment):
        OFFICE_CAL.elapsed(at("2024-09-09 10:00"), at("2024-09-11 10:00"), kind, [(at(p), at(q)) for p, q in pauses])


# ── spec ──

SPEC_ERRORS = [
    ({"week": {"mon": OFFICE}, "weeks": 1}, ("weeks",), "did you mean 'week'"),
    ({}, ("week",), "missing"),
    ({"week": {"monday": OFFICE}}, ("week", "monday"), "did you mean 'mon'"),
    ({"week": {"mon": ["8:30-12"]}}, ("week", "mon", 0), "HH:MM-HH:MM"),
    ({"week": {"mon": ["24:30-24:45"]}}, ("week", "mon", 0), "24:00 is the latest"),
    ({"week": {"mon": ["13:30-12:00"]}}, ("week", "mon", 0), "start before it ends"),
    ({"week": {"mon": ["08:00-12:00", "11:00-13:00"]}}, ("week", "mon", 1), "overlaps"),
    ({"week": {"mon": []}}, ("week",), "no working hours"),
    ({"week": {"mon": None}}, ("week", "mon"), "list of intervals"),
    ({"week": {"mon": OFFICE}, "timezone": "Asia/Shangai"}, ("timezone",), "unknown time zone"),
    ({"week": {"mon": OFFICE}, "holidays": "china"}, ("holidays",), "not one of cn, none"),
    ({"week": {"mon": OFFICE}, "fallback": "weekday"}, ("fallback",), "did you mean 'weekday_only'"),
    ({"week": {"tue": OFFICE}}, ("makeup_hours",), "mon has no working hours"),
    ({"week": {"mon": OFFICE}, "closures": ["2024-02-30"]}, ("closures", 0), "not a date"),
    ({"week": {"mon": OFFICE}, "closures": "2024-12-31"}, ("closures",), "list of dates"),
    (
        {"week": {"mon": OFFICE}, "closures": ["2024-12-31"], "extra_workdays": ["2024-12-31"]},
        ("extra_workdays",),
        "also listed in closures",
    ),
    ({"week": {"mon": OFFICE}, "years": {"31": {}}}, ("years", "31"), "four-digit year"),
    (
        {"week": {"mon": OFFICE}, "years": {"2031": {"holidays": ["2030-01-01"]}}},
        ("years", "2031", "holidays"),
        "not in 2031",
    ),
    (
        {"week": {"mon": OFFICE}, "years": {"2031": {"holidays": ["2031-01-01"], "workdays": ["2031-01-01"]}}},
        ("years", "2031"),
        "both holiday and workday",
    ),
    ({"week": {"mon": OFFICE}, "years": {"2031": {"extra": []}}}, ("years", "2031", "extra"), "unknown key"),
]


@pytest.mark.parametrize(
    ("spec", "path", "fragment"),
    SPEC_ERRORS,
    ids=[
        "unknown-key",
        "week-missing",
        "unknown-weekday",
        "interval-text",
        "past-24h",
        "interval-backwards",
        "intervals-overlap",
        "no-hours-at-all",
        "day-not-a-list",
        "bad-timezone",
        "bad-holidays",
        "bad-fallback",
        "makeup-day-without-hours",
        "impossible-date",
        "dates-not-a-list",
        "closure-and-workday",
        "short-year",
        "date-outside-its-year",
        "holiday-and-workday",
        "unknown-year-key",
    ],
)
def test_spec_errors(spec: dict[str, Any], path: tuple[Any, ...], fragment: str) -> None:
    with pytest.raises(CalendarError, match=fragment) as caught:
        BusinessCalendar.from_spec(spec)
    assert path in [p for p, _ in caught.value.problems]


def test_spec_errors_are_collected() -> None:
    with pytest.raises(CalendarError) as caught:
        BusinessCalendar.from_spec({"week": {"mon": ["x"]}, "holidays": "x", "closures": ["y"], "foo": 1})
    assert len(caught.value.problems) == 4


def test_direct_construction_is_checked() -> None:
    with pytest.raises(CalendarError, match="overlaps"):
        BusinessCalendar(week=(((600, 700), (650, 800)),) + ((),) * 6)


FULL_SPEC = {
    "timezone": "Asia/Shanghai",
    "holidays": "cn",
    "fallback": "error",
    "week": {"mon": OFFICE, "tue": OFFICE, "wed": OFFICE, "thu": OFFICE, "fri": OFFICE, "sat": [], "sun": []},
    "makeup_hours": "mon",
    "closures": ["2024-12-31"],
    "extra_workdays": ["2025-01-04"],
    "years": {"2031": {"holidays": ["2031-01-01"], "workdays": ["2031-01-26"]}},
}


def test_schema_accepts_the_full_spec_and_from_spec_builds_it() -> None:
    jsonschema.Draft202012Validator.check_schema(SPEC_SCHEMA)
    jsonschema.Draft202012Validator(SPEC_SCHEMA).validate(FULL_SPEC)
    cal = BusinessCalendar.from_spec(FULL_SPEC)
    assert cal.is_working_day(date(2031, 1, 26)) and not cal.is_working_day(date(2031, 1, 1))
    assert cal == BusinessCalendar.from_spec(FULL_SPEC)
    assert hash(cal) == hash(BusinessCalendar.from_spec(FULL_SPEC))


@pytest.mark.parametrize(
    "spec",
    [
        {**FULL_SPEC, "weeks": {}},
        {**FULL_SPEC, "holidays": "china"},
        {**FULL_SPEC, "week": {"monday": OFFICE}},
        {**FULL_SPEC, "week": {"mon": ["8:30 to 12:00"]}},
        {**FULL_SPEC, "closures": ["31/12/2024"]},
        {**FULL_SPEC, "years": {"31": {}}},
        {**FULL_SPEC, "years": {"2031": {"holiday": []}}},
        {k: v for k, v in FULL_SPEC.items() if k != "week"},
    ],
    ids=[
        "unknown-key",
        "holidays-value",
        "weekday-name",
        "interval-text",
        "date-text",
        "year-key",
        "year-body",
        "no-week",
    ],
)
def test_schema_refuses_what_from_spec_refuses(spec: dict[str, Any]) -> None:
    assert list(jsonschema.Draft202012Validator(SPEC_SCHEMA).iter_errors(spec))
    with pytest.raises(CalendarError):
        BusinessCalendar.from_spec(spec)


# ── properties ──

WINDOW_START = datetime(2024, 9, 10, tzinfo=SH)  # covers Mid-Autumn, National Day and their 调休 days
WINDOW_MINUTES = 40 * 24 * 60
minutes = st.integers(0, WINDOW_MINUTES)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None)


def moment(minute: int) -> datetime:
    return WINDOW_START + timedelta(minutes=minute)


@cache
def working_minutes(day: date) -> frozenset[int]:
    """Oracle independent of the engine: the package's own is_workday and the office hours."""
    if not chinese_calendar.is_workday(day):
        return frozenset()
    return frozenset(m for s, e in OFFICE_MINUTES for m in range(s, e))


def brute_force(a: int, b: int, paused: set[int] = frozenset(), business: bool = True) -> timedelta:  # type: ignore[assignment]
    count = 0
    for minute in range(a, b):
        if minute in paused:
            continue
        local = moment(minute)
        if not business or local.hour * 60 + local.minute in working_minutes(local.date()):
            count += 1
    return timedelta(minutes=count)


durations = st.one_of(
    st.integers(0, 20).map(lambda n: Duration(WORKING_DAYS, Decimal(n) / 2)),
    st.integers(0, 160).map(lambda n: Duration(BUSINESS_HOURS, Decimal(n) / 4)),
    st.integers(0, 14 * 24 * 60).map(lambda n: Duration(CALENDAR, timedelta(minutes=n))),
    st.integers(0, 2).map(lambda n: Duration(MONTH, Decimal(n))),
)


@PROPERTY_SETTINGS
@given(minutes, minutes, durations)
def test_due_time_is_monotone_in_start(a: int, b: int, duration: Duration) -> None:
    early, late = sorted((a, b))
    assert OFFICE_CAL.add(moment(early), duration) <= OFFICE_CAL.add(moment(late), duration)


@PROPERTY_SETTINGS
@given(minutes, st.integers(0, 16).map(lambda n: Decimal(n) / 4))
def test_working_day_due_lands_inside_a_working_day(start: int, amount: Decimal) -> None:
    due = OFFICE_CAL.add(moment(start), Duration(WORKING_DAYS, amount))
    assert OFFICE_CAL.is_working_day(due.date())
    assert any(s < due <= e for s, e in OFFICE_CAL.intervals_on(due.date()))
    assert due > moment(start)


@PROPERTY_SETTINGS
@given(minutes, st.integers(0, 20 * 60))
def test_business_hours_due_consumes_exactly_that_much_business_time(start: int, twentieths: int) -> None:
    # Steps of 3 minutes: the amounts that are exact decimals of an hour.
    due = OFFICE_CAL.add(moment(start), Duration(BUSINESS_HOURS, Decimal(twentieths) / 20))
    assert OFFICE_CAL.business_time_between(moment(start), due) == timedelta(minutes=3 * twentieths)


SPAN = 6 * 24 * 60


@PROPERTY_SETTINGS
@given(minutes, st.integers(0, SPAN))
def test_business_time_matches_minute_by_minute_count(start: int, length: int) -> None:
    assert OFFICE_CAL.business_time_between(moment(start), moment(start + length)) == brute_force(start, start + length)


@PROPERTY_SETTINGS
@given(
    st.integers(0, WINDOW_MINUTES - SPAN),
    st.integers(0, SPAN),
    st.lists(st.tuples(st.integers(-600, SPAN + 600), st.integers(0, 2 * 24 * 60)), max_size=4),
    st.sampled_from([BUSINESS_HOURS, WORKING_DAYS, CALENDAR, MONTH]),
)
def test_paused_time_is_never_counted(start: int, length: int, pauses: list[tuple[int, int]], kind: str) -> None:
    spans = [(start + offset, start + offset + size) for offset, size in pauses]
    paused = {m for p, q in spans for m in range(p, q)}
    got = OFFICE_CAL.elapsed(moment(start), moment(start + length), kind, [(moment(p), moment(q)) for p, q in spans])
    business = kind in (BUSINESS_HOURS, WORKING_DAYS)
    assert got == brute_force(start, start + length, paused, business)


@settings(max_examples=300, deadline=None)
@given(st.dates(date(min(CN_YEARS), 1, 1), date(max(CN_YEARS), 12, 31)))
def test_weekday_calendar_agrees_with_the_package(day: date) -> None:
    assert OFFICE_CAL.is_working_day(day) is chinese_calendar.is_workday(day)
