"""What operators ask of a pack's calendars: its days of a year, where each year comes from, time between instants."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .calendar import CN_YEARS, SOURCE_PACK, SOURCE_PACKAGE, BusinessCalendar, CalendarNotCovered
from .errors import Diagnostic, Location
from .policy import Policy

# `zhidu validate` warns this many days before a calendar's official data ends (as certificate tools do).
ENDS_SOON_DAYS = 60


def calendars_of(policy: Policy) -> dict[str, BusinessCalendar]:
    """The pack's calendars by id, in declaration order."""
    return dict(policy.sla.calendars) if policy.sla is not None else {}


def show(policy: Policy, year: int) -> list[dict[str, Any]]:
    """Per calendar: the year's source and its exceptions to the plain week (days off, 调休 workdays, closures)."""
    return [
        {"calendar": cid, "year": year, "source": cal.year_source(year), "days": cal.days_of(year)}
        for cid, cal in calendars_of(policy).items()
    ]


def coverage(policy: Policy) -> list[dict[str, Any]]:
    """Per calendar: first and last day with official data, each covered year's source, and what lies beyond."""
    out = []
    for cid, cal in calendars_of(policy).items():
        years = cal.official_years()
        beyond = cal.year_source(max(years) + 1) if years else cal.year_source(max(CN_YEARS) + 1)
        out.append(
            {
                "calendar": cid,
                "first_day": date(years[0], 1, 1).isoformat() if years else None,
                "last_day": date(years[-1], 12, 31).isoformat() if years else None,
                "years": {str(y): cal.year_source(y) for y in years},
                "after_last_day": beyond or "not covered",
                "fallback": cal.fallback,
            }
        )
    return out


def between(policy: Policy, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per calendar: working days and business hours between two instants (negative when end is before start)."""
    out = []
    lo, hi, sign = (start, end, 1) if start <= end else (end, start, -1)
    for cid, cal in calendars_of(policy).items():
        entry: dict[str, Any] = {"calendar": cid, "start": start.isoformat(), "end": end.isoformat()}
        try:
            business = cal.business_time_between(lo, hi)
            days = _working_days(cal, lo, hi)
        except CalendarNotCovered as exc:
            entry.update({"error": str(exc), "year": exc.year})
        else:
            hours = Decimal(int(business.total_seconds())) / 3600
            entry.update(
                {
                    "working_days": sign * days,
                    "business_hours": str((sign * hours).quantize(Decimal("0.01"), ROUND_HALF_UP)),
                    "business_seconds": sign * int(business.total_seconds()),
                }
            )
        out.append(entry)
    return out


def _working_days(cal: BusinessCalendar, lo: datetime, hi: datetime) -> int:
    """Whole working days strictly after the start's local day, up to and including the end's local day."""
    first = lo.astimezone(cal.tzinfo).date()
    last = hi.astimezone(cal.tzinfo).date()
    count, day = 0, first
    while day < last:
        day += timedelta(days=1)
        count += cal.is_working_day(day)
    return count


def ends_soon(policy: Policy, today: date, *, within: int = ENDS_SOON_DAYS) -> list[Diagnostic]:
    """`calendar-ends-soon` warnings for calendars whose official data ends within `within` days of `today`
    (or has ended), each located at the calendar's definition and naming its last covered day."""
    out = []
    sites = policy.sla.calendar_sites if policy.sla is not None else {}
    for cid, cal in calendars_of(policy).items():
        last = cal.last_official_day()
        if cal.holidays != "cn" or last is None or (last - today).days > within:
            continue
        after = {
            "unknown": "working-day timers reaching past it will be reported unknown",
            "error": "decisions whose timers reach past it will be refused",
            "statutory": "days after it are provisional (statutory holidays, no 调休)",
            "weekday_only": "days after it are counted as plain weeks",
        }[cal.fallback]
        verb = "ended" if last < today else "ends"
        sources = {cal.year_source(last.year)}
        where = "the pack's years: table" if sources == {SOURCE_PACK} else "the chinesecalendar package"
        if sources != {SOURCE_PACK} and sources != {SOURCE_PACKAGE}:
            where = "its data"
        message = (
            f"calendar '{cid}': holiday data ({where}) {verb} on {last.isoformat()}; {after}. Add `years: "
            f"{last.year + 1}:` with the State Council's schedule when it is published (docs/adopting.md)"
        )
        site = sites.get(cid) or Location(str(policy.root))
        out.append(Diagnostic(site, "calendar-ends-soon", message, severity="warning"))
    return out
