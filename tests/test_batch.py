"""`zhidu batch`: JSON Lines in order, error records, exit codes, summary, whole-or-nothing output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
import engine
from engine.batch import run_batch
from tests.conftest import NOW, PACKS, needs_durable


def lines(n: int) -> list[str]:
    causes = ["quality_abnormal", "human_error", "other"]
    out = []
    for i in range(n):
        facts = {
            "received_at": "2024-09-03T09:30:00+08:00",
            "accepted_at": "2024-09-03T14:00:00+08:00",
            "cause": causes[i % 3],
            "upheld": i % 2 == 0,
            "resolution": "allowance",
            "loss_amount": f"{i * 37}.50",
        }
        out.append(json.dumps({"case_id": f"c{i}", "facts": facts}, ensure_ascii=False))
    return out


@pytest.fixture
def cases(tmp_path: Path) -> Path:
    body = lines(600)
    body.insert(5, "{not json")
    body.insert(9, "")
    body.insert(12, json.dumps({"case_id": "bad", "facts": {"cause": "qualty"}}))
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(body) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("jobs", [1, 2])
def test_output_is_in_input_order_and_equals_single_evaluation(pcb, cases, tmp_path, jobs):
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        cli.main, ["batch", "pcb-manufacturer", str(cases), "-o", str(out), "--now", NOW, "--jobs", str(jobs)]
    )
    assert result.exit_code == 7, result.output
    records = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 602
    assert records[5] == {
        "line": 6,
        "case_id": None,
        "error": {"code": "json-syntax", "message": records[5]["error"]["message"]},
    }
    assert (
        records[11]["line"] == 13 and records[11]["case_id"] == "bad" and records[11]["error"]["code"] == "case-invalid"
    )
    decisions = [r for r in records if "error" not in r]
    assert [d["case_id"] for d in decisions] == [f"c{i}" for i in range(600)]
    source = [json.loads(x) for x in lines(600)]
    for i in (0, 1, 299, 599):
        assert decisions[i] == pcb.evaluate(source[i], NOW).to_dict()
    summary = json.loads(result.output.strip().splitlines()[-1])["summary"]
    assert summary["total"] == 602 and summary["errors"] == 2 and summary["ok"] == 600
    assert summary["by_category"] == {"non_quality_human": 200, "other": 200, "quality_abnormal": 200}


@needs_durable
def test_engines_agree_in_batch(pcb, tmp_path):
    from io import StringIO

    outputs = []
    for name in engine.ENGINES:
        buffer = StringIO()
        run_batch(pcb, lines(50), buffer, now=NOW, engine=name, jobs=1)
        outputs.append(buffer.getvalue())
    assert outputs[0] == outputs[1]


def test_all_good_lines_exit_0_from_stdin():
    text = "\n".join(lines(3)) + "\n"
    result = CliRunner().invoke(cli.main, ["batch", "pcb-manufacturer", "-", "--now", NOW], input=text)
    assert result.exit_code == 0
    assert len([x for x in result.output.splitlines() if x.startswith('{"policy"')]) == 3


def test_an_invalid_pack_writes_nothing(cases, tmp_path):
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        cli.main, ["batch", str(PACKS / "four-errors"), str(cases), "-o", str(out), "--now", NOW]
    )
    assert result.exit_code == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [cases]


def test_a_missing_input_file_is_one_clear_error(tmp_path):
    result = CliRunner().invoke(cli.main, ["batch", "pcb-manufacturer", str(tmp_path / "nope.jsonl"), "--now", NOW])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_a_cases_own_now_is_used_without_now_option():
    case = json.loads(lines(1)[0])
    case["now"] = "2024-09-05T10:00:00+08:00"
    result = CliRunner().invoke(cli.main, ["batch", "pcb-manufacturer", "-"], input=json.dumps(case) + "\n")
    assert json.loads(result.output.splitlines()[0])["evaluated_at"] == "2024-09-05T10:00:00+08:00"


def test_output_to_a_device_is_written_in_place(tmp_path):
    import os

    result = CliRunner().invoke(
        cli.main, ["batch", "pcb-manufacturer", "-", "-o", os.devnull, "--now", NOW], input=lines(2)[0] + "\n"
    )
    assert result.exit_code == 0
    assert Path(os.devnull).is_char_device()
