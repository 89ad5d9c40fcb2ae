"""Duration text syntax (`24h`, `1 month`, `5 working days`, `6bh`) parsed into immutable `Duration` values."""

# Syntax: one amount, optional spaces, one unit; case and repeated spaces do not matter.
#
#   amount := digits ["." digits] | digits "/" digits          e.g. 5, 0.5, 1/2, 1.25
#   unit   := min | mins | minute | minutes                    calendar time
#           | h | hour | hours
#           | d | day | days | calendar day | calendar days
#           | w | week | weeks
#           | month | months                                   same day N months later, clamped to month end
#           | wd | working day | working days                  whole or fractional working days
#           | bh | business hour | business hours              time inside working intervals only
#
# Rules: amounts are never negative; calendar time and business hours come to whole minutes (the smallest
# unit); months are whole; a working-day or business-hour amount is an exact decimal (1/3 is refused, not
# rounded). `m` alone is refused as ambiguous (min or month?). `str(Duration)` prints the canonical form
# (`90min`, `36h`, `13d`, `1 month`, `0.5wd`, `6bh`), which parses back to an equal Duration.

from __future__ import annotations

import calendar as _months
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from .errors import ZhiduError, did_you_mean

CALENDAR = "calendar"
MONTH = "month"
WORKING_DAYS = "working_days"
BUSINESS_HOURS = "business_hours"
KINDS = (CALENDAR, MONTH, WORKING_DAYS, BUSINESS_HOURS)

_MINUTE = timedelta(minutes=1)

# unit spelling → (kind, minutes per unit for calendar time)
_UNITS: dict[str, tuple[str, int]] = {
    "min": (CALENDAR, 1),
    "mins": (CALENDAR, 1),
    "minute": (CALENDAR, 1),
    "minutes": (CALENDAR, 1),
    "h": (CALENDAR, 60),
    "hour": (CALENDAR, 60),
    "hours": (CALENDAR, 60),
    "d": (CALENDAR, 1440),
    "day": (CALENDAR, 1440),
    "days": (CALENDAR, 1440),
    "calendar day": (CALENDAR, 1440),
    "calendar days": (CALENDAR, 1440),
    "w": (CALENDAR, 10080),
    "week": (CALENDAR, 10080),
    "weeks": (CALENDAR, 10080),
    "month": (MONTH, 0),
    "months": (MONTH, 0),
    "wd": (WORKING_DAYS, 0),
    "working day": (WORKING_DAYS, 0),
    "working days": (WORKING_DAYS, 0),
    "bh": (BUSINESS_HOURS, 0),
    "business hour": (BUSINESS_HOURS, 0),
    "business hours": (BUSINESS_HOURS, 0),
}

_UNIT_HELP = "min, h, d (or 'calendar days'), w, month, wd ('working days'), bh ('business hours')"

_TEXT = re.compile(r"^(?P<num>\d+(?:\.\d+)?|\d+/\d+)\s*(?P<unit>[a-z][a-z ]*)$")


class DurationError(ZhiduError):
    """A duration text or value that is not valid."""

    default_code = "duration"


@dataclass(frozen=True)
class Duration:
    """One duration: `kind` is calendar (amount: timedelta) or month / working_days / business_hours (Decimal)."""

    kind: str
    amount: Decimal | timedelta

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DurationError(f"unknown duration kind {self.kind!r}{did_you_mean(str(self.kind), KINDS)}")
        if self.kind == CALENDAR:
            if not isinstance(self.amount, timedelta):
                raise DurationError(f"a calendar duration's amount is a timedelta, not {type(self.amount).__name__}")
            if self.amount < timedelta(0):
                raise DurationError(f"a duration cannot be negative: {self.amount}")
            if self.amount % _MINUTE:
                raise DurationError(f"a calendar duration must be whole minutes: {self.amount}")
            return
        if isinstance(self.amount, bool) or not isinstance(self.amount, Decimal | int):
            raise DurationError(f"a {self.kind} duration's amount is a Decimal, not {type(self.amount).__name__}")
        amount = Decimal(self.amount)
        if not amount.is_finite() or amount < 0:
            raise DurationError(f"a duration must be a finite, non-negative amount: {self.amount}")
        if self.kind == MONTH and amount != amount.to_integral_value():
            raise DurationError(f"months must be whole: {_plain(amount)}")
        if self.kind == BUSINESS_HOURS and (amount * 60) != (amount * 60).to_integral_value():
            raise DurationError(f"business hours must come to whole minutes: {_plain(amount)}")
        # Normalised so that 5, 5.0 and 5.00 are one value with one printed form.
        object.__setattr__(self, "amount", Decimal(_plain(amount)))

    def __str__(self) -> str:
        if self.kind == CALENDAR:
            minutes = self.amount // _MINUTE
            if minutes and minutes % 1440 == 0:
                return f"{minutes // 1440}d"
            if minutes and minutes % 60 == 0:
                return f"{minutes // 60}h"
            return f"{minutes}min"
        text = _plain(self.amount)
        if self.kind == MONTH:
            return f"{text} month" if text == "1" else f"{text} months"
        return f"{text}wd" if self.kind == WORKING_DAYS else f"{text}bh"

    def to_timedelta(self) -> timedelta:
        """The fixed length of a calendar or business-hours duration; months and working days have none."""
        if self.kind == CALENDAR:
            return self.amount
        if self.kind == BUSINESS_HOURS:
            return _MINUTE * int(self.amount * 60)
        raise DurationError(f"{self} has no fixed length: its length depends on the calendar")


