"""The CLI: exit codes, one clear message per problem, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import cli
from tests.conftest import NOW, PACKS, ROOT, needs_durable

SAMPLE = str(ROOT / "policies/pcb-manufacturer/examples/quality-complaint.yaml")


def run(*args: str, input: str | None = None):  # noqa: A002 - mirrors CliRunner.invoke
    return CliRunner().invoke(cli.main, list(args), input=input, catch_exceptions=False)


def test_validate_ok():
    result = run("validate", "pcb-manufacturer")
    assert result.exit_code == 0 and "ok" in result.output


def test_validate_reports_every_error_and_exits_1():
    result = run("validate", str(PACKS / "four-errors"))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 4 and all(":" in line for line in lines)
    assert "Traceback" not in result.output


def test_validate_json_format():
    result = run("validate", "--format", "json", str(PACKS / "four-errors"))
    assert result.exit_code == 1
    assert [d["code"] for d in json.loads(result.output)] == ["yaml-syntax", "schema", "unknown-fact", "duplicate-id"]


@pytest.mark.parametrize("engine_name", [pytest.param("durable", marks=needs_durable), "python"])
def test_evaluate_sample(engine_name, decision_validator, monkeypatch):
    # Both engines answer alike by design, so record which one --engine actually reached.
    from engine.backends import make_backend

    used: list[str] = []

    def recording(name, policy):
        used.append(name)
        return make_backend(name, policy)

    monkeypatch.setattr("engine.backends.make_backend", recording)
    result = run("evaluate", "pcb-manufacturer", SAMPLE, "--now", NOW, "--engine", engine_name)
    assert result.exit_code == 0, result.output
    assert used == [engine_name]
    decision = json.loads(result.output)
    decision_validator.validate(decision)
    assert decision["case_id"] == "240903"


def test_evaluate_text():
    result = run("evaluate", "pcb-manufacturer", SAMPLE, "--now", NOW, "--format", "text")
    assert result.exit_code == 0 and "投诉原因类别 (category): 质量异常" in result.output


def test_evaluate_json_on_stdin():
    case = json.dumps({"case_id": "s1", "facts": {"received_at": "2024-09-03T09:30:00+08:00", "cause": "other"}})
    result = run("evaluate", "pcb-manufacturer", "-", "--now", NOW, input=case)
    assert result.exit_code == 0 and json.loads(result.output)["case_id"] == "s1"


def test_evaluate_without_now_uses_the_current_time():
    case = json.dumps({"facts": {"received_at": "2024-09-03T09:30:00+08:00"}})
    result = run("evaluate", "pcb-manufacturer", "-", input=case)
    assert result.exit_code == 0 and json.loads(result.output)["evaluated_at"].endswith("+08:00")


BAD = [
    ("missing-case-file", ["evaluate", "pcb-manufacturer", "nope.yaml"], 3, "file-not-found"),
    ("bad-yaml-case", ["evaluate", "pcb-manufacturer", "-"], 3, "json-syntax"),
    ("invalid-case", ["evaluate", "pcb-manufacturer", str(PACKS / "minimal/policy.yaml")], 3, "unknown-field"),
    ("invalid-pack", ["evaluate", str(PACKS / "four-errors"), SAMPLE], 1, "duplicate-id"),
    ("unknown-pack", ["evaluate", "nope-pack", SAMPLE], 1, "pack-not-found"),
    ("bad-now", ["evaluate", "pcb-manufacturer", SAMPLE, "--now", "soon"], 2, "Invalid value for '--now'"),
    ("bad-engine", ["evaluate", "pcb-manufacturer", SAMPLE, "--engine", "drools"], 2, "Invalid value"),
]


@pytest.mark.parametrize("args,code,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_errors_exit_with_their_code(args, code, fragment):
    result = run(*args, input="{not json")
    assert result.exit_code == code, result.output
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_conflict_exits_4(tmp_path):
    case = tmp_path / "c.yaml"
    case.write_text(
        "facts:\n  received_at: 2024-09-14T08:30:00+08:00\n  vip: true\n  customer: {name: x, level: 4}\n",
        encoding="utf-8",
    )
    result = run("evaluate", str(PACKS / "minimal"), str(case), "--now", NOW)
    assert result.exit_code == 4 and "owner-vip" in result.output and "owner-level" in result.output


def test_test_command_passes_on_the_bundled_pack():
    result = run("test", "pcb-manufacturer", "--coverage")
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output and "rules never fired: none" in result.output


def test_test_command_fails_with_exit_6(tmp_path):
    import shutil

    pack = tmp_path / "p"
    shutil.copytree(PACKS / "minimal", pack)
    (pack / "tests").mkdir()
    (pack / "tests" / "t.yaml").write_text(
        "cases:\n  - name: wrong expectation\n    now: 2024-09-15T00:00:00+08:00\n"
        "    case: {facts: {received_at: 2024-09-14T08:30:00+08:00}}\n    want: {findings: {severity: major}}\n",
        encoding="utf-8",
    )
    result = run("test", str(pack))
    assert result.exit_code == 6
    assert "finding severity: want 'major', got 'minor'" in result.output


def test_schema_command():
    assert json.loads(run("schema", "decision").output)["title"] == "zhidu decision"
    assert "facts" in json.loads(run("schema", "case", "pcb-manufacturer").output)["properties"]


def test_help_documents_exit_codes():
    assert "Exit codes" in run("--help").output


def test_console_entry_point_runs_from_another_directory(tmp_path):
    # `python -m cli` from elsewhere, with the project on the path as an installed package would be.
    result = subprocess.run(
        [sys.executable, "-c", "import sys, cli; sys.argv=['zhidu','validate','pcb-manufacturer']; cli.run()"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "pcb-manufacturer: ok" in result.stdout
