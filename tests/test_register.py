"""The case register on SQLite and PostgreSQL: numbers, events, conflicts, versions in force, due list, tick."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from register_db import db_url, pg_database  # noqa: F401 - fixtures

from engine.errors import CaseError
from engine.loader import bundled_root
from engine.register import ConflictError, Register, RegisterError, merge_patch

TZ = ZoneInfo("Asia/Shanghai")
PCB = "pcb-manufacturer"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


def pcb_case(received: str = "2024-09-03T09:30", accepted: str | None = "2024-09-03T14:00", **facts) -> dict:
    base = {
        "received_at": received + ":00+08:00",
        "region": "domestic",
        "customer_name": "华南电子有限公司",
        "cause": "quality_abnormal",
        "loss_occurred": True,
        "upheld": True,
        "loss_amount": "12000.00",
    }
    if accepted:
        base["accepted_at"] = accepted + ":00+08:00"
    base.update(facts)
    return {"facts": base}


@pytest.fixture
def reg(db_url):  # noqa: F811
    r = Register(db_url)
    r.publish(PCB, at("2024-09-01T08:00"), actor="admin")
    return r


# ---------------------------------------------------------------------------------------------- pure parts
@pytest.mark.parametrize(
    ("target", "patch", "want"),
    [
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": None}, {"b": 2}),
        ({"a": {"x": 1, "y": 2}}, {"a": {"y": None, "z": 3}}, {"a": {"x": 1, "z": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": 1}, {"b": {"c": None}}, {"a": 1, "b": {}}),
        ({}, {}, {}),
    ],
    ids=["replace", "null-removes", "nested", "lists-replace", "null-inside-new", "empty"],
)
def test_merge_patch_rfc7396(target, patch, want):
    assert merge_patch(target, patch) == want


# ---------------------------------------------------------------------------------------------- numbers
def test_numbers_follow_the_pack_pattern_restart_monthly_and_reach_the_forms(reg):
    made = [
        reg.open_case(PCB, pcb_case(r, a), at(a)).number
        for r, a in [
            ("2024-09-03T09:30", "2024-09-03T14:00"),
            ("2024-09-04T09:30", "2024-09-04T10:00"),
            ("2024-09-30T09:30", "2024-09-30T10:00"),
            ("2024-09-30T20:00", "2024-10-08T09:00"),  # accepted (the numbering date) in October
        ]
    ]
    assert made == ["240901", "240902", "240903", "241001"]
    view = reg.get("240902")
    assert view.facts["case_serial"] == 2
    forms = {f["id"]: f for f in view.decision["forms"]}
    assert forms["complaint-handling-form"]["number"] == "240902"
    # Later evaluations carry the same number: it is a fact now, not taken again.
    again = reg.append("240902", "facts-changed", at("2024-09-05T10:00"), patch={"part_no": "X-1"})
    assert {f["id"]: f["number"] for f in again.decision["forms"]}["complaint-handling-form"] == "240902"


def test_registration_is_idempotent_by_external_id(reg):
    first = reg.open_case(PCB, {"case_id": "CRM-7", **pcb_case()}, at("2024-09-03T15:00"))
    second = reg.open_case(PCB, {"case_id": "CRM-7", **pcb_case()}, at("2024-09-03T16:00"))
    assert (first.number, second.number, second.version) == ("240901", "240901", first.version)
    assert reg.sizes()["cases"] == 1


# ---------------------------------------------------------------------------------------------- events
EVENT_TABLE = [
    ("facts-changed", {"patch": {"part_no": "P-9"}}, {"part_no": "P-9"}, "open"),
    ("facts-changed", {"patch": {"loss_amount": None}}, {"loss_amount": None}, "open"),
    (
        "step-done",
        {"step": "gm-office-review"},
        {"route_done": {"gm_office_review": "2024-09-04T09:00:00+08:00"}},
        "open",
    ),
    ("closed", {}, {"closed_at": "2024-09-04T09:00:00+08:00"}, "closed"),
]


@pytest.mark.parametrize(
    ("kind", "kwargs", "want", "status"), EVENT_TABLE, ids=[f"{k}-{i}" for i, (k, *_) in enumerate(EVENT_TABLE)]
)
def test_events_fold_into_facts(reg, kind, kwargs, want, status):
    number = reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number
    view = reg.append(number, kind, at("2024-09-04T09:00"), based_on=1, actor="clerk", reason="test", **kwargs)
    for key, value in want.items():
        assert view.facts.get(key) == value
    assert view.status == status
    assert view.version == 2
    events = reg.events_of(number)
    assert [(e.seq, e.kind, e.actor) for e in events] == [(1, "opened", "zhidu"), (2, kind, "clerk")]
    assert events[1].reason == "test"
    assert events[1].recorded_at == at("2024-09-04T09:00")


def test_close_and_reopen_move_the_case_off_and_on_the_due_list(reg):
    number = reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number
    late = at("2024-09-20T10:00")
    assert {r["number"] for r in reg.due(late)} == {number}
    reg.append(number, "closed", at("2024-09-10T10:00"))
    assert reg.due(late) == []
    with pytest.raises(RegisterError, match="already closed"):
        reg.append(number, "closed", at("2024-09-10T11:00"))
    view = reg.append(number, "reopened", at("2024-09-11T10:00"), reason="customer rejects the conclusion")
    assert view.status == "open" and "closed_at" not in view.facts
    assert {r["number"] for r in reg.due(late)} == {number}


def test_pause_and_resume_write_the_timer_pause_list(db_url):  # noqa: F811
    reg = Register(db_url)
    reg.publish("after-sales-standard", at("2024-01-01T00:00"))
    case = {"facts": {"received_at": "2024-09-02T09:00:00+08:00", "request_kind": "complaint"}}
    number = reg.open_case("after-sales-standard", case, at("2024-09-02T09:00")).number
    reg.append(number, "paused", at("2024-09-03T10:00"), timer="resolution")
    with pytest.raises(RegisterError, match="already paused"):
        reg.append(number, "paused", at("2024-09-03T11:00"), timer="resolution")
    view = reg.append(number, "resumed", at("2024-09-04T10:00"), timer="resolution")
    assert view.facts["waiting_for_customer"] == [
        {"from": "2024-09-03T10:00:00+08:00", "to": "2024-09-04T10:00:00+08:00"}
    ]
    timer = next(t for t in view.decision["timers"] if t["id"] == "resolution")
    assert timer["paused_seconds"] > 0


def test_a_stale_version_is_a_conflict_and_nothing_is_written(reg):
    number = reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number
    reg.append(number, "facts-changed", at("2024-09-04T09:00"), based_on=1, patch={"part_no": "A"})
    with pytest.raises(ConflictError, match="version 2, not 1"):
        reg.append(number, "facts-changed", at("2024-09-04T09:01"), based_on=1, patch={"part_no": "B"})
    assert reg.get(number).facts["part_no"] == "A"
    assert len(reg.events_of(number)) == 2


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"region": "overseas"}, "case-invalid"),
        ({"colour": "red"}, "unknown-field"),
        ({"received_at": None}, "missing-field"),
    ],
    ids=["bad-enum", "unknown-fact", "required-removed"],
)
def test_a_bad_change_is_refused_and_nothing_is_written(reg, patch, code):
    number = reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number
    with pytest.raises(CaseError) as info:
        reg.append(number, "facts-changed", at("2024-09-04T09:00"), patch=patch, filename="patch.yaml")
    assert info.value.code == code
    assert reg.get(number).version == 1
    assert len(reg.events_of(number)) == 1


@pytest.mark.parametrize(
    ("kind", "kwargs", "message"),
    [
        ("step-done", {"step": "nope"}, "no route step 'nope'"),
        ("paused", {"timer": "close-case"}, "no timer 'close-case' that pauses"),
        ("reopened", {}, "is not closed"),
        ("opened", {}, "written by the register itself"),
        ("exploded", {}, "unknown event kind"),
    ],
    ids=["unknown-step", "timer-without-pauses", "reopen-open", "opened-by-hand", "unknown-kind"],
)
def test_bad_events_are_refused(reg, kind, kwargs, message):
    number = reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number
    with pytest.raises(RegisterError, match=message):
        reg.append(number, kind, at("2024-09-04T09:00"), **kwargs)
    assert reg.get(number).version == 1


def test_unknown_case_and_unpublished_pack_are_refused(db_url):  # noqa: F811
    reg = Register(db_url)
    with pytest.raises(RegisterError, match="no published version"):
        reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00"))
    with pytest.raises(RegisterError, match="no case numbered"):
        reg.get("999999")


# ---------------------------------------------------------------------------------------------- decisions
def test_every_evaluation_is_on_record_and_as_of_replays_the_past(reg):
    number = reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number
    reg.append(number, "step-done", at("2024-09-04T09:00"), step="gm-office-review")
    reg.append(number, "closed", at("2024-09-10T10:00"))
    log = reg.decision_log(number)
    # A closed case stops its route (issue 15): closing issues no breach of the steps left open.
    assert [d["seq"] for d in log] == [1, 2, 3]
    assert [e.kind for e in reg.events_of(number)] == ["opened", "step-done", "closed"]
    assert all(d["content_hash"] == reg.get(number).content_hash and d["engine"] == "python" for d in log)
    past = reg.as_of(number, at("2024-09-04T12:00"))
    assert past.version == 2 and past.status == "open" and "closed_at" not in past.facts
    assert past.decision["evaluated_at"] == "2024-09-04T12:00:00+08:00"
    before = reg.as_of(number, at("2024-09-03T16:00"))
    assert "route_done" not in before.facts
    with pytest.raises(RegisterError, match="not registered yet"):
        reg.as_of(number, at("2024-09-01T00:00"))


def test_decisions_are_compressed(reg):
    numbers = [
        reg.open_case(
            PCB, pcb_case(f"2024-09-0{day}T09:30", f"2024-09-0{day}T10:00"), at(f"2024-09-0{day}T11:00")
        ).number
        for day in range(3, 9)
    ]
    sizes = reg.sizes()
    assert sizes["decisions"] == 6
    # A decision is 10-25 kB of JSON (the regulation's words included); stored, it is a fraction of that.
    raw = sum(len(json.dumps(reg.get(n).decision, ensure_ascii=False).encode("utf-8")) for n in numbers)
    assert sizes["decision_bytes"] < raw / 3
    assert reg.decision_log("240903")[0]["decision"]["case_id"] == "240903"  # and it reads back


# ---------------------------------------------------------------------------------------------- versions
def _pack_copy(tmp_path: Path, name: str, effective: str, version: str) -> Path:
    target = tmp_path / name / PCB
    shutil.copytree(bundled_root() / PCB, target)
    text = (target / "policy.yaml").read_text(encoding="utf-8")
    text = text.replace('version: "1.0.0"', f'version: "{version}"\neffective_from: {effective}')
    (target / "policy.yaml").write_text(text, encoding="utf-8")
    return target


def test_a_case_is_judged_by_the_version_in_force_at_its_received_date(db_url, tmp_path):  # noqa: F811
    reg = Register(db_url)
    old = reg.publish(str(_pack_copy(tmp_path, "a", "2024-01-01", "1.0.0")), at("2024-01-01T00:00"))
    new = reg.publish(str(_pack_copy(tmp_path, "b", "2024-10-01", "2.0.0")), at("2024-09-15T00:00"))
    assert reg.publish(str(_pack_copy(tmp_path, "c", "2024-10-01", "2.0.0")), at("2024-09-16T00:00"))["new"] is False
    sept = reg.open_case(PCB, pcb_case("2024-09-20T09:00", "2024-09-20T10:00"), at("2024-10-02T10:00"))
    octo = reg.open_case(PCB, pcb_case("2024-10-08T09:00", "2024-10-08T10:00"), at("2024-10-08T10:00"))
    assert (sept.pack_version, sept.content_hash) == ("1.0.0", old["content_hash"])
    assert (octo.pack_version, octo.content_hash) == ("2.0.0", new["content_hash"])
    # Re-judging under the newer version is an explicit, recorded act.
    moved = reg.append(
        sept.number, "rejudged", at("2024-10-03T10:00"), version=new["content_hash"][:12], reason="policy 2.0"
    )
    assert moved.content_hash == new["content_hash"]
    assert reg.events_of(sept.number)[-1].payload == {"pack_version": new["content_hash"]}
    assert reg.as_of(sept.number, at("2024-10-02T12:00")).content_hash == old["content_hash"]
    with pytest.raises(RegisterError, match="in force on 2023-12-31"):
        reg.open_case(PCB, pcb_case("2023-12-31T09:00", None), at("2024-10-08T10:00"))


# ---------------------------------------------------------------------------------------------- due and tick
def test_due_lists_breached_and_soon_due_items_from_the_index(reg):
    a = reg.open_case(PCB, pcb_case("2024-09-02T09:00", "2024-09-02T09:30"), at("2024-09-02T10:00")).number
    b = reg.open_case(
        PCB, pcb_case("2024-09-09T09:00", "2024-09-09T09:30", region="foreign"), at("2024-09-09T10:00")
    ).number
    now = at("2024-09-10T08:00")
    rows = reg.due(now)
    # Half a working day for the GM office's review; the close-case timer (13 working days) not yet at 50 %.
    assert {(r["number"], r["item"], r["state"]) for r in rows} == {
        (a, "route:handling-form-route/gm-office-review", "breached"),
        (b, "route:handling-form-route/gm-office-review", "breached"),
    }
    assert {r["role"] for r in rows} == {"gm-office"} and rows[0]["due_at"].endswith("+08:00")
    early = at("2024-09-05T08:00")
    soon = reg.due(early, within=lambda _pack, t: t.replace(day=t.day + 5))
    assert {(r["number"], r["item"], r["state"]) for r in soon} - {
        (r["number"], r["item"], r["state"]) for r in reg.due(early)
    } == {(b, "route:handling-form-route/gm-office-review", "due-soon")}
    # The close-case timer (13 working days from Mon 09-02 09:30, due Fri 09-20 17:00 across the 中秋
    # holidays) warns at 50 % of its working time: on Wed 09-11 before noon, not the evening before.
    before = {(r["number"], r["item"]) for r in reg.due(at("2024-09-11T08:00")) if r["state"] == "warning"}
    warned = {(r["number"], r["item"]) for r in reg.due(at("2024-09-11T12:00")) if r["state"] == "warning"}
    assert (a, "timer:close-case") in warned - before


def test_tick_issues_each_breach_once_with_form_numbers(reg):
    number = reg.open_case(PCB, pcb_case("2024-09-02T09:00", "2024-09-02T09:30"), at("2024-09-02T10:00")).number
    assert reg.tick(at("2024-09-02T11:00")) == {"evaluated": 0, "breaches_issued": 0}  # nothing due yet
    # close-case: 13 working days from 09-02 09:30, due 09-20 17:00 (the 中秋 holidays in between)
    first = reg.tick(at("2024-09-23T10:00"))
    assert first["evaluated"] == 1 and first["breaches_issued"] == 2
    assert reg.tick(at("2024-09-23T10:00")) == {"evaluated": 0, "breaches_issued": 0}
    breaches = [e for e in reg.events_of(number) if e.kind == "breach"]
    assert sorted(e.payload["item"] for e in breaches) == [
        "route:handling-form-route/gm-office-review",
        "timer:close-case",
    ]
    numbers = sorted(f["number"] for e in breaches for f in e.payload["forms"])
    assert numbers == ["2409001", "2409002"]
    # A later re-evaluation of the same breach issues nothing more.
    reg.append(number, "facts-changed", at("2024-09-24T10:00"), patch={"part_no": "Z"})
    assert len([e for e in reg.events_of(number) if e.kind == "breach"]) == 2


def test_the_record_only_moves_forward_in_time(reg):
    number = reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number
    reg.append(number, "facts-changed", at("2024-09-05T10:00"), patch={"part_no": "A"})
    with pytest.raises(RegisterError, match="earlier"):
        reg.append(number, "facts-changed", at("2024-09-04T10:00"), patch={"part_no": "B"})
    # What happened earlier is recorded now, with the time it happened.
    view = reg.append(
        number, "step-done", at("2024-09-05T11:00"), occurred_at=at("2024-09-03T16:00"), step="gm-office-review"
    )
    assert view.facts["route_done"]["gm_office_review"] == "2024-09-03T16:00:00+08:00"


def test_the_migrations_build_exactly_the_declared_schema(db_url):  # noqa: F811
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from engine.register.db import connect
    from engine.register.schema import metadata

    with connect(db_url).connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []


def test_threads_share_one_register(reg):
    from concurrent.futures import ThreadPoolExecutor

    numbers = [reg.open_case(PCB, pcb_case(), at("2024-09-03T15:00")).number for _ in range(4)]

    def work(number: str) -> int:
        for i in range(5):
            reg.append(number, "facts-changed", at("2024-09-04T09:00"), patch={"order_no": f"{number}-{i}"})
        return reg.get(number).version

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, numbers)) == [6, 6, 6, 6]


def test_forms_printed_later_carry_the_case_number_and_the_breach_number(reg):
    number = reg.open_case(PCB, pcb_case("2024-09-02T09:00", "2024-09-02T09:30"), at("2024-09-02T10:00")).number
    reg.tick(at("2024-09-20T10:00"))
    issued = [f["number"] for e in reg.events_of(number) if e.kind == "breach" for f in e.payload["forms"]]
    handling = reg.render_form(number, "complaint-handling-form", "md", at("2024-09-21T10:00"))
    assert f"编号 No.: {number}" in handling
    reminder = reg.render_form(number, "reminder", "md", at("2024-09-21T10:00"))
    assert f"编号 No.: {issued[-1]}" in reminder and f"| 客户投诉编号 | {number} |" in reminder
