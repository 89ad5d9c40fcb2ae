"""The size and depth bounds of one case document, checked before anything walks it recursively."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from . import limits
from .errors import Diagnostic
from .source import SourceMap

_DIGITS = limits.NUMBER_DIGITS.value
_BIG = 10**_DIGITS


def case_shape_problem(data: Any, smap: SourceMap, filename: str) -> Diagnostic | None:
    """The first limit a case passes (values, depth, digits, lone surrogates), located; None when within.

    Iterative on purpose: a hostile case must not be able to exhaust the stack of the check itself. Every
    case goes through it, so each value carries its depth and a link to its parent, not a path: the path
    is spelled out only for the value that passes a limit."""
    budget = limits.CASE_VALUES.value
    stack: list[tuple[Any, int, Link]] = [(data, 0, None)]
    while stack:
        value, depth, link = stack.pop()
        budget -= 1
        if budget < 0:
            return _at(smap, link, filename, limits.CASE_VALUES.code, f"more than {limits.CASE_VALUES.value:,} values")
        if depth > limits.CASE_DEPTH.value:
            message = f"nested deeper than {limits.CASE_DEPTH.value} levels"
            return _at(smap, link, filename, limits.CASE_DEPTH.code, message)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return _at(smap, link, filename, "case-invalid", f"keys must be text, not {type(key).__name__}")
                stack.append((item, depth + 1, (link, key)))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1, (link, i)) for i, item in enumerate(value))
        elif isinstance(value, str):
            if not value.isascii() and _has_surrogate(value):
                return _at(smap, link, filename, "case-invalid", "the text holds a lone surrogate (\\ud800-\\udfff)")
        elif isinstance(value, int) and not isinstance(value, bool) and not -_BIG < value < _BIG:
            message = f"a number of more than {limits.NUMBER_DIGITS.value} digits"
            return _at(smap, link, filename, limits.NUMBER_DIGITS.code, message)
        elif (
            isinstance(value, Decimal) and value.is_finite() and not value.is_zero() and abs(value.adjusted()) > _DIGITS
        ):
            message = f"a number beyond 10^{limits.NUMBER_DIGITS.value} or below 10^-{limits.NUMBER_DIGITS.value}"
            return _at(smap, link, filename, limits.NUMBER_DIGITS.code, message)
    return None


# A value's place: (the parent's link, its key or index), None at the top; spelled out only when needed.
Link = tuple[Any, object] | None


def _path(link: Link) -> tuple[object, ...]:
    parts: list[object] = []
    while link is not None:
        link, key = link
        parts.append(key)
    return tuple(reversed(parts))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _at(smap: SourceMap, link: Link, filename: str, code: str, message: str) -> Diagnostic:
    return Diagnostic(smap.location(_path(link), default_file=filename), code, message)
