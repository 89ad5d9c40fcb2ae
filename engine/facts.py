"""The fact vocabulary of a pack: case schema generation, validation and type normalisation."""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema

from .case_limits import case_shape_problem
from .errors import CaseError, Diagnostic, Location, json_path
from .schema_check import schema_diagnostics
from .source import SourceMap
from .types import Type

NUMBER_PLACES = 6
MONEY_PLACES = 2
# Beyond this magnitude a value no longer fits the durable-rules integer encoding exactly.
MAX_MAGNITUDE = Decimal(10) ** 12
# Dates a business case can carry; with durations of at most a century no arithmetic overflows.
MIN_YEAR, MAX_YEAR = 1900, 2999

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
MONEY_PATTERN = r"^-?\d+(\.\d{1,2})?$"


@dataclass(frozen=True)
class Label:
    zh: str
    en: str

    @classmethod
    def of(cls, raw: Any, fallback: str) -> Label:
        if isinstance(raw, dict):
            return cls(str(raw.get("zh") or raw.get("en") or fallback), str(raw.get("en") or raw.get("zh") or fallback))
        if isinstance(raw, str):
            return cls(raw, raw)
        return cls(fallback, fallback)


@dataclass(frozen=True)
class FactSpec:
    """One declared fact (or a nested property of an object fact)."""

    name: str
    type: Type
    label: Label
    required: bool
    value_labels: tuple[tuple[str, Label], ...] = ()
    properties: tuple[FactSpec, ...] = ()
    item: FactSpec | None = None

    def value_label(self, value: str) -> Label | None:
        for key, label in self.value_labels:
            if key == value:
                return label
        return None


def build_spec(name: str, raw: dict[str, Any]) -> FactSpec:
    """A FactSpec from a validated vocabulary entry."""
    kind = raw["type"]
    label = Label.of(raw.get("label"), name)
    required = bool(raw.get("required", False))
    if kind == "enum":
        values = raw.get("values") or {}
        if isinstance(values, list):
            pairs = tuple((str(v), Label(str(v), str(v))) for v in values)
        else:
            pairs = tuple((str(k), Label.of(v, str(k))) for k, v in values.items())
        return FactSpec(name, Type("string", values=tuple(k for k, _ in pairs)), label, required, pairs)
    if kind == "list":
        item = build_spec(name + "[]", raw.get("items") or {"type": "string"})
        return FactSpec(name, Type("list", item=item.type), label, required, item=item)
    if kind == "object":
        props = tuple(build_spec(k, v) for k, v in (raw.get("properties") or {}).items())
        fields = tuple((p.name, p.type) for p in props)
        return FactSpec(name, Type("object", fields=fields), label, required, properties=props)
    return FactSpec(name, Type(kind), label, required)


def _schema_of(spec: FactSpec) -> dict[str, Any]:
    kind = spec.type.kind
    if spec.type.values is not None:
        return {"type": "string", "enum": list(spec.type.values)}
    if kind == "string":
        return {"type": "string"}
    if kind == "integer":
        return {"type": "integer"}
    if kind == "number":
        return {"type": "number"}
    if kind == "money":
        return {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": MONEY_PATTERN}],
            "description": "an amount such as 12000 or '12000.50'",
        }
    if kind == "boolean":
        return {"type": "boolean"}
    if kind == "date":
        return {"type": "string", "pattern": DATE_PATTERN, "description": "YYYY-MM-DD"}
    if kind == "datetime":
        return {"type": "string", "pattern": DATETIME_PATTERN, "description": "YYYY-MM-DDTHH:MM[:SS][+08:00]"}
    if kind == "duration":
        return {"type": "string"}
    if kind == "list":
        return {"type": "array", "items": _schema_of(spec.item) if spec.item else {}}
    if kind == "object":
        return _object_schema(spec.properties)
    raise ValueError(f"unknown fact type {kind}")


def _object_schema(props: tuple[FactSpec, ...]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {p.name: _schema_of(p) for p in props},
        "required": [p.name for p in props if p.required],
        "additionalProperties": False,
    }


