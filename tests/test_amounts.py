"""The `amounts:` section (engine/amounts.py): each way to write an amount in a few lines of YAML, its
formula, located compile errors, not-computable items, and penalties for parties off the payroll.

Each pack is written into tmp_path; decisions run on both engines, must agree and be schema-valid.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

import engine
from tests.conftest import both

NOW = "2025-03-20T10:00:00+08:00"

HEAD = """\
id: amt
version: "1"
facts:
  supplier: {type: string}
  amount_due: {type: money}
  shipped_at: {type: datetime}
  delivered_at: {type: datetime}
  report_date: {type: date}
  appeal_at: {type: datetime}
  decided: {type: money}
  pieces: {type: integer}
  double: {type: boolean}
  names: {type: list, items: {type: string}}
findings:
  factor: {type: number, label: 倍数, conflict: error, default: 1}
rules:
  - {id: doubled, ref: R1, when: double == true, then: {set: {factor: 2}}}
timers:
  - {id: delivery, label: 十日内交货, ref: T1, start: shipped_at, stop: delivered_at, goal: 10d, counting: civil}
  - {id: appeal, label: 十日内申诉, ref: T2, start: report_date, stop: appeal_at, goal: 10d, counting: civil}
"""


def pack(tmp_path: Path, amounts: str) -> Path:
    root = tmp_path / "amt"
    root.mkdir(exist_ok=True)
    (root / "policy.yaml").write_text(HEAD + textwrap.dedent(amounts), encoding="utf-8")
    return root


def decide(tmp_path: Path, amounts: str, facts: dict[str, Any], validator, now: str = NOW) -> dict[str, Any]:
    d = both(engine.load_policy(pack(tmp_path, amounts)), {"case_id": "A1", "facts": facts}, now)
    assert [e.message for e in validator.iter_errors(d)] == []
    return d


# The "done when" of issue 21: each of these is a few lines of YAML.
PER_DAY_WITH_FLOOR = """\
amounts:
  items:
    - id: late
      label: 逾期交货违约金
      ref: 第六条
      party: supplier
      rate: {percent: 5, of: amount_due}
      floor: 100
      per: {timer: delivery, unit: day}
      multiplier: findings.factor
"""
RANGE_WITH_MAX = """\
amounts:
  levels:
    general: {label: 一般违规, min: 500, max: 1000}
  items:
    - {id: breach, label: 违规罚款, ref: 第八条, party: supplier, level: general, amount: decided}
"""
PER_HOUR_TO_CUSTOMER = """\
amounts:
  wording: {hour: 个小时}
  items:
    - {id: wait, label: 等候补偿, ref: 第五条, kind: compensation, rate: 20, per: {timer: delivery, unit: hour}}
"""
PER_COUNT = """\
amounts:
  wording: {count: 件}
  items:
    - {id: pieces, label: 按件退款, ref: 第七条, kind: refund, rate: "12.50", per: {count: pieces}}
