"""Past the holiday data: December 2026 and 2027 instants on every bundled pack, company years, `zhidu calendar`."""

from __future__ import annotations

import json
import re
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import chinese_calendar
import pytest
from click.testing import CliRunner

import cli
import engine
from engine.calendar import CN_YEARS, BusinessCalendar
from engine.source import read_document
from engine.statutory import statutory_days_off
from tests.conftest import ROOT, both

LAST = max(CN_YEARS)  # 2026 with chinesecalendar 1.11
EXAMPLES = sorted((ROOT / "policies").glob("*/examples/*.yaml"))
OFFICE = {d: ["08:30-12:00", "13:30-17:30"] for d in ("mon", "tue", "wed", "thu", "fri")}


def example(path: Path) -> dict[str, Any]:
    data, _smap, diags = read_document(path, str(path))
    assert not diags
    return data


def shifted(value: Any, years: int) -> Any:
    """The case with every ISO date and datetime moved by whole years (a case received in a later year)."""
    if isinstance(value, dict):
        return {k: shifted(v, years) for k, v in value.items()}
    if isinstance(value, list):
        return [shifted(v, years) for v in value]
    if isinstance(value, str) and re.match(r"^20[0-9]{2}-[0-9]{2}-[0-9]{2}", value):
        return f"{int(value[:4]) + years}{value[4:]}".replace("-02-29", "-02-28")
    return value


def calendar_warnings(decision: dict[str, Any]) -> list[dict[str, Any]]:
    return [w for w in decision["warnings"] if w["code"] == "calendar-not-covered"]


def needs_working_time(decision: dict[str, Any]) -> bool:
    """Whether a started timer or route step counts working days or business hours."""
    working = re.compile(r"^[0-9.]+(wd|bh)$")
    for t in decision["timers"]:
        if t.get("started_at") and working.match(str(t.get("goal") or "")):
            return True
        if any(s.get("started_at") and working.match(str(s.get("budget") or "")) for s in t.get("steps", [])):
            return True
    return False


def check_unknown_timers_are_explained(decision: dict[str, Any], pack: Path) -> None:
    warned = {w["timer"] for w in calendar_warnings(decision)}
    for t in decision["timers"]:
        if t["status"] == "unknown":
            assert f"{t['kind']}:{t['id']}" in warned
        for step in t.get("steps", []):
            if step["status"] == "unknown":
                assert f"route:{t['id']}" in warned
    for w in calendar_warnings(decision):
        # located: the calendar's definition in the pack, where the year's table goes
        assert re.search(rf"\({re.escape(str(pack.relative_to(ROOT)))}/[^ ]+\.yaml:\d+:\d+\)", w["message"]), w
        assert w["year"] > LAST
        assert f"years: {w['year']}:" in w["message"]


@pytest.mark.parametrize("now", ["2026-12-30T10:00:00+08:00", "2027-01-05T10:00:00+08:00", "2027-06-01T09:00:00+08:00"])
@pytest.mark.parametrize("path", EXAMPLES, ids=[f"{p.parent.parent.name}/{p.stem}" for p in EXAMPLES])
def test_every_example_decides_at_late_2026_and_2027_instants(path, now, decision_validator):
    pack = path.parent.parent
    policy = engine.load_policy(pack)
    decision = both(policy, example(path), now)
    assert list(decision_validator.iter_errors(decision)) == []
    assert decision["findings"]  # the rest of the decision stands
    check_unknown_timers_are_explained(decision, pack)


@pytest.mark.parametrize("path", EXAMPLES, ids=[f"{p.parent.parent.name}/{p.stem}" for p in EXAMPLES])
def test_every_example_received_in_2027_decides_with_a_located_warning(path, decision_validator):
    pack = path.parent.parent
    policy = engine.load_policy(pack)
    case = shifted(example(path), 2027 - 2024)
    now = case.pop("now", None) or "2027-09-20T10:00:00+08:00"
    decision = both(policy, case, now)
    assert list(decision_validator.iter_errors(decision)) == []
    if needs_working_time(decision):
        assert calendar_warnings(decision), "a case received in 2027 with working-day timers needs 2027's data"
    check_unknown_timers_are_explained(decision, pack)
    assert not [e for e in decision["trace"] if e["rule"] in {w["timer"] for w in calendar_warnings(decision)}]


