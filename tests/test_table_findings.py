"""First-class decision tables: tables fill findings (hit first/unique/priority/collect, aggregates)."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.errors import EvaluationError, PolicyError
from tests.conftest import PACKS, both

NOW = "2024-09-20T12:00:00+08:00"
BASE = {"returns_allowed": True, "item_condition": "new", "original_price": "1299.00", "restocking_fee_percent": 15}


@pytest.fixture(scope="module")
def refund() -> engine.Policy:
    return engine.load_policy(PACKS / "refund")


CASES = [
    # (id, facts over BASE, expected findings subset)
    (
        "changed-mind-restocking",
        {"days_since_purchase": 10, "return_reason": "changed_mind"},
        {
            "status": {"eligible": True, "code": "eligible_restocking_fee"},
            "resolution": {"party": "buyer", "approved": True},
            "refund": {"amount": "1104.15", "shipping_covered": False, "days": 3},
            "flags": ["high-value", "fee 15%"],
            "line_total": "1428.90",
            "line_count": 2,
            "review": True,
        },
    ),
    (
        "damaged-new-seller-pays",
        {"days_since_purchase": 29, "return_reason": "damaged", "original_price": "80"},
        {
            "status": {"eligible": True, "code": "eligible"},
            "resolution": {"party": "seller", "approved": True},
            "refund": {"amount": "80.00", "shipping_covered": True, "days": 5},
            "line_total": "80.00",
            "line_count": 1,
            "review": False,
        },
    ),
    (
        "boundary-30-is-not-under-30-nor-in-(30..60]",
        {"days_since_purchase": 30, "return_reason": "damaged"},
        {"status": {"eligible": False, "code": "ineligible_other"}, "resolution": {"party": "none", "approved": False}},
    ),
    (
        "boundary-60-extended",
        {"days_since_purchase": 60, "return_reason": "defective", "item_condition": "used"},
        {
            "status": {"eligible": True, "code": "eligible_extended"},
            "resolution": {"party": "shared", "approved": True},
            "refund": {"amount": "1299.00", "shipping_covered": False, "days": 3},
        },
    ),
    (
        "ineligible-priority-table-computed",
        {"days_since_purchase": 61, "return_reason": "damaged_in_transit"},
        {
            "status": {"eligible": False, "code": "ineligible_timeframe"},
            "refund": {"amount": "0.00", "shipping_covered": False, "days": 14},
            "flags": ["high-value", "carrier-claim"],
            "late_penalty": "50.00",
        },
    ),
    (
        "no-price-no-aggregate",
        {"days_since_purchase": 5, "return_reason": "wrong_item", "original_price": None},
        {"refund": {"shipping_covered": True, "days": 5}, "status": {"eligible": True, "code": "eligible"}},
    ),
]


@pytest.mark.parametrize(("facts", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_tables_fill_findings(refund, decision_validator, facts, want):
    merged = {k: v for k, v in {**BASE, **facts}.items() if v is not None}
    decision = both(refund, {"case_id": "r", "facts": merged}, NOW)
    decision_validator.validate(decision)
    values = {f["id"]: f["value"] for f in decision["findings"]}
    for key, value in want.items():
        assert values.get(key) == value, key
    if "original_price" not in merged:
        assert "line_total" not in values and "line_count" not in values


def test_chosen_and_passed_over_rows_are_traced(refund):
    case = {"case_id": "r", "facts": {**BASE, "days_since_purchase": 10, "return_reason": "changed_mind"}}
    decision = refund.evaluate(case, NOW, engine="python")
    trace = {t["rule"]: t for t in decision.to_dict()["trace"]}
    assert [e["outcome"] for e in trace["table:eligibility#2"]["effects"]] == ["applied", "applied"]
    assert trace["table:eligibility#2"]["ref"] == "退货政策 1"
    # a row passed over by the hit policy is in the trace only on request (--trace full)
    assert "table:eligibility#6" not in trace
    full = {t["rule"]: t for t in decision.with_full_trace().to_dict()["trace"]}
    assert [e["outcome"] for e in full["table:eligibility#6"]["effects"]] == ["overridden", "overridden"]


def _pack(tmp_path: Path, old: str, new: str) -> Path:
    text = (PACKS / "refund" / "policy.yaml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "policy.yaml").write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


def test_unique_hit_conflict_stops_the_evaluation(tmp_path):
    policy = engine.load_policy(_pack(tmp_path, '    ref: "退货政策 1"\n    hit: first', "    ref: X\n    hit: unique"))
    case = {"case_id": "r", "facts": {**BASE, "days_since_purchase": 10, "return_reason": "changed_mind"}}
    with pytest.raises(EvaluationError, match="hit: unique"):
        policy.evaluate(case, NOW, engine="python")


BAD = [
    ("unknown-finding", "findings: {flag: flags}", "findings: {flag: flagz}", "unknown finding 'flagz'"),
    (
        "collect-into-scalar",
        "findings: {flag: flags}",
        "findings: {flag: review}",
        "hit: collect without aggregate gives a list",
    ),
    (
        "aggregate-needs-collect",
        "    hit: collect\n    aggregate: count",
        "    hit: first\n    aggregate: count",
        "aggregate (sum, min, max, count) applies only to hit: collect",
    ),
    (
        "count-into-money",
        "findings: {n: line_count}",
        "findings: {n: line_total}",
        "finding 'line_total' is already filled",
    ),
    ("wrong-value-type", "then: {penalty: 50}", "then: {penalty: lots}", "finding 'late_penalty' is money"),
    (
        "rule-and-table",
        "then: {set: {review: true}}",
        "then: {set: {line_count: 3}}",
        "finding 'line_count' is filled by table 'line-count'",
    ),
    ("not-an-output", "findings: {n: line_count}", "findings: {m: line_count}", "'m' is not an output"),
]


@pytest.mark.parametrize(("old", "new", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_table_finding_errors(tmp_path, old, new, message):
    with pytest.raises(PolicyError) as info:
        engine.load_policy(_pack(tmp_path, old, new))
    assert any(message in str(d) for d in info.value.diagnostics), [str(d) for d in info.value.diagnostics]
