"""The documented set of functions a condition may call: type rules and implementations."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ..types import BOOLEAN, DATE, DATETIME, DURATION, INTEGER, MONEY, NUMBER, STRING, Type, comparable, list_of


class ArgError(Exception):
    """Wrong arguments for a function: index of the bad argument and the message."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index
        self.message = message


@dataclass(frozen=True)
class Function:
    name: str
    summary: str
    # (arg types, literal arg values or None) → result type; raises ArgError
    typer: Callable[[list[Type], list[Any]], Type]
    # (args, tz) → value; args are never missing (missing in gives missing out, except `exists`)
    impl: Callable[..., Any]
    literal_args: tuple[int, ...] = ()


def _want(types: list[Type], count: int) -> None:
    if len(types) != count:
        raise ArgError(min(len(types), count), f"takes {count} argument{'s' if count != 1 else ''}, got {len(types)}")


def _kind(t: Type, idx: int, *kinds: str) -> None:
    if t.kind != "any" and t.kind not in kinds:
        raise ArgError(idx, f"argument {idx + 1} must be {' or '.join(kinds)}, not {t}")


def _to_date(value: date | datetime, tz: ZoneInfo) -> date:
    return value.astimezone(tz).date() if isinstance(value, datetime) else value


def _typ_len(t, _):
    _want(t, 1)
    _kind(t[0], 0, "list", "string")
    return INTEGER


def _typ_contains(t, _):
    _want(t, 2)
    _kind(t[0], 0, "list", "string")
    if t[0].kind == "string":
        _kind(t[1], 1, "string")
    elif t[0].item is not None and not comparable(t[0].item, t[1]):
        raise ArgError(1, f"cannot look for {t[1]} in a list of {t[0].item}")
    return BOOLEAN


def _typ_str2(t, _):
    _want(t, 2)
    _kind(t[0], 0, "string")
    _kind(t[1], 1, "string")
    return BOOLEAN


def _typ_matches(t, lits):
    _typ_str2(t, lits)
    if lits[1] is None:
        raise ArgError(1, "the pattern must be a string literal")
    try:
        re.compile(lits[1])
    except re.error as exc:
        raise ArgError(1, f"invalid regular expression: {exc}") from None
    return BOOLEAN


def _typ_numeric1(t, _):
    _want(t, 1)
    _kind(t[0], 0, "number", "integer", "money", "duration")
    return t[0]


def _typ_minmax(t, _):
    if len(t) == 1 and t[0].kind == "list":
        # min(list) / max(list): the smallest or largest item; no value for an empty list
        t = [t[0].item or t[0]]
    elif len(t) < 2:
        raise ArgError(0, "takes a list, or two or more values")
    _kind(t[0], 0, "number", "integer", "money", "date", "datetime", "duration")
    result = t[0]
    for i, other in enumerate(t[1:], 1):
        if result.numeric and other.numeric:
            if result != other:
                result = MONEY if "money" in (result.kind, other.kind) else NUMBER
        elif result.kind != other.kind:
            raise ArgError(i, f"argument {i + 1} must be {result}, not {other}")
    return result


def _minmax(pick: Callable[..., Any]) -> Callable[..., Any]:
    def impl(*args: Any) -> Any:
        values = args[:-1]  # the last argument is the timezone
        if len(values) == 1 and isinstance(values[0], tuple | list):
            from .pyeval import MISSING

            values = tuple(values[0])
            if not values:
                return MISSING
        result = pick(values)
        # min(price, 500) is money: an integer that wins among decimals is given as a decimal
        if isinstance(result, int) and any(isinstance(v, Decimal) for v in values):
            return Decimal(result)
        return result

    return impl


def _typ_rounding(t, _):
    _want(t, 1)
    _kind(t[0], 0, "number", "integer", "money")
    return INTEGER


def _typ_text1(t, _):
    _want(t, 1)
    _kind(t[0], 0, "string")
    return STRING


def _typ_string(t, _):
    _want(t, 1)
    _kind(t[0], 0, "string", "number", "integer", "money", "boolean", "date", "datetime")
    return STRING


def _typ_number(t, _):
    _want(t, 1)
    _kind(t[0], 0, "string", "number", "integer", "money")
    return NUMBER


def _text_of(value: Any, tz: ZoneInfo) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    return str(value)


def _number_of(value: Any, _tz: ZoneInfo) -> Any:
    from .pyeval import MISSING

    if not isinstance(value, str):
        return Decimal(value)
    try:
        result = Decimal(value.strip())
    except ArithmeticError:
        return MISSING
    return result if result.is_finite() else MISSING


def _typ_flatten(t, _):
    _want(t, 1)
    _kind(t[0], 0, "list")
    inner = t[0].item
    if inner is None or inner.kind != "list":
        raise ArgError(0, f"flatten() takes a list of lists, not {t[0]}")
    return inner