"""

LATE = {"supplier": "S1", "shipped_at": "2025-03-03T10:00:00+08:00", "delivered_at": "2025-03-19T09:00:00+08:00"}

CASES = [
    # (id, amounts, facts, section, amount, basis)
    ("per-day-5-percent", PER_DAY_WITH_FLOOR, LATE | {"amount_due": "12800.00"}, "fines", "3840.00",
     "amount_due 12,800.00 × 5% = 640.00；640.00 × 6 日 = 3,840.00"),
    ("per-day-doubled", PER_DAY_WITH_FLOOR, LATE | {"amount_due": "12800.00", "double": True}, "fines", "7680.00",
     "amount_due 12,800.00 × 5% = 640.00；640.00 × 6 日 × 2 = 7,680.00"),
    ("per-day-floor-raises", PER_DAY_WITH_FLOOR, LATE | {"amount_due": "1000.00"}, "fines", "600.00",
     "amount_due 1,000.00 × 5% = 50.00；不低于 100.00，按 100.00 计；100.00 × 6 日 = 600.00"),
    ("range-within", RANGE_WITH_MAX, {"supplier": "S1", "decided": "1000.00"}, "fines", "1000.00",
     "一般违规（500.00–1,000.00）1,000.00"),
    ("range-literal-amount", RANGE_WITH_MAX.replace("amount: decided", "amount: 800"), {"supplier": "S1"}, "fines",
     "800.00", "一般违规（500.00–1,000.00）800.00"),
    ("range-minimum-by-default", RANGE_WITH_MAX.replace(", amount: decided", ""), {"supplier": "S1"}, "fines",
     "500.00", "一般违规（500.00–1,000.00）500.00"),
    # 3 March 10:00 → due 24:00 on 13 March; delivered 19 March 09:00 = 5 days 9 hours late = 129 started hours
    ("per-hour-to-the-customer", PER_HOUR_TO_CUSTOMER, LATE, "owed_to_customer", "2580.00",
     "20.00 × 129 个小时 = 2,580.00"),
    ("per-count", PER_COUNT, {"pieces": 3}, "owed_to_customer", "37.50", "12.50 × 3 件 = 37.50"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("amounts", "facts", "section", "amount", "basis"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_an_amount_and_its_formula(tmp_path, decision_validator, amounts, facts, section, amount, basis):
    (got,) = decide(tmp_path, amounts, facts, decision_validator)[section]
    assert (got["status"], got["amount"], got["basis"]) == ("computed", amount, basis)


def test_a_fact_label_names_the_base(tmp_path, decision_validator):
    labelled = PER_DAY_WITH_FLOOR.replace("amounts:", "amounts:\n  ref: 合同", 1)
    (root := pack(tmp_path, labelled)).joinpath("policy.yaml").write_text(
        (root / "policy.yaml")
        .read_text(encoding="utf-8")
        .replace("amount_due: {type: money}", "amount_due: {type: money, label: 货款}"),
        encoding="utf-8",
    )
    d = both(engine.load_policy(root), {"facts": LATE | {"amount_due": "12800.00"}}, NOW)
    assert d["fines"][0]["basis"].startswith("货款 12,800.00 × 5%")


@pytest.mark.parametrize(
    ("facts", "status", "present"),
    [
        ({"supplier": "S1", "shipped_at": "2025-03-03T10:00:00+08:00", "delivered_at": "2025-03-13T23:00:00+08:00"},
         "met", False),
        ({"supplier": "S1", "shipped_at": "2025-03-03T10:00:00+08:00"}, "breached", True),
        ({"supplier": "S1"}, "pending", False),
    ],
    ids=["in-time-no-fine", "still-late-counts-until-now", "not-started-no-fine"],
)  # fmt: skip
def test_a_per_day_fine_follows_its_timer(tmp_path, decision_validator, facts, status, present):
    d = decide(tmp_path, PER_DAY_WITH_FLOOR, facts | {"amount_due": "1000.00"}, decision_validator)
    assert d["timers"][0]["status"] == status
    assert bool(d["fines"]) is present


NOT_COMPUTABLE = [
    # (id, amounts, facts, section, missing, expression)
    ("percentage-base", PER_DAY_WITH_FLOOR, LATE, "fines", ["amount_due"], "amount_due"),
    ("who-pays", PER_DAY_WITH_FLOOR, {k: v for k, v in LATE.items() if k != "supplier"} | {"amount_due": "1.00"},
     "fines", ["supplier"], "supplier"),
    ("decided-amount", RANGE_WITH_MAX, {"supplier": "S1"}, "fines", ["decided"], "decided"),
    ("count", PER_COUNT, {}, "owed_to_customer", ["pieces"], "pieces"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("amounts", "facts", "section", "missing", "expression"),
    [c[1:] for c in NOT_COMPUTABLE],
    ids=[c[0] for c in NOT_COMPUTABLE],
)
def test_a_missing_fact_makes_one_amount_not_computable(
    tmp_path, decision_validator, amounts, facts, section, missing, expression
):
    d = decide(tmp_path, amounts, facts | {"double": True}, decision_validator)
    (got,) = d[section]
    assert (got["status"], got["amount"], got["missing"], got["expression"]) == (
        "not_computable",
        None,
        missing,
        expression,
    )
    (warning,) = [w for w in d["warnings"] if w["code"] == "amount-not-computable"]
    assert "case A1" in warning["message"] and missing[0] in warning["message"]
    # the rest of the decision stands
    assert d["findings"][0]["value"] == "2" and d["trace"][0]["rule"] == "doubled"


@pytest.mark.parametrize(("decided", "word"), [("1200.00", "above the maximum"), ("499.99", "below the minimum")])
def test_a_decided_amount_outside_its_level_is_located(tmp_path, decision_validator, decided, word):
    d = decide(tmp_path, RANGE_WITH_MAX, {"supplier": "S1", "decided": decided}, decision_validator)
    (got,) = d["fines"]
    assert got["status"] == "out_of_range" and got["amount"] is None
    (warning,) = [w for w in d["warnings"] if w["code"] == "amount-out-of-range"]
    line = next(
        n for n, text in enumerate((tmp_path / "amt" / "policy.yaml").read_text().splitlines(), 1) if "general:" in text
    )
    assert word in warning["message"] and f"policy.yaml:{line}:" in warning["message"]


MISTAKES = [
    # (id, amounts, code, text)
    ("literal-above-max", RANGE_WITH_MAX.replace("amount: decided", "amount: 1200"), "amount-above-maximum",
     "above the maximum 1,000.00"),
    ("literal-decimal-above-max", RANGE_WITH_MAX.replace("amount: decided", "amount: 1000.01"), "amount-above-maximum",
     "above the maximum 1,000.00"),
    ("parties-not-a-list", "amounts:\n  parties: supplier\n  items: []\n", "type-error", "expected list"),
    ("parties-without-id", "amounts:\n  parties: names\n  items: []\n", "type-error", "list fact of objects with an `id`"),
    ("fine-without-party", "amounts:\n  items:\n    - {id: x, label: x, rate: 10}\n", "missing-field", "needs `party`"),
    ("customer-amount-with-party", "amounts:\n  items:\n    - {id: x, label: x, kind: refund, party: supplier, rate: 1}\n",
     "amounts", "drop `party`"),
    ("two-sources", "amounts:\n  levels: {a: {min: 1}}\n  items:\n    - {id: x, label: x, party: supplier, rate: 1, level: a}\n",
     "amounts", "exactly one of"),
    ("unknown-level", "amounts:\n  levels: {general: {min: 1}}\n  items:\n    - {id: x, label: x, party: supplier, level: genral}\n",
     "dangling-ref", "did you mean 'general'"),
    ("unknown-timer", "amounts:\n  items:\n    - {id: x, label: x, party: supplier, rate: 1, per: {timer: delivry}}\n",
     "dangling-ref", "unknown timer 'delivry'"),
    ("max-below-min", "amounts:\n  levels: {a: {min: 10, max: 5}}\n  items: []\n", "amounts", "below min"),
    ("percent-of-text", "amounts:\n  items:\n    - {id: x, label: x, party: supplier, rate: {percent: 5, of: supplier}}\n",
     "type-error", "expected money"),
    ("duplicate-item", "amounts:\n  items:\n    - {id: x, label: x, party: supplier, rate: 1}\n    - {id: x, label: y, party: supplier, rate: 2}\n",
     "duplicate-id", "already used"),
]  # fmt: skip


@pytest.mark.parametrize(("amounts", "code", "text"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_amount_mistakes_are_located(tmp_path, amounts, code, text):
    result = engine.compile_pack(pack(tmp_path, amounts))
    found = [(d.code, d.message, d.location.line) for d in result.errors]
    assert any(c == code and text in m and line > 0 for c, m, line in found), found


# ------------------------------------------------------------------------------------------------
# penalties: parties off the payroll
# ------------------------------------------------------------------------------------------------
SUPPLIERS = """\
id: sup
version: "1"
facts:
  suppliers:
    type: list
    items: {type: object, properties: {id: {type: string, required: true}, name: {type: string}}}
  records:
    type: list
    items: {type: object, properties: {person_id: {type: string, required: true}, level: {type: string}}}
