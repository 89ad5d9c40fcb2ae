"""Timer terms beyond a plain goal: applicability (`when`), civil day counting and timers started by a date."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .calendar import BusinessCalendar
from .civil import CIVIL, COUNTINGS, DAY, ELAPSED, KEEP, LAST_DAY_OFF, MOVE, civil_due, civil_unit_problem, period_start
from .durations import Duration
from .expr.pyeval import Compiled, compile_expr

if TYPE_CHECKING:
    from .compiler import _Compiler

NEXT_DAY = "next_day"
SAME_DAY = "same_day"
DATE_STARTS = (NEXT_DAY, SAME_DAY)


def start_expr(c: _Compiler, path: tuple[object, ...], text: str) -> tuple[Compiled | None, bool]:
    """A timer's start: a datetime, or a date (whose start of day the timer's `date_start` chooses)."""
    typed = c._typed(path, text, boolean=False)
    if typed is None:
        return None, False
    kind = typed.type.kind if typed.type else None
    if kind not in ("date", "datetime"):
        c.error(path, "type-error", f"expected datetime or date, this is {typed.type}")
        return None, False
    return compile_expr(typed), kind == "date"


def timer_options(
    c: _Compiler,
    path: tuple[object, ...],
    spec: dict[str, Any],
    goals: tuple[Any, ...],
    cal: str | None,
    start_is_date: bool,
) -> dict[str, Any]:
    """The Timer fields for `when`, `counting`, `last_day_off` and `date_start`, checked together."""
    out: dict[str, Any] = {"start_is_date": start_is_date}
    tid, ref = spec["id"], str(spec.get("ref", ""))
    if isinstance(spec.get("when"), str):
        # The probe id holds ':' and '?', which rule ids cannot: no clash with a rule of the pack.
        out["when"] = c.probe(f"timer:{tid}?when", spec["when"], path + ("when",), ref)
    counting = spec.get("counting", ELAPSED)
    if counting not in COUNTINGS:
        return out  # the schema has said which values are allowed
    out["counting"] = counting
    last = spec.get("last_day_off", KEEP)
    if last in LAST_DAY_OFF:
        out["last_day_off"] = last
    if counting == CIVIL:
        for i, option in enumerate(goals):
            problem = civil_unit_problem(option.duration)
            if problem:
                where = path + ("goal",) if not isinstance(spec.get("goal"), list) else path + ("goal", i, "duration")
                c.error(where, "duration", problem)
        if "due_before" in spec:
            c.error(path + ("counting",), "counting", "civil counting applies to a goal from the start, not due_before")
        if "pauses" in spec:
            c.error(
                path + ("pauses",), "counting", "a civil period does not pause: drop `pauses` or count elapsed time"
            )
        if last == MOVE and not cal:
            c.error(
                path + ("last_day_off",),
                "calendar",
                "moving a last day past days off needs a calendar (declare one under calendars)",
            )
        if "date_start" in spec:
            c.error(
                path + ("date_start",),
                "counting",
                "civil counting always starts the day after the event: drop date_start",
            )
    else:
        if "last_day_off" in spec:
            c.error(path + ("last_day_off",), "counting", "last_day_off needs `counting: civil`")
        if start_is_date:
            if spec.get("date_start") in DATE_STARTS:
                out["date_start"] = spec["date_start"]
            else:
                c.error(
                    path + ("start",),
                    "missing-field",
                    "a timer started by a date needs `date_start: next_day` or `same_day` (or `counting: civil`)",
                )
        elif "date_start" in spec:
            c.error(path + ("date_start",), "counting", "date_start applies only to a timer started by a date")
    return out


def start_instant(value: Any, counting: str, date_start: str | None, tz: ZoneInfo) -> datetime | None:
    """When the timer starts counting: a civil period at 00:00 after the event day, a date per `date_start`."""
    if value is None:
        return None
    if counting == CIVIL:
        day = value.astimezone(tz).date() if isinstance(value, datetime) else value
        return period_start(day, tz)
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        day = value + DAY if date_start == NEXT_DAY else value
        return datetime.combine(day, time(0), tz)
    return None


def civil_due_at(
    start: datetime, d: Duration, tz: ZoneInfo, cal: BusinessCalendar | None, last_day_off: str
) -> datetime:
    """The due instant of a civil period whose counting began at `start` (00:00 the day after the event)."""
    event_day = start.astimezone(tz).date() - DAY
    return civil_due(event_day, d, tz, cal, last_day_off)[0]
