"""Pack annotations taken out before the schema check: `acknowledge:` of lint warnings and `placeholder:` values."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import Diagnostic, Location, json_path
from .source import SourceMap

PLACEHOLDER_KEYS = frozenset({"placeholder", "value", "reason"})
# A placeholder is reported until the company sets the value: it cannot be acknowledged away.
UNACKNOWLEDGEABLE = frozenset({"placeholder"})
CLOCK_CODES = frozenset({"calendar-ends-soon"})


@dataclass(frozen=True)
class Acknowledgement:
    """A lint code an administrator accepted on one item, with the reason why."""

    path: str  # JSON path of the item the warning must lie at or under
    code: str
    reason: str
    location: Location


@dataclass(frozen=True)
class Placeholder:
    """A value the regulation does not state: the pack runs with `value` until the company sets its own."""

    name: str
    value: Any
    reason: str
    location: Location

    @property
    def shown(self) -> str:
        return ", ".join(str(v) for v in self.value) if isinstance(self.value, list) else str(self.value)


def take_annotations(
    data: Any, smap: SourceMap, default_file: str
) -> tuple[list[Acknowledgement], list[Placeholder], list[Diagnostic]]:
    """Remove the annotations from `data` in place (placeholders become their value); report malformed ones."""
    acks: list[Acknowledgement] = []
    holders: list[Placeholder] = []
    errors: list[Diagnostic] = []

    def loc(path: tuple[object, ...], *, key: bool = False) -> Location:
        return smap.location(path, key=key, default_file=default_file)

    def visit(node: Any, path: tuple[object, ...]) -> Any:
        if isinstance(node, dict):
            if "placeholder" in node and set(node) <= PLACEHOLDER_KEYS:
                return placeholder(node, path)
            if "acknowledge" in node and path:
                acknowledge(node.pop("acknowledge"), path)
            for key in list(node):
                node[key] = visit(node[key], path + (key,))
        elif isinstance(node, list):
            for i, item in enumerate(node):
                node[i] = visit(item, path + (i,))
        return node

    def placeholder(node: dict[str, Any], path: tuple[object, ...]) -> Any:
        name, reason = node.get("placeholder"), node.get("reason", "")
        if not isinstance(name, str) or not name.strip() or "value" not in node or not isinstance(reason, str):
            errors.append(
                Diagnostic(
                    loc(path),
                    "schema",
                    "a placeholder is {placeholder: NAME, value: VALUE, reason: WHY} (the value the pack uses "
                    "until the company sets its own)",
                )
            )
            return node.get("value")
        holders.append(Placeholder(name, node["value"], reason, loc(path)))
        # The value takes the placeholder's place, positions included, so later errors point at it.
        inner = path + ("value",)
        n = len(inner)
        for table in (smap.values, smap.keys):
            for p in [p for p in table if p[:n] == inner]:
                table[path + p[n:]] = table[p]  # type: ignore[index]
        return node["value"]

    def acknowledge(raw: Any, path: tuple[object, ...]) -> None:
        where = path + ("acknowledge",)
        if not isinstance(raw, dict) or not raw:
            errors.append(
                Diagnostic(loc(where), "schema", "acknowledge is a mapping of warning code → the reason it is accepted")
            )
            return
        for code, reason in raw.items():
            if not isinstance(reason, str) or not reason.strip():
                errors.append(
                    Diagnostic(
                        loc(where + (code,)), "schema", f"acknowledging '{code}' needs a reason (why it is accepted)"
                    )
                )
                continue
            acks.append(Acknowledgement(json_path(path), str(code), reason.strip(), loc(where + (code,), key=True)))

    if isinstance(data, dict):
        for key in list(data):
            data[key] = visit(data[key], (key,))
    return acks, holders, errors


def _under(path: str, item: str) -> bool:
    return path == item or path.startswith(item + ".") or path.startswith(item + "[")


def apply_acknowledgements(
    diagnostics: Iterable[Diagnostic], acks: Iterable[Acknowledgement]
) -> tuple[list[Diagnostic], list[Diagnostic]]:
    """(diagnostics still to show, warnings acknowledged)."""
    acks = [a for a in acks if a.code not in UNACKNOWLEDGEABLE]
    shown: list[Diagnostic] = []
    accepted: list[Diagnostic] = []
    for d in diagnostics:
        match = next(
            (a for a in acks if d.severity == "warning" and a.code == d.code and _under(d.location.path, a.path)),
            None,
        )
        (shown if match is None else accepted).append(d)
    return shown, accepted


def unused(acks: Iterable[Acknowledgement], accepted: Iterable[Diagnostic]) -> list[Diagnostic]:
    """An unused-acknowledgement warning for each acknowledgement no warning needed, so a fixed problem
    does not leave a stale excuse behind (clock-dependent codes excepted: they come and go with the date)."""
    accepted = list(accepted)
    out = []
    for a in acks:
        if a.code in CLOCK_CODES:
            continue
        if not any(d.code == a.code and _under(d.location.path, a.path) for d in accepted):
            out.append(
                Diagnostic(
                    a.location,
                    "unused-acknowledgement",
                    f"nothing here warns '{a.code}' any more: remove the acknowledgement",
                    "warning",
                )
            )
    return out
