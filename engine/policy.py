"""The compiled, immutable Policy and its parts; `Policy.evaluate` is the engine's entry point."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from .engines import ENGINES as _ENGINES
from .errors import Location
from .expr import ir
from .expr.pyeval import Compiled
from .facts import FactSpec, Label, Normaliser
from .types import Type, list_of

if TYPE_CHECKING:
    from .decision import Decision

# The engines that run on this Python (engines.py decides); kept here for `from .policy import ENGINES`.
ENGINES = _ENGINES


@dataclass(frozen=True)
class Action:
    id: str
    label: Label
    to: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class FindingSpec:
    """A declared finding: its type, labels and what happens when rules disagree."""

    id: str
    type: Type
    label: Label
    value_labels: tuple[tuple[str, Label], ...]
    conflict: str
    default: Any

    @property
    def value_type(self) -> Type:
        return list_of(self.type) if self.conflict == "collect" else self.type

    def value_label(self, value: Any) -> Label | None:
        for key, label in self.value_labels:
            if key == value:
                return label
        return None


@dataclass(frozen=True)
class CompiledRule:
    id: str
    label: Label
    ref: str
    priority: int
    when_text: str
    when: ir.Node
    test: Compiled
    sets: tuple[tuple[str, Any], ...]
    actions: tuple[Action, ...]
    forms: tuple[str, ...]
    warnings: tuple[str, ...]
    order: int
    layer: int
    location: Location
    reads: tuple[str, ...]
    # "rule": a pack rule with effects and a trace entry; "probe": a condition a calculator needs
    # (a table row, a timer goal), evaluated by the same backend but reported only to calculators.
    kind: str = "rule"
    # (table id, row index) for a table row that fills findings
    row: tuple[str, int] | None = None

    @cached_property
    def computes(self) -> bool:
        """Some `set:` value is an expression, computed when the rule fires."""
        from .computed import Computed

        return any(isinstance(v, Computed) for _, v in self.sets)


@dataclass(frozen=True)
class Policy:
    """A compiled pack. Immutable; evaluate as many cases as you like, from any thread."""

    id: str
    version: str
    title: Label
    timezone: ZoneInfo
    effective_from: date | None
    facts: tuple[FactSpec, ...]
    findings: tuple[FindingSpec, ...]
    rules: tuple[CompiledRule, ...]
    roles: Mapping[str, Label]
    forms: Mapping[str, Label]
    root: Path
    files: tuple[str, ...]
    sla: Any = None
    authority: Any = None
    penalties: Any = None
    forms_spec: Any = None
    clauses: Mapping[str, Any] = field(default_factory=dict)
    amounts: Any = None
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    @property
    def layers(self) -> tuple[tuple[CompiledRule, ...], ...]:
        """Rules grouped by layer, each sorted by priority (high first) then file order."""
        if "layers" not in self._cache:
            count = max((r.layer for r in self.rules), default=-1) + 1
            grouped = tuple(
                tuple(sorted((r for r in self.rules if r.layer == k), key=lambda r: (-r.priority, r.order)))
                for k in range(count)
            )
            self._cache["layers"] = grouped
        return self._cache["layers"]

    @property
    def layer_lookup(self) -> tuple[dict[str, tuple[int, CompiledRule]], ...]:
        """Per layer: rule id → (its place in the layer, the rule), so fired ids map back without a scan."""
        if "layer_lookup" not in self._cache:
            self._cache["layer_lookup"] = tuple(
                {rule.id: (place, rule) for place, rule in enumerate(layer)} for layer in self.layers
            )
        return self._cache["layer_lookup"]

    @property
    def finding_specs(self) -> Mapping[str, FindingSpec]:
        if "finding_specs" not in self._cache:
            self._cache["finding_specs"] = {s.id: s for s in self.findings}
        return self._cache["finding_specs"]

    @property
    def has_dotted_findings(self) -> bool:
        if "dotted" not in self._cache:
            self._cache["dotted"] = any("." in s.id for s in self.findings)
        return self._cache["dotted"]

    @property
    def default_findings(self) -> Mapping[str, Any]:
        """The findings a case has before any rule fires (their defaults)."""
        if "default_findings" not in self._cache:
            from .expr.pyeval import MISSING

            self._cache["default_findings"] = {s.id: s.default for s in self.findings if s.default is not MISSING}
        return self._cache["default_findings"]

    @property
    def normaliser(self) -> Normaliser:
        with self._lock:
            if "normaliser" not in self._cache:
                self._cache["normaliser"] = Normaliser(self.facts, self.timezone)
            return self._cache["normaliser"]

    def backend(self, engine: str):
        """The rule evaluator for `engine`, built once per policy."""
        from .backends import make_backend

        with self._lock:
            key = "backend:" + engine
            if key not in self._cache:
                self._cache[key] = make_backend(engine, self)
            return self._cache[key]

    def role_label(self, role: Any) -> str:
        """The Chinese name of a declared role; the id itself when the pack does not declare it."""
        label = self.roles.get(role) if isinstance(role, str) else None
        return label.zh if label else str(role)

    def case_schema(self) -> dict[str, Any]:
        from .facts import case_schema

        return case_schema(self.facts)

    def evaluate(
        self,
        case: Mapping[str, Any],
        now: datetime | str | None = None,
        *,
        engine: str = "python",
        strict_calendar: bool = False,
    ) -> Decision:
        """Decide a case. `case` is {"case_id": ..., "facts": {...}}; `now` is required (or case["now"]).

        A timer whose calendar lacks a year is reported `unknown` with a `calendar-not-covered` warning;
        `strict_calendar=True` refuses such a decision instead (EvaluationError, code calendar-not-covered)."""
        from .evaluate import evaluate_case

        return evaluate_case(self, case, now, engine=engine, strict_calendar=strict_calendar)
