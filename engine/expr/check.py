"""Type checking of the IR: resolves paths against the vocabulary and folds literal calls."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from ..errors import did_you_mean
from ..types import ANY, BOOLEAN, DATE, DATETIME, DURATION, INTEGER, MONEY, NUMBER, STRING, Type, comparable, list_of
from . import ir
from .functions import FUNCTIONS, ArgError
from .parser import ExprError


@dataclass(frozen=True)
class Scope:
    """Names an expression may read: declared facts and findings."""

    facts: dict[str, Type]
    findings: dict[str, Type] = field(default_factory=dict)
    tz: ZoneInfo = ZoneInfo("Asia/Shanghai")
    calendar: Any = None  # the pack's first business calendar, for working_days_between


def check(node: ir.Node, scope: Scope, *, want_boolean: bool = True) -> ir.Node:
    """Return the typed tree, or raise ExprError at the offending offset."""
    typed = _Checker(scope).visit(node)
    if want_boolean and typed.type != BOOLEAN:
        raise ExprError("type-error", f"a condition must be true or false, this is {typed.type}", node.pos)
    return typed


def _arith_type(op: str, a: Type, b: Type, pos: int) -> Type:
    k = (a.kind, b.kind)
    if a.numeric and b.numeric:
        if op == "%":
            if k != ("integer", "integer"):
                raise ExprError("type-error", "% needs two integers", pos)
            return INTEGER
        if "money" in k:
            if op in ("+", "-"):
                return MONEY
            if op == "*":
                if k == ("money", "money"):
                    raise ExprError("type-error", "cannot multiply money by money", pos)
                return MONEY
            return (
                NUMBER
                if k == ("money", "money")
                else MONEY
                if a.kind == "money"
                else _fail(pos, "cannot divide a number by money")
            )
        if op == "/":
            return NUMBER
        return INTEGER if k == ("integer", "integer") else NUMBER
    table = {
        ("+", "datetime", "duration"): DATETIME,
        ("+", "duration", "datetime"): DATETIME,
        ("-", "datetime", "duration"): DATETIME,
        ("-", "datetime", "datetime"): DURATION,
        ("+", "date", "duration"): DATE,
        ("+", "duration", "date"): DATE,
        ("-", "date", "duration"): DATE,
        ("-", "date", "date"): DURATION,
        ("+", "duration", "duration"): DURATION,
        ("-", "duration", "duration"): DURATION,
        ("/", "duration", "duration"): NUMBER,
        ("+", "string", "string"): STRING,
    }
    if (op, *k) in table:
        return table[(op, *k)]
    if a.kind == "duration" and b.numeric and op in ("*", "/"):
        return DURATION
    if b.kind == "duration" and a.numeric and op == "*":
        return DURATION
    raise ExprError("type-error", f"cannot apply '{op}' to {a} and {b}", pos)


def _fail(pos: int, message: str) -> Type:
    raise ExprError("type-error", message, pos)


def unify(a: Type, b: Type) -> Type | None:
    """The type of a value that is either an `a` or a `b` (branches of ?: and ??), None when they differ."""
    if a == b or b.kind == "any":
        return a
    if a.kind == "any":
        return b
    if a.numeric and b.numeric:
        return MONEY if "money" in (a.kind, b.kind) else NUMBER
    if a.kind == b.kind == "string":
        return STRING  # an enum and a text, or two enums: a text
    if a.kind == b.kind == "list" and a.item is not None and b.item is not None:
        item = unify(a.item, b.item)
        return list_of(item) if item is not None else None
    if a.kind == b.kind == "object":
        # objects with different fields: every field of either (absent where a branch lacks it)
        fa, fb = dict(a.fields), dict(b.fields)
        fields = []
        for name in dict.fromkeys([*fa, *fb]):
            t = unify(fa[name], fb[name]) if name in fa and name in fb else fa.get(name) or fb[name]
            if t is None:
                return None
            fields.append((name, t))
        return Type("object", fields=tuple(fields))
    return None


# Functions whose second argument is a predicate (or, for map, a value) over `#`, the list item.
LIST_FUNCTIONS = {
    "any": "true when the predicate holds for some item: any(items, # > 3)",
    "all": "true when the predicate holds for every item (and for an empty list)",
    "filter": "the items for which the predicate holds: filter(items, #.cost < 100)",
    "map": "the value computed for each item: map(items, #.price * 2)",
    "count": "number of items, or of the items for which the predicate holds: count(items, # > 3)",
    "sum": "sum of a list of numbers or money: sum(items) or sum(items, #.amount)",
}


class _Checker:
    def __init__(self, scope: Scope):
        self.scope = scope
        self.items: list[Type] = []  # types of `#` in the enclosing predicates, innermost last

    def visit(self, node: ir.Node) -> ir.Node:
        method = getattr(self, "_" + type(node).__name__.lower())
        return method(node)

    def _literal(self, node: ir.Literal) -> ir.Node:
        return node

    def _now(self, node: ir.Now) -> ir.Node:
        return dataclasses.replace(node, type=DATETIME)

    def _path(self, node: ir.Path) -> ir.Node:
        root, rest = node.names[0], node.names[1:]
        if root == "findings":
            if not rest:
                raise ExprError("unknown-name", "name a finding: findings.<id>", node.pos)
            # A dotted finding (`refund.amount`) is one name: the longest declared prefix wins.
            for k in range(len(rest), 0, -1):
                fid = ".".join(rest[:k])
                if fid in self.scope.findings:
                    t = self.scope.findings[fid]
                    node = dataclasses.replace(node, names=("findings", fid, *rest[k:]))
                    rest = rest[k:]
                    break
            else:
                hint = did_you_mean(rest[0], self.scope.findings)
                raise ExprError("unknown-finding", f"unknown finding '{rest[0]}'{hint}", node.pos)
        else:
            t = self.scope.facts.get(root)
            if t is None:
                hint = did_you_mean(root, list(self.scope.facts) + ["findings", "now"])
                fn_hint = " (functions are called with parentheses)" if root in FUNCTIONS else ""
                raise ExprError("unknown-fact", f"unknown fact '{root}'{hint}{fn_hint}", node.pos)
        for name in rest:
            if t.kind != "object":
                raise ExprError("type-error", f"'{name}': {t} has no fields", node.pos)
            sub = t.field(name)
            if sub is None:
                hint = did_you_mean(name, [n for n, _ in t.fields])
                raise ExprError("unknown-fact", f"unknown field '{name}'{hint}", node.pos)
            t = sub
        return dataclasses.replace(node, type=t)

    def _item(self, node: ir.Item) -> ir.Node:
        if not self.items:
            raise ExprError(
                "unknown-name", "'#' stands for the list item inside any/all/filter/map/count/sum", node.pos
            )
        t = self.items[-1]
        for name in node.names:
            sub = t.field(name) if t.kind == "object" else None
            if sub is None:
                hint = did_you_mean(name, [n for n, _ in t.fields]) if t.kind == "object" else ""
                raise ExprError("type-error", f"the item ({t}) has no field '{name}'{hint}", node.pos)
            t = sub
        return dataclasses.replace(node, type=t)

    def _cond(self, node: ir.Cond) -> ir.Node:
        test = self.visit(node.test)
        if test.type != BOOLEAN:
            raise ExprError("type-error", f"the test before '?' must be true or false, this is {test.type}", test.pos)
        then, other = self.visit(node.then), self.visit(node.other)
        t = unify(then.type, other.type)
        if t is None:
            raise ExprError("type-error", f"the branches of '?:' differ: {then.type} and {other.type}", node.pos)
        return dataclasses.replace(node, type=t, test=test, then=then, other=other)

    def _coalesce(self, node: ir.Coalesce) -> ir.Node:
        left, right = self.visit(node.left), self.visit(node.right)
        t = unify(left.type, right.type)
        if t is None:
            raise ExprError("type-error", f"the sides of '??' differ: {left.type} and {right.type}", node.pos)
        return dataclasses.replace(node, type=t, left=left, right=right)

    def _objectlit(self, node: ir.ObjectLit) -> ir.Node:
        values = tuple(self.visit(v) for v in node.values)
        fields = tuple((k, v.type) for k, v in zip(node.keys, values, strict=True))
        return dataclasses.replace(node, type=Type("object", fields=fields), values=values)

    def _list_call(self, node: ir.Call) -> ir.Node:
        name = node.name
        nargs = len(node.args)
        if nargs not in ((2,) if name in ("any", "all", "filter", "map") else (1, 2)):
            want = "a list and a predicate over #" if name != "map" else "a list and a value over #"
            raise ExprError("type-error", f"{name}() takes {want}", node.pos)
        items = self.visit(node.args[0])
        if items.type.kind != "list" or items.type.item is None:
            raise ExprError("type-error", f"{name}(): the first argument must be a list, not {items.type}", items.pos)
        item_type = items.type.item
        args: tuple[ir.Node, ...] = (items,)
        if nargs == 2:
            self.items.append(item_type)
            try:
                body = self.visit(node.args[1])
            finally:
                self.items.pop()
            if name in ("any", "all", "filter", "count") and body.type != BOOLEAN:
                raise ExprError(
                    "type-error", f"{name}(): the predicate must be true or false, not {body.type}", body.pos
                )
            args = (items, body)
            if name in ("map", "sum"):
                item_type = body.type
        if name in ("any", "all"):
            result = BOOLEAN
        elif name == "count":
            result = INTEGER
        elif name == "filter":
            result = items.type
        elif name == "map":
            result = list_of(item_type)
        else:  # sum
            if not item_type.numeric:
                raise ExprError("type-error", f"sum() adds numbers or money, not {item_type}", node.pos)
            result = item_type
        return dataclasses.replace(node, type=result, args=args)

    def _neg(self, node: ir.Neg) -> ir.Node:
        operand = self.visit(node.operand)
        if not (operand.type.numeric or operand.type.kind == "duration"):
            raise ExprError("type-error", f"cannot negate {operand.type}", node.pos)
        if isinstance(operand, ir.Literal):
            return dataclasses.replace(operand, pos=node.pos, value=-operand.value)
        return dataclasses.replace(node, type=operand.type, operand=operand)

    def _arith(self, node: ir.Arith) -> ir.Node:
        left, right = self.visit(node.left), self.visit(node.right)
        t = _arith_type(node.op, left.type, right.type, node.pos)
        if isinstance(left, ir.Literal) and isinstance(right, ir.Literal):
            # Fold constants now: both evaluators then see one literal (durable-rules mis-adds two).
            from .pyeval import MISSING, arith

            value = arith(node.op, left.value, right.value)
            if value is MISSING:
                raise ExprError("type-error", "division by zero", node.pos)
            return ir.Literal(node.pos, t, value)
        return dataclasses.replace(node, type=t, left=left, right=right)

    def _compare(self, node: ir.Compare) -> ir.Node:
        left, right = self.visit(node.left), self.visit(node.right)
        if not comparable(left.type, right.type):
            raise ExprError("type-error", f"cannot compare {left.type} with {right.type}", node.pos)
        if node.op not in ("==", "!=") and left.type.kind in ("boolean", "list", "object"):
            raise ExprError("type-error", f"'{node.op}' does not order {left.type} values", node.pos)
        self._enum_literal(left, right)
        self._enum_literal(right, left)
        return dataclasses.replace(node, type=BOOLEAN, left=left, right=right)

    def _enum_literal(self, typed: ir.Node, other: ir.Node) -> None:
        values = typed.type.values if typed.type else None
        if values is None:
            return
        literals = other.items if isinstance(other, ir.ListLit) else (other,)
        for lit in literals:
            if isinstance(lit, ir.Literal) and isinstance(lit.value, str) and lit.value not in values:
                hint = did_you_mean(lit.value, values)
                raise ExprError("unknown-value", f"{lit.value!r} is not a value of this enum{hint}", lit.pos)

    def _in(self, node: ir.In) -> ir.Node:
        item, container = self.visit(node.item), self.visit(node.container)
        ctype = container.type
        if ctype.kind == "string" and ctype.values is None:
            if item.type.kind != "string":
                raise ExprError("type-error", f"'in' a string needs a string, not {item.type}", node.pos)
        elif ctype.kind != "list":
            raise ExprError("type-error", f"'in' needs a list on the right, not {ctype}", node.container.pos)
        elif ctype.item is not None and not comparable(item.type, ctype.item):
            raise ExprError("type-error", f"cannot look for {item.type} in a list of {ctype.item}", node.pos)
        self._enum_literal(item, container)
        return dataclasses.replace(node, type=BOOLEAN, item=item, container=container)

    def _logic(self, node: ir.And | ir.Or) -> ir.Node:
        items = tuple(self.visit(i) for i in node.items)
        for orig, typed in zip(node.items, items, strict=True):
            if typed.type != BOOLEAN:
                raise ExprError("type-error", f"'and'/'or' need true/false operands, this is {typed.type}", orig.pos)
        return dataclasses.replace(node, type=BOOLEAN, items=items)

    _and = _logic
    _or = _logic

    def _not(self, node: ir.Not) -> ir.Node:
        operand = self.visit(node.operand)
        if operand.type != BOOLEAN:
            raise ExprError("type-error", f"'not' needs true/false, this is {operand.type}", node.operand.pos)
        return dataclasses.replace(node, type=BOOLEAN, operand=operand)

    def _listlit(self, node: ir.ListLit) -> ir.Node:
        items = tuple(self.visit(i) for i in node.items)
        item_type = items[0].type if items else ANY
        for orig, typed in zip(node.items, items, strict=True):
            if not comparable(typed.type, item_type):
                raise ExprError("type-error", f"list items must share a type: {typed.type} vs {item_type}", orig.pos)
        if items and all(i.type.numeric for i in items) and len({i.type for i in items}) > 1:
            item_type = NUMBER
        return dataclasses.replace(node, type=list_of(item_type), items=items)

    def _call(self, node: ir.Call) -> ir.Node:
        if node.name in LIST_FUNCTIONS:
            return self._list_call(node)
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            known = [*FUNCTIONS, *LIST_FUNCTIONS]
            raise ExprError(
                "unknown-function", f"unknown function '{node.name}'{did_you_mean(node.name, known)}", node.pos
            )
        if node.name == "exists":
            if len(node.args) != 1 or not isinstance(node.args[0], ir.Path):
                raise ExprError("type-error", "exists() takes one fact or finding name", node.pos)
        args = tuple(self.visit(a) for a in node.args)
        if node.name == "working_days_between" and len(args) == 2 and self.scope.calendar is not None:
            # The calendar travels as a hidden literal argument: compiled once, never looked up by name.
            args = (*args, ir.Literal(node.pos, ANY, self.scope.calendar))
        lits = [a.value if isinstance(a, ir.Literal) else None for a in args]
        try:
            result = fn.typer([a.type for a in args], lits)
        except ArgError as exc:
            pos = args[exc.index].pos if exc.index < len(args) else node.pos
            raise ExprError("type-error", f"{node.name}(): {exc.message}", pos) from None
        if fn.literal_args == (0,) and len(args) == 1:
            # date("…"), datetime("…"), duration("…") are literals: fold them now.
            return ir.Literal(node.pos, result, fn.impl(lits[0], self.scope.tz))
        return dataclasses.replace(node, type=result, args=args)


__all__ = ["Scope", "check", "BOOLEAN", "INTEGER", "NUMBER", "MONEY", "STRING", "DATE", "DATETIME", "DURATION"]
