"""The pure-Python evaluator: runs each rule's compiled closure; the oracle for the durable adapter."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..expr import ir
from ..expr.pyeval import MISSING, Compiled, Env, compile_expr

if TYPE_CHECKING:
    from ..policy import CompiledRule, Policy

Entry = tuple[str, Compiled]


class PythonBackend:
    def __init__(self, policy: Policy):
        self.policy = policy
        self.layers = [IndexedLayer(layer) for layer in policy.layers]

    def fire(self, layer: int, facts: dict[str, Any], findings: dict[str, Any], now: datetime) -> set[str]:
        env = Env(facts, findings, now, self.policy.timezone)
        return self.layers[layer].fire(env)


class IndexedLayer:
    """One layer's rules, indexed the way a Rete network's alpha nodes are. A rule whose condition requires
    `path == "text"` (or `path in [...]`, or true/false) is tried only for cases whose value at that path is
    one of those constants; a rule that bounds a number (`amount >= 5000 and amount < 50000`, as decision
    table rows compile) is tried only for cases whose value lies in its interval. Other rules are tried for
    every case. A case then costs a look-up per indexed path plus the rules that can fire, not one test per
    rule of the pack."""

    def __init__(self, rules: Sequence[CompiledRule]):
        self.always: list[Entry] = []
        by_path: dict[tuple[str, ...], tuple[ir.Path, dict[Any, list[Entry]]]] = {}
        ranged: dict[tuple[str, ...], tuple[ir.Path, list[tuple[Interval, Entry]]]] = {}
        for rule in rules:
            entry = (rule.id, rule.test)
            found = discriminator(rule.when)
            if found is not None:
                path, constants = found
                _node, table = by_path.setdefault(path.names, (path, {}))
                for constant in constants:
                    table.setdefault(constant, []).append(entry)
                continue
            bounded = interval_of(rule.when)
            if bounded is not None:
                ranged.setdefault(bounded[0].names, (bounded[0], []))[1].append((bounded[1], entry))
                continue
            self.always.append(entry)
        self.lookups = [(compile_expr(node), table) for node, table in by_path.values()]
        self.ranges: list[tuple[Compiled, RangeIndex]] = []
        for node, members in ranged.values():
            index = RangeIndex.build(members)
            if index is None:
                self.always.extend(entry for _interval, entry in members)
            else:
                self.ranges.append((compile_expr(node), index))

    def fire(self, env: Env) -> set[str]:
        out = {rid for rid, test in self.always if test(env) is True}
        for value_at, table in self.lookups:
            value = value_at(env)
            if value is MISSING or isinstance(value, list | dict):
                continue  # such a value equals no text or boolean constant: no rule of this path can hold
            for rid, test in table.get(value, ()):
                if test(env) is True:
                    out.add(rid)
        for value_at, index in self.ranges:
            value = value_at(env)
            if not _number(value):
                continue  # a missing or non-numeric value satisfies no bound
            for rid, test in index.candidates(value):
                if test(env) is True:
                    out.add(rid)
        return out


# (low, low included, high, high included); None is unbounded on that side
Interval = tuple[Any, bool, Any, bool]


class RangeIndex:
    """Intervals of one number, cut into elementary slots at every bound: a value finds its slot by
    bisection and the slot lists the rules whose interval covers it."""

    def __init__(self, points: list[Any], slots: list[list[Entry]]):
        self.points, self.slots = points, slots

    @classmethod
    def build(cls, members: list[tuple[Interval, Entry]]) -> RangeIndex | None:
        points = sorted({b for (lo, _a, hi, _b), _e in members for b in (lo, hi) if b is not None})
        slots: list[list[Entry]] = [[] for _ in range(2 * len(points) + 1)]
        budget = 8 * len(members) + 64  # nested intervals could make this quadratic: then don't index
        for (lo, lo_in, hi, hi_in), entry in members:
            first = 0 if lo is None else 2 * points.index(lo) + (1 if lo_in else 2)
            last = len(slots) - 1 if hi is None else 2 * points.index(hi) + (1 if hi_in else 0)
            for slot in range(first, last + 1):
                slots[slot].append(entry)
            budget -= max(0, last - first + 1)
            if budget < 0:
                return None
        return cls(points, slots)

    def candidates(self, value: Any) -> list[Entry]:
        i = bisect_left(self.points, value)
        exact = i < len(self.points) and self.points[i] == value
        return self.slots[2 * i + 1 if exact else 2 * i]


_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}


def interval_of(node: ir.Node) -> tuple[ir.Path, Interval] | None:
    """The interval a condition requires of one numeric path: the bounds its top-level `and` terms put on
    the first path they compare with number constants (other terms are still tested by the rule itself)."""
    terms = node.items if isinstance(node, ir.And) else (node,)
    target: ir.Path | None = None
    lo: Any = None
    hi: Any = None
    lo_in = hi_in = True
    for term in terms:
        if not isinstance(term, ir.Compare) or term.op not in _FLIP:
            continue
        if isinstance(term.left, ir.Path) and _numeric_literal(term.right):
            path, op, bound = term.left, term.op, term.right.value  # type: ignore[attr-defined]
        elif isinstance(term.right, ir.Path) and _numeric_literal(term.left):
            path, op, bound = term.right, _FLIP[term.op], term.left.value  # type: ignore[attr-defined]
        else:
            continue
        if target is None:
            target = path
        elif path.names != target.names:
            continue
        if op in (">", ">=", "==") and (lo is None or bound > lo or (bound == lo and op == ">")):
            lo, lo_in = bound, op != ">"
        if op in ("<", "<=", "==") and (hi is None or bound < hi or (bound == hi and op == "<")):
            hi, hi_in = bound, op != "<"
    if target is None:
        return None
    return target, (lo, lo_in, hi, hi_in)


def _numeric_literal(node: ir.Node) -> bool:
    return isinstance(node, ir.Literal) and _number(node.value)


def _number(value: Any) -> bool:
    return isinstance(value, int | Decimal | float) and not isinstance(value, bool)


def discriminator(node: ir.Node) -> tuple[ir.Path, frozenset[Any]] | None:
    """A test every case firing the condition passes: a path compared with text or boolean constants."""
    if isinstance(node, ir.And):
        for item in node.items:
            found = discriminator(item)
            if found is not None:
                return found
        return None
    if isinstance(node, ir.Compare) and node.op == "==":
        for path, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(path, ir.Path) and _constant(other):
                return path, frozenset([other.value])  # type: ignore[attr-defined]
        return None
    if isinstance(node, ir.In) and not node.negated and isinstance(node.item, ir.Path):
        container = node.container
        if isinstance(container, ir.ListLit) and container.items and all(_constant(i) for i in container.items):
            return node.item, frozenset(i.value for i in container.items)  # type: ignore[attr-defined]
    return None


def _constant(node: ir.Node) -> bool:
    # Text and booleans only: numbers compare equal across Decimal/int/float in ways a hash table should
    # not be trusted with, and dates are rare discriminators.
    return isinstance(node, ir.Literal) and isinstance(node.value, str | bool)