def case_schema(vocabulary: tuple[FactSpec, ...]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a case document for this vocabulary."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "case_id": {"type": "string", "minLength": 1},
            "now": {"type": "string", "pattern": DATETIME_PATTERN, "description": "YYYY-MM-DDTHH:MM[:SS][+08:00]"},
            "description": {"type": "string"},
            "facts": _object_schema(vocabulary),
        },
        "required": ["facts"],
        "additionalProperties": False,
    }


_PLAIN = frozenset({str, int, bool, Decimal, type(None)})
# jsonschema's draft 2020-12 type rules, inlined for speed (the property test compares them with it)
_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool)) or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, numbers.Number) and not isinstance(v, bool),
}


def compile_check(schema: dict[str, Any], types: Any) -> Callable[[Any], bool]:
    """A fast yes/no check for the keywords `case_schema` emits, with jsonschema's own type rules.

    Evaluating one case against jsonschema cost more than the rules; this closure answers the same
    question for the generated schemas (tests compare both on random documents)."""
    checks: list[Callable[[Any], bool]] = []
    if "type" in schema:
        kind = schema["type"]
        checks.append(_TYPES.get(kind) or (lambda v: types.is_type(v, kind)))
    if "enum" in schema:
        allowed = list(schema["enum"])
        checks.append(lambda v: isinstance(v, str) and v in allowed)
    if "pattern" in schema:
        regex = re.compile(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or regex.search(v) is not None)
    if "minLength" in schema:
        least = schema["minLength"]
        checks.append(lambda v: not isinstance(v, str) or len(v) >= least)
    if "anyOf" in schema:
        options = [compile_check(s, types) for s in schema["anyOf"]]
        checks.append(lambda v: any(o(v) for o in options))
    if "items" in schema:
        item = compile_check(schema["items"], types)
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))
    if "properties" in schema or "required" in schema:
        props = {k: compile_check(s, types) for k, s in schema.get("properties", {}).items()}
        required = list(schema.get("required", ()))
        closed = schema.get("additionalProperties") is False

        def check_object(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for r in required:
                if r not in v:
                    return False
            for k, x in v.items():
                check = props.get(k)
                if check is None:
                    if closed:
                        return False
                elif not check(x):
                    return False
            return True

        checks.append(check_object)
    if len(checks) == 1:
        return checks[0]
    if len(checks) == 2:
        first, second = checks
        return lambda v: first(v) and second(v)
    return lambda v: all(c(v) for c in checks)


def parse_datetime(text: str, tz: ZoneInfo) -> datetime:
    """ISO 8601 text to an aware datetime; a naive one is read in `tz`."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


class Normaliser:
    """Turns validated case facts into the declared Python types (Decimal, date, aware datetime)."""

    def __init__(self, vocabulary: tuple[FactSpec, ...], tz: ZoneInfo):
        self.vocabulary = vocabulary
        self.tz = tz
        schema = case_schema(vocabulary)
        self.validator = jsonschema.Draft202012Validator(schema)
        self.conforms = compile_check(schema, self.validator.TYPE_CHECKER)

    def case(self, data: Any, smap: SourceMap | None = None, filename: str = "<case>") -> tuple[dict[str, Any], str]:
        """Validate and normalise a case document; returns (facts, case_id) or raises CaseError."""
        smap = smap or SourceMap()
        if not isinstance(data, dict):
            raise CaseError(
                [Diagnostic(Location(filename, 1, 1), "case-invalid", "a case must be a mapping with 'facts'")]
            )
        problem = case_shape_problem(data, smap, filename)
        if problem is not None:
            raise CaseError([problem])
        data, native_errors = self._from_python(data, filename)
        if native_errors:
            raise CaseError(native_errors)
        if not self.conforms(data):
            # The fast check said no: jsonschema finds and locates every problem.
            diags = schema_diagnostics(self.validator, data, smap, filename, code="case-invalid")
            if diags:
                raise CaseError(diags)
        out: dict[str, Any] = {}
        errors: list[Diagnostic] = []
        self._object(self.vocabulary, data["facts"], ("facts",), out, errors, smap, filename)
        if errors:
            raise CaseError(errors)
        return out, str(data.get("case_id", ""))

    def _from_python(self, data: dict[str, Any], filename: str) -> tuple[dict[str, Any], list[Diagnostic]]:
        """Accept Python-native values from integrators: dates as ISO text, floats only where exact enough."""
        errors: list[Diagnostic] = []
        specs = {s.name: s for s in self.vocabulary}

        def convert(value: Any, spec: FactSpec | None, path: tuple[object, ...]) -> Any:
            if type(value) in _PLAIN:  # most values: nothing to convert
                return value
            if isinstance(value, datetime | date):
                return value.isoformat()
            if isinstance(value, float):
                if spec is not None and spec.type.kind == "money":
                    message = f"{spec.label.zh} ({spec.name}): pass money as a string or Decimal, not a float"
                    errors.append(Diagnostic(Location(filename, 0, 0, json_path(path)), "case-invalid", message))
                    return value
                return Decimal(repr(value))
            if isinstance(value, dict):
                props = {p.name: p for p in spec.properties} if spec is not None else {}
                return {k: convert(v, props.get(k), path + (k,)) for k, v in value.items()}
            if isinstance(value, list | tuple):
                item = spec.item if spec is not None else None
                return [convert(v, item, path + (i,)) for i, v in enumerate(value)]
            return value

        out = dict(data)
        if isinstance(data.get("facts"), dict):
            out["facts"] = {k: convert(v, specs.get(k), ("facts", k)) for k, v in data["facts"].items()}
        if isinstance(data.get("now"), datetime):
            out["now"] = data["now"].isoformat()
        return out, errors

    def _object(self, props, raw, path, out, errors, smap, filename) -> None:
        for spec in props:
            if spec.name in raw:
                out[spec.name] = self._value(spec, raw[spec.name], path + (spec.name,), errors, smap, filename)

    def _value(self, spec: FactSpec, raw: Any, path, errors, smap, filename) -> Any:
        kind = spec.type.kind

        def fail(message: str) -> None:
            errors.append(Diagnostic(smap.location(path, default_file=filename), "case-invalid", message))

        if kind in ("number", "money"):
            places = MONEY_PLACES if kind == "money" else NUMBER_PLACES
            try:
                value = Decimal(str(raw)) if not isinstance(raw, Decimal) else raw
            except InvalidOperation:
                fail(f"{spec.label.zh} ({spec.name}): not a number: {raw!r}")
                return None
            if not value.is_finite():
                fail(f"{spec.label.zh} ({spec.name}): {value} is not a number")
                return None
            if abs(value) >= MAX_MAGNITUDE:
                fail(f"{spec.label.zh} ({spec.name}): {value} is too large (limit 10^12)")
                return None
            quantum = Decimal(1).scaleb(-places)
            if value != value.quantize(quantum):
                fail(f"{spec.label.zh} ({spec.name}): {value} has more than {places} decimal places")
                return None
            # Money carries its cents; a number keeps the scale it was written with (2.5 stays 2.5).
            return value.quantize(quantum) if kind == "money" else value
        if kind == "integer":
            if abs(raw) >= MAX_MAGNITUDE:
                fail(f"{spec.label.zh} ({spec.name}): {raw} is too large (limit 10^12)")
                return None
            return int(raw)
        if kind in ("date", "datetime"):
            try:
                value = date.fromisoformat(raw) if kind == "date" else parse_datetime(raw, self.tz)
            except ValueError as exc:
                fail(f"{spec.label.zh} ({spec.name}): invalid {kind} {raw!r}: {exc}")
                return None
            if not MIN_YEAR <= value.year <= MAX_YEAR:
                fail(f"{spec.label.zh} ({spec.name}): year {value.year} is outside {MIN_YEAR}-{MAX_YEAR}")
                return None
            return value
        if kind == "list" and spec.item is not None:
            return tuple(self._value(spec.item, v, path + (i,), errors, smap, filename) for i, v in enumerate(raw))
        if kind == "object":
            obj: dict[str, Any] = {}
            self._object(spec.properties, raw, path, obj, errors, smap, filename)
            return obj
        return raw
