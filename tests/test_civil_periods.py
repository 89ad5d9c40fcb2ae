"""Legal day counting ("十日内", 民法典 第二百零一条至第二百零三条), date starts, conditional timers, zero goals.

Fixture: tests/fixtures/packs/civil (calendar `cn`: Mon-Fri with the mainland holidays). Every decision is
evaluated on both engines, must be identical on both and valid against the decision schema.
"""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.civil import civil_due, last_day
from engine.durations import parse_duration
from tests.conftest import PACKS, both

PACK = PACKS / "civil"
TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def policy() -> engine.Policy:
    return engine.load_policy(PACK)


@pytest.fixture
def decide(policy, decision_validator):
    def run(facts: dict[str, Any], now: str) -> dict[str, Any]:
        decision = both(policy, {"case_id": "civil", "facts": facts}, now)
        assert [e.message for e in decision_validator.iter_errors(decision)] == []
        return decision

    return run


def timers(decision: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in decision["timers"]}


def t(text: str) -> str:
    """'2025-03-13 15:00' → ISO with the +08:00 offset."""
    return text.replace(" ", "T") + ":00+08:00"


# ------------------------------------------------------------------------------------------------
# the arithmetic (engine/civil.py)
# ------------------------------------------------------------------------------------------------
LAST_DAYS = [
    # (id, event day, duration, last day)
    ("ten-days", "2025-03-03", "10d", "2025-03-13"),
    ("zero-days-is-the-same-day", "2025-03-03", "0d", "2025-03-03"),
    ("across-a-month-end", "2025-02-25", "10d", "2025-03-07"),
    ("leap-year", "2024-02-25", "10d", "2024-03-06"),
    ("one-week", "2025-03-03", "1w", "2025-03-10"),
    ("one-month-corresponding-day", "2025-03-15", "1 month", "2025-04-15"),
    ("one-month-no-corresponding-day", "2025-01-31", "1 month", "2025-02-28"),
    ("one-month-leap", "2024-01-31", "1 month", "2024-02-29"),
    ("twelve-months-across-a-year", "2025-12-31", "12 months", "2026-12-31"),
]


@pytest.mark.parametrize(("event", "duration", "last"), [x[1:] for x in LAST_DAYS], ids=[x[0] for x in LAST_DAYS])
def test_the_last_day_of_a_civil_period(event, duration, last):
    assert last_day(date.fromisoformat(event), parse_duration(duration)) == date.fromisoformat(last)


@pytest.mark.parametrize(
    ("event", "move", "due"),
    [
        # 2025-10-06 is inside the National Day holiday (1-8 October): moved to Thursday 9 October
        ("2025-09-26", "move", "2025-10-10T00:00:00+08:00"),
        ("2025-09-26", "keep", "2025-10-07T00:00:00+08:00"),
        # a last day on a Sunday moves to Monday
        ("2025-03-06", "move", "2025-03-18T00:00:00+08:00"),
        # a last day on a working day does not move
        ("2025-03-03", "move", "2025-03-14T00:00:00+08:00"),
    ],
    ids=["national-day-moved", "national-day-kept", "sunday-moved", "working-day-stays"],
)
def test_a_last_day_off_moves_to_the_next_working_day(policy, event, move, due):
    cal = policy.sla.calendars["cn"]
    got, _ = civil_due(date.fromisoformat(event), parse_duration("10d"), TZ, cal, move)
    assert got.isoformat() == due


# ------------------------------------------------------------------------------------------------
# timers
# ------------------------------------------------------------------------------------------------
APPEALS = [
    # (id, appeal filed at, now, status): report issued on Monday 3 March, 十日内 ends 24:00 on 13 March
    ("filed-at-15h-on-the-tenth-day", "2025-03-13 15:00", "2025-03-20 09:00", "met"),
    ("filed-at-23h59-on-the-tenth-day", "2025-03-13 23:59", "2025-03-20 09:00", "met"),
    ("filed-at-24h-of-the-tenth-day", "2025-03-14 00:00", "2025-03-20 09:00", "met"),
    ("filed-on-the-eleventh-day", "2025-03-14 00:01", "2025-03-20 09:00", "breached"),
    ("not-filed-yet-on-the-tenth-day", None, "2025-03-13 22:00", "running"),
    ("not-filed-after-the-tenth-day", None, "2025-03-14 00:01", "breached"),
    ("on-the-report-day-the-period-has-not-begun", None, "2025-03-03 18:00", "pending"),
]


