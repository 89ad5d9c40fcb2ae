"""Penalty calculators: administrative scale, loss basis, fault allocation, monthly cap and carry-over."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from math import lcm
from typing import Any

from .errors import Diagnostic, EvaluationError, did_you_mean
from .money import MoneyError, Number, cap_money, format_money, format_number, round_money, split, to_decimal, to_money

ZERO = Decimal("0.00")
HUNDRED = Decimal(100)
PER_KINDS = ("occurrence", "base", "monthly_bonus")
TARGETS = ("person", "unit", "department")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class PenaltyInputError(EvaluationError):
    """Penalty inputs are inconsistent (ratios not summing to 100 %, unknown person, float amount, ...).

    `path` is where in the case the faulty input is (("facts", "admin_penalties", 1)), when known."""

    default_code = "penalty-input"

    def __init__(self, message: str | list[Diagnostic], path: tuple[object, ...] = ()):
        super().__init__(message)
        self.path = path


def _money(value: Number, what: str) -> Decimal:
    try:
        amount = to_money(value, what)
    except MoneyError as exc:
        raise PenaltyInputError(str(exc)) from None
    if amount < 0:
        raise PenaltyInputError(f"{what}: {amount} is negative")
    return amount


def _quantity(value: Number, what: str) -> Decimal:
    try:
        number = to_decimal(value, what)
    except MoneyError as exc:
        raise PenaltyInputError(str(exc)) from None
    if number < 0:
        raise PenaltyInputError(f"{what}: {format_number(number)} is negative")
    return number


def _count(value: object, what: str) -> int:
    # bool is an int subclass; True as "1 occurrence" would hide a wrong field.
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PenaltyInputError(f"{what}: {value!r} is not a whole number of at least 1")
    return value


# --------------------------------------------------------------------------- administrative scale


@dataclass(frozen=True)
class AdminLevel:
    """One level of administrative penalty and how it converts to money.

    per = "occurrence": minimum × count; "base": minimum × count × bases (基数);
    "monthly_bonus": share × the month's bonus, however many times it happens in the month.
    """

    key: str
    label: str
    per: str
    minimum: Decimal = ZERO
    share: Decimal = Decimal(1)
    maximum: Decimal | None = None  # 罚款…以下: a record's rate above it is refused


@dataclass(frozen=True)
class AdminScale:
    """The pack's administrative penalty scale (行政罚扣折算), keyed by level."""

    levels: Mapping[str, AdminLevel]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> AdminScale:
        """Build from `{"levels": {key: {label, per, minimum?, share?}}}`; amounts as int, str or Decimal."""
        raw_levels = spec.get("levels") if isinstance(spec, Mapping) else None
        if not isinstance(raw_levels, Mapping) or not raw_levels:
            raise PenaltyInputError("admin scale: 'levels' must be a non-empty mapping")
        levels: dict[str, AdminLevel] = {}
        for key, raw in raw_levels.items():
            where = f"admin scale: levels.{key}"
            if not isinstance(raw, Mapping):
                raise PenaltyInputError(f"{where}: must be a mapping")
            unknown = set(raw) - {"label", "per", "minimum", "share", "maximum"}
            if unknown:
                raise PenaltyInputError(f"{where}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
            per = raw.get("per")
            if per not in PER_KINDS:
                raise PenaltyInputError(
                    f"{where}.per: {per!r} is not one of {', '.join(PER_KINDS)}{did_you_mean(str(per), PER_KINDS)}"
                )
            if per == "monthly_bonus":
                if "minimum" in raw:
                    raise PenaltyInputError(f"{where}: 'minimum' has no meaning when per is monthly_bonus")
                minimum = ZERO
                share = _quantity(raw.get("share", 1), f"{where}.share")
                if not 0 < share <= 1:
                    raise PenaltyInputError(f"{where}.share: {format_number(share)} must be above 0 and at most 1")
            else:
                if "minimum" not in raw:
                    raise PenaltyInputError(f"{where}: 'minimum' is required when per is {per}")
                if "share" in raw:
                    raise PenaltyInputError(f"{where}: 'share' only applies when per is monthly_bonus")
                minimum = _money(raw["minimum"], f"{where}.minimum")
                share = Decimal(1)
            maximum = _money(raw["maximum"], f"{where}.maximum") if "maximum" in raw else None
            if maximum is not None and (per == "monthly_bonus" or maximum < minimum):
                why = "has no meaning when per is monthly_bonus" if per == "monthly_bonus" else "is below the minimum"
                raise PenaltyInputError(f"{where}.maximum: {format_money(maximum)} {why}")
            levels[str(key)] = AdminLevel(str(key), str(raw.get("label", key)), per, minimum, share, maximum)
        return cls(levels)

    def amount(
        self,
        level: str,
        count: int = 1,
        bases: Number | None = None,
        monthly_bonus: Number | None = None,
        *,
        rate: Number | None = None,
    ) -> tuple[Decimal, str]:
        """The amount for `count` penalties of `level`, and a basis a person can check with a calculator.

        `rate` is the amount actually decided per occurrence or per base; the regulation sets only a
        floor ("400元以上"), so a rate below the minimum is refused and no rate means the minimum.
        """
        found = self.levels.get(level)
        if found is None:
            raise PenaltyInputError(f"unknown penalty level '{level}'{did_you_mean(level, self.levels)}")
        count = _count(count, f"{found.label} count")
        if found.per == "monthly_bonus":
            if monthly_bonus is None:
                raise PenaltyInputError(f"{found.label}: the monthly bonus is needed")
            bonus = _money(monthly_bonus, f"{found.label} monthly bonus")
            amount = round_money(bonus * found.share)
            shown = "全额" if found.share == 1 else f"× {format_number(found.share * HUNDRED)}%"
            basis = f"{found.label} {count} 次：当月奖金 {format_money(bonus)} {shown} = {format_money(amount)}"
            if count > 1:
                # A month's bonus can only be forfeited once; repeating the level does not double it.
                basis += "（按月计，不随次数累加）"
            return amount, basis
        unit_rate = found.minimum if rate is None else _money(rate, f"{found.label} rate")
        if unit_rate < found.minimum:
            raise PenaltyInputError(
                f"{found.label}: rate {format_money(unit_rate)} is below the minimum {format_money(found.minimum)}"
            )
        if found.maximum is not None and unit_rate > found.maximum:
            raise PenaltyInputError(
                f"{found.label}: rate {format_money(unit_rate)} is above the maximum {format_money(found.maximum)}"
            )
        if found.per == "occurrence":
            amount = round_money(unit_rate * count)
            return amount, f"{found.label} {count} 次 × {format_number(unit_rate)} 元/次 = {format_money(amount)}"
        if bases is None:
            raise PenaltyInputError(f"{found.label}: the number of bases (基数) is needed")
        base_count = _quantity(bases, f"{found.label} bases")
        if base_count == 0:
            raise PenaltyInputError(f"{found.label}: the number of bases (基数) must be above 0")
        amount = round_money(unit_rate * count * base_count)
        basis = (
            f"{found.label} {count} 次 × {format_number(unit_rate)} 元/基数 × {format_number(base_count)} 基数"
            f" = {format_money(amount)}"
        )
        return amount, basis


# --------------------------------------------------------------------------- loss basis


def loss_basis(
    sold_within_window: bool | None, a_grade_price_loss: Number | None, actual_loss: Number | None
) -> tuple[Decimal, str]:
    """The loss to allocate: the A-grade price loss if resold within the window, else the actual loss.

    Unknown (None) falls back to the actual loss and says so, because the resale window may still be
    open and the operator should know the figure can change.
    """
    if sold_within_window is True:
        if a_grade_price_loss is None:
            raise PenaltyInputError("resold within the window, but the A-grade price loss is not given")
        amount = _money(a_grade_price_loss, "A-grade price loss")
        return amount, f"转售期内已售出：按A级售价损失计 {format_money(amount)}"
    if sold_within_window is not None and sold_within_window is not False:
        raise PenaltyInputError(f"sold_within_window must be true, false or unknown, not {sold_within_window!r}")
    if actual_loss is None:
        raise PenaltyInputError("the actual loss is not given")
    amount = _money(actual_loss, "actual loss")
    if sold_within_window is False:
        return amount, f"转售期内未售出：按实际损失计 {format_money(amount)}"
    return amount, f"转售结果未知：暂按实际损失计 {format_money(amount)}（如转售期内售出，应改按A级售价损失）"


# --------------------------------------------------------------------------- people, attribution, allocation


@dataclass(frozen=True)
class Person:
    """Someone who can be penalised. Amounts are validated on construction, so a float never gets in.

    `unit` is the smallest group unit (组单元) for manufacturing staff, None elsewhere.
    `following_bonuses` are the known bonuses of the months after the current one, in order.
    `carried_balance` is what earlier cases still owe (deducted before anything new).
    """

    id: str
    name: str
    department: str
    unit: str | None
    # None for parties off the payroll (merchants, suppliers): needed only by group splits and the cap
    base_points: Decimal | None
    monthly_bonus: Decimal | None
    following_bonuses: Sequence[Decimal] = ()
    carried_balance: Decimal = ZERO

    def __post_init__(self) -> None:
        if not self.id:
            raise PenaltyInputError("person: id must not be empty")
        who = f"person {self.id}"
        if self.base_points is not None:
            object.__setattr__(self, "base_points", _quantity(self.base_points, f"{who}: base points"))
        if self.monthly_bonus is not None:
            object.__setattr__(self, "monthly_bonus", _money(self.monthly_bonus, f"{who}: monthly bonus"))
        if isinstance(self.following_bonuses, str | bytes) or not isinstance(self.following_bonuses, Sequence):
            raise PenaltyInputError(f"{who}: following bonuses must be a list of amounts")
        object.__setattr__(
            self,
            "following_bonuses",
            tuple(_money(b, f"{who}: following bonus {i + 1}") for i, b in enumerate(self.following_bonuses)),
        )
        object.__setattr__(self, "carried_balance", _money(self.carried_balance, f"{who}: carried balance"))


@dataclass(frozen=True)
class Responsibility:
    """One party at fault in a case and its share of the loss (percent; the shares of a case sum to 100).

    Name the person when known; name the unit when only the group is known; the department alone
    when nothing narrower is known. The attribution rule decides how far down the charge goes.
    """

    department: str | None = None
    person_id: str | None = None
    unit: str | None = None
    percent: Number | None = None
    # Instead of percent: an exact fraction ("1/3") or "equal" (an equal part of what the others leave).
    share: str | None = None


_FRACTION = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


def shares(case_id: str, responsibilities: Sequence[Responsibility]) -> list[Fraction]:
    """Each party's exact part of the loss (parts sum to exactly 1).

    A party gives a percent, a fraction ("1/3") or "equal"; a party giving nothing counts as "equal". The
    "equal" parties split equally what the others leave, so three "equal" parties each bear exactly 1/3."""
    fixed: list[Fraction | None] = []
    for i, r in enumerate(responsibilities):
        what = f"case {case_id}: responsibility {i + 1}"
        if r.share is not None and r.percent is not None:
            raise PenaltyInputError(f"{what}: give percent or share, not both")
        if r.percent is not None:
            fixed.append(Fraction(_quantity(r.percent, f"{what} percent")) / 100)
        elif r.share is None or r.share.strip() == "equal":
            fixed.append(None)
        else:
            m = _FRACTION.match(r.share)
            if not m or int(m.group(2)) == 0:
                raise PenaltyInputError(f"{what}: share {r.share!r} is not a fraction like 1/3 or 'equal'")
            fixed.append(Fraction(int(m.group(1)), int(m.group(2))))
    given = sum((f for f in fixed if f is not None), Fraction(0))
    equal = sum(1 for f in fixed if f is None)
    if equal:
        if given >= 1:
            raise PenaltyInputError(
                f"case {case_id}: the given shares already make {_share_text(given)}; nothing is left to share equally"
            )
        each = (1 - given) / equal
        fixed = [each if f is None else f for f in fixed]
    parts = [f for f in fixed if f is not None]
    if any(p == 0 for p in parts):
        raise PenaltyInputError(f"case {case_id}: a responsibility share is zero")
    total = sum(parts, Fraction(0))
    if total != 1:
        raise PenaltyInputError(
            f"case {case_id}: responsibility shares sum to {_share_text(total)}, not 100% "
            f"({' + '.join(_share_text(p) for p in parts)})"
        )
    return parts


def _share_text(part: Fraction) -> str:
    """A share as people write it: 40% when that is exact to 0.01 %, else the fraction (1/3)."""
    percent = part * 100
    if (percent * 100).denominator == 1:
        return f"{format_number(Decimal(percent.numerator) / Decimal(percent.denominator))}%"
    return f"{part.numerator}/{part.denominator}"


@dataclass(frozen=True)
class Attribution:
    """How each kind of department attributes a charge: a fallback chain of person / unit / department.

    e.g. manufacturing -> (unit, department): the smallest group unit, else the whole section;
    sales and service -> (person, department): the individual, else the department.
    """

    department_kinds: Mapping[str, str]
    chains: Mapping[str, tuple[str, ...]]

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Attribution:
        """Build from `{"departments": {name: kind}, "chains": {kind: [person|unit|department, ...]}}`."""
        if not isinstance(spec, Mapping):
            raise PenaltyInputError("attribution: must be a mapping")
        departments = spec.get("departments")
        chains_raw = spec.get("chains")
        if not isinstance(departments, Mapping) or not departments:
            raise PenaltyInputError("attribution: 'departments' must map each department to a kind")
        if not isinstance(chains_raw, Mapping) or not chains_raw:
            raise PenaltyInputError("attribution: 'chains' must map each kind to a list of targets")
        chains: dict[str, tuple[str, ...]] = {}
        for kind, chain in chains_raw.items():
            if isinstance(chain, str) or not isinstance(chain, Sequence) or not chain:
                raise PenaltyInputError(f"attribution: chains.{kind} must be a non-empty list")
            for step in chain:
                if step not in TARGETS:
                    raise PenaltyInputError(
                        f"attribution: chains.{kind}: {step!r} is not one of {', '.join(TARGETS)}"
                        f"{did_you_mean(str(step), TARGETS)}"
                    )
            if chain[-1] != "department":
                # Without a department fallback a case with nobody named could not be charged at all.
                raise PenaltyInputError(f"attribution: chains.{kind} must end with 'department'")
            chains[str(kind)] = tuple(chain)
        for dept, kind in departments.items():
            if kind not in chains:
                raise PenaltyInputError(
                    f"attribution: department {dept} has kind {kind!r}, which has no chain"
                    f"{did_you_mean(str(kind), chains)}"
                )
        return cls({str(k): str(v) for k, v in departments.items()}, chains)


@dataclass(frozen=True)
class Charge:
    """What one person owes from one case, of one kind (kinds decide which count toward the monthly cap)."""

    person_id: str
    case_id: str
    kind: str
    amount: Decimal
    basis: str


def _people_index(people: Sequence[Person]) -> dict[str, Person]:
    index: dict[str, Person] = {}
    for p in people:
        if not isinstance(p, Person):
            raise PenaltyInputError(f"people: {p!r} is not a Person")
        if p.id in index:
            raise PenaltyInputError(f"people: duplicate person id {p.id}")
        index[p.id] = p
    return index


_TARGET_NAMES = {"person": "个人", "unit": "组单元", "department": "部门"}


def _resolve(
    case_id: str, r: Responsibility, index: Mapping[str, Person], people: Sequence[Person], attribution: Attribution
) -> tuple[str, list[Person], str, str]:
    """The target (person / unit / department), its members, a label, and a note when it fell back."""
    person = None
    if r.person_id is not None:
        person = index.get(r.person_id)
        if person is None:
            raise PenaltyInputError(f"case {case_id}: unknown person '{r.person_id}'{did_you_mean(r.person_id, index)}")
        if r.department is not None and r.department != person.department:
            raise PenaltyInputError(f"case {case_id}: person {person.id} is in {person.department}, not {r.department}")
    department = r.department if r.department is not None else (person.department if person else None)
    if department is None:
        raise PenaltyInputError(f"case {case_id}: a responsibility names neither a person nor a department")
    kind = attribution.department_kinds.get(department)
    if kind is None:
        raise PenaltyInputError(
            f"case {case_id}: department '{department}' has no attribution kind"
            f"{did_you_mean(department, attribution.department_kinds)}"
        )
    chain = attribution.chains[kind]
    # A known person pins down the unit too: the fault happened in that person's unit.
    unit = r.unit if r.unit is not None else (person.unit if person else None)
    for step in chain:
        if step == "person" and person is not None:
            return "person", [person], person.name, ""
        if step == "unit" and unit is not None:
            members = [p for p in people if p.department == department and p.unit == unit]
            if not members:
                raise PenaltyInputError(f"case {case_id}: nobody is listed in {department} / {unit}")
            label = f"{department} {unit}"
            break
        if step == "department":
            members = [p for p in people if p.department == department]
            if not members:
                raise PenaltyInputError(f"case {case_id}: nobody is listed in {department}")
            label = f"{department} 全部门"
            break
    else:  # pragma: no cover - from_spec makes every chain end with "department"
        raise PenaltyInputError(f"case {case_id}: no attribution target for department '{department}'")
    if person is not None:
        note = f"{person.name} 所在{_TARGET_NAMES[step]}共同负担"
    elif step != chain[0]:
        note = f"未能明确归属至{_TARGET_NAMES[chain[0]]}，归属至{_TARGET_NAMES[step]}"
    else:
        note = ""
    return step, members, label, note


def allocate(
    case_id: str,
    loss: Number,
    responsibilities: Sequence[Responsibility],
    people: Sequence[Person],
    attribution: Attribution,
    *,
    kind: str = "economic",
) -> list[Charge]:
    """Allocate one case's loss to people: one Charge per person, in order of first appearance.

    Each case is allocated on its own (按件分别罚扣). Joint faults split the loss by percent; a group
    (unit or department) splits its share as share ÷ group base points × person's base points. Both
    steps use `split`, so the charges of a case sum exactly to the loss.
    """
    amount = _money(loss, f"case {case_id}: loss")
    if not responsibilities:
        raise PenaltyInputError(f"case {case_id}: no responsible party given")
    parts = shares(case_id, responsibilities)
    # Whole-number weights with the parts' proportions, for the exact largest-remainder split.
    common = lcm(*(p.denominator for p in parts))
    index = _people_index(people)
    amounts = split(amount, [int(p * common) for p in parts])
    joint = len(responsibilities) > 1
    owed: dict[str, Decimal] = {}
    bases: dict[str, list[str]] = {}

    def add(pid: str, part: Decimal, text: str) -> None:
        owed[pid] = owed.get(pid, ZERO) + part
        bases.setdefault(pid, []).append(text)

    for r, part, share in zip(responsibilities, parts, amounts, strict=True):
        target, members, label, note = _resolve(case_id, r, index, people, attribution)
        if joint:
            text = _share_text(part)
            head = f"共同过失 {text}：损失 {format_money(amount)} × {text} = {format_money(share)}"
        else:
            head = f"损失 {format_money(amount)}"
        if note:
            head += f"（{note}）"
        if target == "person":
            person = members[0]
            who = f"由 {person.name} 负担" if joint else f"个人过失，全数由 {person.name} 负担"
            add(person.id, share, f"案件 {case_id}：{head}，{who} = {format_money(share)}")
            continue
        lacking = [m.id for m in members if m.base_points is None]
        if lacking:
            raise PenaltyInputError(
                f"case {case_id}: {label} shares a charge by base points, but {', '.join(lacking)} has none"
            )
        points = [m.base_points for m in members if m.base_points is not None]
        group_points = sum(points, Decimal(0))
        if group_points == 0:
            raise PenaltyInputError(f"case {case_id}: {label} has 0 base points in total")
        parts = split(share, points)
        for m, part in zip(members, parts, strict=True):
            text = (
                f"案件 {case_id}：{head}，归属 {label}（总基点 {format_number(group_points)}）："
                f"{format_money(share)} ÷ {format_number(group_points)} × {format_number(m.base_points)}"
                f" = {format_money(part)}"
            )
            adjust = part - round_money(share * m.base_points / group_points)
            if adjust:
                # Say where the odd cent went, or the basis would not check out by hand.
                text += f"（含尾差 {adjust:+.2f}，使分摊合计等于 {format_money(share)}）"
            add(m.id, part, text)
    return [Charge(pid, case_id, kind, owed[pid], "；".join(bases[pid])) for pid in owed]


# --------------------------------------------------------------------------- monthly cap and carry-over


@dataclass(frozen=True)
class CapRule:
    """Monthly cap: deductions of `kinds` are limited to `ratio` × that month's bonus; the excess is carried."""

    ratio: Decimal
    kinds: frozenset[str]
    max_months: int = 36

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> CapRule:
        """Build from `{"ratio": 0.5, "kinds": ["economic"], "max_months": 36}`."""
        if not isinstance(spec, Mapping):
            raise PenaltyInputError("monthly cap: must be a mapping")
        unknown = set(spec) - {"ratio", "kinds", "max_months"}
        if unknown:
            raise PenaltyInputError(f"monthly cap: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        if "ratio" not in spec:
            raise PenaltyInputError("monthly cap: 'ratio' is required")
        ratio = _quantity(spec["ratio"], "monthly cap: ratio")
        kinds = spec.get("kinds")
        if isinstance(kinds, str) or not isinstance(kinds, Sequence) or not all(isinstance(k, str) for k in kinds):
            raise PenaltyInputError("monthly cap: 'kinds' must be a list of penalty kinds")
        months = spec.get("max_months", 36)
        rule = cls(ratio, frozenset(kinds), _count(months, "monthly cap: max_months"))
        rule.check()
        return rule

    def check(self) -> None:
        """Refuse a ratio outside (0, 1]: zero would defer everything forever, above 1 is no cap."""
        if not isinstance(self.ratio, Decimal) or not 0 < self.ratio <= 1:
            raise PenaltyInputError(f"monthly cap: ratio {self.ratio!r} must be a Decimal above 0 and at most 1")


@dataclass(frozen=True)
class MonthlyDeduction:
    """One person's deductions for a month.

    Invariant: deducted_this_month + sum(carried_over amounts) + unscheduled == owed, to the cent.
    `sources` is (source, deducted now, deferred) for each capped source in deduction order.
    """

    person_id: str
    name: str
    month: str
    owed: Decimal
    deducted_this_month: Decimal
    carried_over: tuple[tuple[str, Decimal], ...]
    unscheduled: Decimal
    cap: Decimal
    cap_applied: bool
    basis: str
    sources: tuple[tuple[str, Decimal, Decimal], ...] = ()


def add_months(month: str, n: int) -> str:
    """'2024-11' + 3 -> '2025-02'."""
    m = _MONTH.match(month) if isinstance(month, str) else None
    if m is None:
        raise PenaltyInputError(f"month {month!r} is not YYYY-MM")
    index = int(m.group(1)) * 12 + int(m.group(2)) - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def monthly_deductions(
    month: str, people: Sequence[Person], charges: Sequence[Charge], rule: CapRule
) -> list[MonthlyDeduction]:
    """Apply the monthly cap to each person who owes something, in the order of `people`.

    Order of deduction within the cap: the balance carried from earlier cases first (oldest debt
    first, so nothing is deferred twice), then this month's capped charges in the order given.
    Charges of kinds outside the cap are deducted in full and do not use up the cap.
    Later months: each instalment is at most ratio × that month's bonus (known following bonuses,
    else the current bonus, said in the basis); a zero-bonus month takes nothing and the schedule
    goes on. After `rule.max_months` any remainder is reported as unscheduled, never dropped.
    """
    rule.check()
    add_months(month, 0)
    index = _people_index(people)
    by_person: dict[str, list[Charge]] = {}
    for c in charges:
        if c.person_id not in index:
            raise PenaltyInputError(
                f"case {c.case_id}: charge for unknown person '{c.person_id}'{did_you_mean(c.person_id, index)}"
            )
        amount = _money(c.amount, f"case {c.case_id}: charge for {c.person_id}")
        by_person.setdefault(c.person_id, []).append(Charge(c.person_id, c.case_id, c.kind, amount, c.basis))
    results = []
    for person in people:
        mine = by_person.get(person.id, [])
        if not mine and person.carried_balance == 0:
            continue
        results.append(_one_person(month, person, mine, rule))
    return results


def _cap_for(bonus: Decimal, rule: CapRule) -> Decimal:
    return cap_money(bonus * rule.ratio)


def _one_person(month: str, person: Person, charges: list[Charge], rule: CapRule) -> MonthlyDeduction:
    pct = format_number(rule.ratio * HUNDRED)
    capped_sources: list[tuple[str, Decimal]] = []
    if person.carried_balance:
        capped_sources.append(("上期结转", person.carried_balance))
    capped_sources += [(c.case_id, c.amount) for c in charges if c.kind in rule.kinds]
    uncapped = [c for c in charges if c.kind not in rule.kinds]
    capped_owed = sum((a for _, a in capped_sources), ZERO)
    uncapped_total = sum((c.amount for c in uncapped), ZERO)
    owed = capped_owed + uncapped_total

    if person.monthly_bonus is None:
        raise PenaltyInputError(f"person {person.id}: the monthly cap needs the month's bonus (monthly_bonus)")
    cap = _cap_for(person.monthly_bonus, rule)
    now_capped = min(capped_owed, cap)
    room = now_capped
    sources = []
    for name, amount in capped_sources:
        take = min(amount, room)
        room -= take
        sources.append((name, take, amount - take))

    parts = [f"{month} 应扣 {format_money(owed)}"]
    listing = [f"{name} {format_money(a)}" for name, a in capped_sources]
    listing += [f"{c.case_id}（{c.kind}，不计上限）{format_money(c.amount)}" for c in uncapped]
    parts[0] += f"（{' + '.join(listing)}）"
    parts.append(
        f"上限 当月奖金 {format_money(person.monthly_bonus)} × {pct}% = {format_money(cap)}，"
        f"计入上限部分本月扣 {format_money(now_capped)}"
    )
    if uncapped:
        parts.append(f"不计上限部分本月全额扣 {format_money(uncapped_total)}")

    remaining = capped_owed - now_capped
    schedule: list[tuple[str, Decimal]] = []
    notes: list[str] = []
    assumed_from = None
    for i in range(1, rule.max_months + 1):
        if remaining == 0:
            break
        later = add_months(month, i)
        if i <= len(person.following_bonuses):
            bonus = person.following_bonuses[i - 1]
        else:
            bonus = person.monthly_bonus
            assumed_from = assumed_from or later
        pay = min(remaining, _cap_for(bonus, rule))
        if bonus == 0:
            notes.append(f"{later} 奖金为 0，顺延")
        schedule.append((later, pay))
        remaining -= pay
    # Trailing zero months carry no instalment; the remainder they leave is reported below.
    while schedule and schedule[-1][1] == 0:
        schedule.pop()
    unscheduled = remaining
    if schedule:
        shown = "，".join(f"{m} {format_money(a)}" for m, a in schedule)
        parts.append(f"超出 {format_money(capped_owed - now_capped)} 逐月分期（每月上限为当月奖金 × {pct}%）：{shown}")
    if assumed_from is not None:
        notes.append(f"{assumed_from} 起奖金未知，按本月奖金 {format_money(person.monthly_bonus)} 估算")
    if unscheduled:
        notes.append(f"{rule.max_months} 个月内无法扣完，尚余 {format_money(unscheduled)} 未排入分期，需人工处理")
    deducted = now_capped + uncapped_total
    if deducted > person.monthly_bonus:
        notes.append(f"注意：本月扣款合计 {format_money(deducted)} 超过当月奖金 {format_money(person.monthly_bonus)}")
    basis = "；".join(parts + notes)
    return MonthlyDeduction(
        person_id=person.id,
        name=person.name,
        month=month,
        owed=owed,
        deducted_this_month=deducted,
        carried_over=tuple(schedule),
        unscheduled=unscheduled,
        cap=cap,
        cap_applied=capped_owed > cap,
        basis=basis,
        sources=tuple(sources),
    )
