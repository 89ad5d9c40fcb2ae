"""Lint: `x != v` and `x not in [...]` are false when `x` is missing — say so where a pack writes them."""

from __future__ import annotations

from collections.abc import Iterator

from .expr import ir

CODE = "ne-missing"


def possibly_missing_negations(node: ir.Node, always_present: frozenset[str]) -> Iterator[tuple[int, str, str]]:
    """(offset, path, operator) of each `!=` / `not in` whose subject may be missing and is not guarded
    by `exists(subject)` in the same condition. `always_present`: required facts, findings with defaults."""
    guarded = {
        a.dotted
        for n in _walk(node)
        if isinstance(n, ir.Call) and n.name == "exists"
        for a in n.args
        if isinstance(a, ir.Path)
    }
    for n in _walk(node):
        if isinstance(n, ir.Compare) and n.op == "!=":
            sides = [n.left, n.right]
            op = "!="
        elif isinstance(n, ir.In) and n.negated:
            sides = [n.item]
            op = "not in"
        else:
            continue
        for side in sides:
            if isinstance(side, ir.Path) and side.dotted not in guarded and side.dotted not in always_present:
                yield n.pos, side.dotted, op


def message(path: str, op: str) -> str:
    shown = f"{path} {op} …"
    return (
        f"`{shown}` is false when {path} is missing; write `not ({path} {'==' if op == '!=' else 'in'} …)` "
        f"if a missing {path} counts as different, or `exists({path}) and …` if only known values count"
    )


def _walk(node: ir.Node) -> Iterator[ir.Node]:
    yield node
    for child in ir.children(node):
        yield from _walk(child)
