"""The `amounts:` section: fines charged to any party and amounts owed to the customer, each with its formula."""

# An item is one amount a clause sets: a unit amount (a fixed rate, a percentage of a fact, or a level's
# decided amount between its minimum and maximum), raised to a floor, times a quantity (hours or days a
# timer is late, or a counted fact), times a multiplier (a number rules set, e.g. ×2). The basis shows the
# formula with the numbers, in the pack's own words: `货款 12,800.00 × 5% = 640.00；640.00 × 6 日 × 2 = 7,680.00`.
# An item that lacks a fact is reported as not computable (naming the fact and the expression) and the
# rest of the decision stands.

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from .errors import Location, did_you_mean
from .expr import ir
from .expr.pyeval import Compiled, Env, compile_expr, value_or_none
from .money import format_number, round_money

if TYPE_CHECKING:
    from .compiler import _Compiler
    from .policy import Policy

FINE = "fine"
TO_CUSTOMER = ("compensation", "refund")
KINDS = (FINE, *TO_CUSTOMER)
UNITS = {"day": timedelta(days=1), "hour": timedelta(hours=1)}
WORDING = {"day": "日", "hour": "小时", "floor": "不低于", "count": "次"}
HUNDRED = Decimal(100)


def money_text(value: Decimal) -> str:
    """An amount as people read it on a notice: 7,680.00."""
    return f"{round_money(value):,.2f}"


@dataclass(frozen=True)
class Expr:
    """A value expression with its text and the facts/findings it reads, to say what is missing."""

    text: str
    fn: Compiled
    reads: tuple[str, ...]
    label: str

    def value(self, env: Env) -> Any:
        return value_or_none(self.fn, env)


@dataclass(frozen=True)
class Level:
    id: str
    label: str
    minimum: Decimal
    maximum: Decimal | None
    where: Location


@dataclass(frozen=True)
class Per:
    timer: str | None = None
    unit: str = "day"
    rounding: str = "up"
    count: Expr | None = None
    unit_label: str | None = None


@dataclass(frozen=True)
class Item:
    id: str
    label: str
    ref: str
    kind: str
    when: str | None
    party: Expr | None
    rate: Decimal | None
    percent: Decimal | None
    of: Expr | None
    level: str | None
    amount: Expr | None
    floor: Decimal | None
    per: Per | None
    multiplier: Expr | None
    table: str | None


@dataclass(frozen=True)
class AmountSpec:
    ref: str = ""
    wording: dict[str, str] = field(default_factory=dict)
    parties: Expr | None = None
    levels: dict[str, Level] = field(default_factory=dict)
    items: tuple[Item, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.items)


# ------------------------------------------------------------------------------------------------
# compile
# ------------------------------------------------------------------------------------------------
def compile_amounts(c: _Compiler) -> AmountSpec:
    raw = c.data.get("amounts")
    if not isinstance(raw, dict) or not c.schema_clean(("amounts",)):
        return AmountSpec()
    base: tuple[object, ...] = ("amounts",)
    ref = str(raw.get("ref", ""))
    wording = {**WORDING, **{str(k): str(v) for k, v in (raw.get("wording") or {}).items()}}
    parties = _expr(c, base + ("parties",), raw.get("parties"), ("list",)) if "parties" in raw else None
    if parties is not None:
        fact = next((f for f in c.facts if f.name == raw["parties"]), None)
        item = fact.type.item if fact is not None else None
        if item is None or item.kind != "object" or item.field("id") is None:
            c.error(
                base + ("parties",), "type-error", f"'{raw['parties']}' must be a list fact of objects with an `id`"
            )
            parties = None
    levels: dict[str, Level] = {}
    for lid, lv in (raw.get("levels") or {}).items():
        minimum, maximum = Decimal(str(lv["min"])), Decimal(str(lv["max"])) if "max" in lv else None
        if maximum is not None and maximum < minimum:
            c.error(base + ("levels", lid, "max"), "amounts", f"level '{lid}': max {maximum} is below min {minimum}")
        where = c.loc(base + ("levels", lid, "max" if "max" in lv else "min"))
        levels[str(lid)] = Level(str(lid), str(lv.get("label", lid)), minimum, maximum, where)
    items = []
    tables = policy_tables(c)
    for i, spec in enumerate(raw.get("items") or []):
        item = _item(c, base + ("items", i), spec, ref, levels, tables)
        if item is not None:
            items.append(item)
    c.unique_ids(base + ("items",), raw.get("items"))
    return AmountSpec(ref, wording, parties, levels, tuple(items))


