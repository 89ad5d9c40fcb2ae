"""The `penalties` section of a pack: compile errors, evaluation on both engines, schema-valid decisions
and the allocation / monthly-cap invariants over random people, base points, losses and bonuses."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from tests.conftest import both

NOW = "2024-11-15T10:00:00+08:00"
CENT = Decimal("0.01")

# A small pack with its own names for everything, so nothing below depends on the pcb pack's wording.
PACK = """\
id: pen
version: "1"
timezone: Asia/Shanghai
facts:
  upheld: {type: boolean}
  loss: {type: money}
  sold: {type: boolean}
  a_loss: {type: money}
  names: {type: list, items: {type: string}}
  staff:
    type: list
    items:
      type: object
      properties:
        id: {type: string, required: true}
        name: {type: string}
        department: {type: string, required: true}
        unit: {type: string}
        base_points: {type: number, required: true}
        monthly_bonus: {type: money, required: true}
        following_bonuses: {type: list, items: {type: money}}
        carried_balance: {type: money}
  faults:
    type: list
    items:
      type: object
      properties:
        department: {type: string}
        person_id: {type: string}
        unit: {type: string}
        percent: {type: number}
  records:
    type: list
    items:
      type: object
      properties:
        person_id: {type: string, required: true}
        ground: {type: enum, values: [late, misc]}
        level: {type: enum, values: [warning, minor, major]}
        count: {type: integer}
        bases: {type: number}
        rate: {type: money}
penalties:
  ref: 处罚准则
  when: upheld
  people: staff
  economic:
    ref: 经济处罚准则
    loss: {sold_within_window: sold, a_grade_price_loss: a_loss, actual_loss: loss}
    responsibilities: faults
    attribution:
      departments: {生产: manufacturing, 业务: sales}
      chains:
        manufacturing: [unit, department]
        sales: [person, department]
  administrative:
    ref: 行政处罚准则
    scale:
      levels:
        warning: {label: 警告, per: occurrence, minimum: 400}
        minor: {label: 小过, per: base, minimum: 800}
        major: {label: 大过, per: monthly_bonus}
    grounds:
      late: {label: 交货延迟, level: warning}
      misc: {label: 其他, level: minor}
    records: records
  monthly_cap: {ratio: 0.5, kinds: [economic], max_months: 36}
