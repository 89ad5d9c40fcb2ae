"""SLA timers, routes and monthly duties through full pack evaluation on both engines.

Most tests evaluate tests/fixtures/packs/sla (calendar `office`: Mon-Fri 08:00-12:00, 13:00-17:00, 8 hours a
day; March 2025 has no public holidays). 2025-03-03 is a Monday. Every decision is checked against the
decision schema and must be identical on the python and durable engines (`both`). Packs with compile errors
are written into tmp_path.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

import engine
from tests.conftest import PACKS, both

PACK = PACKS / "sla"
MON = "2025-03-03T10:00:00+08:00"  # accepted_at in most cases: Monday 10:00


def at(text: str) -> str:
    """A local time in the pack's zone: '03-05 10:00' → '2025-03-05T10:00:00+08:00' (or give the year)."""
    day, clock = text.split()
    return f"{day if len(day) == 10 else '2025-' + day}T{clock}:00+08:00"


def pause(start: str, end: str | None = None) -> dict[str, str]:
    return {"from": at(start)} | ({"to": at(end)} if end else {})


@pytest.fixture(scope="module")
def policy() -> engine.Policy:
    return engine.load_policy(PACK)


@pytest.fixture
def decide(policy, decision_validator):
    """Evaluate a case on both engines; the decision is schema-valid and the same on both."""

    def run(facts: dict[str, Any], now: str) -> dict[str, Any]:
        decision = both(policy, {"case_id": "sla-test", "facts": facts}, now)
        errors = [e.message for e in decision_validator.iter_errors(decision)]
        assert errors == []
        return decision

    return run


def entry(decision: dict[str, Any], id_: str) -> dict[str, Any]:
    (found,) = [t for t in decision["timers"] if t["id"] == id_]
    return found


def line_of(path: Path, needle: str) -> int:
    """1-based line of the only line containing `needle`."""
    lines = [n for n, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in text]
    assert len(lines) == 1, (needle, lines)
    return lines[0]


def write_pack(tmp_path: Path, body: str) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "policy.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return pack


