"""The `penalties` section of a pack: reads people, faults and records from case facts, runs the
penalty calculators and reports per-person charges with the monthly cap and carry-over schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .expr.pyeval import Compiled, Env, value_or_none
from .money import format_money
from .penalties import (
    AdminScale,
    Attribution,
    CapRule,
    Charge,
    PenaltyInputError,
    Person,
    Responsibility,
    allocate,
    loss_basis,
    monthly_deductions,
)

if TYPE_CHECKING:
    from .compiler import _Compiler
    from .policy import Policy

PERSON_FIELDS = {
    "id": "string",
    "department": ("string",),
    "base_points": ("number", "integer"),
    "monthly_bonus": ("money",),
}


@dataclass(frozen=True)
class Ground:
    label: str
    level: str


@dataclass(frozen=True)
class PenaltySpec:
    ref: str = ""
    when: str | None = None
    people: Compiled | None = None
    # economic penalties (经济处罚准则)
    economic_ref: str = ""
    sold_within_window: Compiled | None = None
    a_grade_price_loss: Compiled | None = None
    actual_loss: Compiled | None = None
    responsibilities: Compiled | None = None
    attribution: Attribution | None = None
    # administrative penalties (行政处罚准则)
    admin_ref: str = ""
    scale: AdminScale | None = None
    grounds: dict[str, Ground] = field(default_factory=dict)
    records: Compiled | None = None
    cap: CapRule | None = None
    # The case facts holding the responsibilities and the records, so an error can point into the case.
    responsibilities_fact: str = ""
    records_fact: str = ""
    # the expressions behind the loss fields, to name what is missing (`actual_loss` → "loss_amount")
    loss_texts: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.people is not None


def compile_penalties(c: _Compiler) -> PenaltySpec:
    raw = c.data.get("penalties")
    if not isinstance(raw, dict) or not c.schema_clean(("penalties",)):
        return PenaltySpec()
    path: tuple[object, ...] = ("penalties",)
    ref = str(raw.get("ref", ""))
    when = c.probe("penalties:when", raw["when"], path + ("when",), ref) if isinstance(raw.get("when"), str) else None
    people = _list_fact(c, path + ("people",), raw.get("people"), _person_fields(raw))
    spec: dict[str, Any] = {"ref": ref, "when": when, "people": people}
    eco = raw.get("economic")
    if isinstance(eco, dict):
        epath = path + ("economic",)
        loss = eco.get("loss") if isinstance(eco.get("loss"), dict) else {}
        spec.update(
            economic_ref=str(eco.get("ref", ref)),
            sold_within_window=_value(
                c, epath + ("loss", "sold_within_window"), loss.get("sold_within_window"), ("boolean",)
            ),
            a_grade_price_loss=_value(
                c, epath + ("loss", "a_grade_price_loss"), loss.get("a_grade_price_loss"), ("money",)
            ),
            actual_loss=_value(c, epath + ("loss", "actual_loss"), loss.get("actual_loss"), ("money",)),
            responsibilities=_list_fact(
                c, epath + ("responsibilities",), eco.get("responsibilities"), {"percent": ("number", "integer")}
            ),
            attribution=_build(c, epath + ("attribution",), Attribution.from_spec, eco.get("attribution")),
            responsibilities_fact=str(eco.get("responsibilities", "")),
            loss_texts={k: str(v) for k, v in loss.items() if isinstance(v, str)},
        )
    adm = raw.get("administrative")
    if isinstance(adm, dict):
        apath = path + ("administrative",)
        scale = _build(c, apath + ("scale",), AdminScale.from_spec, adm.get("scale"))
        grounds: dict[str, Ground] = {}
        for gid, g in (adm.get("grounds") or {}).items():
            if isinstance(g, dict):
                level = str(g.get("level"))
                if scale is not None and level not in scale.levels:
                    from .errors import did_you_mean

                    c.error(
                        apath + ("grounds", gid, "level"),
                        "dangling-ref",
                        f"unknown level '{level}'{did_you_mean(level, scale.levels)}",
                    )
                grounds[str(gid)] = Ground(str(g.get("label", gid)), level)
        spec.update(
            admin_ref=str(adm.get("ref", ref)),
            scale=scale,
            grounds=grounds,
            records=_list_fact(c, apath + ("records",), adm.get("records"), {"person_id": ("string",)}),
            records_fact=str(adm.get("records", "")),
        )
    spec["cap"] = _build(c, path + ("monthly_cap",), CapRule.from_spec, raw.get("monthly_cap"))
    return PenaltySpec(**spec)


def _person_fields(raw: dict[str, Any]) -> dict[str, Any]:
    """The fields the people's items need: payroll fields only where the section uses them, so a
    supplier or contractor is just an id (base points split a group's share, the bonus sets the cap)."""
    eco = raw.get("economic") if isinstance(raw.get("economic"), dict) else None
    adm = raw.get("administrative") if isinstance(raw.get("administrative"), dict) else {}
    needs: dict[str, Any] = {"id": PERSON_FIELDS["id"]}
    if eco is not None:
        needs["department"] = PERSON_FIELDS["department"]
        chains = ((eco.get("attribution") or {}).get("chains") or {}).values()
        if any(target in ("unit", "department") for chain in chains if isinstance(chain, list) for target in chain):
            needs["base_points"] = PERSON_FIELDS["base_points"]
    levels = ((adm.get("scale") or {}).get("levels") or {}).values()
    by_bonus = any(isinstance(lv, dict) and lv.get("per") == "monthly_bonus" for lv in levels)
    if raw.get("monthly_cap") is not None or by_bonus:
        needs["monthly_bonus"] = PERSON_FIELDS["monthly_bonus"]
    return needs


def _value(c: _Compiler, path: tuple[object, ...], raw: Any, kinds: tuple[str, ...]) -> Compiled | None:
    return c.value_expr(path, raw, kinds) if isinstance(raw, str) else None


def _build(c: _Compiler, path: tuple[object, ...], factory, raw: Any) -> Any:
    if raw is None:
        return None
    try:
        return factory(raw)
    except PenaltyInputError as exc:
        c.error(path, "penalties", str(exc))
        return None


def _list_fact(c: _Compiler, path: tuple[object, ...], raw: Any, needs: dict[str, Any]) -> Compiled | None:
    """A fact holding a list of objects that carry at least the fields in `needs`."""
    if not isinstance(raw, str):
        return None
    fact = next((f for f in c.facts if f.name == raw), None)
    item = fact.type.item if fact and fact.type.kind == "list" else None
    if item is None or item.kind != "object":
        c.error(path, "type-error", f"'{raw}' must be a fact holding a list of objects")
        return None
    for name in needs:
        if item.field(name) is None:
            c.error(path, "type-error", f"the items of '{raw}' need a field '{name}'")
    return c.value_expr(path, raw, ("list",))


@dataclass
class PenaltyResult:
    penalties: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def compute(
    policy: Policy, facts: dict[str, Any], findings: dict[str, Any], probes: frozenset[str], now: datetime, case_id: str
) -> PenaltyResult:
    spec: PenaltySpec = policy.penalties
    out = PenaltyResult()
    if not spec:
        return out
    env = Env(facts, findings, now, policy.timezone)
    if spec.when is not None and spec.when not in probes:
        _report_unused(policy, spec, env, out)
        return out
    people = [_person(p) for p in value_or_none(spec.people, env) or ()]
    if not people:
        if value_or_none(spec.responsibilities, env) or value_or_none(spec.records, env):
            out.warnings.append(
                {
                    "code": "penalty-people-missing",
                    "message": "有责任归属或处分记录，但未提供相关人员（people），无法计算罚扣",
                    "ref": spec.ref,
                }
            )
        return out
    case = case_id or "-"
    charges: list[tuple[Charge, str]] = []
    responsibilities = value_or_none(spec.responsibilities, env)
    lacking = _lacking_loss(spec, env) if spec.attribution is not None and responsibilities else None
    if lacking is not None:
        # The loss cannot be allocated; administrative penalties, timers and the rest still stand.
        out.warnings.append(
            {
                "code": "penalty-not-computable",
                "message": f"case {case}: the economic penalty cannot be computed: {lacking} not given "
                f"(penalties.economic.loss); the other penalties stand",
                "ref": spec.economic_ref or spec.ref,
            }
        )
    elif spec.attribution is not None and responsibilities:
        if spec.sold_within_window is None:
            # The pack has no resale window: the actual loss, without talk of one.
            actual = value_or_none(spec.actual_loss, env)
            if actual is None:
                raise PenaltyInputError(f"case {case}: the actual loss is not given")
            loss, loss_text = actual, f"按实际损失计 {format_money(actual)}"
        else:
            loss, loss_text = loss_basis(
                value_or_none(spec.sold_within_window, env),
                value_or_none(spec.a_grade_price_loss, env),
                value_or_none(spec.actual_loss, env),
            )
        parties = [
            Responsibility(r.get("department"), r.get("person_id"), r.get("unit"), r.get("percent"), r.get("share"))
            for r in responsibilities
        ]
        try:
            allocated = allocate(case, loss, parties, people, spec.attribution)
        except PenaltyInputError as exc:
            raise PenaltyInputError(str(exc), exc.path or ("facts", spec.responsibilities_fact)) from None
        for charge in allocated:
            charges.append(
                (
                    Charge(
                        charge.person_id, charge.case_id, charge.kind, charge.amount, f"{loss_text}；{charge.basis}"
                    ),
                    spec.economic_ref,
                )
            )
    for i, record in enumerate(value_or_none(spec.records, env) or ()):
        if spec.scale is None:
            break
        where = ("facts", spec.records_fact, i)
        # Every message names the case, the record and the person, and points at the record in the case.
        what = f"case {case}, {spec.records_fact}[{i}]"
        ground = spec.grounds.get(record.get("ground", ""))
        level = record.get("level") or (ground.level if ground else None)
        if level is None:
            raise PenaltyInputError(f"{what} ({record.get('person_id')}): names no level or ground", where)
        person = next((p for p in people if p.id == record.get("person_id")), None)
        if person is None:
            from .errors import did_you_mean

            hint = did_you_mean(str(record.get("person_id")), [p.id for p in people])
            raise PenaltyInputError(f"{what}: unknown person '{record.get('person_id')}'{hint}", where + ("person_id",))
        try:
            amount, basis = spec.scale.amount(
                level,
                record.get("count", 1),
                record.get("bases"),
                person.monthly_bonus,
                rate=record.get("rate"),
            )
        except PenaltyInputError as exc:
            raise PenaltyInputError(f"{what} ({person.id} {person.name}): {exc}", where) from None
        if ground:
            basis = f"{ground.label}：{basis}"
        charges.append((Charge(str(record.get("person_id")), case, level, amount, basis), spec.admin_ref))
    if not charges:
        return out
    month = now.astimezone(policy.timezone).strftime("%Y-%m")
    # Without a monthly cap in the pack every charge is deducted in full this month.
    monthly = (
        {m.person_id: m for m in monthly_deductions(month, people, [c for c, _ in charges], spec.cap)}
        if spec.cap
        else {}
    )
    for person in people:
        own = [(c, ref) for c, ref in charges if c.person_id == person.id]
        if not own:
            continue
        m = monthly.get(person.id)
        entry: dict[str, Any] = {
            "person": person.id,
            "name": person.name,
            "department": person.department,
            "unit": person.unit,
            "charges": [
                {"kind": c.kind, "amount": format_money(c.amount), "basis": c.basis, "ref": ref, "case_id": c.case_id}
                for c, ref in own
            ],
            "ref": spec.ref,
            "month": month,
        }
        if m is None:
            owed = sum((c.amount for c, _ in own), Decimal(0))
            entry.update({"owed": format_money(owed), "deducted_this_month": format_money(owed), "carried_over": []})
        else:
            entry.update(
                {
                    "owed": format_money(m.owed),
                    "cap": format_money(m.cap),
                    "cap_applied": m.cap_applied,
                    "deducted_this_month": format_money(m.deducted_this_month),
                    "carried_over": [{"month": mo, "amount": format_money(a)} for mo, a in m.carried_over],
                    "unscheduled": format_money(m.unscheduled),
                    "basis": m.basis,
                }
            )
        out.penalties.append(entry)
    return out


def _report_unused(policy: Policy, spec: PenaltySpec, env: Env, out: PenaltyResult) -> None:
    """The case gives penalty inputs but the section's condition does not hold: say so, never drop them silently."""
    given = []
    for fact, expr in ((spec.records_fact, spec.records), (spec.responsibilities_fact, spec.responsibilities)):
        items = value_or_none(expr, env) if expr is not None else None
        if items:
            names = sorted({str(x.get("person_id") or x.get("unit") or x.get("department")) for x in items})
            given.append(f"{fact}（{len(items)} 条：{'、'.join(names)}）")
    if not given:
        return
    condition = next((r.when_text for r in policy.rules if r.id == spec.when), spec.when)
    out.warnings.append(
        {
            "code": "penalty-inputs-ignored",
            "message": f"案件提供了 {'、'.join(given)}，但罚扣条件 `{condition}` 不成立，未计罚扣 "
            f"(the penalty section applies only when `{condition}` holds)",
            "ref": spec.ref,
        }
    )


def _lacking_loss(spec: PenaltySpec, env: Env) -> str | None:
    """The loss fact this case needs and lacks (named as the pack wrote it), or None."""
    sold = value_or_none(spec.sold_within_window, env) if spec.sold_within_window is not None else None
    field_name = "a_grade_price_loss" if sold is True else "actual_loss"
    compiled = spec.a_grade_price_loss if sold is True else spec.actual_loss
    if value_or_none(compiled, env) is None:
        return spec.loss_texts.get(field_name, field_name)
    return None


def _person(raw: dict[str, Any]) -> Person:
    return Person(
        str(raw.get("id")),
        str(raw.get("name", raw.get("id"))),
        str(raw.get("department")),
        raw.get("unit"),
        raw.get("base_points"),
        raw.get("monthly_bonus"),
        tuple(raw.get("following_bonuses") or ()),
        raw.get("carried_balance") or 0,
    )
