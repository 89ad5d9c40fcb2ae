"""Decision tables and the authority matrix in packs: approvals, thresholds, lint, authority checks."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import engine
from tests.conftest import NOW, both

BASE = {"received_at": "2024-09-03T09:30:00+08:00", "upheld": True, "resolution": "allowance"}

# The pcb-manufacturer 核决权限 assumption: ≤ 5,000 sales manager; ≤ 50,000 deputy GM; above, the GM.
THRESHOLDS = [
    ("zero", "0", "sales-manager", 1),
    ("below-5000", "4999.99", "sales-manager", 1),
    ("at-5000", "5000", "sales-manager", 1),
    ("above-5000", "5000.01", "deputy-gm", 2),
    ("below-50000", "49999.99", "deputy-gm", 2),
    ("at-50000", "50000.00", "deputy-gm", 2),
    ("above-50000", "50000.01", "gm", 3),
    ("missing-amount", None, "gm", 4),
]


@pytest.mark.parametrize("amount,approver,row", [t[1:] for t in THRESHOLDS], ids=[t[0] for t in THRESHOLDS])
def test_settlement_approver_by_amount(pcb, decision_validator, amount, approver, row):
    facts = dict(BASE) if amount is None else {**BASE, "loss_amount": amount}
    d = both(pcb, {"facts": facts})
    decision_validator.validate(d)
    (approval,) = d["approvals"]
    assert (approval["id"], approval["approver"], approval["row"]) == ("settlement", approver, row)
    assert approval["chain"][-1]["role"] == approver


def test_no_approval_when_the_condition_does_not_hold(pcb):
    assert both(pcb, {"facts": {**BASE, "upheld": False, "loss_amount": "100"}})["approvals"] == []


AUTHORITY = [
    ("approver-itself", "approved_by", "deputy-gm", "20000", True),
    ("higher-rank", "approved_by", "gm", "20000", True),
    ("lower-rank", "approved_by", "sales-manager", "20000", False),
    ("sales-answers-small", "answered_by", "sales", "100", False),
    ("manager-answers-small", "answered_by", "sales-manager", "100", True),
    ("manager-answers-big", "answered_by", "sales-manager", "60000", False),
]


@pytest.mark.parametrize("fact,actor,amount,within", [a[1:] for a in AUTHORITY], ids=[a[0] for a in AUTHORITY])
def test_within_authority(pcb, decision_validator, fact, actor, amount, within):
    d = both(pcb, {"facts": {**BASE, "loss_amount": amount, fact: actor}})
    decision_validator.validate(d)
    entry = next(a for a in d["approvals"] if a.get("actual") == actor)
    assert entry["within_authority"] is within
    codes = [w["code"] for w in d["warnings"]]
    assert ("beyond-authority" in codes) is not within
    exceeded_actions = {"escalate-approval", "retract-answer"} & {a["id"] for a in d["actions"]}
    assert bool(exceeded_actions) is not within


def write(tmp_path: Path, tables: str, extra: str = "") -> Path:
    pack = tmp_path / "p"
    pack.mkdir()
    head = textwrap.dedent(
        """\
        id: t
        version: "1"
        facts:
          amount: {type: money}
          kind: {type: enum, values: [a, b]}
        roles:
          clerk: {label: 文员, rank: 1}
          boss: {label: 老板, rank: 2}
        tables:
        """
    )
    (pack / "policy.yaml").write_text(head + textwrap.indent(textwrap.dedent(tables), "  ") + extra, encoding="utf-8")
    return pack


LINTS = [
    (
        "gap",
        """\
        - id: x
          hit: first
          inputs: [{name: amount, expr: amount}]
          outputs: [approver]
          rows:
            - {when: ["< 100"], then: {approver: clerk}}
            - {when: ["> 100"], then: {approver: boss}}
        """,
        ("warning", "table-gap", 10, "no row matches amount = 100"),
    ),
    (
        "overlap",
        """\
        - id: x
          hit: unique
          inputs: [{name: amount, expr: amount}]
          outputs: [approver]
          rows:
            - {when: ["<= 100"], then: {approver: clerk}}
            - {when: [">= 100"], then: {approver: boss}}
        """,
        ("warning", "table-overlap", 16, "rows 1 and 2 both match amount = 100"),
    ),
    (
        "unreachable",
        """\
        - id: x
          hit: first
          inputs: [{name: kind, expr: kind}]
          outputs: [approver]
          rows:
            - {when: ["a, b"], then: {approver: clerk}}
            - {when: ["b"], then: {approver: boss}}
        """,
        ("warning", "table-unreachable", 16, "row 2 can never be chosen"),
    ),
    (
        "bad-cell",
        """\
        - id: x
          hit: first
          inputs: [{name: kind, expr: kind}]
          outputs: [approver]
          rows:
            - {when: ["c"], then: {approver: clerk}}
        """,
        ("error", "table", None, "'c'"),
    ),
]


@pytest.mark.parametrize("tables,expected", [x[1:] for x in LINTS], ids=[x[0] for x in LINTS])
def test_table_lint_in_validate(tmp_path, tables, expected):
    severity, code, line, fragment = expected
    diags = engine.compile_pack(write(tmp_path, tables)).diagnostics
    match = [d for d in diags if d.code == code]
    assert match, [str(d) for d in diags]
    assert match[0].severity == severity
    assert fragment in match[0].message
    if line is not None:
        assert match[0].location.line == line


def test_unknown_role_in_an_authority_table_is_an_error(tmp_path):
    tables = """\
    - id: x
      hit: first
      inputs: [{name: amount, expr: amount}]
      outputs: [approver]
      rows:
        - {when: ["-"], then: {approver: ceo}}
    """
    extra = "authority:\n  - {id: s, label: 核决, ref: r, table: x}\n"
    errors = engine.compile_pack(write(tmp_path, tables, extra)).errors
    assert [e.code for e in errors] == ["unknown-role"]
    assert errors[0].location.line == 15


def test_authority_names_an_unknown_table(tmp_path):
    tables = """\
    - id: x
      hit: first
      inputs: [{name: amount, expr: amount}]
      outputs: [approver]
      rows:
        - {when: ["-"], then: {approver: boss}}
    """
    extra = "authority:\n  - {id: s, label: 核决, ref: r, table: y}\n"
    errors = engine.compile_pack(write(tmp_path, tables, extra)).errors
    assert [(e.code, e.location.line) for e in errors] == [("dangling-ref", 17)]


def test_unique_table_with_two_matches_is_an_evaluation_error(tmp_path):
    tables = """\
    - id: x
      hit: unique
      inputs: [{name: amount, expr: amount}]
      outputs: [approver]
      rows:
        - {when: ["<= 100"], then: {approver: clerk}}
        - {when: [">= 100"], then: {approver: boss}}
    """
    extra = "authority:\n  - {id: s, label: 核决, ref: r, table: x}\n"
    policy = engine.load_policy(write(tmp_path, tables, extra))
    for name in engine.ENGINES:
        with pytest.raises(engine.EvaluationError) as info:
            policy.evaluate({"facts": {"amount": "100"}}, NOW, engine=name)
        assert info.value.code == "table-hit"
    assert both(policy, {"facts": {"amount": "99.99"}})["approvals"][0]["approver"] == "clerk"