@pytest.mark.parametrize(("filed", "now", "status"), [a[1:] for a in APPEALS], ids=[a[0] for a in APPEALS])
def test_a_ten_day_appeal_window_counts_as_the_law_does(decide, filed, now, status):
    facts = {"kind": "appeal", "report_date": "2025-03-03"} | ({"appeal_filed_at": t(filed)} if filed else {})
    got = timers(decide(facts, t(now)))["appeal-window"]
    assert got["started_at"] == t("2025-03-04 00:00")
    assert got["due_at"] == t("2025-03-14 00:00")
    assert got["status"] == status


def test_a_plain_ten_days_would_breach_what_the_law_allows(tmp_path):
    """The trap the civil counting removes: `goal: 10d` from the report's time ends at 16:00 on the 13th."""
    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "policy.yaml").write_text(
        textwrap.dedent(
            """\
            id: p
            version: "1"
            facts: {report_at: {type: datetime}, filed_at: {type: datetime}}
            timers:
              - {id: plain, label: 十日内, ref: "1", start: report_at, stop: filed_at, goal: 10d}
              - {id: civil, label: 十日内, ref: "1", start: report_at, stop: filed_at, goal: 10d, counting: civil}
            """
        ),
        encoding="utf-8",
    )
    case = {"facts": {"report_at": t("2025-03-03 16:00"), "filed_at": t("2025-03-13 17:00")}}
    got = timers(both(engine.load_policy(pack), case, t("2025-03-20 09:00")))
    assert (got["plain"]["status"], got["civil"]["status"]) == ("breached", "met")


def test_moving_past_the_national_day_holiday(decide):
    facts = {"kind": "appeal", "report_at": t("2025-09-26 16:00"), "appeal_filed_at": t("2025-10-09 10:00")}
    got = timers(decide(facts, t("2025-10-20 09:00")))["appeal-window-moved"]
    assert (got["started_at"], got["due_at"], got["status"]) == (
        t("2025-09-27 00:00"),
        t("2025-10-10 00:00"),
        "met",
    )


@pytest.mark.parametrize(
    ("timer", "started", "due"),
    [
        ("objection-month", "2025-02-01 00:00", "2025-03-01 00:00"),
        ("inspect-after-signing", "2025-02-01 00:00", "2025-02-03 00:00"),
        # a date starts at 00:00 of that day; 2wd from 31 January (Spring Festival) ends Friday 7 February
        ("inspect-same-day", "2025-01-31 00:00", "2025-02-07 17:30"),
    ],
    ids=["civil-month", "date-next-day", "date-same-day"],
)
def test_a_date_fact_starts_a_timer(decide, timer, started, due):
    got = timers(decide({"signed_on": "2025-01-31"}, t("2025-01-31 12:00")))[timer]
    assert (got["started_at"], got["due_at"]) == (t(started), t(due))


@pytest.mark.parametrize(
    ("kind", "present"),
    [("appeal", True), ("complaint", False), (None, False)],
    ids=["applies", "other-kind", "missing"],
)
def test_a_timer_that_does_not_apply_is_left_out(decide, kind, present):
    facts = {"report_date": "2025-03-03", "report_at": t("2025-03-03 16:00"), "appeal_filed_at": t("2025-03-05 10:00")}
    got = timers(decide(facts | ({"kind": kind} if kind else {}), t("2025-03-20 09:00")))
    assert ("appeal-window" in got, "appeal-window-moved" in got) == (present, present)
    # a timer started by one that does not apply does not start either
    assert got["reply-after-appeal"]["status"] == ("breached" if present else "pending")


ZERO = [
    # (id, arrived, now, status, percent, overdue seconds)
    ("before-the-time", None, "2025-03-13 08:00", "pending", None, None),
    ("at-the-time", None, "2025-03-13 09:00", "running", "100.0", None),
    ("late", None, "2025-03-13 09:30", "breached", "100.0", 1800),
    ("arrived-on-time", "2025-03-13 08:55", "2025-03-13 10:00", "met", "100.0", None),
    ("arrived-late", "2025-03-13 09:20", "2025-03-13 10:00", "breached", "100.0", 1200),
]