penalties:
  people: suppliers
  administrative:
    scale: {levels: {warning: {label: 警告, per: occurrence, minimum: 400}}}
    records: records
"""


def test_penalties_for_suppliers_need_no_payroll_fields(tmp_path, decision_validator):
    root = tmp_path / "sup"
    root.mkdir()
    (root / "policy.yaml").write_text(SUPPLIERS, encoding="utf-8")
    case = {
        "facts": {"suppliers": [{"id": "S1", "name": "甲供应商"}], "records": [{"person_id": "S1", "level": "warning"}]}
    }
    d = both(engine.load_policy(root), case, NOW)
    decision_validator.validate(d)
    (p,) = d["penalties"]
    assert (p["person"], p["owed"], p["charges"][0]["basis"]) == ("S1", "400.00", "警告 1 次 × 400 元/次 = 400.00")
    text = engine.load_policy(root).evaluate(case, NOW).to_text()
    assert "合计 400.00" in text and "应扣" not in text and "本月扣" not in text


def test_a_monthly_cap_still_needs_the_bonus(tmp_path):
    root = tmp_path / "sup"
    root.mkdir()
    (root / "policy.yaml").write_text(SUPPLIERS + "  monthly_cap: {ratio: 0.5, kinds: [warning]}\n", encoding="utf-8")
    result = engine.compile_pack(root)
    assert any("need a field 'monthly_bonus'" in d.message for d in result.errors), result.errors


def test_the_text_form_prints_each_amount_with_its_formula(tmp_path):
    policy = engine.load_policy(pack(tmp_path, PER_DAY_WITH_FLOOR))
    text = policy.evaluate({"facts": LATE | {"amount_due": "12800.00", "double": True}}, NOW).to_text()
    assert "罚款与违约金 Fines (1)" in text
    assert "S1 (S1) 逾期交货违约金 (late): 7680.00  依据 第六条" in text
    assert "amount_due 12,800.00 × 5% = 640.00；640.00 × 6 日 × 2 = 7,680.00" in text
    # a pack without amounts prints no such section
    pcb = engine.load_policy("pcb-manufacturer")
    assert "Fines" not in pcb.evaluate({"facts": {"received_at": NOW}}, NOW).to_text()