def test_a_case_received_on_2026_12_29_is_decided_today():
    policy = engine.load_policy("after-sales-standard")
    case = {
        "case_id": "TS-2612-0001",
        "facts": {"received_at": "2026-12-29T10:00:00+08:00", "request_kind": "complaint", "severity": "general"},
    }
    decision = both(policy, case, "2026-12-30T10:00:00+08:00")
    (resolution,) = [t for t in decision["timers"] if t["id"] == "resolution"]
    assert (resolution["status"], resolution["due_at"]) == ("unknown", None)
    first = [t for t in decision["timers"] if t["id"] == "first-response"][0]
    assert first["due_at"] == "2026-12-30T10:00:00+08:00"  # 24 clock hours need no holiday data
    assert [w["timer"] for w in calendar_warnings(decision)] == ["timer:resolution"]


def test_strict_calendar_keeps_the_old_refusal():
    policy = engine.load_policy("after-sales-standard")
    case = example(ROOT / "policies/after-sales-standard/examples/general-complaint.yaml")
    with pytest.raises(engine.EvaluationError) as info:
        policy.evaluate(case, "2027-01-05T10:00:00+08:00", engine="python", strict_calendar=True)
    assert info.value.code == "calendar-not-covered" and info.value.exit_code == 4


# ------------------------------------------------------------------------------------------------
# a company pack adds or corrects a year on top of an inherited calendar
# ------------------------------------------------------------------------------------------------
# Hypothetical 2027 schedule for the tests (not the State Council's): New Year 01-01..03, Spring Festival
# 02-06..02-12 with Saturday 02-13 worked.
YEAR_2027 = """\
    calendars:
      office:
        years:
          2027:
            holidays: [2027-01-01, 2027-01-02, 2027-01-03, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09,
                       2027-02-10, 2027-02-11, 2027-02-12]
            workdays: [2027-02-13]
        closures: [2027-02-15]
"""


def company(tmp_path: Path, base: str, body: str) -> Path:
    folder = tmp_path / "co"
    folder.mkdir()
    head = f'id: co\nversion: "1"\nextends: {base}\n'
    (folder / "policy.yaml").write_text(head + textwrap.dedent(body), encoding="utf-8")
    return folder


def test_a_company_pack_adds_2027_in_a_few_lines(tmp_path):
    pack = company(tmp_path, "after-sales-standard", YEAR_2027)
    result = engine.compile_pack(pack)
    assert result.errors == []
    policy = result.policy
    cal = policy.sla.calendars["office"]
    base = engine.load_policy("after-sales-standard").sla.calendars["office"]
    assert cal.week == base.week  # inherited, not repeated
    assert cal.closures == base.closures | {date(2027, 2, 15)}
    assert cal.year_source(2027) == "pack" and cal.year_source(2026) == "package"
    case = {
        "case_id": "c",
        "facts": {"received_at": "2027-02-05T10:00:00+08:00", "request_kind": "complaint", "severity": "general"},
    }
    decision = both(policy, case, "2027-02-16T10:00:00+08:00")
    (resolution,) = [t for t in decision["timers"] if t["id"] == "resolution"]
    # receipt Fri 02-05; working days 02-13 (Sat, 调休), 02-16, 02-17, 02-18, 02-19 (02-15 closed): due 02-19
    assert resolution["due_at"].startswith("2027-02-19T")
    assert resolution["status"] == "running"
    assert calendar_warnings(decision) == []


def test_a_company_year_replaces_the_inherited_table_for_that_year(tmp_path):
    company(tmp_path, "after-sales-standard", YEAR_2027)
    top = tmp_path / "top"
    top.mkdir()
    (top / "policy.yaml").write_text(
        'id: top\nversion: "1"\nextends: ../co\n'
        "calendars:\n  office:\n    years:\n      2027:\n        holidays: [2027-01-01]\n",
        encoding="utf-8",
    )
    cal = engine.load_policy(top).sla.calendars["office"]
    assert cal.is_working_day(date(2027, 2, 8)) and not cal.is_working_day(date(2027, 1, 1))
    assert not cal.is_working_day(date(2027, 2, 15))  # closures still added up through both layers