@pytest.mark.parametrize(("arrived", "now", "status", "pct", "late"), [z[1:] for z in ZERO], ids=[z[0] for z in ZERO])
def test_a_zero_goal_reports_sensible_progress(decide, arrived, now, status, pct, late):
    facts = {"appointment_at": t("2025-03-13 09:00")} | ({"arrived_at": t(arrived)} if arrived else {})
    got = timers(decide(facts, t(now)))["appointment"]
    assert (got["status"], got.get("percent_elapsed"), got.get("overdue", {}).get("seconds")) == (status, pct, late)


# ------------------------------------------------------------------------------------------------
# located mistakes
# ------------------------------------------------------------------------------------------------
MISTAKES = [
    ("hours", "goal: 36h\n    counting: civil", "duration", "not a whole number of days"),
    ("working-days", "goal: 10wd\n    counting: civil\n    calendar: c", "duration", "not a whole number of days"),
    ("pauses", "goal: 10d\n    counting: civil\n    pauses: gaps", "counting", "does not pause"),
    ("move-without-calendar", "goal: 10d\n    counting: civil\n    last_day_off: move", "calendar", "needs a calendar"),
    ("move-without-civil", "goal: 10d\n    last_day_off: move", "counting", "needs `counting: civil`"),
    ("date-without-date-start", "goal: 2d\n    start: day", "missing-field", "date_start"),
    ("date-start-on-a-datetime", "goal: 2d\n    date_start: same_day", "counting", "only to a timer started by a date"),
    (
        "date-start-with-civil",
        "goal: 2d\n    start: day\n    counting: civil\n    date_start: same_day",
        "counting",
        "drop date_start",
    ),
    ("start-not-a-date", "goal: 2d\n    start: n", "type-error", "expected datetime or date"),
    ("when-not-boolean", "goal: 2d\n    when: n", "type-error", ""),
]


@pytest.mark.parametrize(("body", "code", "text"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_civil_mistakes_are_located(tmp_path: Path, body, code, text):
    start = "" if "start:" in body else "    start: at\n"
    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "policy.yaml").write_text(
        'id: p\nversion: "1"\n'
        "facts: {at: {type: datetime}, day: {type: date}, n: {type: number},"
        " gaps: {type: list, items: {type: object, properties: {from: {type: datetime}}}}}\n"
        + ("calendars: {c: {holidays: none, week: {mon: ['09:00-17:00']}}}\n" if "calendar: c" in body else "")
        + "timers:\n  - id: x\n    label: x\n    ref: '1'\n"
        + start
        + "    "
        + body
        + "\n",
        encoding="utf-8",
    )
    result = engine.compile_pack(pack)
    errors = [(d.code, d.message, d.location.line) for d in result.errors]
    assert any(c == code and text in m and line > 0 for c, m, line in errors), errors


# ------------------------------------------------------------------------------------------------
# properties
# ------------------------------------------------------------------------------------------------
DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 11, 30))


@settings(max_examples=200, deadline=None)
@given(event=DAYS, n=st.integers(min_value=0, max_value=60))
def test_a_civil_period_of_n_days_ends_at_midnight_n_days_after_the_event_day(event, n):
    due, last = civil_due(event, parse_duration(f"{n}d"), TZ)
    assert last == event + timedelta(days=n)
    assert (due.hour, due.minute, due.second) == (0, 0, 0) and due.date() == last + timedelta(days=1)


@settings(max_examples=200, deadline=None)
@given(event=DAYS, n=st.integers(min_value=1, max_value=30))
def test_a_moved_last_day_is_the_first_working_day_from_the_plain_one(policy, event, n):
    cal = policy.sla.calendars["cn"]
    _, plain = civil_due(event, parse_duration(f"{n}d"), TZ)
    _, moved = civil_due(event, parse_duration(f"{n}d"), TZ, cal, "move")
    assert cal.is_working_day(moved) and moved >= plain
    assert all(not cal.is_working_day(plain + timedelta(days=k)) for k in range((moved - plain).days))


@settings(max_examples=100, deadline=None)
@given(event=DAYS, months=st.integers(min_value=1, max_value=24))
def test_a_civil_month_period_ends_on_the_corresponding_day_or_the_month_end(event, months):
    last = last_day(event, parse_duration(f"{months} months"))
    assert (last.year * 12 + last.month) - (event.year * 12 + event.month) == months
    assert last.day == event.day or (last.day < event.day and (last + timedelta(days=1)).day == 1)
