"""Decision tables as spreadsheets: the documented layout, located errors, byte-stable round trips."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook

import engine
from engine.importers.spreadsheet import (
    SheetError,
    _plain,
    export_pack_tables,
    export_tables,
    import_tables,
    tables_yaml,
)
from engine.loader import load_pack
from tests.conftest import PACKS, ROOT

PACK_REFS = sorted(
    [str(p) for p in (ROOT / "policies").iterdir() if (p / "policy.yaml").exists()] + [str(PACKS / "refund")]
)


def _specs(ref: str) -> list[dict]:
    return [_plain(t) for t in load_pack(ref).data.get("tables") or []]


def _normal(spec: dict) -> dict:
    """A spec as the spreadsheet keeps it (no comments; a row's description and ref kept)."""
    return yaml.safe_load(yaml.safe_dump(spec, allow_unicode=True))


@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("ref", PACK_REFS, ids=lambda r: Path(r).name)
def test_round_trip_is_byte_stable(tmp_path, ref, suffix):
    specs = _specs(ref)
    if not specs:
        pytest.skip(f"{Path(ref).name} has no tables")
    for spec in specs if suffix == ".csv" else [None]:
        chosen = [spec] if spec else specs
        first = tmp_path / f"one{suffix}"
        export_tables(chosen, first)
        text1 = tables_yaml(import_tables(first))
        # the same tables, semantically
        back = yaml.load(text1, Loader=yaml.SafeLoader)["tables"]
        assert [_normal(t) for t in back] == [_normal(_canon(t)) for t in chosen]
        # and from the second round on, the same bytes
        second = tmp_path / f"two{suffix}"
        export_tables(yaml.safe_load(text1)["tables"], second)
        assert tables_yaml(import_tables(second)) == text1


def _canon(spec: dict) -> dict:
    out = {k: spec[k] for k in ("id", "ref", "description", "hit", "aggregate") if k in spec}
    out["inputs"] = spec["inputs"]
    out["outputs"] = spec["outputs"]
    if spec.get("findings"):
        out["findings"] = spec["findings"]
    out["rows"] = [
        {k: r[k] for k in ("when", "then", "priority", "ref", "description") if k in r} for r in spec["rows"]
    ]
    return out


def test_imported_tables_make_the_same_decisions(tmp_path):
    """The refund pack with its tables replaced by the spreadsheet's: same decisions."""
    book = tmp_path / "refund.xlsx"
    export_pack_tables(PACKS / "refund", book)
    text = (PACKS / "refund" / "policy.yaml").read_text(encoding="utf-8")
    head, _, tail = text.partition("tables:\n")
    rules = tail[tail.index("rules:\n") :]
    (tmp_path / "policy.yaml").write_text(head + "include: [tables.yaml]\n" + rules, encoding="utf-8")
    (tmp_path / "tables.yaml").write_text(tables_yaml(import_tables(book)), encoding="utf-8")
    original, imported = engine.load_policy(PACKS / "refund"), engine.load_policy(tmp_path)
    facts = {"days_since_purchase": 61, "return_reason": "damaged_in_transit", "returns_allowed": True}
    facts |= {"item_condition": "new", "original_price": "1299.00", "restocking_fee_percent": 15}
    case = {"case_id": "c", "facts": facts}
    now = "2024-09-20T12:00:00+08:00"
    assert original.evaluate(case, now).findings == imported.evaluate(case, now).findings


def _book(path: Path, rows: list[list], title: str = "t1") -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


GOOD_HEAD = [["id", "t1"], ["hit", "first"], [], ["input", "output"], ["amount", "approver"], ["loss_amount", None]]
BAD = [
    (
        "unknown-setting",
        [["id", "t1"], ["hitt", "first"], [], *GOOD_HEAD[3:], ["< 5", "gm"]],
        "[t1]:2:1",
        "unknown setting 'hitt'",
    ),
    ("bad-hit", [["id", "t1"], ["hit", "last"], [], *GOOD_HEAD[3:], ["< 5", "gm"]], "[t1]:2:2", "hit must be one of"),
    (
        "bad-kind",
        [*GOOD_HEAD[:3], ["input", "outptu"], *GOOD_HEAD[4:], ["< 5", "gm"]],
        "[t1]:4:2",
        "column B: column kind",
    ),
    ("empty-test", [*GOOD_HEAD, [None, "gm"], ["< 5", "gm"]], "[t1]:7:1", "column A: input 'amount': empty test"),
    (
        "bad-priority",
        [*GOOD_HEAD[:3], ["input", "output", "priority"], ["a", "b"], [], ["< 5", "gm", "high"]],
        "[t1]:7:3",
        "priority must be an integer",
    ),
    ("no-rows", GOOD_HEAD, "[t1]:6:1", "the table has no rows"),
]


@pytest.mark.parametrize(("rows", "where", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_errors_name_sheet_row_and_column(tmp_path, rows, where, message):
    path = _book(tmp_path / "bad.xlsx", rows)
    with pytest.raises(SheetError) as info:
        import_tables(path)
    text = str(info.value)
    assert f"bad.xlsx{where}:" in text and message in text, text


def test_csv_holds_one_table(tmp_path):
    with pytest.raises(SheetError, match="a CSV file holds one table"):
        export_tables(_specs(str(PACKS / "refund")), tmp_path / "all.csv")


def test_csv_layout_is_readable(tmp_path):
    path = tmp_path / "one.csv"
    export_tables([_specs(str(PACKS / "refund"))[0]], path)
    rows = list(csv.reader(path.open(encoding="utf-8")))
    assert rows[0] == ["id", "eligibility"]
    assert rows[4][:3] == ["input", "input", "input"]
    assert rows[6][:1] == ["days_since_purchase"]


def test_cli_round_trip(tmp_path):
    from click.testing import CliRunner

    from cli import main

    book = tmp_path / "t.xlsx"
    runner = CliRunner()
    out = runner.invoke(main, ["table", "export", str(PACKS / "refund"), "-o", str(book), "--table", "late"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["table", "import", str(book)])
    assert out.exit_code == 0 and "id: late" in out.output and "priority: 2" in out.output
    out = runner.invoke(main, ["table", "export", str(PACKS / "refund"), "-o", str(book), "--table", "nope"])
    assert out.exit_code == 1 and "no table nope" in out.output


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a readable .xlsx file"),
        ("tables.ods", b"", "read .xlsx or .csv"),
        ("latin1.csv", "id,t\u00e9".encode("latin-1"), "cannot read"),
    ],
    ids=["damaged-xlsx", "other-format", "not-utf8-csv"],
)
def test_unreadable_files_are_one_clear_error(tmp_path, name, data, message):
    from click.testing import CliRunner

    from cli import main

    path = tmp_path / name
    path.write_bytes(data)
    result = CliRunner().invoke(main, ["table", "import", str(path)])
    assert result.exit_code == 1 and message in result.output, result.output
