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
    case is checked, so the common answer (within) comes from a walk that keeps depths, not paths; only a
    case outside the limits is walked again to locate the problem."""
    if _within(data):
        return None
    return _located(data, smap, filename)


def _within(data: Any) -> bool:
    """The same checks as `_located`, without building a path per value."""
    budget, depth_limit = limits.CASE_VALUES.value, limits.CASE_DEPTH.value
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > depth_limit:
            return False
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return False
                stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            if not value.isascii() and _has_surrogate(value):
                return False
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            if not -_BIG < value < _BIG:
                return False
        elif (
            isinstance(value, Decimal) and value.is_finite() and not value.is_zero() and abs(value.adjusted()) > _DIGITS
        ):
            return False
    return True


def _located(data: Any, smap: SourceMap, filename: str) -> Diagnostic | None:
    budget = limits.CASE_VALUES.value
    stack: list[tuple[Any, tuple[object, ...]]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        budget -= 1
        if budget < 0:
            return _at(smap, path, filename, limits.CASE_VALUES.code, f"more than {limits.CASE_VALUES.value:,} values")
        if len(path) > limits.CASE_DEPTH.value:
            message = f"nested deeper than {limits.CASE_DEPTH.value} levels"
            return _at(smap, path, filename, limits.CASE_DEPTH.code, message)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    return _at(smap, path, filename, "case-invalid", f"keys must be text, not {type(key).__name__}")
                stack.append((item, path + (key,)))
        elif isinstance(value, list | tuple):
            stack.extend((item, path + (i,)) for i, item in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and not -_BIG < value < _BIG:
            message = f"a number of more than {limits.NUMBER_DIGITS.value} digits"
            return _at(smap, path, filename, limits.NUMBER_DIGITS.code, message)
        elif (
            isinstance(value, Decimal) and value.is_finite() and not value.is_zero() and abs(value.adjusted()) > _DIGITS
        ):
            message = f"a number beyond 10^{limits.NUMBER_DIGITS.value} or below 10^-{limits.NUMBER_DIGITS.value}"
            return _at(smap, path, filename, limits.NUMBER_DIGITS.code, message)
        elif isinstance(value, str) and not value.isascii() and _has_surrogate(value):
            return _at(smap, path, filename, "case-invalid", "the text holds a lone surrogate (\\ud800-\\udfff)")
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _at(smap: SourceMap, path: tuple[object, ...], filename: str, code: str, message: str) -> Diagnostic:
    return Diagnostic(smap.location(path, default_file=filename), code, message)