def policy_tables(c: _Compiler) -> set[str]:
    return {spec["id"] for _, spec in c.entries("tables")}


def _expr(c: _Compiler, path: tuple[object, ...], text: Any, kinds: tuple[str, ...]) -> Expr | None:
    if not isinstance(text, str):
        return None
    typed = c._typed(path, text, boolean=False)
    if typed is None:
        return None
    if typed.type is None or typed.type.kind not in kinds:
        c.error(path, "type-error", f"expected {' or '.join(kinds)}, this is {typed.type}")
        return None
    reads = tuple(dict.fromkeys(".".join(p.names) for p in ir.paths(typed)))
    label = text
    if isinstance(typed, ir.Path) and typed.names[0] != "findings":
        fact = next((f for f in c.facts if f.name == typed.names[0]), None)
        label = fact.label.zh if fact is not None and len(typed.names) == 1 else text
    return Expr(text, compile_expr(typed), reads, label)


_NUMBERS = ("number", "integer", "money")


def _item(
    c: _Compiler, path: tuple[object, ...], spec: dict[str, Any], ref: str, levels: dict[str, Level], tables: set[str]
) -> Item | None:
    iid, kind = spec["id"], spec.get("kind", FINE)
    item_ref = str(spec.get("ref", ref))
    when = c.probe(f"amount:{iid}?when", spec["when"], path + ("when",), item_ref) if "when" in spec else None
    party = _expr(c, path + ("party",), spec.get("party"), ("string", "enum"))
    if kind == FINE and "party" not in spec:
        c.error(path, "missing-field", f"fine '{iid}' needs `party`: an expression naming who pays")
    if kind != FINE and "party" in spec:
        c.error(path + ("party",), "amounts", f"a {kind} is owed to the customer: drop `party`")
    rate = spec.get("rate")
    fixed = percent = None
    of = None
    if isinstance(rate, dict):
        percent = Decimal(str(rate["percent"]))
        of = _expr(c, path + ("rate", "of"), rate.get("of"), ("money", "number", "integer"))
    elif rate is not None:
        fixed = Decimal(str(rate))
    level = spec.get("level")
    if level is not None and level not in levels:
        c.error(path + ("level",), "dangling-ref", f"unknown level '{level}'{did_you_mean(str(level), levels)}")
    amount = _expr(c, path + ("amount",), spec.get("amount"), _NUMBERS) if "amount" in spec else None
    if _is_number(spec.get("amount")) and not isinstance(spec.get("amount"), str):
        fixed_amount = Decimal(str(spec["amount"]))  # a literal amount: the same in every case
        amount = Expr(str(fixed_amount), lambda env: fixed_amount, (), str(fixed_amount))
    if "amount" in spec and level is None and "table" not in spec:
        c.error(
            path + ("amount",), "amounts", "`amount` is the amount decided within a level: give `level` (or `table`)"
        )
    literal = spec.get("amount")
    if level in levels and _is_number(literal):
        lv = levels[level]
        if lv.maximum is not None and Decimal(str(literal)) > lv.maximum:
            c.error(
                path + ("amount",),
                "amount-above-maximum",
                f"{literal} is above the maximum {money_text(lv.maximum)} of level '{level}' ({lv.where})",
            )
    table = spec.get("table")
    if table is not None and table not in tables:
        c.error(path + ("table",), "dangling-ref", f"unknown table '{table}'{did_you_mean(str(table), tables)}")
    sources = sum(x is not None for x in (rate, level, table))
    if sources != 1:
        c.error(path, "amounts", f"item '{iid}' needs exactly one of `rate`, `level` or `table`")
    per = _per(c, path + ("per",), spec.get("per"))
    multiplier = _expr(c, path + ("multiplier",), spec.get("multiplier"), _NUMBERS) if "multiplier" in spec else None
    floor = Decimal(str(spec["floor"])) if "floor" in spec else None
    return Item(
        iid,
        str(spec.get("label", iid)),
        item_ref,
        kind,
        when,
        party,
        fixed,
        percent,
        of,
        level if isinstance(level, str) else None,
        amount,
        floor,
        per,
        multiplier,
        table if isinstance(table, str) else None,
    )


def _is_number(value: Any) -> bool:
    try:
        Decimal(str(value))
    except ArithmeticError:
        return False
    return not isinstance(value, bool)


