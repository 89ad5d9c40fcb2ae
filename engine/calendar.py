"""Business calendars: working hours, mainland-China holidays and 调休 days, and due-time arithmetic."""

# ── Spec: the plain dict `BusinessCalendar.from_spec` takes, shaped like the YAML an administrator writes ──
#
#   timezone: Asia/Shanghai      # IANA zone name; default Asia/Shanghai
#   holidays: cn                 # cn: mainland public holidays and 调休 working days from the `chinesecalendar`
#                                #     package (default); none: no public-holiday data at all
#   fallback: unknown            # what a year neither the package nor `years:` covers does:
#                                #   unknown (default): arithmetic that needs the year raises CalendarNotCovered;
#                                #     the SLA section reports that timer as `unknown` with a warning, the rest
#                                #     of the decision stands
#                                #   error: the same, but the SLA section refuses the whole decision
#                                #   statutory: a provisional year from the statutory holiday list (engine/
#                                #     statutory.py), no 调休 workdays; decisions carry `calendar-provisional`
#                                #   weekday_only: plain weeks (only sensible while the official schedule is unknown)
#   week:                        # required; mon..sun → working intervals "HH:MM-HH:MM" in ascending order;
#     mon: [08:30-12:00, 13:30-17:30]    # 24:00 may end an interval; an omitted day or [] has no hours
#     fri: [08:30-12:00, 13:30-17:30]
#     sat: []
#   makeup_hours: mon            # whose hours a 调休 or extra working day works; default mon
#   closures: [2024-12-31]       # the company's own non-working days, any year
#   extra_workdays: [2025-01-04] # the company's own extra working days, any year
#   years:                       # whole-year tables the pack adds once the State Council publishes a schedule;
#     2031:                      # a table replaces the package's data for its year
#       holidays: [2031-01-01]   #   every day off (public holidays and the weekend days around them)
#       workdays: [2031-01-26]   #   the 调休 days: weekend days that are working days
#
# Dates are "YYYY-MM-DD" strings (the pack loader keeps YAML timestamps as text) or `datetime.date`.
# SPEC_SCHEMA is policy.schema.json's `$defs/calendar`: one definition for packs and for this module.
#
# ── Which days work, and when (first rule that applies) ──
#   1. `closures` → no hours.  2. `extra_workdays` → the `makeup_hours` weekday's intervals.
#   3. A year with a `years:` table, else (holidays: cn) a year the package covers: an official 调休 day →
#      the `makeup_hours` weekday's intervals (a make-up Saturday works a normal weekday, e.g. 2024-09-14);
#      an official day off → no hours; any other day → rule 4.
#   4. The `week` entry for that weekday (so a company with Saturday hours works ordinary Saturdays).
#   A year that rule 3 needs but nothing covers: `fallback` (statutory table, plain weeks, or CalendarNotCovered).
#   A working day is a day with at least one interval.
#
# ── Due times (`add`) ──
#   calendar (24h, 13d): exact elapsed time (a day is 24 hours even across a DST change).
#   month: same local wall time on the same day N months later, clamped to the month's last day.
#   business_hours: the earliest instant by which that much time inside working intervals has passed since
#       the start; a start outside hours begins at the next interval start; landing exactly on an interval's
#       end returns that end, not the next interval's start. 0bh returns the start.
#   working_days: the receipt day R is the start's local date when it is a working day and the start is
#       before the end of its last interval; otherwise (a non-working day, or after hours) R is the next
#       working day. The receipt day itself is not counted: N whole days end at the END of the N-th working
#       day after R (end of its last interval); 0wd is the end of R. A fraction f of a day is f of the
#       working time of the day it falls in, counted in business time from that day's first interval:
#       k + f days (0 < f < 1) end inside the (k+1)-th working day after R once f of its working time has
#       passed (Mon 10:00 + 0.5wd → Tue 13:45 with 08:30-12:00, 13:30-17:30).
#   Results are aware datetimes in the calendar's zone; inputs may be in any zone but never naive. An interval
#   ending 24:00 ends at the next local midnight, so a due time there carries the next date.
#
# ── Elapsed time (`elapsed`) ──
#   calendar and month kinds measure plain elapsed time; working_days and business_hours measure time inside
#   working intervals. Paused periods are merged (overlaps and touching pauses count once), clipped to
#   [start, end] and never counted.

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from .bundled import load_schema
from .durations import BUSINESS_HOURS, CALENDAR, KINDS, MONTH, WORKING_DAYS, Duration, parse_duration, shift_months
from .errors import ZhiduError, did_you_mean, json_path
from .statutory import statutory_days_off

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY_SOURCES = ("cn", "none")
FALLBACKS = ("unknown", "error", "statutory", "weekday_only")
DEFAULT_FALLBACK = "unknown"
# Where a year's days off come from (`BusinessCalendar.year_source`).
SOURCE_PACK, SOURCE_PACKAGE, SOURCE_STATUTORY, SOURCE_WEEK = "pack", "package", "statutory", "week"

