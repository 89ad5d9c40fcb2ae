"""The register's outputs on SQLite and PostgreSQL: penalty ledger, monthly statistics, import/export, backup."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from register_db import db_url, pg_database  # noqa: F401 - fixtures

from engine.register import Register, RegisterError
from engine.register.io import backup, export_cases, import_cases
from engine.register.ledger import import_bonuses, statement
from engine.register.report import monthly, render

TZ = ZoneInfo("Asia/Shanghai")
PCB = "pcb-manufacturer"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


# The worked example of the pack's penalty tests: 12,000 to a 20-base-point unit.
PENALTY_CASE = {
    "case_id": "CP-2411-001",
    "facts": {
        "received_at": "2024-11-01T09:00:00+08:00",
        "accepted_at": "2024-11-01T10:00:00+08:00",
        "region": "domestic",
        "customer_name": "华南电子",
        "cause": "quality_abnormal",
        "loss_occurred": True,
        "upheld": True,
        "loss_amount": "12000.00",
        "resold_within_month": False,
        "people": [
            {
                "id": "w1",
                "name": "王一",
                "department": "制造一科",
                "unit": "A组",
                "base_points": 4,
                "monthly_bonus": "3000.00",
            },
            {
                "id": "l2",
                "name": "李二",
                "department": "制造一科",
                "unit": "A组",
                "base_points": 16,
                "monthly_bonus": "8000.00",
            },
        ],
        "responsibilities": [{"department": "制造一科", "unit": "A组", "percent": 100}],
    },
}


@pytest.fixture
def reg(db_url):  # noqa: F811
    r = Register(db_url)
    r.publish(PCB, at("2024-09-01T08:00"))
    return r


def write(tmp_path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------------------------- ledger
BONUS_TABLE = [
    # bonuses recorded → (deducted, carried) month by month for 王一 (owes 2,400.00 from 2024-11)
    ("3000 3000", [("2024-11", "1500.00", "900.00"), ("2024-12", "900.00", "0.00")]),
    (
        "3000 1000 3000",
        [("2024-11", "1500.00", "900.00"), ("2024-12", "500.00", "400.00"), ("2025-01", "400.00", "0.00")],
    ),
    ("3000 0 3000", [("2024-11", "1500.00", "900.00"), ("2024-12", "0.00", "900.00"), ("2025-01", "900.00", "0.00")]),
    ("", [("2024-11", "0.00", "2400.00")]),
]


@pytest.mark.parametrize(
    ("bonuses", "want"), BONUS_TABLE, ids=["two-months", "small-december", "zero-december", "no-bonus"]
)
def test_the_ledger_caps_each_month_at_half_the_recorded_bonus_and_carries_the_rest(reg, tmp_path, bonuses, want):
    number = reg.open_case(PCB, PENALTY_CASE, at("2024-11-01T11:00")).number
    assert reg.confirm_penalties(number, at("2024-11-15T10:00")) == 2
    assert reg.confirm_penalties(number, at("2024-11-15T10:05")) == 0  # posted once
    months = ["2024-11", "2024-12", "2025-01"]
    rows = "".join(f"w1,{m},{b}\n" for m, b in zip(months, bonuses.split(), strict=False))
    if rows:
        import_bonuses(reg, write(tmp_path, "b.csv", "person,month,amount\n" + rows), at("2024-11-20T10:00"))
    st = statement(reg, "w1", want[-1][0])
    assert [(m["month"], m["deducted"], m["carried"]) for m in st["months"]] == want
    assert st["name"] == "王一" and st["months"][0]["charges"][0]["amount"] == "2400.00"
    assert "penalty-confirmed" in [e.kind for e in reg.events_of(number)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("person,month\nw1,2024-11\n", "missing column(s): amount"),
        ("person,month,amount\nw1,2024-13,10\n", "b.csv:2:2: bonus-invalid: month '2024-13'"),
        ("person,month,amount\nw1,2024-11,-5\n", "b.csv:2:3: bonus-invalid: amount '-5'"),
        ("person,month,amount\n,2024-11,5\n", "b.csv:2:1: bonus-invalid: person is empty"),
    ],
    ids=["missing-column", "bad-month", "negative", "no-person"],
)
def test_a_bad_bonus_file_is_refused_whole_with_located_messages(reg, tmp_path, text, message):
    good = "w9,2024-11,100\n"
    with pytest.raises(RegisterError) as info:
        import_bonuses(reg, write(tmp_path, "b.csv", text + good), at("2024-11-20T10:00"))
    assert message in str(info.value)
    with pytest.raises(RegisterError, match="nothing for 'w9'"):
        statement(reg, "w9")  # the good line was not written either


def test_confirming_a_case_without_penalties_is_refused(reg):
    number = reg.open_case(PCB, {"facts": {"received_at": "2024-09-03T09:00:00+08:00"}}, at("2024-09-03T10:00")).number
    with pytest.raises(RegisterError, match="no penalties"):
        reg.confirm_penalties(number, at("2024-09-04T10:00"))


# ---------------------------------------------------------------------------------------------- report
def test_monthly_statistics_count_the_cases_closed_in_the_month(reg):
    a = reg.open_case(PCB, PENALTY_CASE, at("2024-11-01T11:00")).number
    b = reg.open_case(
        PCB,
        {
            "facts": {
                "received_at": "2024-11-02T09:00:00+08:00",
                "accepted_at": "2024-11-02T10:00:00+08:00",
                "cause": "human_error",
                "upheld": True,
                "loss_amount": "300.00",
                "region": "domestic",
            }
        },
        at("2024-11-02T11:00"),
    ).number
    c = reg.open_case(PCB, {"facts": {"received_at": "2024-11-03T09:00:00+08:00"}}, at("2024-11-03T11:00")).number
    reg.append(a, "closed", at("2024-11-12T10:00"))
    reg.append(b, "closed", at("2024-11-30T23:30"))  # late (13 days from 11-02 10:00), still November in Shanghai
    reg.append(c, "closed", at("2024-12-01T00:30"))  # December
    data = monthly(reg, "2024-11")
    assert [r["number"] for r in data["cases"]] == [a, b]
    s = data["summary"]
    assert (s["cases"], s["on_time"], s["late"], s["loss"]) == (2, 1, 1, "12300.00")
    assert {g["name"]: g["cases"] for g in s["by_category"]} == {"质量异常": 1, "非质量异常（人为因素）": 1}
    assert {g["name"]: g["loss"] for g in s["by_department"]} == {"制造一科": "12000.00", "未认定": "300.00"}
    assert s["penalties"] == "12000.00"
    md = render(data, "md")
    assert "# 客户投诉案件统计表（2024-11）" in md and f"| {a} | 华南电子 |" in md
    rows = list(csv.reader(io.StringIO(render(data, "csv"))))
    assert rows[0][0] == "案件编号" and [r[0] for r in rows[1:]] == [a, b]
    html = render(data, "html")
    assert "<td>华南电子</td>" in html
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(render(data, "xlsx")))
    assert book.sheetnames == ["结案案件", "按原因类别", "按责任部门", "合计"]
    assert book["结案案件"]["A2"].value == a
    assert monthly(reg, "2024-12")["summary"]["cases"] == 1
    with pytest.raises(RegisterError, match="not YYYY-MM"):
        monthly(reg, "2024-13")


def test_html_report_escapes_what_the_cases_say(reg):
    facts = {"received_at": "2024-11-02T09:00:00+08:00", "customer_name": "<script>alert(1)</script>"}
    n = reg.open_case(PCB, {"facts": facts}, at("2024-11-02T11:00")).number
    reg.append(n, "closed", at("2024-11-05T10:00"))
    html = render(monthly(reg, "2024-11"), "html")
    assert "<script>alert" not in html and "&lt;script&gt;" in html


# ---------------------------------------------------------------------------------------------- in and out
def test_import_is_idempotent_and_reports_bad_lines_by_position(reg, tmp_path):
    lines = [
        {"case_id": "E1", "facts": {"received_at": "2024-11-02T09:00:00+08:00", "over_acceptance_ratio": 0.05}},
        {"case_id": "E2", "facts": {"received_at": "2024-11-02T09:00:00+08:00", "region": "mars"}},
        {"facts": {"received_at": "2024-11-02T09:00:00+08:00"}},
    ]
    text = "\n".join(json.dumps(x) for x in lines) + "\n{broken\n"
    source = write(tmp_path, "in.jsonl", text)
    first = import_cases(reg, PCB, source, at("2024-11-03T10:00"), actor="import")
    assert (first["registered"], first["skipped"]) == (1, 0)
    errors = {e["line"]: e["error"] for e in first["errors"]}
    assert errors[2].startswith(f"{source}:2:") and "'mars'" in errors[2]
    assert "needs a case_id" in errors[3] and errors[4].startswith(f"{source}:4:")
    again = import_cases(reg, PCB, source, at("2024-11-03T11:00"), actor="import")
    assert (again["registered"], again["skipped"]) == (0, 1)
    view = reg.get("241101")
    assert view.facts["over_acceptance_ratio"] == Decimal("0.05")  # exact, never a float
    assert reg.events_of("241101")[0].kind == "imported"


def test_csv_import_types_cells_by_the_vocabulary(reg, tmp_path):
    text = "case_id,received_at,quantity,upheld\nC1,2024-11-04T09:00:00+08:00,50,true\nC2,2024-11-04T09:00:00+08:00,abc,true\n"
    out = import_cases(reg, PCB, write(tmp_path, "in.csv", text), at("2024-11-05T10:00"), actor="import")
    assert out["registered"] == 1 and "column quantity" in out["errors"][0]["error"]
    assert reg.get("241101").facts["quantity"] == 50 and reg.get("241101").facts["upheld"] is True


def test_export_writes_every_case_with_its_events_exactly(reg, tmp_path):
    n = reg.open_case(
        PCB,
        {"facts": {"received_at": "2024-11-02T09:00:00+08:00", "over_acceptance_ratio": 0.05}},
        at("2024-11-02T10:00"),
    ).number
    reg.append(n, "facts-changed", at("2024-11-03T10:00"), patch={"part_no": "P"})
    target = tmp_path / "out.jsonl"
    assert export_cases(reg, str(target)) == 1
    text = target.read_text(encoding="utf-8")
    assert '"over_acceptance_ratio":0.05' in text
    record = json.loads(text)
    assert record["number"] == n and [e["kind"] for e in record["events"]] == ["opened", "facts-changed"]


def test_backup_copies_a_live_sqlite_register(tmp_path):
    reg = Register(str(tmp_path / "live.db"))
    reg.publish(PCB, at("2024-09-01T08:00"))
    reg.open_case(PCB, {"facts": {"received_at": "2024-11-02T09:00:00+08:00"}}, at("2024-11-02T10:00"))
    backup(reg, tmp_path / "copy.db")
    with sqlite3.connect(tmp_path / "copy.db") as db:
        assert db.execute("SELECT number FROM cases").fetchall() == [("241101",)]
    with pytest.raises(RegisterError, match="exists"):
        backup(reg, tmp_path / "copy.db")
    assert Register(str(tmp_path / "copy.db")).get("241101").version == 1


@pytest.mark.parametrize("name", ["in.jsonl", "in.csv", "bonus.csv"], ids=["jsonl", "csv", "bonus"])
def test_a_file_that_is_not_utf8_is_refused_by_name(reg, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\xff\xfe\x00not utf-8\n")
    with pytest.raises(RegisterError, match=f"{name}: cannot read the file"):
        if name == "bonus.csv":
            import_bonuses(reg, str(path), at("2024-11-20T10:00"))
        else:
            import_cases(reg, PCB, str(path), at("2024-11-20T10:00"), actor="import")