"""


def write(tmp_path: Path, text: str = PACK, **replace: str) -> Path:
    """Write the pack (with `old=new` replacements given as replace={"old": "new"}) and return its folder."""
    pack = tmp_path / "pen"
    pack.mkdir()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    (pack / "policy.yaml").write_text(text, encoding="utf-8")
    return pack


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.fixture(scope="module")
def pen(tmp_path_factory) -> engine.Policy:
    return engine.load_policy(write(tmp_path_factory.mktemp("pack")))


def person(pid: str, department: str, points, bonus: str, unit: str | None = None, **extra) -> dict:
    out = {"id": pid, "department": department, "base_points": points, "monthly_bonus": bonus, **extra}
    if unit is not None:
        out["unit"] = unit
    return out


def by_person(decision: dict) -> dict[str, dict]:
    return {p["person"]: p for p in decision["penalties"]}


# --------------------------------------------------------------------------- compile errors


def test_the_small_pack_compiles_cleanly(tmp_path):
    assert engine.compile_pack(write(tmp_path)).diagnostics == []


@pytest.mark.parametrize(
    "people,fragment",
    [
        ("upheld", "'upheld' must be a fact holding a list of objects"),
        ("names", "'names' must be a fact holding a list of objects"),
        ("nobody", "'nobody' must be a fact holding a list of objects"),
    ],
    ids=["boolean-fact", "list-of-strings", "unknown-fact"],
)
def test_people_must_be_a_list_of_objects(tmp_path, people, fragment):
    errors = engine.compile_pack(write(tmp_path, **{"people: staff": f"people: {people}"})).errors
    assert [e.code for e in errors] == ["type-error"], [str(e) for e in errors]
    assert fragment in errors[0].message
    assert errors[0].location.line == line_of(PACK, "people: staff")


def test_people_items_need_the_person_fields(tmp_path):
    text = PACK.replace("        base_points: {type: number, required: true}\n", "", 1)
    errors = engine.compile_pack(write(tmp_path, text)).errors
    assert [e.code for e in errors] == ["type-error"], [str(e) for e in errors]
    assert "the items of 'staff' need a field 'base_points'" in errors[0].message


def test_attribution_chain_must_end_with_department(tmp_path):
    errors = engine.compile_pack(
        write(tmp_path, **{"manufacturing: [unit, department]": "manufacturing: [department, unit]"})
    ).errors
    assert [e.code for e in errors] == ["penalties"], [str(e) for e in errors]
    assert "chains.manufacturing must end with 'department'" in errors[0].message
    assert errors[0].location.line == line_of(PACK, "departments: {生产: manufacturing")  # the mapping's first line


def test_attribution_department_of_a_kind_without_chain(tmp_path):
    errors = engine.compile_pack(write(tmp_path, **{"业务: sales}": "业务: slaes}"})).errors
    assert [e.code for e in errors] == ["penalties"]
    assert "did you mean 'sales'" in errors[0].message


def test_unknown_level_in_grounds_is_a_dangling_ref(tmp_path):
    errors = engine.compile_pack(write(tmp_path, **{"level: warning}": "level: warnin}"})).errors
    assert [e.code for e in errors] == ["dangling-ref"], [str(e) for e in errors]
    assert "unknown level 'warnin'" in errors[0].message
    assert "did you mean 'warning'" in errors[0].message
    assert errors[0].location.line == line_of(PACK, "late: {label: 交货延迟")


def test_bad_monthly_cap_is_reported_once(tmp_path):
    errors = engine.compile_pack(write(tmp_path, **{"ratio: 0.5": "ratio: 1.5"})).errors
    # The schema refuses it; the penalty compiler does not report the same problem again.
    assert [e.code for e in errors] == ["schema"]
    assert "ratio" in errors[0].location.path


# --------------------------------------------------------------------------- evaluation, both engines


def test_worked_example_on_both_engines(pen, decision_validator):
    # 12,000 to a 20-base-point unit; 4 points with a 3,000 bonus: 2,400 owed, 1,500 now, 900 next month.
    facts = {
        "upheld": True,
        "loss": "12000",
        "sold": False,
        "staff": [
            person("w", "生产", 4, "3000", unit="A"),
            person("l", "生产", 16, "8000", unit="A"),
            person("x", "生产", 5, "8000", unit="B"),
        ],
        "faults": [{"department": "生产", "unit": "A"}],
    }
    d = both(pen, {"case_id": "C-1", "facts": facts}, NOW)
    decision_validator.validate(d)
    got = by_person(d)
    assert list(got) == ["w", "l"]
    w = got["w"]
    assert [(c["kind"], c["amount"], c["ref"], c["case_id"]) for c in w["charges"]] == [
        ("economic", "2400.00", "经济处罚准则", "C-1")
    ]
    assert (w["owed"], w["cap"], w["cap_applied"], w["deducted_this_month"], w["unscheduled"]) == (
        "2400.00",
        "1500.00",
        True,
        "1500.00",
        "0.00",
    )
    assert w["carried_over"] == [{"month": "2024-12", "amount": "900.00"}]
    assert w["month"] == "2024-11" and w["ref"] == "处罚准则"
    assert got["l"]["carried_over"] == [
        {"month": "2024-12", "amount": "4000.00"},
        {"month": "2025-01", "amount": "1600.00"},
    ]


@pytest.mark.parametrize(
    "sold,amount,basis",
    [
        (True, "3000.00", "转售期内已售出：按A级售价损失计 3000.00"),
        (False, "12000.00", "转售期内未售出：按实际损失计 12000.00"),
        (None, "12000.00", "转售结果未知：暂按实际损失计 12000.00（如转售期内售出，应改按A级售价损失）"),
    ],
    ids=["resold", "not-resold", "unknown"],
)
def test_loss_basis(pen, decision_validator, sold, amount, basis):
    facts = {
        "upheld": True,
        "loss": "12000",
        "a_loss": "3000",
        "staff": [person("s", "业务", 2, "90000")],
        "faults": [{"person_id": "s"}],
    }
    if sold is not None:
        facts["sold"] = sold
    d = both(pen, {"facts": facts}, NOW)
    decision_validator.validate(d)
    (charge,) = d["penalties"][0]["charges"]
    assert charge["amount"] == amount
    assert charge["basis"].startswith(basis + "；")


def test_joint_fault_and_administrative_records(pen, decision_validator):
    # 10000: 60 % to 生产 with no unit named → the whole department (3 + 2 + 5 = 10 points): 1800 / 1200 / 3000;
    # 40 % to 业务 with no person named → the department (1 + 3 = 4 points): 1000 / 3000.
    # Records: s1 late (warning) × 2 = 800 uncapped; m1 misc overridden to warning = 400; s2 major = bonus.
    facts = {
        "upheld": True,
        "loss": "10000",
        "sold": False,
        "staff": [
            person("m1", "生产", 3, "4000", unit="A"),
            person("m2", "生产", 2, "4000", unit="A"),
            person("m3", "生产", 5, "4000", unit="B"),
            person("s1", "业务", 1, "3000"),
            person("s2", "业务", 3, "5000.50"),
        ],
        "faults": [{"department": "生产", "percent": 60}, {"department": "业务", "percent": 40}],
        "records": [
            {"person_id": "s1", "ground": "late", "count": 2},
            {"person_id": "m1", "ground": "misc", "level": "warning"},
            {"person_id": "s2", "ground": "late", "level": "major"},
        ],
    }
    d = both(pen, {"facts": facts}, NOW)
    decision_validator.validate(d)
    got = by_person(d)
    charges = {pid: [(c["kind"], c["amount"]) for c in p["charges"]] for pid, p in got.items()}
    assert charges == {
        "m1": [("economic", "1800.00"), ("warning", "400.00")],
        "m2": [("economic", "1200.00")],
        "m3": [("economic", "3000.00")],
        "s1": [("economic", "1000.00"), ("warning", "800.00")],
        "s2": [("economic", "3000.00"), ("major", "5000.50")],
    }
    # m1: 1800 capped at 2000 → all now, plus the 400 warning = 2200 this month.
    assert (got["m1"]["deducted_this_month"], got["m1"]["carried_over"]) == ("2200.00", [])
    # m3: 3000 over the 2000 cap → 1000 next month.
    assert got["m3"]["carried_over"] == [{"month": "2024-12", "amount": "1000.00"}]
    # s1: 1000 within the 1500 cap + 800 uncapped.
    assert (got["s1"]["owed"], got["s1"]["deducted_this_month"], got["s1"]["cap_applied"]) == (
        "1800.00",
        "1800.00",
        False,
    )
    # s2: cap 2500.25 → 2500.25 of the 3000 now, 499.75 next; the major demerit 5000.50 in full.
    assert got["s2"]["cap"] == "2500.25"
    assert got["s2"]["deducted_this_month"] == "7500.75"
    assert got["s2"]["carried_over"] == [{"month": "2024-12", "amount": "499.75"}]
    assert "超过当月奖金" in got["s2"]["basis"]


def test_not_upheld_or_undecided_means_no_penalties(pen, decision_validator):
    facts = {
        "loss": "100",
        "staff": [person("s", "业务", 1, "3000")],
        "faults": [{"person_id": "s"}],
        "records": [{"person_id": "s", "ground": "late"}],
    }
    for upheld in (False, None):
        case = {"facts": facts if upheld is None else {**facts, "upheld": upheld}}
        d = both(pen, case, NOW)
        decision_validator.validate(d)
        assert d["penalties"] == []


@pytest.mark.parametrize(
    "facts,message",
    [
        (
            {"faults": [{"person_id": "s", "percent": 60}, {"department": "生产", "percent": 39}]},
            "sum to 99%, not 100%",
        ),
        ({"faults": [{"person_id": "t"}]}, "unknown person 't'"),
        ({"faults": [{"department": "仓库"}]}, "department '仓库' has no attribution kind"),
        ({"faults": [{"person_id": "s", "department": "生产"}]}, "person s is in 业务, not 生产"),
        ({"faults": [{"department": "生产", "unit": "Z"}]}, "nobody is listed in 生产 / Z"),
        ({"records": [{"person_id": "s", "ground": "late", "rate": "399.99"}]}, "below the minimum 400.00"),
        ({"records": [{"person_id": "s", "ground": "misc"}]}, "基数"),
        ({"records": [{"person_id": "s"}]}, "names no level or ground"),
    ],
    ids=[
        "ratios-99",
        "unknown-person",
        "unknown-department",
        "wrong-department",
        "empty-unit",
        "low-rate",
        "no-bases",
        "no-level",
    ],
)
def test_penalty_input_errors_on_both_engines(pen, facts, message):
    case = {
        "facts": {
            "upheld": True,
            "loss": "100",
            "staff": [person("s", "业务", 1, "3000"), person("m", "生产", 1, "3000", unit="A")],
            **facts,
        }
    }
    for name in engine.ENGINES:
        with pytest.raises(engine.EvaluationError) as info:
            pen.evaluate(case, NOW, engine=name)
        assert info.value.code == "penalty-input"
        assert message in str(info.value)


def test_pcb_pack_worked_example(pcb, decision_validator):
    facts = {
        "received_at": "2024-11-01T09:00:00+08:00",
        "upheld": True,
        "loss_amount": "12000.00",
        "resold_within_month": False,
        "people": [
            person("w1", "制造一科", 4, "3000.00", unit="A组"),
            person("l2", "制造一科", 16, "8000.00", unit="A组"),
        ],
        "responsibilities": [{"department": "制造一科", "unit": "A组"}],
        "admin_penalties": [{"person_id": "w1", "ground": "billing_error", "count": 2}],
    }
    d = both(pcb, {"case_id": "CP-1", "facts": facts}, NOW)
    decision_validator.validate(d)
    w1 = by_person(d)["w1"]
    assert [c["amount"] for c in w1["charges"]] == ["2400.00", "800.00"]
    # The warnings (800) are outside the cap: 1500 capped + 800 = 2300 this month, 900 carried.
    assert (w1["owed"], w1["deducted_this_month"]) == ("3200.00", "2300.00")
    assert w1["carried_over"] == [{"month": "2024-12", "amount": "900.00"}]


# --------------------------------------------------------------------------- invariants (hypothesis)

DEPARTMENTS = [("制造一科", ("A组", "B组")), ("制造二科", ("C组",)), ("业务部", (None,)), ("服务部", (None,))]
cents = st.integers(min_value=0, max_value=2_000_000).map(lambda c: Decimal(c) / 100)


@st.composite
def people_and_faults(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    people = []
    for i in range(n):
        dept, units = draw(st.sampled_from(DEPARTMENTS))
        unit = draw(st.sampled_from(units))
        points = draw(st.integers(min_value=1, max_value=40)) / Decimal(2)  # 0.5 .. 20 base points
        p = person(f"p{i}", dept, points, f"{draw(cents):.2f}", unit=unit)
        following = draw(st.lists(st.one_of(st.just(Decimal(0)), cents), max_size=3))
        if following:
            p["following_bonuses"] = [f"{b:.2f}" for b in following]
        if draw(st.booleans()):
            p["carried_balance"] = f"{draw(cents):.2f}"
        people.append(p)
    k = draw(st.integers(min_value=1, max_value=3))
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=99), min_size=k - 1, max_size=k - 1)))
    percents = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    faults = []
    for pct in percents:
        target = draw(st.sampled_from(people))
        how = draw(st.sampled_from(["person", "unit", "department"]))
        if how == "person":
            fault = {"person_id": target["id"]}
        elif how == "unit" and "unit" in target:
            fault = {"department": target["department"], "unit": target["unit"]}
        else:
            fault = {"department": target["department"]}
        faults.append({**fault, "percent": pct})
    return people, faults


def month_index(month: str) -> int:
    year, mon = month.split("-")
    return int(year) * 12 + int(mon) - 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=people_and_faults(), loss=st.integers(min_value=0, max_value=10_000_000).map(lambda c: Decimal(c) / 100))
def test_allocation_and_schedule_invariants(pcb, decision_validator, case, loss):
    people, faults = case
    facts = {
        "received_at": "2024-11-01T09:00:00+08:00",
        "upheld": True,
        "loss_amount": f"{loss:.2f}",
        "resold_within_month": False,
        "people": people,
        "responsibilities": faults,
    }
    d = both(pcb, {"facts": facts}, NOW)
    decision_validator.validate(d)
    listed = {p["id"]: p for p in people}
    economic = Decimal(0)
    for entry in d["penalties"]:
        p = listed[entry["person"]]
        charged = sum((Decimal(c["amount"]) for c in entry["charges"]), Decimal(0))
        economic += sum((Decimal(c["amount"]) for c in entry["charges"] if c["kind"] == "economic"), Decimal(0))
        owed = Decimal(entry["owed"])
        assert owed == charged + Decimal(p.get("carried_balance", "0"))
        carried = [(row["month"], Decimal(row["amount"])) for row in entry["carried_over"]]
        total = Decimal(entry["deducted_this_month"]) + sum((a for _, a in carried), Decimal(0))
        assert total + Decimal(entry["unscheduled"]) == owed, entry["basis"]
        # This month: the cap is 50 % of the bonus rounded half up to the cent.
        bonus = Decimal(p["monthly_bonus"])
        assert Decimal(entry["cap"]) == (bonus / 2).quantize(CENT, rounding=ROUND_DOWN)
        assert Decimal(entry["deducted_this_month"]) <= Decimal(entry["cap"])
        following = [Decimal(b) for b in p.get("following_bonuses", [])]
        start = month_index(entry["month"])
        previous = start
        for month, amount in carried:
            i = month_index(month) - start
            assert i > 0 and month_index(month) > previous  # strictly later months, in order
            previous = month_index(month)
            month_bonus = following[i - 1] if i <= len(following) else bonus
            # Never more than 50 % of that month's bonus; exactly so when 50 % is a whole cent
            # (odd-cent bonuses: see test_cap_never_exceeds_half_the_bonus_for_odd_cents).
            assert amount * 2 <= month_bonus + CENT, (month, amount, month_bonus)
            if (month_bonus * 100) % 2 == 0:
                assert amount * 2 <= month_bonus, (month, amount, month_bonus)
    assert economic == loss


# --------------------------------------------------------------------------- engine bugs found


def test_cap_never_exceeds_half_the_bonus_for_odd_cents(pen):
    facts = {
        "upheld": True,
        "loss": "5000",
        "sold": False,
        "staff": [person("s", "业务", 1, "3000.01", following_bonuses=["0.01"])],
        "faults": [{"person_id": "s"}],
    }
    (entry,) = both(pen, {"facts": facts}, NOW)["penalties"]
    assert Decimal(entry["deducted_this_month"]) * 2 <= Decimal("3000.01")  # got 1500.01
    assert Decimal(entry["carried_over"][0]["amount"]) * 2 <= Decimal("0.01")  # got 0.01 in 2024-12


def test_unknown_person_in_a_major_demerit_record_is_named(pen):
    case = {
        "facts": {
            "upheld": True,
            "staff": [person("s", "业务", 1, "3000")],
            "records": [{"person_id": "t", "level": "major"}],
        }
    }
    with pytest.raises(engine.EvaluationError) as info:
        pen.evaluate(case, NOW, engine="python")
    assert info.value.code == "penalty-input"
    assert "unknown person 't'" in str(info.value)
