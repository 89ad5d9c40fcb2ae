"""Duration syntax: parsing, canonical text, round trips and refusals."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.durations import (
    BUSINESS_HOURS,
    CALENDAR,
    MONTH,
    WORKING_DAYS,
    Duration,
    DurationError,
    parse_duration,
)

PARSES = [
    ("24h", CALENDAR, timedelta(hours=24), "1d"),
    ("36 hours", CALENDAR, timedelta(hours=36), "36h"),
    ("13d", CALENDAR, timedelta(days=13), "13d"),
    ("13 calendar days", CALENDAR, timedelta(days=13), "13d"),
    ("30min", CALENDAR, timedelta(minutes=30), "30min"),
    ("1.5h", CALENDAR, timedelta(minutes=90), "90min"),
    ("1/3 hour", CALENDAR, timedelta(minutes=20), "20min"),
    ("2 weeks", CALENDAR, timedelta(days=14), "14d"),
    ("0h", CALENDAR, timedelta(0), "0min"),
    ("1 month", MONTH, Decimal(1), "1 month"),
    ("3 Months", MONTH, Decimal(3), "3 months"),
    ("5 working days", WORKING_DAYS, Decimal(5), "5wd"),
    ("5wd", WORKING_DAYS, Decimal(5), "5wd"),
    ("  5   Working  Days ", WORKING_DAYS, Decimal(5), "5wd"),
    ("1/2 working day", WORKING_DAYS, Decimal("0.5"), "0.5wd"),
    ("0.5wd", WORKING_DAYS, Decimal("0.5"), "0.5wd"),
    ("1.50 wd", WORKING_DAYS, Decimal("1.5"), "1.5wd"),
    ("10wd", WORKING_DAYS, Decimal(10), "10wd"),
    ("6 business hours", BUSINESS_HOURS, Decimal(6), "6bh"),
    ("6bh", BUSINESS_HOURS, Decimal(6), "6bh"),
    ("1 business hour", BUSINESS_HOURS, Decimal(1), "1bh"),
    ("0.25bh", BUSINESS_HOURS, Decimal("0.25"), "0.25bh"),
]


@pytest.mark.parametrize(("text", "kind", "amount", "canonical"), PARSES, ids=[p[0].strip() for p in PARSES])
def test_parse(text: str, kind: str, amount: object, canonical: str) -> None:
    duration = parse_duration(text)
    assert duration == Duration(kind, amount)
    assert str(duration) == canonical
    assert parse_duration(canonical) == duration


REFUSALS = [
    ("", "empty duration"),
    ("   ", "empty duration"),
    ("5", "one amount and one unit"),
    ("h", "one amount and one unit"),
    ("-1h", "negative"),
    ("5m", "ambiguous"),
    ("5 wrking days", "did you mean 'working days'"),
    ("5 fortnights", "unknown unit"),
    ("0.01h", "whole number of minutes"),
    ("1.5 months", "months must be whole"),
    ("1/3 wd", "not an exact decimal"),
    ("0.001bh", "whole minutes"),
    ("1/0h", "division by zero"),
    ("1d 2h", "one amount and one unit"),
]


@pytest.mark.parametrize(("text", "fragment"), REFUSALS, ids=[r[0] or "empty" for r in REFUSALS])
def test_refusals_say_why(text: str, fragment: str) -> None:
    with pytest.raises(DurationError, match=fragment):
        parse_duration(text)


def test_non_text_is_refused() -> None:
    with pytest.raises(DurationError, match="text such as"):
        parse_duration(24)  # type: ignore[arg-type]


BAD_VALUES = [
    ("speed", Decimal(1), "unknown duration kind"),
    (CALENDAR, Decimal(1), "timedelta"),
    (CALENDAR, timedelta(seconds=-60), "negative"),
    (CALENDAR, timedelta(seconds=30), "whole minutes"),
    (WORKING_DAYS, timedelta(days=1), "Decimal"),
    (WORKING_DAYS, Decimal(-1), "non-negative"),
    (WORKING_DAYS, Decimal("NaN"), "finite"),
    (MONTH, Decimal("0.5"), "whole"),
    (BUSINESS_HOURS, True, "Decimal"),
]


@pytest.mark.parametrize(("kind", "amount", "fragment"), BAD_VALUES, ids=[f"{k}-{a}" for k, a, _ in BAD_VALUES])
def test_constructor_checks(kind: str, amount: object, fragment: str) -> None:
    with pytest.raises(DurationError, match=fragment):
        Duration(kind, amount)  # type: ignore[arg-type]


def test_amounts_are_normalised() -> None:
    assert Duration(WORKING_DAYS, Decimal("5.00")).amount.as_tuple() == Decimal(5).as_tuple()
    assert Duration(WORKING_DAYS, 2) == Duration(WORKING_DAYS, Decimal("2.0"))
    assert str(Duration(WORKING_DAYS, Decimal("1E+1"))) == "10wd"


@pytest.mark.parametrize(
    ("text", "length"),
    [("90min", timedelta(minutes=90)), ("1.5bh", timedelta(minutes=90)), ("2d", timedelta(days=2))],
    ids=["calendar", "business-hours", "days"],
)
def test_to_timedelta(text: str, length: timedelta) -> None:
    assert parse_duration(text).to_timedelta() == length


@pytest.mark.parametrize("text", ["1 month", "1wd"])
def test_no_fixed_length(text: str) -> None:
    with pytest.raises(DurationError, match="no fixed length"):
        parse_duration(text).to_timedelta()


durations = st.one_of(
    st.integers(0, 60 * 24 * 400).map(lambda m: Duration(CALENDAR, timedelta(minutes=m))),
    st.integers(0, 120).map(lambda n: Duration(MONTH, Decimal(n))),
    st.decimals(0, 1000, places=3).map(lambda d: Duration(WORKING_DAYS, d)),
    # Multiples of 3 minutes: the business-hour amounts that are exact decimals of an hour.
    st.integers(0, 20 * 1000).map(lambda k: Duration(BUSINESS_HOURS, Decimal(k) / 20)),
)


@given(durations)
def test_str_round_trips(duration: Duration) -> None:
    again = parse_duration(str(duration))
    assert again == duration
    assert str(again) == str(duration)


SHIFTS = [
    # (id, day, months, expected)
    ("same-day", "2024-03-15", 1, "2024-04-15"),
    ("clamped-leap", "2024-01-31", 1, "2024-02-29"),
    ("clamped-common", "2025-01-31", 1, "2025-02-28"),
    ("across-year", "2024-11-30", 3, "2025-02-28"),
    ("backwards", "2024-03-31", -1, "2024-02-29"),
    ("backwards-across-year", "2024-01-15", -13, "2022-12-15"),
    ("zero", "2024-05-31", 0, "2024-05-31"),
]  # fmt: skip


@pytest.mark.parametrize(("day", "months", "want"), [s[1:] for s in SHIFTS], ids=[s[0] for s in SHIFTS])
def test_shift_months_is_the_one_month_arithmetic(day, months, want):
    from datetime import date

    from engine.durations import shift_months

    assert shift_months(date.fromisoformat(day), months) == date.fromisoformat(want)