def test_a_mistake_in_the_added_year_points_at_the_company_file(tmp_path):
    pack = company(
        tmp_path,
        "after-sales-standard",
        "calendars:\n  office:\n    years:\n      2027:\n        holidays: [2028-01-01]\n",
    )
    result = engine.compile_pack(pack)
    (error,) = result.errors
    assert error.location.file.endswith("co/policy.yaml") and error.location.line == 8
    assert "not in 2027" in error.message


# ------------------------------------------------------------------------------------------------
# provisional years from the statute
# ------------------------------------------------------------------------------------------------
CORE = ("New Year's Day", "Spring Festival", "Tomb-sweeping Day", "Labour Day", "Dragon Boat Festival", "National Day")


@pytest.mark.parametrize("year", range(2008, LAST + 1))
def test_statutory_holidays_are_official_days_off(year):
    """Each statutory holiday the lunar/solar-term computation gives is an official day off that year (the
    State Council moves weekends around them, never the holidays themselves)."""
    days = statutory_days_off(year)
    first_days = {}
    for day, name in days.items():
        first_days.setdefault(name, day)
    # the holidays themselves (not the 补假 days): 元旦, 初一, 清明, 5-1, 端午, 中秋 (when not on 10-01), 10-01
    core = [d for name, d in first_days.items() if name in CORE and name != "Spring Festival"]
    spring = first_days["Spring Festival"]
    core.append(spring + (spring - spring).__class__(days=1))  # 正月初一 (除夕 is a holiday only since 2025)
    missing = [d.isoformat() for d in core if not chinese_calendar.is_holiday(d)]
    assert missing == []


def test_statutory_year_2025_matches_the_amended_law():
    days = statutory_days_off(2025)
    assert {d.isoformat() for d, n in days.items() if n == "Spring Festival"} >= {
        "2025-01-28",  # 除夕
        "2025-01-29",
        "2025-01-30",
        "2025-01-31",
    }
    assert {"2025-05-01", "2025-05-02", "2025-04-04", "2025-05-31", "2025-10-06"} <= {d.isoformat() for d in days}


def test_weekend_holidays_are_made_up_on_a_weekday():
    days = statutory_days_off(2028)  # 2028-01-01 is a Saturday
    assert days[date(2028, 1, 3)] == "New Year's Day"
    cal = BusinessCalendar.from_spec({"week": OFFICE, "fallback": "statutory"})
    assert not cal.is_working_day(date(2028, 1, 3)) and cal.is_working_day(date(2028, 1, 4))


# ------------------------------------------------------------------------------------------------
# zhidu calendar / validate --today / evaluate --strict-calendar
# ------------------------------------------------------------------------------------------------
def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def test_calendar_coverage_names_every_source(tmp_path):
    pack = company(tmp_path, "after-sales-standard", YEAR_2027)
    result = run("calendar", "coverage", str(pack), "pcb-manufacturer", "--format", "json")
    assert result.exit_code == 0, result.output
    (co, pcb) = json.loads(result.output)
    (office,) = co["calendars"]
    assert (office["first_day"], office["last_day"]) == ("2004-01-01", "2027-12-31")
    assert office["years"]["2026"] == "package" and office["years"]["2027"] == "pack"
    assert office["after_last_day"] == "not covered"
    assert pcb["calendars"][0]["last_day"] == f"{LAST}-12-31"
    text = run("calendar", "coverage", str(pack)).output
    assert f"package: 2004-{LAST}" in text and "pack: 2027" in text


def test_calendar_show_lists_days_and_their_source():
    result = run("calendar", "show", "pcb-manufacturer", "--year", "2026", "--format", "json")
    (office,) = json.loads(result.output)
    days = {d["date"]: d for d in office["days"]}
    assert days["2026-01-01"] == {
        "date": "2026-01-01",
        "kind": "day-off",
        "source": "package",
        "holiday": "New Year's Day",
    }
    assert days["2026-01-04"]["kind"] == "makeup-workday"
    text = run("calendar", "show", "pcb-manufacturer", "--year", "2031").output
    assert text.startswith("office 2031: not covered")