# ------------------------------------------------------------------------------------------------
# 1. pauses
# ------------------------------------------------------------------------------------------------
PAUSES = [
    # (id, timer, pauses, now, due_at, status, paused_seconds)
    ("calendar-no-pause", "close-case", [], "03-05 10:00", "03-16 10:00", "running", 0),
    ("calendar-closed-pause", "close-case", [pause("03-04 09:00", "03-04 11:00")], "03-05 10:00", "03-16 12:00", "running", 7200),
    # a calendar-day goal counts every paused hour, nights included
    ("calendar-overnight", "close-case", [pause("03-04 18:00", "03-05 08:00")], "03-05 10:00", "03-17 00:00", "running", 50400),
    ("calendar-overlapping-once", "close-case", [pause("03-04 09:00", "03-04 11:00"), pause("03-04 10:00", "03-04 14:00")], "03-05 10:00", "03-16 15:00", "running", 18000),
    ("calendar-unsorted-overlapping", "close-case", [pause("03-04 10:00", "03-04 14:00"), pause("03-04 09:00", "03-04 11:00")], "03-05 10:00", "03-16 15:00", "running", 18000),
    ("calendar-clipped-at-start", "close-case", [pause("03-03 08:00", "03-03 11:00")], "03-05 10:00", "03-16 11:00", "running", 3600),
    # the pushed-back due time catches more of the pause: settles at 10:00 + 3h
    ("calendar-straddles-due", "close-case", [pause("03-16 09:00", "03-16 12:00")], "03-16 12:30", "03-16 13:00", "running", 10800),
    ("calendar-reversed-pause-ignored", "close-case", [pause("03-04 11:00", "03-04 09:00")], "03-05 10:00", "03-16 10:00", "running", 0),
    ("calendar-pause-ends-later", "close-case", [pause("03-04 09:00", "03-06 09:00")], "03-05 10:00", "03-18 10:00", "paused", 90000),
    # working days: 2wd from Mon 10:00 end Wed 17:00; only the paused business time pushes it back
    ("working-no-pause", "reply", [], "03-05 10:00", "03-05 17:00", "running", 0),
    ("working-closed-pause", "reply", [pause("03-04 09:00", "03-04 11:00")], "03-05 10:00", "03-06 10:00", "running", 7200),
    ("working-over-lunch", "reply", [pause("03-04 11:00", "03-04 14:00")], "03-05 10:00", "03-06 10:00", "running", 10800),
    ("working-overnight-is-free", "reply", [pause("03-04 18:00", "03-05 08:00")], "03-05 10:00", "03-05 17:00", "running", 50400),
    ("working-overlapping-once", "reply", [pause("03-04 09:00", "03-04 11:00"), pause("03-04 10:00", "03-04 14:00")], "03-05 10:00", "03-06 12:00", "running", 18000),
    # 1h left at Wed 16:00, paused until Thu 10:00: due Thu 11:00
    ("working-straddles-due", "reply", [pause("03-05 16:00", "03-06 10:00")], "03-06 10:30", "03-06 11:00", "running", 64800),
    # business hours: 6bh from Mon 10:00 end Mon 17:00
    ("business-hours-pause", "inspect", [pause("03-03 11:00", "03-03 14:00")], "03-03 15:00", "03-04 10:00", "running", 10800),
    ("business-hours-overlapping", "inspect", [pause("03-03 11:00", "03-03 12:30"), pause("03-03 11:30", "03-03 13:30")], "03-03 15:00", "03-04 09:30", "running", 9000),
    ("business-hours-weekend-pause", "inspect", [pause("03-01 09:00", "03-02 18:00")], "03-03 15:00", "03-03 17:00", "running", 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("timer", "pauses", "now", "due", "status", "paused"), [p[1:] for p in PAUSES], ids=[p[0] for p in PAUSES]
)
def test_pauses_push_the_due_time_back(decide, timer, pauses, now, due, status, paused):
    t = entry(decide({"accepted_at": MON, "waiting_periods": pauses}, at(now)), timer)
    assert (t["due_at"], t["status"], t["paused_seconds"]) == (at(due), status, paused)


OPEN_PAUSES = [
    # (id, timer, now, due_at, paused_seconds): an open pause lasts until now
    ("calendar", "close-case", "03-04 10:00", "03-16 11:00", 3600),
    ("working-days", "reply", "03-04 10:00", "03-06 09:00", 3600),
    ("business-hours", "inspect", "03-03 11:30", "03-04 08:30", 1800),
]


@pytest.mark.parametrize(
    ("timer", "now", "due", "paused"), [p[1:] for p in OPEN_PAUSES], ids=[p[0] for p in OPEN_PAUSES]
)
def test_an_open_pause_counts_until_now(decide, timer, now, due, paused):
    start = "03-04 09:00" if timer != "inspect" else "03-03 11:00"
    t = entry(decide({"accepted_at": MON, "waiting_periods": [pause(start)]}, at(now)), timer)
    assert (t["due_at"], t["paused_seconds"]) == (at(due), paused)


@pytest.mark.parametrize("timer", ["close-case", "reply"])
def test_an_open_pause_means_paused(decide, timer):
    t = entry(decide({"accepted_at": MON, "waiting_periods": [pause("03-04 09:00")]}, at("03-04 10:00")), timer)
    assert t["status"] == "paused"


@pytest.mark.parametrize(("timer", "end"), [("reply", "09:01:00"), ("reply", "09:00:30"), ("inspect", "09:07:00")])
def test_a_short_pause_on_a_working_time_goal(decide, timer, end):
    stop = f"2025-03-03T{end}+08:00"  # a 1-minute, 30-second or 7-minute pause
    facts = {"accepted_at": "2025-03-03T08:30:00+08:00", "waiting_periods": [{"from": at("03-03 09:00"), "to": stop}]}
    t = entry(decide(facts, at("03-03 10:00")), timer)
    assert t["status"] == "running"


# ------------------------------------------------------------------------------------------------
# 2. start: timer:<id>
# ------------------------------------------------------------------------------------------------
CHAIN = [
    # (id, replied_at, reviewed_at, now, reply status, review started_at, review due_at, review status)
    ("source-running", None, None, "03-04 10:00", "running", None, None, "pending"),
    ("source-stops-in-future", "03-05 15:00", None, "03-04 10:00", "running", None, None, "pending"),
    ("review-running", "03-04 15:00", None, "03-05 10:00", "met", "03-04 15:00", "03-05 17:00", "running"),
    ("review-met", "03-04 15:00", "03-05 16:00", "03-06 10:00", "met", "03-04 15:00", "03-05 17:00", "met"),
    ("review-breached", "03-04 15:00", "03-06 09:00", "03-06 10:00", "met", "03-04 15:00", "03-05 17:00", "breached"),
    ("source-late-review-on-time", "03-06 10:00", "03-07 11:00", "03-07 12:00", "breached", "03-06 10:00", "03-07 17:00", "met"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("replied", "reviewed", "now", "reply_status", "started", "due", "status"),
    [c[1:] for c in CHAIN],
    ids=[c[0] for c in CHAIN],
)
def test_a_timer_starts_when_another_stops(decide, replied, reviewed, now, reply_status, started, due, status):
    facts: dict[str, Any] = {"accepted_at": MON}
    if replied:
        facts["replied_at"] = at(replied)
    if reviewed:
        facts["reviewed_at"] = at(reviewed)
    decision = decide(facts, at(now))
    reply, review = entry(decision, "reply"), entry(decision, "review")
    assert reply["status"] == reply_status
    assert (review["started_at"], review["due_at"], review["status"]) == (
        at(started) if started else None,
        at(due) if due else None,
        status,
    )
    ids = [t["id"] for t in decision["timers"]]
    assert ids.index("reply") < ids.index("review")  # declared after it, computed before it


CYCLE = """\
    id: t
    version: "1"
    facts:
      at: {type: datetime}
    timers:
      - id: first
        label: F
        ref: r
        start: at
        goal: 1d
      - id: b
        label: B
        ref: r
        start: timer:c
        goal: 1d
      - id: c
        label: C
        ref: r
        start: timer:b
        goal: 1d
"""


def test_a_cycle_between_timers_is_an_error(tmp_path):
    result = engine.compile_pack(write_pack(tmp_path, CYCLE))
    assert result.policy is None
    assert [(d.code, d.message) for d in result.errors] == [("timer-cycle", "timers start from each other: b → c → b")]


def test_a_timer_cycle_points_at_a_timer_in_the_cycle(tmp_path):
    pack = write_pack(tmp_path, CYCLE)
    (d,) = engine.compile_pack(pack).errors
    assert d.location.line in (line_of(pack / "policy.yaml", "timer:c"), line_of(pack / "policy.yaml", "timer:b"))


# ------------------------------------------------------------------------------------------------
# 3. due_before: contract expiry notice one month before the end (售后3 (二十))
# ------------------------------------------------------------------------------------------------
NOTICE = [
    # (id, contract_end_date, notice_sent_at, now, status, due day, span key, span text, span seconds)
    # A date anchor makes the notice due by the end of that day (23:59:59).
    ("running", "2025-03-31", None, "02-10 10:00", "running", "2025-02-28", "remaining", "18d13h59min", 1605599),
    ("met", "2025-03-31", "02-15 10:00", "02-20 10:00", "met", "2025-02-28", "remaining", "13d13h59min", 1173599),
    ("sent-in-future-still-running", "2025-03-31", "02-25 10:00", "02-20 10:00", "running", "2025-02-28", "remaining", "8d13h59min", 741599),
    ("breached-no-notice", "2025-03-31", None, "03-05 10:00", "breached", "2025-02-28", "overdue", "4d10h", 381601),
    ("breached-late-notice", "2025-03-31", "03-01 10:00", "03-05 10:00", "breached", "2025-02-28", "overdue", "10h", 36001),
    # month-end clamping, and a plain mid-month date
    ("clamp-to-april-30", "2025-05-31", None, "04-10 10:00", "running", "2025-04-30", "remaining", "20d13h59min", 1778399),
    ("clamp-to-leap-day", "2024-03-31", None, "2024-02-10 10:00", "running", "2024-02-29", "remaining", "19d13h59min", 1691999),
    ("mid-month", "2025-03-15", None, "02-10 10:00", "running", "2025-02-15", "remaining", "5d13h59min", 482399),
]  # fmt: skip


@pytest.mark.parametrize(
    ("end", "sent", "now", "status", "due", "key", "text", "seconds"),
    [n[1:] for n in NOTICE],
    ids=[n[0] for n in NOTICE],
)
def test_contract_expiry_notice(decide, end, sent, now, status, due, key, text, seconds):
    facts = {"contract_end_date": end} | ({"notice_sent_at": at(sent)} if sent else {})
    t = entry(decide(facts, at(now)), "contract-notice")
    assert t["goal"] == f"1 month before {end}"
    assert (t["status"], t["due_at"]) == (status, f"{due}T23:59:59+08:00")
    if status != "running":  # a notice dated after `now` is not counted (its stopped_at is still shown)
        assert t["stopped_at"] == (at(sent) if sent else None)
    assert t[key] == {"text": text, "seconds": seconds}


def test_contract_notice_before_its_window_is_pending(decide):
    t = entry(decide({"contract_end_date": "2025-03-31"}, at("01-05 10:00")), "contract-notice")
    assert (t["status"], t["due_at"]) == ("pending", "2025-02-28T23:59:59+08:00")
    assert "remaining" not in t and "overdue" not in t


def test_contract_notice_without_an_end_date_is_pending(decide):
    t = entry(decide({}, at("01-05 10:00")), "contract-notice")
    assert (t["status"], t["due_at"], t["started_at"]) == ("pending", None, None)


@pytest.mark.parametrize("by", ["2wd", "6bh"])
def test_due_before_by_working_time(tmp_path, by):
    pack = write_pack(
        tmp_path,
        f"""\
        id: t
        version: "1"
        facts:
          end_on: {{type: date}}
        calendars:
          office:
            week: {{mon: ["08:00-12:00"], tue: ["08:00-12:00"], wed: ["08:00-12:00"], thu: ["08:00-12:00"], fri: ["08:00-12:00"]}}
        timers:
          - id: notice
            label: N
            ref: r
            due_before: {{date: end_on, by: {by}}}
        """,
    )
    # "one month before the end date" counts back in calendar time: working units are refused
    assert [d.code for d in engine.compile_pack(pack).errors] == ["duration"]


# ------------------------------------------------------------------------------------------------
# 4. return visits: key customers at least half-yearly, long-term customers at least yearly (seed 004)
# ------------------------------------------------------------------------------------------------
VISITS = [
    # (id, customer_tier, last_visit_at, goal, due_at, status)
    ("key-running", "key", "2025-01-31T10:00:00+08:00", "6 months", "2025-07-31T10:00:00+08:00", "running"),
    ("key-breached-clamped", "key", "2024-08-31T10:00:00+08:00", "6 months", "2025-02-28T10:00:00+08:00", "breached"),
    ("long-term-running", "long_term", "2024-08-31T10:00:00+08:00", "12 months", "2025-08-31T10:00:00+08:00", "running"),
    ("long-term-breached", "long_term", "2024-03-01T10:00:00+08:00", "12 months", "2025-03-01T10:00:00+08:00", "breached"),
    ("no-tier-default-leap-day", None, "2024-02-29T10:00:00+08:00", "12 months", "2025-02-28T10:00:00+08:00", "breached"),
]  # fmt: skip


@pytest.mark.parametrize(("tier", "last", "goal", "due", "status"), [v[1:] for v in VISITS], ids=[v[0] for v in VISITS])
def test_return_visits_by_customer_tier(decide, tier, last, goal, due, status):
    facts = {"last_visit_at": last} | ({"customer_tier": tier} if tier else {})
    t = entry(decide(facts, at("03-05 10:00")), "return-visit")
    assert (t["goal"], t["started_at"], t["due_at"], t["status"]) == (goal, last, due, status)


# ------------------------------------------------------------------------------------------------
# 5. conditional goals without a default
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("region", "goal", "status"),
    [("foreign", "3d", "running"), ("domestic", None, "pending"), (None, None, "pending")],
    ids=["condition-holds", "condition-fails", "fact-missing"],
)
def test_no_goal_when_no_option_holds(decide, region, goal, status):
    facts = {"accepted_at": MON} | ({"region": region} if region else {})
    t = entry(decide(facts, at("03-05 10:00")), "foreign-escalation")
    assert (t["goal"], t["status"], t["started_at"]) == (goal, status, MON)
    if goal is None:
        assert "due_at" not in t and "remaining" not in t


def test_the_fixture_pack_warns_only_about_the_missing_default_goal():
    result = engine.compile_pack(PACK)
    assert result.errors == []
    # The fixture's route counts working days inside a calendar-day goal on purpose (both units are tested).
    units = [w for w in result.warnings if w.code == "route-units-differ"]
    assert len(units) == 2 and all(w.location.path == "$.routes[0].steps" for w in units)
    (warning,) = [w for w in result.warnings if w.code != "route-units-differ"]
    assert warning.code == "no-default-goal"
    assert Path(warning.location.file).name == "sla.yaml"
    assert warning.location.line == line_of(PACK / "sla.yaml", "duration: 3d}")


# ------------------------------------------------------------------------------------------------
# 6. routes
# ------------------------------------------------------------------------------------------------
STEPS = ["gm-review", "qa-analysis", "sales-negotiation", "gm-final"]
ROUTES = [
    # facts besides accepted_at, now, status, current_step, late_steps, step statuses
    pytest.param({"accepted_at": None}, "03-03 11:00", "pending", None, [], ["pending"] * 4, id="not-started"),
    pytest.param({}, "03-03 11:00", "running", "gm-review", [], ["running", "pending", "pending", "pending"], id="first-step-running"),
    pytest.param(
        {"route_done": {"gm_review": at("03-03 14:00"), "qa_analysis": at("03-04 16:00")}},
        "03-06 10:00", "running", "sales-negotiation", [], ["met", "met", "running", "pending"],
        id="chained-by-done-times",
    ),
    pytest.param({}, "03-05 10:00", "breached", "gm-review", ["gm-review"], ["breached", "pending", "pending", "pending"], id="first-step-late"),
    pytest.param(
        {"route_done": {"gm_review": at("03-03 14:00"), "qa_analysis": at("03-04 16:00"), "sales_negotiation": at("03-07 10:00"), "gm_final": at("03-07 11:00")}},
        "03-10 10:00", "met", None, [], ["met"] * 4,
        id="all-met-domestic",
    ),
    pytest.param(
        {"region": "foreign", "route_done": {"gm_review": at("03-03 14:00"), "qa_analysis": at("03-04 16:00"), "sales_negotiation": at("03-18 10:00"), "gm_final": at("03-18 11:00")}},
        "03-20 10:00", "met", None, [], ["met"] * 4,
        id="foreign-budget-12wd-met",
    ),
    pytest.param(
        {"route_done": {"gm_review": at("03-03 14:00"), "qa_analysis": at("03-04 16:00"), "sales_negotiation": at("03-18 10:00"), "gm_final": at("03-18 11:00")}},
        "03-18 12:00", "breached", None, ["sales-negotiation"], ["met", "met", "breached", "met"],
        id="domestic-budget-5wd-done-late",
    ),
    pytest.param(
        {"route_done": {"gm_review": at("03-04 14:00")}},
        "03-04 15:00", "breached", "qa-analysis", ["gm-review"], ["breached", "running", "pending", "pending"],
        id="done-late-then-next-running",
    ),
    pytest.param(
        {"route_done": {"gm_review": at("03-03 14:00"), "qa_analysis": at("03-04 16:00"), "sales_negotiation": at("03-18 10:00")}},
        "03-18 11:00", "breached", "gm-final", ["sales-negotiation"], ["met", "met", "breached", "running"],
        id="5wd-done-late-then-final-running",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("facts", "now", "status", "current", "late", "statuses"), ROUTES)
def test_route_steps(decide, facts, now, status, current, late, statuses):
    case = {"accepted_at": MON} | facts
    case = {k: v for k, v in case.items() if v is not None}
    decision = decide(case, at(now))
    route = entry(decision, "handling")
    assert route["kind"] == "route"
    assert [s["id"] for s in route["steps"]] == STEPS
    assert (route["status"], route["current_step"], route["late_steps"]) == (status, current, late)
    assert [s["status"] for s in route["steps"]] == statuses
    rules = {t["rule"] for t in decision["trace"]}
    assert ("route:handling" in rules) == bool(late)


def test_route_steps_start_when_the_previous_one_is_done(decide):
    facts = {
        "accepted_at": MON,
        "region": "foreign",
        "route_done": {"gm_review": at("03-03 14:00"), "qa_analysis": at("03-04 16:00")},
    }
    steps = entry(decide(facts, at("03-06 10:00")), "handling")["steps"]
    got = [(s["budget"], s["started_at"], s["due_at"], s["done_at"]) for s in steps]
    assert got == [
        ("0.5wd", MON, at("03-03 15:00"), at("03-03 14:00")),  # half of Monday's 8h, counted from 10:00
        ("1wd", at("03-03 14:00"), at("03-04 17:00"), at("03-04 16:00")),
        ("12wd", at("03-04 16:00"), at("03-20 17:00"), None),
        ("0.5wd", None, None, None),
    ]


def test_a_late_step_adds_the_route_effects_to_actions_forms_and_trace(decide):
    decision = decide({"accepted_at": MON}, at("03-05 10:00"))
    assert entry(decision, "handling")["late_steps"] == ["gm-review"]
    assert decision["actions"] == [
        {
            "id": "chase-late-step",
            "label": "对逾期环节开立催办单",
            "label_en": "对逾期环节开立催办单",
            "rules": ["route:handling"],
            "refs": ["R-handling"],
            "to": "gm-office",
            "to_label": "总经理室",
        }
    ]
    assert [(f["id"], f["rules"], f["refs"]) for f in decision["forms"]] == [
        ("reminder", ["route:handling"], ["R-handling"])
    ]
    (trace,) = decision["trace"]
    assert trace["rule"] == "route:handling"
    assert (trace["label"], trace["ref"]) == ("客户抱怨处理表流转", "R-handling")
    assert trace["effects"] == [{"kind": "action", "id": "chase-late-step"}, {"kind": "form", "id": "reminder"}]


LINT_HEAD = """\
    id: t
    version: "1"
    facts:
      at: {type: datetime}
      region: {type: enum, values: [domestic, foreign]}
    calendars:
      office:
        week: {mon: ["08:00-12:00", "13:00-17:00"], tue: ["08:00-12:00", "13:00-17:00"]}
    timers:
      - id: close
        label: C
        ref: r
        start: at
        goal: GOAL
    routes:
      - id: rt
        label: R
        ref: r
        start: at
        within: close
        steps:
"""
DEFAULT_GOAL = "13d"
BY_REGION_GOAL = '[{when: region == "foreign", duration: 17d}, {duration: 13d}]'


def by_region(foreign: str, default: str = "5wd") -> str:
    return f'[{{when: region == "foreign", duration: {foreign}}}, {{duration: {default}}}]'


LINTS = [
    # (id, goal, step budgets, expected warning message or None)
    ("default-over-goal", DEFAULT_GOAL, ["0.5wd", "1wd", "1wd", "1wd", "14wd", "0.5wd"], "route 'rt' budgets add up to 18 days by default, past the goal 13d of timer 'close'"),
    ("default-fits", DEFAULT_GOAL, ["0.5wd", "1wd", "1wd", "1wd", "5wd", "0.5wd"], None),
    ("default-exactly-goal", DEFAULT_GOAL, ["0.5wd", "12wd", "0.5wd"], None),
    ("foreign-12wd-fits-17d", BY_REGION_GOAL, ["0.5wd", "1wd", "1wd", by_region("12wd"), "1wd"], None),
    ("foreign-16wd-over-17d", BY_REGION_GOAL, ["0.5wd", "1wd", "1wd", by_region("16wd"), "1wd"], 'route \'rt\' budgets add up to 19.5 days when region == "foreign", past the goal 17d of timer \'close\''),
    ("foreign-goal-only-default-budget", BY_REGION_GOAL, ["0.5wd", "1wd", "1wd", "14wd"], "route 'rt' budgets add up to 16.5 days by default, past the goal 13d of timer 'close'"),
    ("calendar-days-and-hours", DEFAULT_GOAL, ["36h", "12d"], "route 'rt' budgets add up to 13.5 days by default, past the goal 13d of timer 'close'"),
    ("business-hours-not-compared", DEFAULT_GOAL, ["400bh", "1wd"], None),
]  # fmt: skip


@pytest.mark.parametrize(("goal", "budgets", "message"), [lint[1:] for lint in LINTS], ids=[lint[0] for lint in LINTS])
def test_route_budgets_against_the_goal(tmp_path, goal, budgets, message):
    steps = "".join(f"          - {{id: s{i}, budget: {b}}}\n" for i, b in enumerate(budgets, 1))
    pack = write_pack(tmp_path, LINT_HEAD.replace("GOAL", goal) + steps)
    result = engine.compile_pack(pack)
    assert result.errors == []
    lints = [d for d in result.warnings if d.code == "route-over-goal"]
    if message is None:
        assert lints == []
    else:
        assert [d.message for d in lints] == [message]
        assert lints[0].location.line == line_of(pack / "policy.yaml", "{id: s1,")


UNITS = [
    # (id, goal, step budgets, route-units-differ expected)
    ("working-days-under-calendar-goal", DEFAULT_GOAL, ["0.5wd", "1wd", "1wd", "1wd", "5wd", "0.5wd"], True),
    ("working-days-under-working-goal", "13wd", ["0.5wd", "1wd", "1wd", "1wd", "5wd", "0.5wd"], False),
    ("calendar-under-calendar", DEFAULT_GOAL, ["36h", "10d"], False),
    ("calendar-under-working-goal", "13wd", ["36h", "10d"], True),
]  # fmt: skip


@pytest.mark.parametrize(("goal", "budgets", "differ"), [u[1:] for u in UNITS], ids=[u[0] for u in UNITS])
def test_route_lint_compares_like_with_like(tmp_path, goal, budgets, differ):
    steps = "".join(f"          - {{id: s{i}, budget: {b}}}\n" for i, b in enumerate(budgets, 1))
    pack = write_pack(tmp_path, LINT_HEAD.replace("GOAL", goal) + steps)
    codes = [d.code for d in engine.compile_pack(pack).warnings]
    assert ("route-units-differ" in codes) == differ and "route-over-goal" not in codes


# ------------------------------------------------------------------------------------------------
# 7. monthly duties (every: month, before_day: 10 → due at 00:00 on the 10th)
# ------------------------------------------------------------------------------------------------
DUTIES = [
    # (id, last_summary_on, now, status, stopped_at, span key, span, effects)
    # nothing recorded = not done this month: running before the 10th, overdue after it (issue #15)
    ("running-without-fact", None, "03-05 10:00", "running", None, "remaining", ("4d14h", 396000), False),
    ("overdue-without-fact", None, "03-12 10:00", "breached", None, "overdue", ("2d10h", 208800), True),
    ("running-before-the-10th", "2025-02-07", "03-05 10:00", "running", None, "remaining", ("4d14h", 396000), False),
    ("met", "2025-03-07", "03-12 10:00", "met", "2025-03-07T00:00:00+08:00", None, None, False),
    # a date says "sometime that day": done on the 10th itself is not before the 10th
    ("done-on-the-10th-date", "2025-03-10", "03-12 10:00", "breached", "2025-03-10T00:00:00+08:00", None, None, True),
    ("done-on-the-9th-date", "2025-03-09", "03-12 10:00", "met", "2025-03-09T00:00:00+08:00", None, None, False),
    # a done date after `now` is not done yet
    ("done-date-in-the-future", "2025-03-07", "03-05 10:00", "running", None, "remaining", ("4d14h", 396000), False),
    ("done-date-in-the-future-late", "2025-03-14", "03-12 10:00", "breached", None, "overdue", ("2d10h", 208800), True),
    ("done-late-this-month", "2025-03-11", "03-12 10:00", "breached", "2025-03-11T00:00:00+08:00", None, None, True),
    ("done-last-month-after-the-10th", "2025-02-07", "03-12 10:00", "breached", None, "overdue", ("2d10h", 208800), True),
    ("due-instant", "2025-02-07", "03-10 00:00", "breached", None, "overdue", ("0min", 0), True),
]  # fmt: skip


@pytest.mark.parametrize(
    ("done", "now", "status", "stopped", "key", "span", "effects"),
    [d[1:] for d in DUTIES],
    ids=[d[0] for d in DUTIES],
)
def test_monthly_duty(decide, done, now, status, stopped, key, span, effects):
    decision = decide({"last_summary_on": done} if done else {}, at(now))
    duty = entry(decision, "monthly-summary")
    assert (duty["kind"], duty["period"], duty["started_at"], duty["due_at"]) == (
        "duty",
        "2025-03",
        "2025-03-01T00:00:00+08:00",
        "2025-03-10T00:00:00+08:00",
    )
    assert (duty["status"], duty["stopped_at"]) == (status, stopped)
    spans = {k: duty[k] for k in ("remaining", "overdue") if k in duty}
    assert spans == ({key: {"text": span[0], "seconds": span[1]}} if key else {})
    assert [a["id"] for a in decision["actions"]] == (["compile-statistics"] if effects else [])
    assert [f["id"] for f in decision["forms"]] == (["monthly-statistics"] if effects else [])
    if effects:
        (trace,) = decision["trace"]
        assert (trace["rule"], trace["ref"], trace["label"]) == ("duty:monthly-summary", "D-summary", duty["label"])
        assert decision["actions"][0]["rules"] == ["duty:monthly-summary"]


# ------------------------------------------------------------------------------------------------
# 8. compile errors with codes and positions
# ------------------------------------------------------------------------------------------------
HEAD = """\
id: t
version: "1"
facts:
  at: {type: datetime}
  n: {type: integer}
  end_on: {type: date}
roles:
  qa: {label: QA}
"""
OFFICE = """\
calendars:
  office:
    week:
      mon: ["08:00-12:00", "13:00-17:00"]
"""


def timer(body: str) -> str:
    return "timers:\n  - id: a\n    label: A\n    ref: r\n" + textwrap.indent(textwrap.dedent(body), "    ")


def calendar(body: str) -> str:
    return "calendars:\n  office:\n" + textwrap.indent(textwrap.dedent(body), "    ") + timer("start: at\ngoal: 1d\n")


def route(steps: str, extra: str = "") -> str:
    head = "routes:\n  - id: rt\n    label: R\n    ref: r\n    start: at\n" + extra + "    steps:\n"
    return head + textwrap.indent(textwrap.dedent(steps), "      ")


COMPILE_ERRORS = [
    # (id, pack text, code, a text on the line the error must point at)
    ("unknown-calendar", OFFICE + timer("calendar: ofice\nstart: at\ngoal: 1d\n"), "dangling-ref", "calendar: ofice"),
    ("working-days-without-calendar", timer("start: at\ngoal: 2wd\n"), "calendar", "goal: 2wd"),
    ("business-hours-without-calendar", timer("start: at\ngoal:\n  - {when: n > 1, duration: 1d}\n  - {duration: 6bh}\n"), "calendar", "when: n > 1"),
    ("route-budget-without-calendar", route("- {id: s1, budget: 1wd}\n"), "calendar", "budget: 1wd"),
    ("bad-duration", OFFICE + timer("start: at\ngoal: 3 fortnights\n"), "duration", "goal: 3 fortnights"),
    ("ambiguous-duration-in-option", OFFICE + timer("start: at\ngoal:\n  - {when: n > 1, duration: 1d}\n  - {duration: 1 m}\n"), "duration", "duration: 1 m}"),
    ("bad-due-before-by", timer("due_before: {date: end_on, by: 1 moon}\n"), "duration", "by: 1 moon"),
    ("start-not-datetime", OFFICE + timer("start: n\ngoal: 1d\n"), "type-error", "start: n"),
    ("stop-not-datetime", OFFICE + timer("start: at\nstop: n + 1\ngoal: 1d\n"), "type-error", "stop: n + 1"),
    ("pauses-not-a-list", OFFICE + timer("start: at\npauses: at\ngoal: 1d\n"), "type-error", "pauses: at"),
    ("due-before-not-a-date", timer("due_before: {date: n, by: 1 month}\n"), "type-error", "date: n"),
    ("start-unknown-timer", timer("start: timer:nope\ngoal: 1d\n"), "dangling-ref", "start: timer:nope"),
    ("route-within-unknown-timer", route("- {id: s1, budget: 1d}\n", "    within: nope\n"), "dangling-ref", "within: nope"),
    ("route-step-unknown-role", route("- {id: s1, role: qq, budget: 1d}\n"), "dangling-ref", "role: qq"),
    ("calendar-overlapping-intervals", calendar('week:\n  mon: ["08:00-12:00", "11:00-17:00"]\n'), "calendar", "11:00-17:00"),
    ("calendar-makeup-day-without-hours", calendar('makeup_hours: sat\nweek:\n  mon: ["08:00-12:00"]\n'), "calendar", "makeup_hours: sat"),
    ("calendar-closure-and-extra-workday", calendar('closures: ["2025-03-03"]\nextra_workdays: ["2025-03-03"]\nweek:\n  mon: ["08:00-12:00"]\n'), "calendar", "extra_workdays:"),
    ("calendar-year-table-stray-date", calendar('years:\n  2031:\n    holidays: ["2030-12-31"]\nweek:\n  mon: ["08:00-12:00"]\n'), "calendar", '"2030-12-31"'),
    ("calendar-interval-ends-before-start", calendar('week:\n  mon: ["12:00-08:00"]\n'), "calendar", "12:00-08:00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "code", "needle"), [e[1:] for e in COMPILE_ERRORS], ids=[e[0] for e in COMPILE_ERRORS]
)
def test_compile_errors_have_codes_and_lines(tmp_path, text, code, needle):
    pack = write_pack(tmp_path, HEAD + text)
    result = engine.compile_pack(pack)
    assert result.policy is None
    matching = [d for d in result.errors if d.code == code]
    assert matching, [str(d) for d in result.errors]
    assert matching[0].location.line == line_of(pack / "policy.yaml", needle), str(matching[0])


CASCADES = [
    # (id, pack text, the one error expected)
    ("unknown-calendar-only", OFFICE + timer("calendar: ofice\nstart: at\ngoal: 1wd\n"), "dangling-ref"),
    ("bad-goal-only", OFFICE + timer("start: at\ngoal: 3 fortnights\n"), "duration"),
    ("self-start-only", timer("start: timer:a\ngoal: 1d\n"), "timer-cycle"),
]


@pytest.mark.parametrize(("text", "code"), [c[1:] for c in CASCADES], ids=[c[0] for c in CASCADES])
def test_one_mistake_gives_one_error(tmp_path, text, code):
    result = engine.compile_pack(write_pack(tmp_path, HEAD + text))
    assert [d.code for d in result.errors] == [code]


# ------------------------------------------------------------------------------------------------
# 9. years the holiday data does not cover
# ------------------------------------------------------------------------------------------------
def warnings_of(decision: dict[str, Any], code: str) -> list[dict[str, Any]]:
    return [w for w in decision["warnings"] if w["code"] == code]


def test_a_year_without_holiday_data_leaves_that_timer_unknown(decide):
    decision = decide({"far_strict_at": "2031-03-03T10:00:00+08:00"}, "2031-03-05T10:00:00+08:00")
    t = entry(decision, "far-strict")
    assert (t["status"], t["due_at"], t["started_at"]) == ("unknown", None, "2031-03-03T10:00:00+08:00")
    (warning,) = warnings_of(decision, "calendar-not-covered")
    assert (warning["timer"], warning["year"], warning["calendar"], warning["ref"]) == (
        "timer:far-strict",
        2031,
        "office",
        "T-2031",
    )
    assert "no public-holiday data for 2031" in warning["message"]
    assert "years: 2031:" in warning["message"]
    assert "sla.yaml:3:" in warning["message"]  # where the year's table goes
    # the rest of the decision stands: other timers are computed, nothing fires from the unknown one
    assert entry(decision, "return-visit")["status"] in ("pending", "running")
    assert not [e for e in decision["trace"] if e["rule"] == "timer:far-strict"]


def test_a_due_time_before_the_gap_keeps_its_status_and_warns_about_the_span(decide):
    # due in 2026 (covered), now in 2027: breached is certain, the overdue working time is not
    decision = decide({"far_strict_at": "2026-12-28T10:00:00+08:00"}, "2027-01-05T10:00:00+08:00")
    t = entry(decision, "far-strict")
    assert (t["status"], t["due_at"]) == ("breached", "2026-12-29T17:00:00+08:00")
    assert "overdue" not in t and "percent_elapsed" not in t
    (warning,) = warnings_of(decision, "calendar-not-covered")
    assert "breached, but the time left or late is unknown" in warning["message"]


@pytest.mark.parametrize("engine_name", engine.ENGINES)
def test_fallback_error_refuses_the_decision(policy, engine_name):
    case = {"case_id": "far", "facts": {"far_refuse_at": "2031-03-03T10:00:00+08:00"}}
    with pytest.raises(engine.EvaluationError) as info:
        policy.evaluate(case, "2031-03-05T10:00:00+08:00", engine=engine_name)
    assert info.value.code == "calendar-not-covered"
    assert "timer:far-refuse" in str(info.value)
    assert "no public-holiday data for 2031" in str(info.value)


@pytest.mark.parametrize("engine_name", engine.ENGINES)
def test_strict_calendar_refuses_any_uncovered_timer(policy, engine_name):
    case = {"case_id": "far", "facts": {"far_strict_at": "2031-03-03T10:00:00+08:00"}}
    with pytest.raises(engine.EvaluationError) as info:
        policy.evaluate(case, "2031-03-05T10:00:00+08:00", engine=engine_name, strict_calendar=True)
    assert info.value.code == "calendar-not-covered"


PROVISIONAL = [
    # (id, start, now, due, status): 2031 statutory days off: 01-01, 01-22..25 (Spring Festival), 05-01/02 ...
    ("ordinary-week", "2031-03-03T10:00", "2031-03-04T10:00", "2031-03-04T17:00", "running"),
    ("labour-day-is-off", "2031-04-30T10:00", "2031-05-01T10:00", "2031-05-05T17:00", "running"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "now", "due", "status"), [p[1:] for p in PROVISIONAL], ids=[p[0] for p in PROVISIONAL]
)
def test_statutory_fallback_is_provisional(decide, start, now, due, status):
    decision = decide({"far_provisional_at": start + ":00+08:00"}, now + ":00+08:00")
    t = entry(decision, "far-provisional")
    assert (t["due_at"], t["status"]) == (due + ":00+08:00", status)
    (warning,) = warnings_of(decision, "calendar-provisional")
    assert (warning["year"], warning["calendar"], warning["timer"]) == (
        2031,
        "office-statutory",
        "timer:far-provisional",
    )


def test_covered_years_carry_no_provisional_warning(decide):
    decision = decide({"far_provisional_at": "2025-03-03T10:00:00+08:00"}, "2025-03-04T10:00:00+08:00")
    assert warnings_of(decision, "calendar-provisional") == []
    assert warnings_of(decision, "calendar-not-covered") == []


def test_a_month_goal_needs_no_holiday_data(decide):
    facts = {"last_visit_at": "2031-01-31T10:00:00+08:00", "customer_tier": "key"}
    t = entry(decide(facts, "2031-03-05T10:00:00+08:00"), "return-visit")
    assert (t["calendar"], t["due_at"], t["status"]) == ("office", "2031-07-31T10:00:00+08:00", "running")


FAR = [
    # (id, timer, fact, start, now, due_at, status)
    ("fallback-weekday-only", "far-fallback", "far_fallback_at", "2031-03-03T10:00", "2031-03-04T10:00", "2031-03-04T17:00", "running"),
    # without data 2031-05-01 (Thu) is an ordinary working day
    ("fallback-ignores-labour-day", "far-fallback", "far_fallback_at", "2031-04-30T10:00", "2031-05-01T10:00", "2031-05-01T17:00", "running"),
    ("years-table-holidays", "far-table", "far_table_at", "2031-04-30T10:00", "2031-05-01T10:00", "2031-05-05T17:00", "running"),
    ("years-table-makeup-saturday", "far-table", "far_table_at", "2031-04-25T10:00", "2031-04-26T10:00", "2031-04-26T17:00", "running"),
    ("years-table-ordinary-week", "far-table", "far_table_at", "2031-03-03T10:00", "2031-03-05T10:00", "2031-03-04T17:00", "breached"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("timer", "fact", "start", "now", "due", "status"), [f[1:] for f in FAR], ids=[f[0] for f in FAR]
)
def test_a_year_without_data_with_fallback_or_table(decide, timer, fact, start, now, due, status):
    t = entry(decide({fact: start + ":00+08:00"}, now + ":00+08:00"), timer)
    assert (t["due_at"], t["status"]) == (due + ":00+08:00", status)


# ------------------------------------------------------------------------------------------------
# 10. remaining / overdue, percent_elapsed and warnings_reached
# ------------------------------------------------------------------------------------------------
SPANS = [
    # (id, timer, extra facts, now, status, span key, text, seconds, percent_elapsed, warnings_reached)
    # close-case: 13d from Mon 03-03 10:00, due 03-16 10:00, warn_at [50, 75]
    ("calendar-start", "close-case", {}, "03-03 10:00", "running", "remaining", "13d", 1123200, "0.0", []),
    ("calendar-minutes", "close-case", {}, "03-03 12:30", "running", "remaining", "12d21h30min", 1114200, "0.8", []),
    ("calendar-just-under-half", "close-case", {}, "03-09 21:00", "running", "remaining", "6d13h", 565200, "49.7", []),
    ("calendar-half", "close-case", {}, "03-09 22:00", "running", "remaining", "6d12h", 561600, "50.0", [50]),
    ("calendar-three-quarters", "close-case", {}, "03-13 04:00", "running", "remaining", "3d6h", 280800, "75.0", [50, 75]),
    ("calendar-at-due", "close-case", {}, "03-16 10:00", "running", "remaining", "0min", 0, "100.0", [50, 75]),
    ("calendar-overdue", "close-case", {}, "03-17 12:05", "breached", "overdue", "1d2h5min", 93900, "108.4", [50, 75]),
    ("calendar-met", "close-case", {"closed_at": at("03-05 10:00")}, "03-10 10:00", "met", "remaining", "11d", 950400, "15.4", []),
    ("calendar-foreign-17d", "close-case", {"region": "foreign"}, "03-13 04:00", "running", "remaining", "7d6h", 626400, "57.4", [50]),
    # reply: 2wd from Mon 10:00, due Wed 17:00 = 22 business hours; warn_at [50, 75]
    ("working-days-running", "reply", {}, "03-04 10:00", "running", "remaining", "1.75wd", 50400, "36.4", []),
    ("working-days-half", "reply", {}, "03-04 14:00", "running", "remaining", "1.38wd", 39600, "50.0", [50]),
    ("working-days-before-start", "reply", {}, "03-01 10:00", "pending", None, None, None, None, []),
    ("working-days-three-quarters", "reply", {}, "03-05 10:30", "running", "remaining", "0.69wd", 19800, "75.0", [50, 75]),
    ("working-days-overdue", "reply", {}, "03-07 10:00", "breached", "overdue", "1.25wd", 36000, "145.5", [50, 75]),
    ("working-days-met-late", "reply", {"replied_at": at("03-06 09:00")}, "03-07 10:00", "breached", "overdue", "0.13wd", 3600, "104.5", [50, 75]),
    # inspect: 6bh from Mon 10:00, due Mon 17:00
    ("business-hours-lunch-not-counted", "inspect", {}, "03-03 12:30", "running", "remaining", "4.00bh", 14400, "33.3", []),
    ("business-hours-overdue-overnight", "inspect", {}, "03-04 09:30", "breached", "overdue", "1.50bh", 5400, "125.0", []),
    ("business-hours-met", "inspect", {"inspected_at": at("03-03 16:00")}, "03-04 09:30", "met", "remaining", "1.00bh", 3600, "83.3", []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("timer", "extra", "now", "status", "key", "text", "seconds", "percent", "warnings"),
    [s[1:] for s in SPANS],
    ids=[s[0] for s in SPANS],
)
def test_remaining_overdue_and_percent(decide, timer, extra, now, status, key, text, seconds, percent, warnings):
    t = entry(decide({"accepted_at": MON} | extra, at(now)), timer)
    assert t["status"] == status
    spans = {k: t[k] for k in ("remaining", "overdue") if k in t}
    assert spans == ({key: {"text": text, "seconds": seconds}} if key else {})
    assert t.get("percent_elapsed") == percent
    assert t["warnings_reached"] == warnings


def test_breach_and_late_effects_of_a_timer(decide):
    open_case = decide({"accepted_at": MON}, at("03-17 10:00"))
    closed_late = decide({"accepted_at": MON, "closed_at": at("03-17 09:00")}, at("03-17 10:00"))
    for decision, action, form in (
        (open_case, "issue-reminder", "reminder"),
        (closed_late, "inquire-lateness", "inquiry"),
    ):
        assert entry(decision, "close-case")["status"] == "breached"
        cited = {a["id"]: a["rules"] for a in decision["actions"]} | {f["id"]: f["rules"] for f in decision["forms"]}
        assert "timer:close-case" in cited[action] and "timer:close-case" in cited[form]
        trace = [t for t in decision["trace"] if t["rule"] == "timer:close-case"]
        assert [e["id"] for e in trace[0]["effects"]] == [action, form]
        assert trace[0]["label"] == entry(decision, "close-case")["label"]


@pytest.mark.parametrize(
    ("now", "shown", "reached"),
    [("03-09 21:51", "50.0", []), ("03-09 21:59", "50.0", []), ("03-09 22:00", "50.0", [50])],
    ids=["49.95%", "49.99%", "exactly-50%"],
)
def test_thresholds_compare_the_exact_share_not_the_rounded_one(decide, now, shown, reached):
    t = entry(decide({"accepted_at": MON}, at(now)), "close-case")
    assert (t["percent_elapsed"], t["warnings_reached"]) == (shown, reached)


def test_duplicate_ids_in_list_sections_are_errors(tmp_path):
    body = """\
    id: t
    version: "1"
    facts:
      at: {type: datetime}
    timers:
      - {id: a, label: A, ref: r, start: at, goal: 1d}
      - {id: a, label: B, ref: r, start: at, goal: 2d}
    routes:
      - id: r
        label: R
        ref: r
        start: at
        steps:
          - {id: s, budget: 1d}
          - {id: s, budget: 2d}
    """
    result = engine.compile_pack(write_pack(tmp_path, body))
    assert [(d.code, d.location.line) for d in result.errors] == [("duplicate-id", 7), ("duplicate-id", 15)]


def test_a_long_open_pause_keeps_a_business_hour_timer_paused(tmp_path):
    body = """\
    id: t
    version: "1"
    facts:
      at: {type: datetime}
      waits: {type: list, items: {type: object, properties: {from: {type: datetime, required: true}, to: {type: datetime}}}}
    calendars:
      office: {week: {mon: ["08:00-12:00", "13:00-17:00"], tue: ["08:00-12:00", "13:00-17:00"], wed: ["08:00-12:00", "13:00-17:00"], thu: ["08:00-12:00", "13:00-17:00"], fri: ["08:00-12:00", "13:00-17:00"]}}
    timers:
      - {id: reply, label: R, ref: r, start: at, pauses: waits, goal: 6bh}
    """
    policy = engine.load_policy(write_pack(tmp_path, body))
    # 1 business hour used before a pause that is still open three weeks later: 5 are left after it.
    facts = {"at": "2025-03-03T08:00:00+08:00", "waits": [{"from": "2025-03-03T09:00:00+08:00"}]}
    t = both(policy, {"case_id": "p", "facts": facts}, "2025-03-24T10:00:00+08:00")["timers"][0]
    assert t["status"] == "paused"
    assert t["due_at"] == "2025-03-24T16:00:00+08:00"  # the pause ends at `now` at the earliest: 10:00 + 5bh with lunch


def test_warn_times_are_the_instants_the_warning_levels_are_reached(decide):
    # close-case: 13d from Mon 03-03 10:00 with warn_at [50, 75] (calendar time): 50 % is reached at
    # 03-09 22:00 (the SPANS row "calendar-half"), 75 % at 03-13 04:00 ("calendar-three-quarters")
    for now in (at("03-03 09:00"), at("03-05 10:00")):  # not started yet / running: the same instants
        t = entry(decide({"accepted_at": MON}, now), "close-case")
        assert t["warn_times"] == {"50": at("03-09 22:00"), "75": at("03-13 04:00")}
