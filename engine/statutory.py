"""Provisional public holidays of a year from the statutory list, for years the State Council has not yet scheduled."""

# 全国年节及纪念日放假办法 (as amended 2024-11-10, in force from 2025-01-01), 第二条: days off for all citizens —
#   元旦 1 day (1 January); 春节 4 days (除夕 to 正月初三); 清明节 1 day (the 清明 solar term); 劳动节 2 days
#   (1-2 May); 端午节 1 day (五月初五); 中秋节 1 day (八月十五); 国庆节 3 days (1-3 October).
# 第六条: a day off for all citizens that falls on a Saturday or Sunday is made up (补假) on a working day.
# The State Council's yearly notice moves weekends around these days (调休); that cannot be derived from the
# statute, so a provisional year has no make-up working days. Lunar dates and solar terms come from
# lunar_python, never from hand-typed tables.

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

from lunar_python import Lunar, Solar

_ONE_DAY = timedelta(days=1)


@cache
def statutory_days_off(year: int) -> dict[date, str]:
    """Every statutory day off of `year` (holidays and their 补假 make-up days) → the holiday's English name."""
    blocks: list[tuple[str, list[date]]] = []
    new_year = _solar(Lunar.fromYmd(year, 1, 1).getSolar())
    blocks.append(("New Year's Day", [date(year, 1, 1)]))
    blocks.append(("Spring Festival", [new_year - _ONE_DAY + k * _ONE_DAY for k in range(4)]))
    blocks.append(("Tomb-sweeping Day", [_solar(Solar.fromYmd(year, 6, 1).getLunar().getJieQiTable()["清明"])]))
    blocks.append(("Labour Day", [date(year, 5, 1), date(year, 5, 2)]))
    blocks.append(("Dragon Boat Festival", [_solar(Lunar.fromYmd(year, 5, 5).getSolar())]))
    blocks.append(("Mid-autumn Festival", [_solar(Lunar.fromYmd(year, 8, 15).getSolar())]))
    blocks.append(("National Day", [date(year, 10, 1) + k * _ONE_DAY for k in range(3)]))
    days: dict[date, str] = {}
    for name, block in sorted(blocks, key=lambda item: item[1][0]):
        # A day off on a weekend, or on a day another holiday already takes, is owed as a weekday after it.
        owed = 0
        for day in block:
            if day.weekday() >= 5 or day in days:
                owed += 1
            days.setdefault(day, name)
        day = max(block)
        while owed:
            day += _ONE_DAY
            if day.weekday() < 5 and day not in days:
                days[day] = name
                owed -= 1
    return {day: name for day, name in sorted(days.items()) if day.year == year}


def _solar(solar: Solar) -> date:
    return date(solar.getYear(), solar.getMonth(), solar.getDay())
