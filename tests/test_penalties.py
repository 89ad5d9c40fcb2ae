"""Penalty calculators: worked examples computed by hand, error cases, and invariants under hypothesis."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.money import cap_money, format_money
from engine.penalties import (
    AdminScale,
    Attribution,
    CapRule,
    Charge,
    PenaltyInputError,
    Person,
    Responsibility,
    add_months,
    allocate,
    loss_basis,
    monthly_deductions,
)

# The shape a pack supplies (pcb-style regulation: 警告 400/次, 小过 800/基数, 大过 = whole bonus).
SCALE = AdminScale.from_spec(
    {
        "levels": {
            "warning": {"label": "警告", "per": "occurrence", "minimum": 400},
            "minor_demerit": {"label": "小过", "per": "base", "minimum": 800},
            "major_demerit": {"label": "大过", "per": "monthly_bonus"},
            "half_bonus": {"label": "减半", "per": "monthly_bonus", "share": D("0.5")},
            "ranged": {"label": "一般违规", "per": "occurrence", "minimum": 500, "maximum": 1000},
        }
    }
)
ATTRIBUTION = Attribution.from_spec(
    {
        "departments": {"制造一科": "manufacturing", "业务部": "sales", "服务部": "service"},
        "chains": {
            "manufacturing": ["unit", "department"],
            "sales": ["person", "department"],
            "service": ["person", "department"],
        },
    }
)
CAP = CapRule.from_spec({"ratio": D("0.5"), "kinds": ["economic"], "max_months": 36})

# 制造一科: 20 base points in all (A组 4 + 6, B组 10). 业务部: 5 + 5. 服务部: 1 + 1 + 1.
PEOPLE = [
    Person("m1", "张三", "制造一科", "A组", D(4), D(3000)),
    Person("m2", "李四", "制造一科", "A组", D(6), D(3000)),
    Person("m3", "王五", "制造一科", "B组", D(10), D(4000)),
    Person("s1", "赵六", "业务部", None, D(5), D(2000)),
    Person("s2", "钱七", "业务部", None, D(5), D(2000)),
    Person("v1", "孙八", "服务部", None, D(1), D(1000)),
    Person("v2", "周九", "服务部", None, D(1), D(1000)),
    Person("v3", "吴十", "服务部", None, D(1), D(1000)),
]


# --------------------------------------------------------------------------- administrative scale


@pytest.mark.parametrize(
    ("level", "kwargs", "amount", "basis"),
    [
        pytest.param("warning", {"count": 2}, "800.00", "警告 2 次 × 400 元/次 = 800.00", id="warning-400x2"),
        pytest.param(
            "warning", {"count": 1, "rate": 500}, "500.00", "警告 1 次 × 500 元/次 = 500.00", id="warning-above-min"
        ),
        pytest.param(
            "minor_demerit",
            {"count": 1, "bases": 1},
            "800.00",
            "小过 1 次 × 800 元/基数 × 1 基数 = 800.00",
            id="minor-one-base",
        ),
        pytest.param(
            "minor_demerit",
            {"count": 2, "bases": D("1.5")},
            "2400.00",
            "小过 2 次 × 800 元/基数 × 1.5 基数 = 2400.00",
            id="minor-per-base",
        ),
        pytest.param(
            "major_demerit",
            {"monthly_bonus": "3125.50"},
            "3125.50",
            "大过 1 次：当月奖金 3125.50 全额 = 3125.50",
            id="major-whole-bonus",
        ),
        pytest.param(
            "major_demerit",
            {"count": 2, "monthly_bonus": 3000},
            "3000.00",
            "大过 2 次：当月奖金 3000.00 全额 = 3000.00（按月计，不随次数累加）",
            id="major-twice-still-one-bonus",
        ),
        pytest.param("ranged", {"rate": 1000}, "1000.00", "一般违规 1 次 × 1000 元/次 = 1000.00", id="rate-at-maximum"),
        pytest.param(
            "half_bonus",
            {"monthly_bonus": "3000.01"},
            "1500.01",
            "减半 1 次：当月奖金 3000.01 × 50% = 1500.01",
            id="bonus-share-half-up",
        ),
    ],
)
def test_admin_amount(level, kwargs, amount, basis):
    got, why = SCALE.amount(level, **kwargs)
    assert got == D(amount)
    assert why == basis


@pytest.mark.parametrize(
    ("level", "kwargs", "message"),
    [
        pytest.param("warnig", {}, "did you mean 'warning'", id="unknown-level"),
        pytest.param("warning", {"rate": 399}, "below the minimum 400.00", id="rate-below-minimum"),
        pytest.param("ranged", {"rate": 1200}, "above the maximum 1000.00", id="rate-above-maximum"),
        pytest.param("ranged", {"rate": 499}, "below the minimum 500.00", id="ranged-below-minimum"),
        pytest.param("warning", {"count": 0}, "at least 1", id="zero-count"),
        pytest.param("warning", {"count": True}, "at least 1", id="bool-count"),
        pytest.param("minor_demerit", {}, "bases", id="minor-needs-bases"),
        pytest.param("minor_demerit", {"bases": 0}, "above 0", id="minor-zero-bases"),
        pytest.param("minor_demerit", {"bases": 1.5}, "not exact", id="float-bases"),
        pytest.param("major_demerit", {}, "monthly bonus is needed", id="major-needs-bonus"),
        pytest.param("major_demerit", {"monthly_bonus": 3000.0}, "not exact", id="float-bonus"),
    ],
)
def test_admin_amount_refuses(level, kwargs, message):
    with pytest.raises(PenaltyInputError, match=message):
        SCALE.amount(level, **kwargs)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({}, "non-empty mapping", id="no-levels"),
        pytest.param({"levels": {"w": {"per": "ocurrence", "minimum": 1}}}, "did you mean 'occurrence'", id="bad-per"),
        pytest.param({"levels": {"w": {"per": "base"}}}, "'minimum' is required", id="no-minimum"),
        pytest.param({"levels": {"w": {"per": "base", "minimum": 400.0}}}, "not exact", id="float-minimum"),
        pytest.param({"levels": {"w": {"per": "base", "minimum": 1, "share": 1}}}, "only applies", id="share-on-base"),
        pytest.param({"levels": {"w": {"per": "monthly_bonus", "minimum": 1}}}, "no meaning", id="min-on-bonus"),
        pytest.param({"levels": {"w": {"per": "monthly_bonus", "share": 2}}}, "at most 1", id="share-above-1"),
        pytest.param({"levels": {"w": {"per": "base", "minimum": 1, "extra": 1}}}, "unknown field", id="unknown-field"),
        pytest.param(
            {"levels": {"w": {"per": "base", "minimum": 9, "maximum": 5}}}, "below the minimum", id="max-below-min"
        ),
        pytest.param({"levels": {"w": {"per": "monthly_bonus", "maximum": 5}}}, "no meaning", id="max-on-bonus"),
    ],
)
def test_admin_scale_spec_refuses(spec, message):
    with pytest.raises(PenaltyInputError, match=message):
        AdminScale.from_spec(spec)


# --------------------------------------------------------------------------- loss basis


@pytest.mark.parametrize(
    ("sold", "a_grade", "actual", "amount", "basis"),
    [
        pytest.param(True, "12000", "8000", "12000.00", "转售期内已售出：按A级售价损失计 12000.00", id="sold"),
        pytest.param(False, "12000", "8000", "8000.00", "转售期内未售出：按实际损失计 8000.00", id="unsold"),
        pytest.param(False, None, "8000", "8000.00", "转售期内未售出：按实际损失计 8000.00", id="unsold-no-a-grade"),
        pytest.param(
            None,
            "12000",
            "8000",
            "8000.00",
            "转售结果未知：暂按实际损失计 8000.00（如转售期内售出，应改按A级售价损失）",
            id="unknown-uses-actual-and-says-so",
        ),
    ],
)
def test_loss_basis(sold, a_grade, actual, amount, basis):
    assert loss_basis(sold, a_grade, actual) == (D(amount), basis)


@pytest.mark.parametrize(
    ("sold", "a_grade", "actual", "message"),
    [
        pytest.param(True, None, "8000", "A-grade price loss is not given", id="sold-without-a-grade"),
        pytest.param(None, None, None, "actual loss is not given", id="nothing"),
        pytest.param(False, None, "-1", "negative", id="negative"),
        pytest.param(False, None, 8000.0, "not exact", id="float"),
        pytest.param("yes", None, "1", "true, false or unknown", id="not-a-bool"),
    ],
)
def test_loss_basis_refuses(sold, a_grade, actual, message):
    with pytest.raises(PenaltyInputError, match=message):
        loss_basis(sold, a_grade, actual)


# --------------------------------------------------------------------------- allocation


def _amounts(charges: list[Charge]) -> dict[str, str]:
    return {c.person_id: f"{c.amount:.2f}" for c in charges}


@pytest.mark.parametrize(
    ("loss", "responsibilities", "want"),
    [
        pytest.param(
            "12000",
            [Responsibility(department="制造一科")],
            {"m1": "2400.00", "m2": "3600.00", "m3": "6000.00"},
            id="whole-section-by-base-points",
        ),
        pytest.param(
            "12000",
            [Responsibility(department="制造一科", unit="B组")],
            {"m3": "12000.00"},
            id="manufacturing-unit",
        ),
        pytest.param(
            "1000",
            [Responsibility(person_id="m1")],
            {"m1": "400.00", "m2": "600.00"},
            id="manufacturing-person-goes-to-unit",
        ),
        pytest.param("5000", [Responsibility(person_id="s1")], {"s1": "5000.00"}, id="sales-individual-100"),
        pytest.param(
            "5000",
            [Responsibility(department="业务部")],
            {"s1": "2500.00", "s2": "2500.00"},
            id="sales-unknown-person-department",
        ),
        pytest.param(
            "1000.01",
            [Responsibility(person_id="s1", percent=D(60)), Responsibility(person_id="s2", percent=D(40))],
            {"s1": "600.01", "s2": "400.00"},
            id="joint-60-40-cent",
        ),
        pytest.param(
            "100.00",
            [Responsibility(department="服务部")],
            {"v1": "33.34", "v2": "33.33", "v3": "33.33"},
            id="thirds-at-the-cent",
        ),
        pytest.param(
            "1000",
            [
                Responsibility(person_id="s1", percent=D("62.5")),
                Responsibility(department="制造一科", unit="A组", percent=D("37.5")),
            ],
            {"s1": "625.00", "m1": "150.00", "m2": "225.00"},
            id="joint-cross-department",
        ),
        pytest.param(
            "100",
            [Responsibility(person_id="s1", percent=D(50)), Responsibility(department="业务部", percent=D(50))],
            {"s1": "75.00", "s2": "25.00"},
            id="same-person-twice-merged",
        ),
    ],
)
def test_allocate(loss, responsibilities, want):
    charges = allocate("C-1", loss, responsibilities, PEOPLE, ATTRIBUTION)
    assert _amounts(charges) == want
    assert sum(c.amount for c in charges) == D(loss)
    assert all(c.case_id == "C-1" and c.kind == "economic" and "案件 C-1" in c.basis for c in charges)


@pytest.mark.parametrize(
    ("loss", "responsibilities", "person", "basis"),
    [
        pytest.param(
            "12000",
            [Responsibility(department="制造一科")],
            "m1",
            "案件 C-1：损失 12000.00（未能明确归属至组单元，归属至部门），归属 制造一科 全部门（总基点 20）："
            "12000.00 ÷ 20 × 4 = 2400.00",
            id="department-formula",
        ),
        pytest.param(
            "100.00",
            [Responsibility(department="服务部")],
            "v1",
            "案件 C-1：损失 100.00（未能明确归属至个人，归属至部门），归属 服务部 全部门（总基点 3）："
            "100.00 ÷ 3 × 1 = 33.34（含尾差 +0.01，使分摊合计等于 100.00）",
            id="odd-cent-explained",
        ),
        pytest.param(
            "1000.01",
            [Responsibility(person_id="s1", percent=D(60)), Responsibility(person_id="s2", percent=D(40))],
            "s1",
            "案件 C-1：共同过失 60%：损失 1000.01 × 60% = 600.01，由 赵六 负担 = 600.01",
            id="joint-person",
        ),
        pytest.param(
            "5000",
            [Responsibility(person_id="s1")],
            "s1",
            "案件 C-1：损失 5000.00，个人过失，全数由 赵六 负担 = 5000.00",
            id="individual",
        ),
    ],
)
def test_allocate_basis(loss, responsibilities, person, basis):
    charges = {c.person_id: c for c in allocate("C-1", loss, responsibilities, PEOPLE, ATTRIBUTION)}
    assert charges[person].basis == basis


@pytest.mark.parametrize(
    ("loss", "responsibilities", "message"),
    [
        pytest.param(
            "100",
            [Responsibility(person_id="s1", percent=D(60)), Responsibility(person_id="s2", percent=D(39))],
            r"case C-9: responsibility shares sum to 99%, not 100% \(60% \+ 39%\)",
            id="ratios-99",
        ),
        pytest.param(
            "100",
            [Responsibility(person_id="s1", percent=D("60.5")), Responsibility(person_id="s2", percent=D(40))],
            "sum to 100.5%",
            id="ratios-100.5",
        ),
        pytest.param("100", [Responsibility(person_id="s1", percent=D(50))], "sum to 50%", id="single-not-100"),
        pytest.param("100", [], "no responsible party", id="nobody"),
        pytest.param("100", [Responsibility(person_id="s11")], "did you mean 's1'", id="unknown-person"),
        pytest.param("100", [Responsibility(department="业务")], "did you mean '业务部'", id="unknown-department"),
        pytest.param("100", [Responsibility()], "neither a person nor a department", id="empty-responsibility"),
        pytest.param(
            "100", [Responsibility(department="业务部", person_id="m1")], "is in 制造一科", id="person-wrong-dept"
        ),
        pytest.param("100", [Responsibility(department="制造一科", unit="C组")], "nobody is listed", id="empty-unit"),
        pytest.param(100.0, [Responsibility(person_id="s1")], "not exact", id="float-loss"),
        pytest.param("-1", [Responsibility(person_id="s1")], "negative", id="negative-loss"),
        pytest.param("100", [Responsibility(person_id="s1", percent=0.6)], "not exact", id="float-percent"),
        pytest.param(
            "100",
            [Responsibility(person_id="s1", share="1/3"), Responsibility(person_id="s2", share="1/3")],
            r"sum to 2/3, not 100% \(1/3 \+ 1/3\)",
            id="fractions-short",
        ),
        pytest.param("100", [Responsibility(person_id="s1", share="a third")], "not a fraction", id="bad-share"),
        pytest.param(
            "100", [Responsibility(person_id="s1", percent=D(50), share="1/2")], "not both", id="percent-and-share"
        ),
        pytest.param(
            "100",
            [Responsibility(person_id="s1", percent=D(100)), Responsibility(person_id="s2", share="equal")],
            "nothing is left to share equally",
            id="equal-with-nothing-left",
        ),
    ],
)
def test_allocate_refuses(loss, responsibilities, message):
    with pytest.raises(PenaltyInputError, match=message):
        allocate("C-9", loss, responsibilities, PEOPLE, ATTRIBUTION)


def test_allocate_zero_base_points_group():
    people = [Person("x", "甲", "业务部", None, D(0), D(1000))]
    with pytest.raises(PenaltyInputError, match="0 base points"):
        allocate("C-1", "10", [Responsibility(department="业务部")], people, ATTRIBUTION)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"departments": {"a": "k"}, "chains": {"k": ["person"]}}, "end with 'department'", id="no-fallback"
        ),
        pytest.param({"departments": {"a": "k"}, "chains": {"k": ["persn", "department"]}}, "did you mean", id="typo"),
        pytest.param({"departments": {"a": "x"}, "chains": {"k": ["department"]}}, "has no chain", id="kind-no-chain"),
        pytest.param({"chains": {"k": ["department"]}}, "'departments'", id="no-departments"),
    ],
)
def test_attribution_spec_refuses(spec, message):
    with pytest.raises(PenaltyInputError, match=message):
        Attribution.from_spec(spec)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"base_points": 1.5}, "base points", id="float-points"),
        pytest.param({"monthly_bonus": 3000.0}, "monthly bonus", id="float-bonus"),
        pytest.param({"following_bonuses": ["1", 2.0]}, "following bonus 2", id="float-following"),
        pytest.param({"following_bonuses": "3000"}, "list of amounts", id="following-not-list"),
        pytest.param({"carried_balance": "-1"}, "negative", id="negative-balance"),
        pytest.param({"id": ""}, "must not be empty", id="empty-id"),
    ],
)
def test_person_refuses(kwargs, message):
    fields = {"id": "p", "name": "甲", "department": "业务部", "unit": None, "base_points": 1, "monthly_bonus": 1}
    with pytest.raises(PenaltyInputError, match=message):
        Person(**(fields | kwargs))


# --------------------------------------------------------------------------- monthly cap and carry-over


def _person(bonus="3000", following=(), carried="0", pid="p"):
    return Person(pid, "张三", "制造一科", "A组", D(4), bonus, list(following), carried)


def _charge(amount, case="C-1", kind="economic", pid="p"):
    return Charge(pid, case, kind, D(amount), "")


@pytest.mark.parametrize(
    ("person", "charges", "owed", "now", "schedule", "cap_applied", "unscheduled"),
    [
        pytest.param(
            _person(),
            [_charge("2400")],
            "2400.00",
            "1500.00",
            [("2024-10", "900.00")],
            True,
            "0.00",
            id="2400-owed-1500-now-900-next",
        ),
        pytest.param(_person(), [_charge("1000")], "1000.00", "1000.00", [], False, "0.00", id="under-cap"),
        pytest.param(_person(), [_charge("1500")], "1500.00", "1500.00", [], False, "0.00", id="exactly-cap"),
        pytest.param(
            _person(following=["0", "0", "2000"]),
            [_charge("2400")],
            "2400.00",
            "1500.00",
            [("2024-10", "0.00"), ("2024-11", "0.00"), ("2024-12", "900.00")],
            True,
            "0.00",
            id="zero-bonus-months-defer",
        ),
        pytest.param(
            _person(bonus="0", following=["1000"]),
            [_charge("700")],
            "700.00",
            "0.00",
            [("2024-10", "500.00")],
            True,
            "200.00",
            id="zero-bonus-now-unknown-later-assumed-zero",
        ),
        pytest.param(
            _person(following=["1000", "1000"]),
            [_charge("3000"), _charge("1000", case="C-2")],
            "4000.00",
            "1500.00",
            [("2024-10", "500.00"), ("2024-11", "500.00"), ("2024-12", "1500.00")],
            True,
            "0.00",
            id="two-cases-known-then-assumed-bonus",
        ),
        pytest.param(
            _person(carried="1000"),
            [_charge("1000")],
            "2000.00",
            "1500.00",
            [("2024-10", "500.00")],
            True,
            "0.00",
            id="prior-balance-plus-new",
        ),
        pytest.param(
            _person(),
            [_charge("3000", kind="administrative"), _charge("2000")],
            "5000.00",
            "4500.00",
            [("2024-10", "500.00")],
            True,
            "0.00",
            id="uncapped-kind-in-full",
        ),
        pytest.param(
            _person(bonus="3000.01"),
            [_charge("1500.01")],
            "1500.01",
            "1500.00",
            [("2024-10", "0.01")],
            True,
            "0.00",
            id="cap-is-a-maximum-rounded-down",
        ),
        pytest.param(
            _person(carried="300"),
            [],
            "300.00",
            "300.00",
            [],
            False,
            "0.00",
            id="only-prior-balance",
        ),
    ],
)
def test_monthly_deductions(person, charges, owed, now, schedule, cap_applied, unscheduled):
    (got,) = monthly_deductions("2024-09", [person], charges, CAP)
    assert got.owed == D(owed)
    assert got.deducted_this_month == D(now)
    assert [(m, f"{a:.2f}") for m, a in got.carried_over] == schedule
    assert got.cap_applied is cap_applied
    assert got.unscheduled == D(unscheduled)
    assert got.deducted_this_month + sum(a for _, a in got.carried_over) + got.unscheduled == got.owed


def test_monthly_basis_says_why():
    (got,) = monthly_deductions("2024-09", [_person(following=["0"])], [_charge("2400")], CAP)
    assert got.basis == (
        "2024-09 应扣 2400.00（C-1 2400.00）；上限 当月奖金 3000.00 × 50% = 1500.00，计入上限部分本月扣 1500.00；"
        "超出 900.00 逐月分期（每月上限为当月奖金 × 50%）：2024-10 0.00，2024-11 900.00；"
        "2024-10 奖金为 0，顺延；2024-11 起奖金未知，按本月奖金 3000.00 估算"
    )


def test_prior_balance_is_deducted_first():
    (got,) = monthly_deductions("2024-09", [_person(carried="1000")], [_charge("1000")], CAP)
    assert got.sources == (("上期结转", D("1000.00"), D("0.00")), ("C-1", D("500.00"), D("500.00")))


def test_remainder_after_max_months_is_reported_not_dropped():
    rule = CapRule.from_spec({"ratio": "0.5", "kinds": ["economic"], "max_months": 3})
    (got,) = monthly_deductions("2024-11", [_person(bonus="1000")], [_charge("5000")], rule)
    assert got.deducted_this_month == D("500.00")
    assert got.carried_over == (("2024-12", D("500.00")), ("2025-01", D("500.00")), ("2025-02", D("500.00")))
    assert got.unscheduled == D("3000.00")
    assert "3 个月内无法扣完，尚余 3000.00 未排入分期，需人工处理" in got.basis


def test_uncapped_over_bonus_is_flagged():
    (got,) = monthly_deductions("2024-09", [_person()], [_charge("3000", kind="administrative"), _charge("10")], CAP)
    assert "注意：本月扣款合计 3010.00 超过当月奖金 3000.00" in got.basis


def test_people_without_anything_owed_are_left_out_and_order_follows_people():
    people = [_person(pid="a"), _person(pid="b"), _person(pid="c", carried="1")]
    got = monthly_deductions("2024-09", people, [_charge("1", pid="b")], CAP)
    assert [d.person_id for d in got] == ["b", "c"]


@pytest.mark.parametrize(
    ("month", "charges", "message"),
    [
        pytest.param("2024-13", [], "not YYYY-MM", id="bad-month"),
        pytest.param("2024-9", [], "not YYYY-MM", id="short-month"),
        pytest.param("2024-09", [_charge("1", pid="q")], "unknown person 'q'", id="unknown-person"),
        pytest.param("2024-09", [Charge("p", "C-1", "economic", 1.5, "")], "not exact", id="float-charge"),
        pytest.param("2024-09", [_charge("-1")], "negative", id="negative-charge"),
    ],
)
def test_monthly_refuses(month, charges, message):
    with pytest.raises(PenaltyInputError, match=message):
        monthly_deductions(month, [_person()], charges, CAP)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"kinds": ["economic"]}, "'ratio' is required", id="no-ratio"),
        pytest.param({"ratio": 0.5, "kinds": ["economic"]}, "not exact", id="float-ratio"),
        pytest.param({"ratio": "0", "kinds": ["economic"]}, "above 0", id="zero-ratio"),
        pytest.param({"ratio": "1.5", "kinds": ["economic"]}, "at most 1", id="ratio-above-1"),
        pytest.param({"ratio": "0.5", "kinds": "economic"}, "list of penalty kinds", id="kinds-not-list"),
        pytest.param({"ratio": "0.5", "kinds": [], "max_months": 0}, "at least 1", id="zero-months"),
        pytest.param({"ratio": "0.5", "kinds": [], "cap": 1}, "unknown field", id="unknown-field"),
    ],
)
def test_cap_rule_refuses(spec, message):
    with pytest.raises(PenaltyInputError, match=message):
        CapRule.from_spec(spec)


@pytest.mark.parametrize(
    ("month", "n", "want"),
    [
        pytest.param("2024-11", 3, "2025-02", id="year-wrap"),
        pytest.param("2024-01", -1, "2023-12", id="backwards"),
        pytest.param("2024-12", 0, "2024-12", id="zero"),
        pytest.param("2024-05", 36, "2027-05", id="three-years"),
    ],
)
def test_add_months(month, n, want):
    assert add_months(month, n) == want


# --------------------------------------------------------------------------- properties

money = st.decimals(min_value=0, max_value=D("200000"), places=2, allow_nan=False)
bonus = st.one_of(st.just(D("0.00")), st.decimals(min_value=0, max_value=D("20000"), places=2, allow_nan=False))
ratio = st.decimals(min_value=D("0.01"), max_value=1, places=2, allow_nan=False)


@settings(max_examples=300)
@given(
    current=bonus,
    following=st.lists(bonus, max_size=8),
    carried=money,
    amounts=st.lists(money, max_size=4),
    uncapped=st.lists(money, max_size=2),
    cap_ratio=ratio,
    months=st.integers(1, 40),
)
def test_schedule_invariants(current, following, carried, amounts, uncapped, cap_ratio, months):
    rule = CapRule(cap_ratio, frozenset({"economic"}), months)
    person = Person("p", "甲", "业务部", None, D(1), current, following, carried)
    charges = [Charge("p", f"C-{i}", "economic", a, "") for i, a in enumerate(amounts)]
    charges += [Charge("p", f"A-{i}", "administrative", a, "") for i, a in enumerate(uncapped)]
    result = monthly_deductions("2024-09", [person], charges, rule)
    owed = carried + sum(amounts, D(0)) + sum(uncapped, D(0))
    if not charges and carried == 0:
        assert result == []
        return
    (got,) = result
    capped_owed = carried + sum(amounts, D(0))
    # The instalments plus this month (plus any explicit remainder) sum to what is owed, to the cent.
    assert got.owed == owed
    assert got.deducted_this_month + sum(a for _, a in got.carried_over) + got.unscheduled == owed
    # This month's capped part never exceeds this month's cap.
    assert got.deducted_this_month - sum(uncapped, D(0)) <= cap_money(current * cap_ratio)
    assert got.cap_applied is (capped_owed > cap_money(current * cap_ratio))
    assert len(got.carried_over) <= months
    for i, (month, amount) in enumerate(got.carried_over, start=1):
        assert month == add_months("2024-09", i)
        month_bonus = following[i - 1] if i <= len(following) else current
        assert 0 <= amount <= cap_money(month_bonus * cap_ratio)
        if month_bonus == 0:
            assert amount == 0
    # A remainder is left unscheduled only when every month in the window was already at its cap.
    if got.unscheduled:
        for i in range(1, months + 1):
            month_bonus = following[i - 1] if i <= len(following) else current
            paid = got.carried_over[i - 1][1] if i <= len(got.carried_over) else D(0)
            assert paid == cap_money(month_bonus * cap_ratio)
    assert sum(src[1] + src[2] for src in got.sources) == capped_owed


@given(
    loss=money,
    percents=st.lists(st.integers(1, 100), min_size=1, max_size=3).filter(lambda ps: sum(ps) <= 100),
)
def test_allocation_sums_to_loss(loss, percents):
    percents = [*percents[:-1], percents[-1] + 100 - sum(percents)]
    targets = [
        Responsibility(department="制造一科"),
        Responsibility(person_id="s1"),
        Responsibility(department="服务部"),
    ]
    responsibilities = [
        Responsibility(t.department, t.person_id, t.unit, D(p)) for t, p in zip(targets, percents, strict=False)
    ]
    charges = allocate("C-1", loss, responsibilities, PEOPLE, ATTRIBUTION)
    assert sum(c.amount for c in charges) == loss
    assert all(c.amount >= 0 and c.amount.as_tuple().exponent == -2 for c in charges)


THIRDS = [Responsibility(person_id=p, share=s) for p, s in (("s1", "1/3"), ("s2", "1/3"), ("s3", "1/3"))]
EQUAL = [Responsibility(person_id=p, share="equal") for p in ("s1", "s2", "s3")]
UNSAID = [Responsibility(person_id=p) for p in ("s1", "s2", "s3")]
MIXED = [
    Responsibility(person_id="s1", percent=D(40)),
    Responsibility(person_id="s2", share="equal"),
    Responsibility(person_id="s3"),
]


@pytest.mark.parametrize(
    ("responsibilities", "amounts"),
    [
        pytest.param(THIRDS, ["33.34", "33.33", "33.33"], id="fractions-1/3"),
        pytest.param(EQUAL, ["33.34", "33.33", "33.33"], id="equal"),
        pytest.param(UNSAID, ["33.34", "33.33", "33.33"], id="nothing-said-is-equal"),
        pytest.param(MIXED, ["40.00", "30.00", "30.00"], id="percent-then-equal-rest"),
    ],
)
def test_equal_and_fractional_shares_split_by_largest_remainder(responsibilities, amounts):
    """Three equal shares of 100.00: 33.34 + 33.33 + 33.33 (the odd cent to the first), summing exactly."""
    people = [Person(p, p, "业务部", None, 10, "1000") for p in ("s1", "s2", "s3")]
    charges = allocate("C-3", "100", responsibilities, people, ATTRIBUTION)
    assert [format_money(c.amount) for c in charges] == amounts
    assert sum(c.amount for c in charges) == D("100")
    if responsibilities is THIRDS:
        assert "共同过失 1/3：损失 100.00 × 1/3 = 33.34" in charges[0].basis