_CN_DAYS_OFF: frozenset[date] = frozenset(chinese_calendar.holidays)
_CN_WORKDAYS: frozenset[date] = frozenset(chinese_calendar.workdays)
# Years with published schedules in the installed package (1.11.0: 2004-2026).
CN_YEARS: frozenset[int] = frozenset(day.year for day in _CN_DAYS_OFF)


def holiday_coverage() -> dict[str, tuple[int, int]]:
    """First and last year of each built-in holiday source (`zhidu --version` prints it)."""
    return {"cn": (min(CN_YEARS), max(CN_YEARS))}


_INTERVAL_PATTERN = r"^([01]?[0-9]|2[0-4]):([0-5][0-9])-([01]?[0-9]|2[0-4]):([0-5][0-9])$"
_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_INTERVAL = re.compile(_INTERVAL_PATTERN)
_DATE = re.compile(_DATE_PATTERN)
_ONE_DAY = timedelta(days=1)
_MICROSECOND = timedelta(microseconds=1)
# A year of consecutive days without hours means the calendar has no working days left: stop, don't spin.
_MAX_IDLE_DAYS = 400

SPEC_SCHEMA: dict[str, Any] = load_schema("policy.schema.json")["$defs"]["calendar"]

Path = tuple[str | int, ...]
Interval = tuple[datetime, datetime]


class CalendarError(ZhiduError):
    """A calendar spec that is not valid, or a date the calendar has no data for."""

    default_code = "calendar"

    def __init__(self, message: str, problems: Sequence[tuple[Path, str]] = ()):
        super().__init__(message)
        # (path inside the spec, message) pairs, so the pack compiler can attach file:line:col to each.
        self.problems: list[tuple[Path, str]] = list(problems)


class CalendarNotCovered(CalendarError):
    """A date in a year the calendar has no public-holiday data for (and no fallback that covers it)."""

    default_code = "calendar-not-covered"

    def __init__(self, day: date):
        super().__init__(_uncovered_message(day))
        self.day = day
        self.year = day.year


def _raise_problems(problems: list[tuple[Path, str]]) -> None:
    if problems:
        text = "\n".join(f"{json_path(path)}: {message}" for path, message in problems)
        raise CalendarError(f"invalid calendar:\n{text}", problems)


@dataclass(frozen=True)
class YearTable:
    """One year's official schedule: every day off, and every 调休 working day."""

    year: int
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