def _per(c: _Compiler, path: tuple[object, ...], raw: Any) -> Per | None:
    if not isinstance(raw, dict):
        return None
    if "timer" in raw:
        timers = {spec["id"] for _, spec in c.entries("timers")}
        if raw["timer"] not in timers:
            c.error(
                path + ("timer",),
                "dangling-ref",
                f"unknown timer '{raw['timer']}'{did_you_mean(str(raw['timer']), timers)}",
            )
        return Per(timer=str(raw["timer"]), unit=str(raw.get("unit", "day")), rounding=str(raw.get("rounding", "up")))
    count = _expr(c, path + ("count",), raw.get("count"), ("number", "integer"))
    return Per(count=count, unit_label=str(raw["unit"]) if "unit" in raw else None)


# ------------------------------------------------------------------------------------------------
# compute
# ------------------------------------------------------------------------------------------------
@dataclass
class AmountResult:
    fines: list[dict[str, Any]] = field(default_factory=list)
    owed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)


class _Stop(Exception):
    """This item cannot be computed: `status` says why, `fields` name what."""

    def __init__(self, status: str, message: str, **fields: Any):
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields


class _Skip(Exception):
    """This item owes nothing in this case (its timer was not late)."""


def compute(
    policy: Policy,
    facts: dict[str, Any],
    findings: dict[str, Any],
    probes: frozenset[str],
    now: datetime,
    case_id: str,
    timers: list[dict[str, Any]],
) -> AmountResult:
    spec: AmountSpec = policy.amounts
    out = AmountResult()
    if not spec:
        return out
    env = Env(facts, findings, now, policy.timezone)
    by_timer = {t["id"]: t for t in timers if t.get("kind") == "timer"}
    for item in spec.items:
        if item.when is not None and item.when not in probes:
            continue
        for level, rate, label, ref, row in _sources(policy, item, probes):
            entry: dict[str, Any] = {"id": item.id, "label": label, "kind": item.kind, "ref": ref}
            if row is not None:
                entry.update({"table": item.table, "row": row})
                out.rows.append(f"{item.table}#{row}")
            try:
                # The amount first: an item that owes nothing (its timer was not late) needs no payer.
                amount, formula = _amount(spec, item, env, by_timer, level, rate)
                if item.kind == FINE:
                    entry.update(_party(spec, item, env))
            except _Skip:
                continue
            except _Stop as stop:
                entry.update({"status": stop.status, "amount": None, "basis": stop.message, **stop.fields})
                code = "amount-not-computable" if stop.status == "not_computable" else "amount-out-of-range"
                out.warnings.append(
                    {"code": code, "message": f"case {case_id or '-'}: {label} ({item.id}): {stop.message}", "ref": ref}
                )
            else:
                entry.update({"status": "computed", "amount": f"{amount:.2f}", "basis": formula})
            (out.fines if item.kind == FINE else out.owed).append(entry)
    return out


def _sources(policy: Policy, item: Item, probes: frozenset[str]):
    """(level, fixed rate, label, ref, table row) for each amount the item makes: one, or one per table row."""
    if item.table is None:
        yield item.level, item.rate, item.label, item.ref, None
        return
    table = policy.authority.tables[item.table]
    rows_of = policy.authority.row_probes[item.table]
    matched = sorted(rows_of[pid] for pid in probes if pid in rows_of)
    for row in table.select(matched):
        out = row.outputs
        rate = Decimal(str(out["rate"])) if out.get("rate") is not None else None
        level = str(out["level"]) if out.get("level") is not None else None
        if rate is None and level is None:
            continue  # a row that sets no fine (e.g. "no violation")
        label = str(out.get("label", item.label))
        yield level, rate, label, row.ref or item.ref, row.index + 1


def _missing(expr: Expr, what: str) -> _Stop:
    names = ", ".join(expr.reads) or expr.text
    return _Stop(
        "not_computable",
        f"{what} cannot be computed: {names} not given (expression `{expr.text}`)",
        missing=list(expr.reads),
        expression=expr.text,
    )


def _party(spec: AmountSpec, item: Item, env: Env) -> dict[str, Any]:
    if item.party is None:
        return {}  # compile refuses a fine without a party; nothing to name here
    pid = item.party.value(env)
    if pid is None:
        raise _missing(item.party, "who pays")
    name = str(pid)
    register = spec.parties.value(env) if spec.parties is not None else None
    if spec.parties is not None and register is not None:
        # A case without the register names the party by its id; a register that lacks it is a mistake.
        known = {str(p.get("id")): p for p in register if isinstance(p, dict)}
        if str(pid) not in known:
            raise _Stop(
                "not_computable",
                f"party '{pid}' is not in {spec.parties.text}{did_you_mean(str(pid), known)}",
                missing=[spec.parties.text],
                expression=item.party.text,
                party=str(pid),
            )
        name = str(known[str(pid)].get("name", pid))
    return {"party": str(pid), "party_name": name}


