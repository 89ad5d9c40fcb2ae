"""Computed values (`= expression`): typed against the finding they fill, finished with the one rounding rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from .errors import EvaluationError
from .expr import ir
from .expr.pyeval import MISSING, Compiled, Env
from .facts import MAX_MAGNITUDE
from .money import round_money
from .types import Type

PREFIX = "="
NUMBER_QUANTUM = Decimal("0.000001")  # numbers keep 6 places, as facts do (what durable encodes exactly)


def expression_text(value: Any) -> str | None:
    """The expression of a `= …` value, None for a literal."""
    if isinstance(value, str) and value.lstrip().startswith(PREFIX):
        return value.lstrip()[1:]
    return None


def expression_offset(value: str) -> int:
    """Where the expression starts inside the written value (after the `=`)."""
    return len(value) - len(value.lstrip()) + 1


@dataclass(frozen=True)
class Computed:
    """A value computed when its rule fires, by the shared Python evaluator (both engines)."""

    text: str
    fn: Compiled
    target: Type
    finding: str
    node: ir.Node = field(compare=False, repr=False)

    def __call__(self, env: Env) -> Any:
        value = self.fn(env)
        return MISSING if value is MISSING else finish(value, self.target, self.finding)


def assignable(src: Type, dst: Type) -> bool:
    """Whether a value of type `src` may fill a finding of type `dst`."""
    if src.kind == "any":
        return True
    if dst.values is not None:
        return src.kind == "string"
    if dst.kind in ("money", "number"):
        return src.numeric
    if dst.kind == "list":
        return src.kind == "list" and (src.item is None or dst.item is None or assignable(src.item, dst.item))
    if dst.kind == "object":
        if src.kind != "object":
            return False
        known = dict(dst.fields)
        return all(name in known and assignable(t, known[name]) for name, t in src.fields)
    return src.kind == dst.kind


def finish(value: Any, t: Type, finding: str) -> Any:
    """A computed value in the finding's own form: money to the cent (half up), numbers to 6 places."""
    if t.values is not None:
        if value not in t.values:
            raise EvaluationError(
                f"finding '{finding}': computed {value!r} is not one of {', '.join(t.values)}", code="value-not-allowed"
            )
        return value
    if t.kind in ("money", "number", "integer") and isinstance(value, int | Decimal) and not isinstance(value, bool):
        if abs(value) >= MAX_MAGNITUDE:
            raise EvaluationError(
                f"finding '{finding}': computed {value} is too large (limit 10^12)", code="value-range"
            )
        if t.kind == "money":
            return round_money(value)
        if t.kind == "number":
            d = Decimal(value)
            # More than 6 places is rounded (half up); fewer keep their scale, as written: 0.5 * 100 = 50.0
            return d.quantize(NUMBER_QUANTUM, rounding=ROUND_HALF_UP) if d.as_tuple().exponent < -6 else d
        return value
    if t.kind == "list" and isinstance(value, tuple | list):
        item = t.item
        return tuple(finish(v, item, finding) if item is not None else v for v in value)
    if t.kind == "object" and isinstance(value, dict):
        known = dict(t.fields)
        return {k: finish(v, known[k], f"{finding}.{k}") if k in known else v for k, v in value.items()}
    return value