@dataclass(frozen=True)
class BusinessCalendar:
    """A compiled, immutable business calendar; the comment block at the top of this module gives its rules.

    `week` holds seven tuples (Monday first) of (start, end) minutes after local midnight, end ≤ 1440.
    Build one with `from_spec`; direct construction runs the same checks.
    """

    week: tuple[tuple[tuple[int, int], ...], ...]
    timezone: str = "Asia/Shanghai"
    holidays: str = "cn"
    fallback: str = DEFAULT_FALLBACK
    makeup_hours: str = "mon"
    closures: frozenset[date] = frozenset()
    extra_workdays: frozenset[date] = frozenset()
    years: tuple[YearTable, ...] = ()
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _tables: dict[int, YearTable] = field(init=False, repr=False, compare=False)
    _day_cache: dict[date, tuple[Interval, ...]] = field(init=False, repr=False, compare=False)
    # working seconds of all days from an anchor day up to a day (exclusive): a span of whole days is
    # one subtraction instead of a walk through every day
    _prefix: dict[int, list[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems, tz = _check(self)
        _raise_problems(problems)
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "_tables", {table.year: table for table in self.years})
        # Day → UTC intervals; filled lazily, never changes what the calendar answers.
        object.__setattr__(self, "_day_cache", {})
        object.__setattr__(self, "_prefix", {})

    # ── construction ──

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> BusinessCalendar:
        """Build a calendar from a spec dict (shape: module comment and SPEC_SCHEMA); CalendarError lists every problem."""
        if not isinstance(spec, Mapping):
            raise CalendarError(f"a calendar is a mapping, not {type(spec).__name__}", [((), "expected a mapping")])
        problems: list[tuple[Path, str]] = []
        for key in spec:
            if key not in SPEC_SCHEMA["properties"]:
                problems.append(
                    ((str(key),), f"unknown key {key!r}{did_you_mean(str(key), SPEC_SCHEMA['properties'])}")
                )
        week = _parse_week(spec.get("week"), problems)
        settings: dict[str, Any] = {}
        for key, allowed, default in (
            ("timezone", None, "Asia/Shanghai"),
            ("holidays", HOLIDAY_SOURCES, "cn"),
            ("fallback", FALLBACKS, DEFAULT_FALLBACK),
            ("makeup_hours", WEEKDAYS, "mon"),
        ):
            value = spec.get(key, default)
            if not isinstance(value, str):
                problems.append(((key,), f"expected text, got {value!r}"))
            elif allowed is None and not _zone_exists(value):
                problems.append(((key,), f"unknown time zone {value!r}; use an IANA name such as Asia/Shanghai"))
            elif allowed is not None and value not in allowed:
                choices = ", ".join(allowed)
                problems.append(((key,), f"{value!r} is not one of {choices}{did_you_mean(value, allowed)}"))
            settings[key] = value
        closures = _parse_dates(spec.get("closures", []), ("closures",), problems)
        extra = _parse_dates(spec.get("extra_workdays", []), ("extra_workdays",), problems)
        years = _parse_years(spec.get("years", {}), problems)
        _raise_problems(problems)
        return cls(
            week=week,
            closures=frozenset(closures),
            extra_workdays=frozenset(extra),
            years=years,
            **settings,
        )

    # ── days ──

    @property
    def tzinfo(self) -> ZoneInfo:
        """The calendar's time zone."""
        return self._tz

    def is_working_day(self, day: date) -> bool:
        """Whether the day has working hours (an aware datetime stands for its local date)."""
        return bool(self._utc_intervals(self._as_date(day)))

    def intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working intervals as aware (start, end) datetimes in the calendar's zone; [] on a day off."""
        return [(s.astimezone(self._tz), e.astimezone(self._tz)) for s, e in self._utc_intervals(self._as_date(day))]

    def working_time_on(self, day: date) -> timedelta:
        """Total working time of the day."""
        return sum((e - s for s, e in self._utc_intervals(self._as_date(day))), timedelta(0))

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        current = self._as_date(day)
        for _ in range(_MAX_IDLE_DAYS):
            current += _ONE_DAY
            if self._utc_intervals(current):
                return current
        raise CalendarError(f"no working day in the {_MAX_IDLE_DAYS} days after {day}: check the calendar")

    # ── where the days come from ──

    def year_source(self, year: int) -> str | None:
        """Where `year`'s days off come from: pack, package, statutory or week; None when nothing covers it."""
        if year in self._tables:
            return SOURCE_PACK
        if self.holidays != "cn":
            return SOURCE_WEEK
        if year in CN_YEARS:
            return SOURCE_PACKAGE
        if self.fallback == "statutory":
            return SOURCE_STATUTORY
        if self.fallback == "weekday_only":
            return SOURCE_WEEK
        return None

    def official_years(self) -> list[int]:
        """The years with an official schedule: the package's (holidays: cn) and the pack's own tables."""
        years = set(self._tables)
        if self.holidays == "cn":
            years |= CN_YEARS
        return sorted(years)

    def last_official_day(self) -> date | None:
        """The last day of the contiguous run of official years that ends latest (None without any)."""
        years = self.official_years()
        return date(years[-1], 12, 31) if years else None

    def days_of(self, year: int) -> list[dict[str, Any]]:
        """The year's exceptions to the plain week, in date order: days off, make-up workdays, the company's
        closures and extra working days — each with its kind, its source and, where known, its holiday."""
        source = self.year_source(year)
        out: dict[date, dict[str, Any]] = {}

        def put(day: date, kind: str, origin: str, name: str | None = None) -> None:
            out[day] = {"date": day.isoformat(), "kind": kind, "source": origin, "holiday": name}

        if source == SOURCE_PACK:
            table = self._tables[year]
            for day in table.holidays:
                put(day, "day-off", SOURCE_PACK)
            for day in table.workdays:
                put(day, "makeup-workday", SOURCE_PACK)
        elif source == SOURCE_PACKAGE:
            for day in (d for d in _CN_DAYS_OFF if d.year == year):
                put(day, "day-off", SOURCE_PACKAGE, chinese_calendar.holidays.get(day))
            for day in (d for d in _CN_WORKDAYS if d.year == year):
                put(day, "makeup-workday", SOURCE_PACKAGE, chinese_calendar.workdays.get(day))
        elif source == SOURCE_STATUTORY:
            for day, name in statutory_days_off(year).items():
                put(day, "day-off", SOURCE_STATUTORY, name)
        for day in self.closures:
            if day.year == year:
                put(day, "closure", "closures")
        for day in self.extra_workdays:
            if day.year == year:
                put(day, "extra-workday", "extra_workdays")
        return [out[day] for day in sorted(out)]

    # ── arithmetic ──

    def add(self, start: datetime, duration: Duration | str) -> datetime:
        """The due time of `duration` from `start`, in the calendar's zone (semantics: module comment)."""
        if isinstance(duration, str):
            duration = parse_duration(duration)
        at = self._utc(start)
        if duration.kind == CALENDAR:
            due = at + duration.amount
        elif duration.kind == MONTH:
            due = self._add_months(at, int(duration.amount))
        elif duration.kind == BUSINESS_HOURS:
            due = self._advance(at, duration.to_timedelta())
        else:
            due = self._add_working_days(at, duration.amount)
        return due.astimezone(self._tz)

    def business_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Time inside working intervals between a and b; zero when b is not after a."""
        lo, hi = self._utc(a), self._utc(b)
        total = timedelta(0)
        if hi <= lo:
            return total
        day, last = lo.astimezone(self._tz).date(), hi.astimezone(self._tz).date()
        for edge in (day, last) if day != last else (day,):
            for s, e in self._utc_intervals(edge):
                overlap = min(e, hi) - max(s, lo)
                if overlap > timedelta(0):
                    total += overlap
        if (last - day).days > 1:
            total += timedelta(seconds=self._full_days(day + _ONE_DAY, last))
        return total

    def _day_seconds(self, day: date) -> int:
        return sum(int((e - s).total_seconds()) for s, e in self._utc_intervals(day))

    def _full_days(self, first: date, end: date) -> int:
        """Working seconds of the whole days from `first` up to `end` (exclusive), from per-year
        running totals: only the years inside the span are consulted (an uncovered year elsewhere
        never raises)."""

        def index(d: date) -> int:
            return d.timetuple().tm_yday - 1

        if first.year == end.year:
            table = self._year_prefix(first.year)
            return table[index(end)] - table[index(first)]
        head = self._year_prefix(first.year)
        total = head[-1] - head[index(first)]
        for year in range(first.year + 1, end.year):
            total += self._year_prefix(year)[-1]
        return total + self._year_prefix(end.year)[index(end)]

    def _year_prefix(self, year: int) -> list[int]:
        table = self._prefix.get(year)
        if table is None:
            table, value, day = [0], 0, date(year, 1, 1)
            while day.year == year:
                value += self._day_seconds(day)
                table.append(value)
                day += _ONE_DAY
            self._prefix[year] = table
        return table
        if not table:
            table[day] = 0
            return 0
        low, high = min(table), max(table)
        if day > high:
            at, value = high, table[high]
            while at < day:
                value += self._day_seconds(at)
                at += _ONE_DAY
                table[at] = value
        else:
            at, value = low, table[low]
            while at > day:
                at -= _ONE_DAY
                value -= self._day_seconds(at)
                table[at] = value
        return table[day]

    def elapsed(
        self,
        start: datetime,
        end: datetime,
        duration_kind: str,
        pauses: Iterable[tuple[datetime, datetime]] = (),
    ) -> timedelta:
        """Time counted against a duration of that kind from start to end, paused periods excluded."""
        if duration_kind not in KINDS:
            raise CalendarError(f"unknown duration kind {duration_kind!r}{did_you_mean(str(duration_kind), KINDS)}")
        lo, hi = self._utc(start), self._utc(end)
        if hi <= lo:
            return timedelta(0)
        clipped = []
        for pause_start, pause_end in pauses:
            p, q = self._utc(pause_start), self._utc(pause_end)
            if q < p:
                raise CalendarError(
                    f"pause ends ({pause_end.isoformat()}) before it starts ({pause_start.isoformat()})"
                )
            p, q = max(p, lo), min(q, hi)
            if p < q:
                clipped.append((p, q))
        clipped.sort()
        # Count only the running stretches between merged pauses, so overlapping pauses cannot subtract twice.
        business = duration_kind in (WORKING_DAYS, BUSINESS_HOURS)
        total = timedelta(0)
        cursor = lo
        for p, q in clipped:
            if p > cursor:
                total += self.business_time_between(cursor, p) if business else p - cursor
            cursor = max(cursor, q)
        if hi > cursor:
            total += self.business_time_between(cursor, hi) if business else hi - cursor
        return total

    # ── internals ──

    def _as_date(self, day: date) -> date:
        if isinstance(day, datetime):
            return self._utc(day).astimezone(self._tz).date()
        if not isinstance(day, date):
            raise CalendarError(f"expected a date, got {day!r}")
        return day

    def _utc(self, moment: datetime) -> datetime:
        if moment.tzinfo is UTC:
            return moment
        if not isinstance(moment, datetime):
            raise CalendarError(f"expected an aware datetime, got {moment!r}")
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise CalendarError(f"naive datetime {moment.isoformat()}: give it a time zone (e.g. +08:00)")
        # Aware arithmetic within one tzinfo is wall-clock arithmetic in Python; UTC makes it exact.
        return moment.astimezone(UTC)

    def _minutes_on(self, day: date) -> tuple[tuple[int, int], ...]:
        makeup = self.week[WEEKDAYS.index(self.makeup_hours)]
        if day in self.closures:
            return ()
        if day in self.extra_workdays:
            return makeup
        source = self.year_source(day.year)
        if source == SOURCE_PACK:
            days_off, workdays = self._tables[day.year].holidays, self._tables[day.year].workdays
        elif source == SOURCE_PACKAGE:
            days_off, workdays = _CN_DAYS_OFF, _CN_WORKDAYS
        elif source == SOURCE_STATUTORY:
            days_off, workdays = frozenset(statutory_days_off(day.year)), frozenset()
        elif source is None:
            raise CalendarNotCovered(day)
        else:
            return self.week[day.weekday()]
        if day in workdays:
            return makeup
        if day in days_off:
            return ()
        return self.week[day.weekday()]

    def _utc_intervals(self, day: date) -> tuple[Interval, ...]:
        cached = self._day_cache.get(day)
        if cached is None:
            cached = tuple((self._at(day, s), self._at(day, e)) for s, e in self._minutes_on(day))
            self._day_cache[day] = cached
        return cached

    def _at(self, day: date, minute: int) -> datetime:
        if minute == 1440:
            day, minute = day + _ONE_DAY, 0
        local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self._tz)
        return local.astimezone(UTC)

    def add_business_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant by which `amount` of working time has passed since `start`."""
        return self._advance(self._utc(start), amount).astimezone(self._tz)

    def _advance(self, at: datetime, amount: timedelta) -> datetime:
        """The earliest instant by which `amount` of working time has passed since `at` (UTC in, UTC out)."""
        if amount <= timedelta(0):
            return at
        remaining = amount
        day = at.astimezone(self._tz).date()
        idle = 0
        while True:
            intervals = self._utc_intervals(day)
            idle = 0 if intervals else idle + 1
            if idle > _MAX_IDLE_DAYS:
                raise CalendarError(f"no working hours in the {_MAX_IDLE_DAYS} days before {day}: check the calendar")
            for s, e in intervals:
                if e <= at:
                    continue
                begin = max(s, at)
                if remaining <= e - begin:
                    return begin + remaining
                remaining -= e - begin
            day += _ONE_DAY

    def _add_working_days(self, at: datetime, amount: Decimal) -> datetime:
        local_day = at.astimezone(self._tz).date()
        today = self._utc_intervals(local_day)
        receipt = local_day if today and at < today[-1][1] else self.next_working_day(local_day)
        whole = int(amount.to_integral_value(rounding=ROUND_CEILING))
        day = receipt
        for _ in range(whole):
            day = self.next_working_day(day)
        intervals = self._utc_intervals(day)
        fraction = amount - (whole - 1) if whole else Decimal(1)
        if fraction == 1:
            return intervals[-1][1]
        worked = sum((e - s for s, e in intervals), timedelta(0))
        # Floor to the microsecond: exact for any realistic day length and fraction.
        part = _MICROSECOND * int(Decimal(worked // _MICROSECOND) * fraction)
        return self._advance(intervals[0][0], part)

    def _add_months(self, at: datetime, months: int) -> datetime:
        local = at.astimezone(self._tz)
        day = shift_months(local.date(), months)
        # Replace keeps the wall time; the UTC round trip settles a wall time that a DST gap skipped.
        return local.replace(year=day.year, month=day.month, day=day.day).astimezone(UTC)


def _uncovered_message(day: date) -> str:
    first, last = min(CN_YEARS), max(CN_YEARS)
    return (
        f"no public-holiday data for {day.year} (needed for {day.isoformat()}): the chinesecalendar package "
        f"covers {first}-{last}; add a `years: {day.year}:` table with that year's holidays and 调休 workdays "
        f"to the calendar (docs/adopting.md), or set `fallback: statutory` (provisional) or `fallback: weekday_only`"
    )


def _check(cal: BusinessCalendar) -> tuple[list[tuple[Path, str]], ZoneInfo]:
    """Every structural problem of a calendar, and its zone (UTC stands in when the name is bad)."""
    problems: list[tuple[Path, str]] = []
    known_zone = _zone_exists(cal.timezone)
    tz = ZoneInfo(cal.timezone) if known_zone else ZoneInfo("UTC")
    if not known_zone:
        problems.append((("timezone",), f"unknown time zone {cal.timezone!r}; use an IANA name such as Asia/Shanghai"))
    if cal.holidays not in HOLIDAY_SOURCES:
        problems.append((("holidays",), f"{cal.holidays!r} is not one of {', '.join(HOLIDAY_SOURCES)}"))
    if cal.fallback not in FALLBACKS:
        problems.append((("fallback",), f"{cal.fallback!r} is not one of {', '.join(FALLBACKS)}"))
    if len(cal.week) != 7:
        problems.append((("week",), f"expected 7 days (Monday first), got {len(cal.week)}"))
        return problems, tz
    for name, intervals in zip(WEEKDAYS, cal.week, strict=True):
        previous_end = 0
        for index, (start, end) in enumerate(intervals):
            path: Path = ("week", name, index)
            if not 0 <= start < end <= 1440:
                problems.append((path, f"{_hhmm(start)}-{_hhmm(end)} must start before it ends, within 00:00-24:00"))
            elif start < previous_end:
                problems.append((path, f"{_hhmm(start)}-{_hhmm(end)} overlaps or precedes the interval before it"))
            previous_end = max(previous_end, end)
    if not any(cal.week):
        problems.append((("week",), "no working hours on any weekday"))
    overrides = cal.holidays == "cn" or cal.extra_workdays or any(table.workdays for table in cal.years)
    if cal.makeup_hours not in WEEKDAYS:
        problems.append((("makeup_hours",), f"{cal.makeup_hours!r} is not one of {', '.join(WEEKDAYS)}"))
    elif overrides and not cal.week[WEEKDAYS.index(cal.makeup_hours)]:
        problems.append(
            (
                ("makeup_hours",),
                f"{cal.makeup_hours} has no working hours, so 调休 and extra working days would have none; "
                "name a weekday with hours",
            )
        )
    both = sorted(cal.closures & cal.extra_workdays)
    if both:
        problems.append((("extra_workdays",), f"also listed in closures: {', '.join(d.isoformat() for d in both)}"))
    seen: set[int] = set()
    for table in cal.years:
        base: Path = ("years", str(table.year))
        if table.year in seen:
            problems.append((base, f"year {table.year} has two tables"))
        seen.add(table.year)
        for key, days in (("holidays", table.holidays), ("workdays", table.workdays)):
            stray = sorted(d for d in days if d.year != table.year)
            if stray:
                problems.append((base + (key,), f"not in {table.year}: {', '.join(d.isoformat() for d in stray)}"))
        clash = sorted(table.holidays & table.workdays)
        if clash:
            problems.append((base, f"both holiday and workday: {', '.join(d.isoformat() for d in clash)}"))
    return problems, tz


def _zone_exists(name: object) -> bool:
    try:
        ZoneInfo(name)  # type: ignore[arg-type]
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return False
    return True


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _parse_week(raw: object, problems: list[tuple[Path, str]]) -> tuple[tuple[tuple[int, int], ...], ...]:
    if raw is None:
        problems.append((("week",), "missing: give each working weekday its intervals, e.g. mon: [08:30-12:00]"))
        return ((),) * 7
    if not isinstance(raw, Mapping):
        problems.append((("week",), f"expected a mapping of weekdays (mon..sun), got {raw!r}"))
        return ((),) * 7
    for key in raw:
        if key not in WEEKDAYS:
            problems.append((("week", str(key)), f"unknown weekday {key!r}{did_you_mean(str(key), WEEKDAYS)}"))
    week = []
    for name in WEEKDAYS:
        entries = raw.get(name, [])
        if not isinstance(entries, list):
            problems.append((("week", name), f"expected a list of intervals ([] for none), got {entries!r}"))
            entries = []
        day = []
        for index, text in enumerate(entries):
            match = _INTERVAL.match(text) if isinstance(text, str) else None
            if match is None:
                problems.append((("week", name, index), f"expected HH:MM-HH:MM, got {text!r}"))
                continue
            h1, m1, h2, m2 = (int(part) for part in match.groups())
            if (h1 == 24 and m1) or (h2 == 24 and m2):
                problems.append((("week", name, index), f"{text!r}: 24:00 is the latest time"))
                continue
            day.append((h1 * 60 + m1, h2 * 60 + m2))
        week.append(tuple(day))
    return tuple(week)


def _parse_date(raw: object, path: Path, problems: list[tuple[Path, str]]) -> date | None:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str) and _DATE.match(raw):
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            problems.append((path, f"{raw!r} is not a date: {exc}"))
            return None
    problems.append((path, f"expected a date YYYY-MM-DD, got {raw!r}"))
    return None


def _parse_dates(raw: object, path: Path, problems: list[tuple[Path, str]]) -> list[date]:
    if not isinstance(raw, list):
        problems.append((path, f"expected a list of dates, got {raw!r}"))
        return []
    parsed = (_parse_date(item, path + (index,), problems) for index, item in enumerate(raw))
    return [day for day in parsed if day is not None]


def _parse_years(raw: object, problems: list[tuple[Path, str]]) -> tuple[YearTable, ...]:
    if not isinstance(raw, Mapping):
        problems.append((("years",), f"expected a mapping of year → table, got {raw!r}"))
        return ()
    tables = []
    for key, body in raw.items():
        path: Path = ("years", str(key))
        if isinstance(key, bool) or not re.fullmatch(r"[0-9]{4}", str(key)):
            problems.append((path, f"expected a four-digit year, got {key!r}"))
            continue
        if not isinstance(body, Mapping):
            problems.append((path, f"expected a mapping with holidays and workdays, got {body!r}"))
            continue
        for extra in body:
            if extra not in ("holidays", "workdays"):
                problems.append((path + (str(extra),), f"unknown key {extra!r}; a year has holidays and workdays"))
        days_off = _parse_dates(body.get("holidays", []), path + ("holidays",), problems)
        workdays = _parse_dates(body.get("workdays", []), path + ("workdays",), problems)
        tables.append(YearTable(int(key), frozenset(days_off), frozenset(workdays)))
    return tuple(sorted(tables, key=lambda table: table.year))
