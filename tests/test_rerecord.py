"""`zhidu test --update`: failing expectations re-recorded from the decisions, always shown as a diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from engine.rerecord import proposed_want

GOT = {
    "findings": [{"id": "severity", "value": "major"}],
    "trace": [{"rule": "big-loss"}],
    "actions": [{"id": "report"}],
    "forms": [],
    "warnings": [{"message": "超越核决权限"}],
    "penalties": [],
    "approvals": [{"id": "settlement", "approver": "gm", "row": 3, "chain": [{"role": "gm", "label": "总经理"}]}],
    "timers": [{"id": "close", "status": "met", "steps": [{"id": "s1", "status": "met"}]}],
}


@pytest.mark.parametrize(
    "want, proposed",
    [
        ({"findings": {"severity": "minor", "level": 2}}, {"findings": {"severity": "major"}, "no_findings": ["level"]}),
        ({"actions": ["report", "escalate"], "not_forms": ["petition"]}, {"actions": ["report"], "not_forms": ["petition"]}),
        ({"approvals": {"settlement": {"approver": "sales-manager", "row": 1}}}, {"approvals": {"settlement": {"approver": "gm", "row": 3}}}),
        ({"timers": {"close": {"status": "running", "steps": {"s1": {"status": "running"}}}}},
         {"timers": {"close": {"status": "met", "steps": {"s1": {"status": "met"}}}}}),
        ({"warnings": ["超越", "missing"], "no_penalties": True}, {"warnings": ["超越"], "no_penalties": True}),
    ],
    ids=["findings", "lists", "approvals-subset", "timer-steps", "warnings"],
)  # fmt: skip
def test_proposed_want_keeps_the_shape_and_takes_the_new_values(want, proposed):
    assert proposed_want(want, GOT) == proposed


def test_update_rewrites_failing_cases_shows_the_diff_and_keeps_the_rest(tmp_path):
    pack = tmp_path / "acme"
    runner = CliRunner()
    assert runner.invoke(cli.main, ["init", str(pack), "--from", "pcb-manufacturer"]).exit_code == 0
    with (pack / "policy.yaml").open("a", encoding="utf-8") as f:
        f.write(
            'tables:\n  - id: settlement-authority\n    ref: "客户投诉管理办法(九)6"\n    hit: first\n'
            "    inputs:\n      - {name: amount, expr: loss_amount}\n    outputs: [approver, chain]\n    rows:\n"
            '      - when: ["<= 10000"]\n        then: {approver: sales-manager, chain: [sales-manager]}\n'
            '      - when: ["(10000..50000]"]\n        then: {approver: deputy-gm, chain: [sales-manager, deputy-gm]}\n'
            '      - when: ["> 50000"]\n        then: {approver: gm, chain: [sales-manager, deputy-gm, gm]}\n'
            '      - when: ["-"]\n        then: {approver: gm, chain: [sales-manager, deputy-gm, gm]}\n'
        )
    suite = pack / "tests" / "authority.yaml"
    before = suite.read_text(encoding="utf-8")
    assert runner.invoke(cli.main, ["test", str(pack), "--engine", "python"]).exit_code == 6
    result = runner.invoke(cli.main, ["test", str(pack), "--engine", "python", "--update"])
    assert result.exit_code == 0, result.output
    assert f"--- a/{suite}" in result.output and "-        settlement: {approver: deputy-gm" in result.output
    assert "re-recorded 3 cases in 1 file: review the diff above" in result.output
    after = suite.read_text(encoding="utf-8")
    # Only want: blocks change: every comment and case name of the file is still there.
    kept = [line for line in before.splitlines() if line.lstrip().startswith(("#", "- name:"))]
    assert all(line in after.splitlines() for line in kept)
    assert runner.invoke(cli.main, ["test", str(pack), "--engine", "python"]).exit_code == 0
    # Nothing left to re-record: the files stay as they are.
    again = runner.invoke(cli.main, ["test", str(pack), "--engine", "python", "--update"])
    assert "re-recorded 0 cases in 0 files" in again.output and suite.read_text(encoding="utf-8") == after


def test_update_is_documented():
    text = (Path(__file__).resolve().parent.parent / "docs" / "adopting.md").read_text(encoding="utf-8")
    assert "zhidu test acme --update" in text
