"""Periods counted as the law counts them (民法典 第二百零一条至第二百零三条): "N 日内" from an event."""

# 第二百零一条: a period in days, months or years does not count the day it starts on; it begins the next day.
# 第二百零二条: a period in months ends on the corresponding day of the last month (its last day when the
#              month has no such day).
# 第二百零三条: a last day that is a statutory day off moves to the first day after it; the period ends at
#              24:00 of its last day.
#
# So "十日内" from an event on 3 March (any hour) runs 4–13 March and ends at 24:00 on 13 March; with
# `last_day_off: move` and 13 March a Sunday it ends at 24:00 on Monday 14 March. 24:00 is written as
# 00:00 of the next day (the due time is the first instant that is late: a stop *at* it is in time).

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .calendar import BusinessCalendar
from .durations import CALENDAR, MONTH, Duration, shift_months

CIVIL = "civil"
ELAPSED = "elapsed"
COUNTINGS = (ELAPSED, CIVIL)
MOVE = "move"
KEEP = "keep"
LAST_DAY_OFF = (KEEP, MOVE)
DAY = timedelta(days=1)


def civil_unit_problem(d: Duration) -> str | None:
    """Why `d` cannot be a civil period, or None: civil periods are whole days, weeks or months."""
    if d.kind == MONTH:
        return None
    if d.kind == CALENDAR and d.amount % DAY == timedelta(0):
        return None
    return f"{d} is not a whole number of days or months: civil counting (民法典 第二百零一条) counts whole days"


def last_day(event_day: date, d: Duration) -> date:
    """The last day of a period of `d` starting the day after `event_day` (第二百零一条, 第二百零二条)."""
    if d.kind == MONTH:
        return shift_months(event_day, int(d.amount))
    return event_day + timedelta(days=d.amount // DAY)  # type: ignore[operator]


def moved_past_days_off(day: date, cal: BusinessCalendar) -> date:
    """The first working day from `day` on (第二百零三条); may raise CalendarNotCovered (a year without data)
    or CalendarError (a calendar with no working day left)."""
    return day if cal.is_working_day(day) else cal.next_working_day(day)


def civil_due(
    event_day: date, d: Duration, tz: ZoneInfo, cal: BusinessCalendar | None = None, last_day_off: str = KEEP
) -> tuple[datetime, date]:
    """(due instant, last day): the period ends at 24:00 of its last day, i.e. 00:00 of the day after."""
    end = last_day(event_day, d)
    if last_day_off == MOVE and cal is not None:
        end = moved_past_days_off(end, cal)
    return datetime.combine(end + DAY, time(0), tz), end


def period_start(event_day: date, tz: ZoneInfo) -> datetime:
    """The first instant a civil period counts: 00:00 of the day after the event."""
    return datetime.combine(event_day + DAY, time(0), tz)
