"""The register from the command line: a month of cases end to end, exit codes, --db and ZHIDU_DATABASE_URL."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from register_db import db_url, pg_database  # noqa: F401 - fixtures

from cli import main
from engine.register.db import HEAD

CASE = """\
case_id: CRM-1
facts:
  received_at: 2024-09-02T09:00:00+08:00
  accepted_at: 2024-09-02T09:30:00+08:00
  region: domestic
  customer_name: 华南电子
  cause: quality_abnormal
  loss_occurred: true
  upheld: true
  loss_amount: "12000.00"
  resold_within_month: false
  people:
    - {id: w1, name: 王一, department: 制造一科, unit: A组, base_points: 4, monthly_bonus: "3000.00"}
  responsibilities:
    - {department: 制造一科, unit: A组, percent: 100}
"""


def run(args: list[str], env: dict[str, str] | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def test_a_month_of_cases_from_the_command_line(db_url, tmp_path):  # noqa: F811
    db = ["--db", db_url]
    (tmp_path / "case.yaml").write_text(CASE, encoding="utf-8")
    (tmp_path / "patch.yaml").write_text("facts:\n  part_no: PCB-6L\n  customer_demand: 退货\n", encoding="utf-8")
    (tmp_path / "bonus.csv").write_text(
        "person,month,amount\nw1,2024-09,3000.00\nw1,2024-10,3000.00\n", encoding="utf-8"
    )
    assert "published" in run(["packs", "publish", "pcb-manufacturer", *db, "--now", "2024-09-01T08:00:00+08:00"])
    out = run(
        [
            "cases",
            "open",
            "pcb-manufacturer",
            str(tmp_path / "case.yaml"),
            *db,
            "--now",
            "2024-09-02T10:00:00+08:00",
            "--by",
            "clerk",
        ]
    )
    assert out.startswith("240901\tversion 1")
    run(
        [
            "cases",
            "update",
            "240901",
            str(tmp_path / "patch.yaml"),
            *db,
            "--based-on",
            "1",
            "--now",
            "2024-09-02T11:00:00+08:00",
        ]
    )
    run(["cases", "step", "240901", "gm-office-review", *db, "--now", "2024-09-02T11:30:00+08:00"])
    due = run(["cases", "due", *db, "--at", "2024-09-04T10:00:00+08:00", "--within", "2wd", "--format", "json"])
    assert {r["item"] for r in json.loads(due)} >= {"route:handling-form-route/qa-analysis"}
    # after the close-case goal (13 working days from 09-02, due 09-20 17:00) and the late route steps
    tick = json.loads(run(["cases", "tick", *db, "--at", "2024-09-23T10:00:00+08:00"]))
    assert tick["breaches_issued"] >= 2
    assert json.loads(run(["cases", "tick", *db, "--at", "2024-09-23T10:00:00+08:00"]))["breaches_issued"] == 0
    run(["cases", "confirm-penalty", "240901", *db, "--now", "2024-09-24T10:00:00+08:00"])
    run(["cases", "close", "240901", *db, "--now", "2024-09-24T10:00:00+08:00", "--why", "rework accepted"])
    history = run(["cases", "history", "240901", *db])
    assert "#1 opened" in history and "by clerk" in history and "rework accepted" in history and "breach" in history
    shown = json.loads(run(["cases", "show", "240901", *db, "--as-of", "2024-09-02T11:15:00+08:00"]))
    assert shown["version"] == 2 and shown["facts"]["part_no"] == "PCB-6L" and "route_done" not in shown["facts"]
    report = run(["report", "monthly", "2024-09", *db])
    assert "| 240901 | 华南电子 | 质量异常 | 制造一科 |" in report
    run(["ledger", "bonus", "import", str(tmp_path / "bonus.csv"), *db])
    ledger = run(["ledger", "show", "w1", *db])
    # 12,000.00 owed; 1,500.00 (50 % of 3,000.00) deducted in each of September and October.
    assert "carried   10500.00" in ledger and "balance 9000.00" in ledger
    assert "pcb-manufacturer" in run(["packs", "versions", *db])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cases", "show", "nope"], 9, "no-case: no case numbered 'nope'"),
        (["cases", "step", "240901", "nope"], 9, "no route step 'nope'"),
        (["cases", "update", "240901", "PATCH", "--based-on", "0"], 10, "conflict: case 240901 is at version 1, not 0"),
        (["cases", "update", "240901", "BADPATCH"], 3, "bad.yaml:2:11: case-invalid: 'mars'"),
        (["cases", "due", "--within", "2 fortnights"], 2, "--within"),
        (["cases", "tick", "--at", "yesterday"], 2, "not an ISO 8601 datetime"),
        (["report", "monthly", "2024-13"], 9, "not YYYY-MM"),
    ],
    ids=["unknown-case", "unknown-step", "stale-version", "bad-patch", "bad-within", "bad-at", "bad-month"],
)
def test_refusals_have_their_exit_code_and_a_located_message(tmp_path, args, code, message):
    db = ["--db", str(tmp_path / "r.db")]
    (tmp_path / "case.yaml").write_text(CASE, encoding="utf-8")
    (tmp_path / "patch.yaml").write_text("facts:\n  part_no: X\n", encoding="utf-8")
    (tmp_path / "bad.yaml").write_text("facts:\n  region: mars\n", encoding="utf-8")
    run(["packs", "publish", "pcb-manufacturer", *db])
    run(["cases", "open", "pcb-manufacturer", str(tmp_path / "case.yaml"), *db, "--now", "2024-09-02T10:00:00+08:00"])
    args = [{"PATCH": str(tmp_path / "patch.yaml"), "BADPATCH": str(tmp_path / "bad.yaml")}.get(a, a) for a in args]
    result = CliRunner().invoke(main, [*args, *db], catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert message in result.output.replace(str(tmp_path) + "/", "")


def test_the_database_comes_from_the_environment_and_packs_still_lists(tmp_path):
    env = {"ZHIDU_DATABASE_URL": str(tmp_path / "env.db")}
    assert "created or" not in run(["db", "upgrade"], env=env)
    assert (tmp_path / "env.db").exists()
    info = json.loads(run(["db", "info"], env=env))
    assert info["revision"] == HEAD and info["cases"] == 0
    listing = run(["packs"])
    assert listing.splitlines()[0].startswith("after-sales-standard\t")
