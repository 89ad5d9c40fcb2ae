"""Computed values: `= expression` in set:, finding value: and dotted findings, on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.errors import PolicyError
from tests.conftest import PACKS, both

NOW = "2024-09-20T12:00:00+08:00"
LINES = [{"sku": "A", "qty": 1, "amount": "12000"}, {"sku": "B", "qty": 2, "amount": "50"}]


@pytest.fixture(scope="module")
def computed() -> engine.Policy:
    return engine.load_policy(PACKS / "computed")


def _facts(**extra) -> dict:
    return {"case_id": "c", "facts": extra}


CASES = [
    # (id, facts, finding, expected JSON value)
    (
        "restocking-fee-rounds-half-up",
        {"price": "199.99", "restocking_fee_percent": 15, "reason": "changed_mind"},
        "refund",
        {"amount": "169.99", "reason": "restocking fee 15%", "days": 7},
    ),
    (
        "half-cent-rounds-up",
        {"price": "0.10", "restocking_fee_percent": 95, "reason": "changed_mind"},
        "refund",
        {"amount": "0.01", "reason": "restocking fee 95%", "days": 7},
    ),
    (
        "full-refund-literal-and-computed",
        {"price": "80", "reason": "damaged"},
        "refund",
        {"amount": "80.00", "reason": "product issue", "days": 5},
    ),
    (
        "vip-from-earlier-finding",
        {"price": "10", "restocking_fee_percent": 0, "reason": "changed_mind", "lines": LINES},
        "refund",
        {"amount": "10.00", "reason": "restocking fee 0%", "days": 3},
    ),
    ("points-floor", {"amount": "1234.99"}, "points", 6170),
    ("points-coalesce-missing", {}, "points", 0),
    ("upper-trim", {"customer": "  acme co "}, "customer_code", "ACME CO"),
    ("filter-map", {"lines": LINES}, "big_lines", ["A"]),
    ("sum-money", {"lines": LINES}, "total", "12050.00"),
    ("object-value", {"lines": LINES}, "summary", {"lines": 2, "total": "12050.00"}),
    # 2024-09-14 is a Saturday working day (调休); 15-17 the Mid-Autumn holiday
    (
        "working-days-on-pack-calendar",
        {"received_at": "2024-09-13T10:00:00+08:00", "closed_at": "2024-09-20T10:00:00+08:00"},
        "working_days",
        4,
    ),
    (
        "working-days-backwards",
        {"received_at": "2024-09-20T10:00:00+08:00", "closed_at": "2024-09-13T10:00:00+08:00"},
        "working_days",
        -4,
    ),
]


@pytest.mark.parametrize(("facts", "finding", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_computed_values_on_both_engines(computed, decision_validator, facts, finding, want):
    decision = both(computed, _facts(**facts), NOW)
    decision_validator.validate(decision)
    values = {f["id"]: f["value"] for f in decision["findings"]}
    assert values[finding] == want


def test_missing_operand_sets_nothing_and_says_so(computed):
    decision = both(computed, _facts(reason="changed_mind", price="10"), NOW)
    values = {f["id"]: f["value"] for f in decision["findings"]}
    # restocking_fee_percent is missing: amount and reason have no value, days still does
    assert values["refund"] == {"days": 7}
    effects = [e for t in decision["trace"] if t["rule"] == "refund-restocking" for e in t["effects"]]
    assert [e["outcome"] for e in effects] == ["no-value", "no-value", "applied"]


def test_dotted_finding_reads_back(computed):
    d = computed.evaluate(_facts(price="80", reason="damaged"), NOW, engine="python")
    assert d.finding("refund.amount") == "80.00"
    assert d.finding("refund") == {"amount": "80.00", "reason": "product issue", "days": 5}


BAD = [
    ("money-from-text", "refund.amount", "= customer", "finding 'refund.amount' is money, this is string", 2),
    ("integer-from-number", "refund.days", "= price / 3", "finding 'refund.days' is integer, this is money", 8),
    ("unknown-function", "refund.reason", "= uper(customer)", "unknown function 'uper' (did you mean 'upper'?)", 2),
    ("list-needs-expression", "big_lines", "[A]", "set it with an expression", -1),
]


# offset: of the reported column from the `=` (-1: the opening quote, for a whole-value error)
@pytest.mark.parametrize(("finding", "value", "message", "offset"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_type_errors_are_located(tmp_path: Path, finding, value, message, offset):
    text = (PACKS / "computed" / "policy.yaml").read_text(encoding="utf-8")
    text += f"  - id: broken\n    ref: X\n    when: 'true'\n    then:\n      set:\n        {finding}: '{value}'\n"
    (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        engine.load_policy(tmp_path)
    errors = [str(e) for e in info.value.diagnostics]
    line = len(text.splitlines())
    column = len(f"        {finding}: '") + 1 + offset
    assert any(f"policy.yaml:{line}:{column}:" in e and message in e for e in errors), errors


def test_dotted_finding_under_a_finding_is_refused(tmp_path: Path):
    text = (PACKS / "computed" / "policy.yaml").read_text(encoding="utf-8")
    text = text.replace("findings:\n", "findings:\n  vip.level: {type: integer, label: x, conflict: error}\n", 1)
    (tmp_path / "policy.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(PolicyError, match="is a field of 'vip', which is itself a finding"):
        engine.load_policy(tmp_path)