def _amount(
    spec: AmountSpec, item: Item, env: Env, timers: dict[str, dict[str, Any]], level: str | None, rate: Decimal | None
) -> tuple[Decimal, str]:
    w = spec.wording
    steps: list[str] = []
    # How many days or hours first: an item whose timer was not late owes nothing and needs no other fact.
    quantity = _quantity(item.per, env, timers, w) if item.per is not None else None
    if level is not None:
        lv = spec.levels.get(level)
        if lv is None:
            raise _Stop("not_computable", f"unknown level '{level}'{did_you_mean(level, spec.levels)}")
        decided = lv.minimum
        if item.amount is not None:
            value = item.amount.value(env)
            if value is None:
                raise _missing(item.amount, "the decided amount")
            decided = Decimal(value)
        bounds = (
            f"{money_text(lv.minimum)}–{money_text(lv.maximum)}"
            if lv.maximum is not None
            else f"≥ {money_text(lv.minimum)}"
        )
        if lv.maximum is not None and decided > lv.maximum:
            raise _Stop(
                "out_of_range",
                f"{money_text(decided)} is above the maximum {money_text(lv.maximum)} of level '{lv.id}' ({lv.where})",
            )
        if decided < lv.minimum:
            raise _Stop(
                "out_of_range",
                f"{money_text(decided)} is below the minimum {money_text(lv.minimum)} of level '{lv.id}' ({lv.where})",
            )
        unit = decided
        steps.append(f"{lv.label}（{bounds}）{money_text(unit)}")
    elif item.percent is not None and item.of is not None:
        base = item.of.value(env)
        if base is None:
            raise _missing(item.of, "the base of the percentage")
        unit = round_money(Decimal(base) * item.percent / HUNDRED)
        steps.append(
            f"{item.of.label} {money_text(Decimal(base))} × {format_number(item.percent)}% = {money_text(unit)}"
        )
    else:
        unit = rate if rate is not None else Decimal(0)
    if item.floor is not None and unit < item.floor:
        steps.append(f"{w['floor']} {money_text(item.floor)}，按 {money_text(item.floor)} 计")
        unit = item.floor
    factors = [money_text(unit)]
    total = unit
    if quantity is not None:
        total *= quantity[0]
        factors.append(quantity[1])
    if item.multiplier is not None:
        m = item.multiplier.value(env)
        if m is None:
            raise _missing(item.multiplier, "the multiplier")
        m = Decimal(m)
        total *= m
        if m != 1:
            factors.append(format_number(m))
    total = round_money(total)
    if len(factors) > 1:
        steps.append(f"{' × '.join(factors)} = {money_text(total)}")
    elif not steps or level is None and item.percent is None:
        steps.append(money_text(total))
    return total, "；".join(steps)


def _quantity(per: Per, env: Env, timers: dict[str, dict[str, Any]], w: dict[str, str]) -> tuple[Decimal, str]:
    if per.timer is not None:
        t = timers.get(per.timer)
        if t is None:
            raise _Skip  # the timer does not apply to this case
        if t["status"] == "unknown":
            raise _Stop(
                "not_computable",
                f"timer '{per.timer}' has no due time (see the calendar warning), so how late is unknown",
                missing=[f"timer:{per.timer}"],
                expression=f"timer:{per.timer}",
            )
        if t["status"] != "breached" or not t.get("due_at"):
            raise _Skip
        due = datetime.fromisoformat(t["due_at"])
        end = datetime.fromisoformat(t["stopped_at"]) if t.get("stopped_at") else env.now
        ratio = (end - due) / UNITS[per.unit]
        n = math.ceil(ratio) if per.rounding == "up" else math.floor(ratio)
        if n <= 0:
            raise _Skip
        return Decimal(n), f"{n} {w.get(per.unit, per.unit)}"
    if per.count is None:
        raise _Skip  # the schema requires `timer` or `count`; compile has reported it
    value = per.count.value(env)
    if value is None:
        raise _missing(per.count, "the quantity")
    n = Decimal(value)
    return n, f"{format_number(n)} {per.unit_label or w['count']}"
