"""Bounds for form templates and numbering patterns: output size, work, sizes of values built inside."""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from . import limits

NUMBER_FIELDS = ("yy", "yyyy", "mm", "serial")
_SPEC = re.compile(r"^(?:[<>^=]?0?(\d+)?d?)$")
_DIGITS = re.compile(r"\d+")


class TemplateLimit(SecurityError):
    """A template passed a limit (output size, work, size of a value it builds)."""

    code = limits.TEMPLATE_OUTPUT.code


def pattern_problem(pattern: str) -> str | None:
    """Why a numbering pattern is refused, or None: only {yy} {yyyy} {mm} {serial}, each with at most
    a width (e.g. {serial:04d}), no attribute or index access, bounded length and widths."""
    if len(pattern) > limits.PATTERN_LENGTH.value:
        return f"longer than {limits.PATTERN_LENGTH.value} characters"
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        return str(exc)
    for _text, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in NUMBER_FIELDS:
            return f"unknown field {{{name}}} (use {', '.join('{' + f + '}' for f in NUMBER_FIELDS)})"
        if conversion:
            return f"{{{name}!{conversion}}}: conversions are not allowed"
        match = _SPEC.match(spec or "")
        if match is None or "{" in (spec or ""):
            return f"{{{name}:{spec}}}: only a width such as {{{name}:04d}} is allowed"
        if match.group(1) and int(match.group(1)) > limits.PATTERN_WIDTH.value:
            return f"{{{name}:{spec}}}: the width is larger than {limits.PATTERN_WIDTH.value}"
    return None


class BoundedSandbox(SandboxedEnvironment):
    """Jinja2's sandbox (no private attributes, no unsafe calls) that also bounds the work of one
    rendering and the size of any string or list a template builds (`'a' * 10**9`, `range(10**5)`
    inside another, `'x'|center(10**9)`, `'%999999999s' % 1`)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.work = 0
        self.globals["range"] = self._range
        self.filters = {name: self._bounded_filter(fn) for name, fn in self.filters.items()}

    # -- accounting ---------------------------------------------------------------------------
    def spend(self, amount: int = 1) -> None:
        self.work += amount
        if self.work > limits.TEMPLATE_WORK.value:
            raise TemplateLimit(f"the template does more than {limits.TEMPLATE_WORK.value:,} steps")

    @staticmethod
    def check_size(size: int, what: str) -> None:
        if size > limits.TEMPLATE_OUTPUT.value:
            raise TemplateLimit(f"{what} would be larger than {limits.TEMPLATE_OUTPUT.value:,}")

    def _check_args(self, args: Iterable[Any]) -> None:
        for arg in args:
            if isinstance(arg, int) and not isinstance(arg, bool):
                self.check_size(abs(arg), f"a size of {arg}")
            elif isinstance(arg, str) and len(arg) < 200:
                for run in _DIGITS.findall(arg):
                    if len(run) > 7:  # a width in a format string: '{:>999999999}', '%999999999s'
                        self.check_size(int(run), f"a width of {run}")

    # -- hooks ------------------------------------------------------------------------------------
    def _range(self, *args: Any) -> range:
        self._check_args(args)
        result = range(*args)
        self.spend(len(result))
        return result

    def _bounded_filter(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def bounded(*args: Any, **kwargs: Any) -> Any:
            self.spend()
            self._check_args(list(args[1:]) + list(kwargs.values()))
            return fn(*args, **kwargs)

        for attr in ("jinja_pass_arg",):  # keep the context/environment passing markers
            if hasattr(fn, attr):
                setattr(bounded, attr, getattr(fn, attr))
        return bounded

    def call(self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        self.spend()
        self._check_args(list(args) + list(kwargs.values()))
        if isinstance(getattr(__obj, "__self__", None), str):
            self._check_args([__obj.__self__])
        return super().call(__context, __obj, *args, **kwargs)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.spend()
        if isinstance(obj, str) and attribute in ("format", "format_map"):
            self._check_args([obj])  # the sandbox wraps str.format: its widths are checked here
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.spend()
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        self.spend()
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int):
                    self.check_size(len(seq) * max(times, 0), "a repeated value")
        elif operator == "**":
            if isinstance(right, int | float) and isinstance(left, int | float) and abs(right) > 64:
                self.check_size(limits.TEMPLATE_OUTPUT.value + 1, f"a power with exponent {right}")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                self.check_size(len(left) + len(right), "a joined value")
        elif operator == "%" and isinstance(left, str):
            self._check_args([left])
        return super().call_binop(context, operator, left, right)


def render_bounded(template: Any, context: dict[str, Any]) -> str:
    """Render chunk by chunk, stopping as soon as the output passes its limit."""
    env = template.environment
    if isinstance(env, BoundedSandbox):
        env.work = 0
    out: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        BoundedSandbox.check_size(size, "the rendered form")
        if isinstance(env, BoundedSandbox):
            env.spend()
        out.append(chunk)
    return "".join(out)
