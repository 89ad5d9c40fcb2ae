"""Compiles typed IR into Python closures: the reference (oracle) semantics of the language."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, DivisionByZero, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from . import ir
from .functions import FUNCTIONS


class _Missing:
    """No value: an absent fact or finding, or an operation on one."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


@dataclass(frozen=True)
class Env:
    """What an expression reads at evaluation time."""

    facts: dict[str, Any]
    findings: dict[str, Any]
    now: datetime
    tz: ZoneInfo
    item: Any = MISSING  # `#` inside a predicate of any/all/filter/map/count/sum


Compiled = Callable[[Env], Any]

_CMP = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def compile_expr(node: ir.Node) -> Compiled:
    """A closure evaluating `node`; booleans come back as True/False, never MISSING."""
    return _COMPILERS[type(node)](node)


def value_or_none(fn: Compiled | None, env: Env) -> Any:
    """The value of an optional compiled expression, None when absent or missing (for calculators)."""
    if fn is None:
        return None
    value = fn(env)
    return None if value is MISSING else value


def _literal(node: ir.Literal) -> Compiled:
    value = node.value
    return lambda env: value


def _now(node: ir.Now) -> Compiled:
    return lambda env: env.now


def _path(node: ir.Path) -> Compiled:
    names = node.names
    if names[0] == "findings":
        key, rest = names[1], names[2:]

        def root(env: Env) -> Any:
            return env.findings.get(key, MISSING)
    else:
        key, rest = names[0], names[1:]

        def root(env: Env) -> Any:
            return env.facts.get(key, MISSING)

    if not rest:
        return root

    def nested(env: Env) -> Any:
        value = root(env)
        for name in rest:
            if not isinstance(value, dict):
                return MISSING
            value = value.get(name, MISSING)
        return value

    return nested


def _neg(node: ir.Neg) -> Compiled:
    inner = compile_expr(node.operand)

    def run(env: Env) -> Any:
        v = inner(env)
        return MISSING if v is MISSING else -v

    return run