def _typ_values(t, _):
    _want(t, 1)
    _kind(t[0], 0, "object")
    from .check import unify

    item: Type | None = None
    for name, ft in t[0].fields:
        item = ft if item is None else unify(item, ft)
        if item is None:
            raise ArgError(0, f"values() needs fields of one type; '{name}' differs")
    return list_of(item or STRING)


def _typ_epoch(t, _):
    _want(t, 1)
    _kind(t[0], 0, "date", "datetime")
    return NUMBER


def _epoch_seconds(value: date | datetime, _tz: ZoneInfo) -> Decimal:
    if not isinstance(value, datetime):
        value = datetime.combine(value, datetime.min.time(), UTC)
    return Decimal((value - _EPOCH) // timedelta(microseconds=1)) / 1_000_000


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _typ_working_days(t, lits):
    if len(t) == 2:
        raise ArgError(0, "needs a calendar: declare one under calendars:")
    _want(t, 3)
    for i in (0, 1):
        _kind(t[i], i, "date", "datetime")
    return INTEGER


def _working_days_between(a, b, calendar, tz):
    """Working days d with a < d <= b on the pack calendar (negative when b is before a)."""
    from .pyeval import MISSING

    first, last = _to_date(a, tz), _to_date(b, tz)
    sign = 1
    if last < first:
        first, last, sign = last, first, -1
    try:
        count = sum(1 for n in range(1, (last - first).days + 1) if calendar.is_working_day(first + timedelta(n)))
    except Exception:  # noqa: BLE001 - a year the calendar does not cover: no value, as for a missing fact
        return MISSING
    return sign * count


def _typ_round(t, lits):
    if len(t) == 1:
        _kind(t[0], 0, "number", "integer", "money")
        return t[0]
    _want(t, 2)
    _kind(t[0], 0, "number", "integer", "money")
    _kind(t[1], 1, "integer")
    if lits[1] is None:
        raise ArgError(1, "the number of places must be an integer literal")
    return t[0]


def _typ_literal(result: Type, parse: Callable[[str], Any]):
    def typer(t, lits):
        _want(t, 1)
        _kind(t[0], 0, "string")
        if lits[0] is None:
            raise ArgError(0, "the argument must be a string literal")
        try:
            parse(lits[0])
        except ValueError as exc:
            raise ArgError(0, f"invalid {result.kind} {lits[0]!r}: {exc}") from None
        return result

    return typer


def _typ_date_of(t, _):
    _want(t, 1)
    _kind(t[0], 0, "datetime", "date")
    return DATE


def _typ_between(result: Type):
    def typer(t, _):
        _want(t, 2)
        for i in (0, 1):
            _kind(t[i], i, "date", "datetime")
        return result

    return typer


def _typ_datepart(t, _):
    _want(t, 1)
    _kind(t[0], 0, "date", "datetime")
    return INTEGER


def _typ_hour(t, _):
    _want(t, 1)
    _kind(t[0], 0, "datetime")
    return INTEGER


def _typ_exists(t, _):
    _want(t, 1)
    return BOOLEAN


def _parse_dt(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a datetime literal needs an offset such as +08:00")
    return value


def _parse_duration(text: str) -> timedelta:
    from .parser import parse_duration_text

    value = parse_duration_text(text)
    if value is None:
        raise ValueError("write a number and a unit: w, d, h, min or s")
    return value


def _round(value: Decimal | int, *rest: Any) -> Decimal | int:
    places = rest[0] if len(rest) == 2 else 0
    if isinstance(value, int):
        return value
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _days_between(a, b, tz):
    return (_to_date(b, tz) - _to_date(a, tz)).days


def _hours_between(a, b, tz):
    if isinstance(a, date) and not isinstance(a, datetime):
        a = datetime.combine(a, datetime.min.time(), tz)
    if isinstance(b, date) and not isinstance(b, datetime):
        b = datetime.combine(b, datetime.min.time(), tz)
    return Decimal((b - a) // timedelta(microseconds=1)) / Decimal(3_600_000_000)


def _contains(container, item, _tz):
    return item in container


# --- date ⇄ datetime conversions (issue 21: date facts that start timers, civil periods) -------------


def _typ_date_to_datetime(t, _):
    _want(t, 1)
    _kind(t[0], 0, "date", "datetime")
    return DATETIME


def _start_of_day(value: date | datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(_to_date(value, tz), datetime.min.time(), tz)


def _end_of_day(value: date | datetime, tz: ZoneInfo) -> datetime:
    # 24:00 of the day, written as 00:00 of the next: the first instant that is no longer that day
    return datetime.combine(_to_date(value, tz) + timedelta(days=1), datetime.min.time(), tz)


CONVERSIONS = [
    Function(
        "start_of_day",
        "00:00 of a date (or of a datetime's day) in the pack's timezone",
        _typ_date_to_datetime,
        _start_of_day,
    ),
    Function(
        "end_of_day",
        "24:00 of a date (00:00 of the next day) in the pack's timezone",
        _typ_date_to_datetime,
        _end_of_day,
    ),
]


FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in [
        Function("len", "number of items in a list or characters in a string", _typ_len, lambda x, _tz: len(x)),
        Function("contains", "list has item / string has substring", _typ_contains, _contains),
        Function("starts_with", "string starts with prefix", _typ_str2, lambda s, p, _tz: s.startswith(p)),
        Function("ends_with", "string ends with suffix", _typ_str2, lambda s, p, _tz: s.endswith(p)),
        Function(
            "matches",
            "string fully matches a regular expression (Python syntax)",
            _typ_matches,
            lambda s, p, _tz: re.fullmatch(p, s) is not None,
            (1,),
        ),
        Function("exists", "the fact or finding has a value", _typ_exists, lambda x, _tz: True),
        Function("abs", "absolute value", _typ_numeric1, lambda x, _tz: abs(x)),
        Function("min", "smallest of the values, or of a list's items", _typ_minmax, _minmax(min)),
        Function("max", "largest of the values, or of a list's items", _typ_minmax, _minmax(max)),
        Function("round", "round half up to N decimal places (0 when omitted)", _typ_round, _round, (1,)),
        Function(
            "floor",
            "largest integer not above the value",
            _typ_rounding,
            lambda x, _tz: int(Decimal(x).to_integral_value(ROUND_FLOOR)),
        ),
        Function(
            "ceil",
            "smallest integer not below the value",
            _typ_rounding,
            lambda x, _tz: int(Decimal(x).to_integral_value(ROUND_CEILING)),
        ),
        Function("upper", "text in upper case", _typ_text1, lambda x, _tz: x.upper()),
        Function("lower", "text in lower case", _typ_text1, lambda x, _tz: x.lower()),
        Function("trim", "text without leading and trailing spaces", _typ_text1, lambda x, _tz: x.strip()),
        Function("string", "a value as text (numbers exactly, datetimes ISO 8601)", _typ_string, _text_of),
        Function(
            "number", "text or a number as a number; no value when the text is not a number", _typ_number, _number_of
        ),
        Function(
            "flatten",
            "the items of a list of lists, in order",
            _typ_flatten,
            lambda x, _tz: tuple(i for sub in x for i in sub),
        ),
        Function(
            "values", "the field values of an object, in field order", _typ_values, lambda o, _tz: tuple(o.values())
        ),
        Function(
            "epoch_seconds",
            "seconds since 1970-01-01T00:00:00Z (a date counts from its midnight UTC), as JDM dates are",
            _typ_epoch,
            _epoch_seconds,
        ),
        Function(
            "working_days_between",
            "working days from the first date to the second on the pack's (first) calendar",
            _typ_working_days,
            _working_days_between,
        ),
        Function(
            "date",
            "date literal: date('2024-09-14')",
            _typ_literal(DATE, date.fromisoformat),
            lambda s, _tz: date.fromisoformat(s),
            (0,),
        ),
        Function(
            "datetime",
            "datetime literal with offset",
            _typ_literal(DATETIME, _parse_dt),
            lambda s, _tz: _parse_dt(s),
            (0,),
        ),
        Function(
            "duration",
            "duration literal: duration('13d')",
            _typ_literal(DURATION, _parse_duration),
            lambda s, _tz: _parse_duration(s),
            (0,),
        ),
        Function(
            "date_of", "calendar date of a datetime in the pack's timezone", _typ_date_of, lambda d, tz: _to_date(d, tz)
        ),
        Function(
            "days_between", "calendar days from the first date to the second", _typ_between(INTEGER), _days_between
        ),
        Function(
            "hours_between",
            "hours (decimal) from the first datetime to the second",
            _typ_between(NUMBER),
            _hours_between,
        ),
        Function("year", "year of a date", _typ_datepart, lambda d, tz: _to_date(d, tz).year),
        Function("month", "month of a date (1-12)", _typ_datepart, lambda d, tz: _to_date(d, tz).month),
        Function("day", "day of the month", _typ_datepart, lambda d, tz: _to_date(d, tz).day),
        Function(
            "weekday", "ISO weekday, Monday 1 … Sunday 7", _typ_datepart, lambda d, tz: _to_date(d, tz).isoweekday()
        ),
        Function(
            "hour", "hour of a datetime in the pack's timezone (0-23)", _typ_hour, lambda d, tz: d.astimezone(tz).hour
        ),
        *CONVERSIONS,
    ]
}