BETWEEN = [
    # (id, start, end, exit code, working days, business hours)
    # 08:30-12:00 and 13:30-17:30, Mon-Fri: 7.5 h a day
    ("same-week", "2026-12-28T10:00:00+08:00", "2026-12-31T10:00:00+08:00", 0, 3, "22.50"),
    ("reversed", "2026-12-31T10:00:00+08:00", "2026-12-28T10:00:00+08:00", 0, -3, "-22.50"),
    # 10-01..10-07 off: Wed 09-30 6 h, Thu 10-08 7.5 h, Fri 10-09 1.5 h
    ("national-day", "2026-09-30T10:00:00+08:00", "2026-10-09T10:00:00+08:00", 0, 2, "15.00"),
    ("into-2027", "2026-12-30T10:00:00+08:00", "2027-01-05T10:00:00+08:00", 4, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "code", "days", "hours"), [b[1:] for b in BETWEEN], ids=[b[0] for b in BETWEEN]
)
def test_calendar_between(start, end, code, days, hours):
    result = run("calendar", "between", "after-sales-standard", start, end, "--format", "json")
    assert result.exit_code == code, result.output
    (office,) = json.loads(result.output)
    if days is None:
        assert office["year"] == 2027 and "no public-holiday data for 2027" in office["error"]
    else:
        assert (office["working_days"], office["business_hours"]) == (days, hours)


def test_calendar_between_refuses_a_bad_instant():
    result = run("calendar", "between", "after-sales-standard", "2026-12-30", "2027-01-05T10:00:00+08:00")
    assert result.exit_code == 2 and "not an ISO 8601 datetime" in result.output


ENDS_SOON = [
    # (id, --today, warned)
    ("far-before", "2026-06-01", False),
    ("sixty-one-days", "2026-10-31", False),
    ("sixty-days", "2026-11-01", True),
    ("after-the-end", "2027-01-05", True),
]  # fmt: skip


@pytest.mark.parametrize(("today", "warned"), [e[1:] for e in ENDS_SOON], ids=[e[0] for e in ENDS_SOON])
def test_validate_warns_before_the_calendar_data_ends(today, warned):
    result = run("validate", "after-sales-standard", "--today", today)
    assert result.exit_code == 0, result.output
    assert ("calendar-ends-soon" in result.output) is warned
    if warned:
        assert re.search(r"policies/after-sales-standard/sla\.yaml:\d+:\d+: calendar-ends-soon", result.output)
        assert f"{LAST}-12-31" in result.output


def test_validate_does_not_warn_once_the_company_added_the_next_year(tmp_path):
    pack = company(tmp_path, "after-sales-standard", YEAR_2027)
    result = run("validate", str(pack), "--today", "2026-12-08")
    assert "calendar-ends-soon" not in result.output and result.exit_code == 0


def test_validate_refuses_a_bad_today():
    result = run("validate", "after-sales-standard", "--today", "soon")
    assert result.exit_code == 2 and "is not a date" in result.output


def test_evaluate_at_2027_exits_0_with_the_warning_and_4_when_strict():
    case = str(ROOT / "policies/after-sales-standard/examples/general-complaint.yaml")
    now = "--now=2027-01-05T10:00:00+08:00"
    ok = run("evaluate", "after-sales-standard", case, now)
    assert ok.exit_code == 0
    assert "calendar-not-covered" in {w["code"] for w in json.loads(ok.output)["warnings"]}
    strict = run("evaluate", "after-sales-standard", case, now, "--strict-calendar")
    assert strict.exit_code == 4 and "no public-holiday data for 2027" in strict.output


def test_batch_writes_2027_lines_as_decisions_with_warnings(tmp_path):
    case = example(ROOT / "policies/after-sales-standard/examples/general-complaint.yaml")
    case["now"] = "2027-01-05T10:00:00+08:00"
    source = tmp_path / "cases.jsonl"
    source.write_text(json.dumps(case, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    result = run("batch", "after-sales-standard", str(source), "-o", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0, result.output
    (line,) = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    decision = json.loads(line)
    assert "error" not in decision
    assert "calendar-not-covered" in {w["code"] for w in decision["warnings"]}