def arith(op: str, a: Any, b: Any) -> Any:
    """One arithmetic step with the language's rules (shared by the durable adapter's folding)."""
    if isinstance(a, date) and not isinstance(a, datetime) and isinstance(b, timedelta):
        return a + timedelta(days=b.days) if op == "+" else a - timedelta(days=b.days)
    if isinstance(b, date) and not isinstance(b, datetime) and isinstance(a, timedelta):
        return b + timedelta(days=a.days)
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            if isinstance(a, timedelta):
                return _scale(a, b)
            if isinstance(b, timedelta):
                return _scale(b, a)
            return a * b
        if op == "/":
            if isinstance(a, timedelta) and isinstance(b, timedelta):
                return Decimal(a // timedelta(microseconds=1)) / Decimal(b // timedelta(microseconds=1))
            if isinstance(a, timedelta):
                return _scale(a, 1 / Decimal(b))
            return Decimal(a) / Decimal(b)
        return a % b
    except (ZeroDivisionError, DivisionByZero, InvalidOperation, OverflowError):
        # No value, as for a missing operand: the comparison using it is false on both engines.
        return MISSING


def _scale(d: timedelta, factor: Any) -> timedelta:
    return timedelta(microseconds=int(Decimal(d // timedelta(microseconds=1)) * Decimal(factor)))


def _arith(node: ir.Arith) -> Compiled:
    left, right, op = compile_expr(node.left), compile_expr(node.right), node.op

    def run(env: Env) -> Any:
        a = left(env)
        if a is MISSING:
            return MISSING
        b = right(env)
        if b is MISSING:
            return MISSING
        return arith(op, a, b)

    return run


def _compare(node: ir.Compare) -> Compiled:
    left, right, fn = compile_expr(node.left), compile_expr(node.right), _CMP[node.op]

    def run(env: Env) -> bool:
        a = left(env)
        if a is MISSING:
            return False
        b = right(env)
        if b is MISSING:
            return False
        return bool(fn(a, b))

    return run


def _in(node: ir.In) -> Compiled:
    item, container, negated = compile_expr(node.item), compile_expr(node.container), node.negated

    def run(env: Env) -> bool:
        a = item(env)
        if a is MISSING:
            return False
        c = container(env)
        if c is MISSING:
            return False
        return (a not in c) if negated else (a in c)

    return run


def _and(node: ir.And) -> Compiled:
    items = [compile_expr(i) for i in node.items]

    def run(env: Env) -> bool:
        for item in items:  # a plain loop: cheaper than all() over a generator on this hot path
            if item(env) is not True:
                return False
        return True

    return run


def _or(node: ir.Or) -> Compiled:
    items = [compile_expr(i) for i in node.items]

    def run(env: Env) -> bool:
        for item in items:
            if item(env) is True:
                return True
        return False

    return run


def _not(node: ir.Not) -> Compiled:
    inner = compile_expr(node.operand)
    return lambda env: inner(env) is not True


def _listlit(node: ir.ListLit) -> Compiled:
    items = [compile_expr(i) for i in node.items]
    if all(isinstance(i, ir.Literal) for i in node.items):
        constant = tuple(i.value for i in node.items)  # type: ignore[attr-defined]
        return lambda env: constant
    return lambda env: tuple(v for v in (i(env) for i in items) if v is not MISSING)


def _call(node: ir.Call) -> Compiled:
    if node.name in LIST_FUNCTIONS:
        return _list_call(node)
    fn = FUNCTIONS[node.name]
    if node.name == "exists":
        inner = compile_expr(node.args[0])
        return lambda env: inner(env) is not MISSING
    args = [compile_expr(a) for a in node.args]
    impl = fn.impl

    def run(env: Env) -> Any:
        values = []
        for a in args:
            v = a(env)
            if v is MISSING:
                return MISSING
            values.append(v)
        return impl(*values, env.tz)

    return run


def _cond(node: ir.Cond) -> Compiled:
    test, then, other = compile_expr(node.test), compile_expr(node.then), compile_expr(node.other)
    return lambda env: then(env) if test(env) is True else other(env)


def _coalesce(node: ir.Coalesce) -> Compiled:
    left, right = compile_expr(node.left), compile_expr(node.right)

    def run(env: Env) -> Any:
        value = left(env)
        return right(env) if value is MISSING else value

    return run


def _objectlit(node: ir.ObjectLit) -> Compiled:
    fields = [(k, compile_expr(v)) for k, v in zip(node.keys, node.values, strict=True)]

    def run(env: Env) -> Any:
        # A field without a value is left out, as an absent fact is.
        return {k: v for k, v in ((k, fn(env)) for k, fn in fields) if v is not MISSING}

    return run


def _item(node: ir.Item) -> Compiled:
    names = node.names

    def run(env: Env) -> Any:
        value = env.item
        for name in names:
            if not isinstance(value, dict):
                return MISSING
            value = value.get(name, MISSING)
        return value

    return run


def _with_item(env: Env, item: Any) -> Env:
    return Env(env.facts, env.findings, env.now, env.tz, item)


def _list_call(node: ir.Call) -> Compiled:
    items = compile_expr(node.args[0])
    body = compile_expr(node.args[1]) if len(node.args) == 2 else None
    name = node.name

    def run(env: Env) -> Any:
        values = items(env)
        if values is MISSING:
            return MISSING
        if body is None:
            mapped = list(values)
        else:
            mapped = [body(_with_item(env, v)) for v in values]
        if name == "any":
            return any(m is True for m in mapped)
        if name == "all":
            return all(m is True for m in mapped)
        if name == "count":
            return len(mapped) if body is None else sum(1 for m in mapped if m is True)
        if name == "filter":
            return tuple(v for v, m in zip(values, mapped, strict=True) if m is True)
        present = [m for m in mapped if m is not MISSING]
        if name == "map":
            return tuple(present)
        return sum(present, Decimal(0) if any(isinstance(m, Decimal) for m in present) else 0)

    return run


_COMPILERS: dict[type, Callable[[Any], Compiled]] = {
    ir.Literal: _literal,
    ir.Now: _now,
    ir.Path: _path,
    ir.Neg: _neg,
    ir.Arith: _arith,
    ir.Compare: _compare,
    ir.In: _in,
    ir.And: _and,
    ir.Or: _or,
    ir.Not: _not,
    ir.ListLit: _listlit,
    ir.Call: _call,
    ir.Cond: _cond,
    ir.Coalesce: _coalesce,
    ir.ObjectLit: _objectlit,
    ir.Item: _item,
}

LIST_FUNCTIONS = frozenset({"any", "all", "filter", "map", "count", "sum"})