def _plain(value: Decimal) -> str:
    """Decimal text without exponent or trailing zeros: 10, 0.5, 1.25."""
    return format(value.normalize(), "f")


def parse_duration(text: str) -> Duration:
    """Parse one duration in the syntax documented at the top of this module; DurationError says what is wrong."""
    if not isinstance(text, str):
        raise DurationError(f"a duration is text such as '24h' or '5 working days', not {text!r}")
    cleaned = " ".join(text.strip().lower().split())
    if not cleaned:
        raise DurationError("empty duration: write an amount and a unit, e.g. '24h' or '5 working days'")
    match = _TEXT.match(cleaned)
    if not match:
        if cleaned[0] == "-":
            raise DurationError(f"a duration cannot be negative: {text!r}")
        raise DurationError(
            f"cannot read duration {text!r}: write one amount and one unit, e.g. '24h', '1/2 working day' (not '1d 2h')"
        )
    unit = match["unit"].strip()
    if unit == "m":
        raise DurationError(f"unit 'm' in {text!r} is ambiguous: write 'min' for minutes or 'month'")
    if unit not in _UNITS:
        raise DurationError(f"unknown unit {unit!r} in {text!r}{did_you_mean(unit, _UNITS)}; units are {_UNIT_HELP}")
    kind, minutes_per_unit = _UNITS[unit]
    value = _amount(match["num"], text)
    if kind == CALENDAR:
        minutes = value * minutes_per_unit
        if minutes.denominator != 1:
            raise DurationError(f"{text!r} is not a whole number of minutes")
        return Duration(CALENDAR, _MINUTE * int(minutes))
    if kind == MONTH and value.denominator != 1:
        raise DurationError(f"months must be whole: {text!r}; use days for shorter periods")
    exact = _exact_decimal(value)
    if exact is None:
        raise DurationError(f"{match['num']} in {text!r} is not an exact decimal; write e.g. 0.5 or use a smaller unit")
    return Duration(kind, exact)


def _amount(num: str, text: str) -> Fraction:
    if "/" in num:
        top, bottom = num.split("/")
        if int(bottom) == 0:
            raise DurationError(f"division by zero in {text!r}")
        return Fraction(int(top), int(bottom))
    try:
        return Fraction(Decimal(num))
    except InvalidOperation as exc:
        raise DurationError(f"cannot read the amount in {text!r}") from exc


def _exact_decimal(value: Fraction) -> Decimal | None:
    """The Decimal equal to value, or None when its expansion does not terminate (1/3)."""
    rest, digits = value.denominator, 0
    for prime in (2, 5):
        count = 0
        while rest % prime == 0:
            rest //= prime
            count += 1
        digits = max(digits, count)
    if rest != 1:
        return None
    # Integer scaling keeps it exact whatever the Decimal context's precision.
    return Decimal(value.numerator * (10**digits // value.denominator)).scaleb(-digits)


def shift_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier, when negative), clamped to the month's last day
    (31 January + 1 month = 28 or 29 February): the one month arithmetic of calendars, timers and
    civil periods."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, _months.monthrange(year, month + 1)[1]))
