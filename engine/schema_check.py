"""JSON Schema validation whose errors point at file:line:col with a JSON path and a hint."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import jsonschema

from .errors import Diagnostic, did_you_mean
from .source import SourceMap

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return "a number"


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _message(error: jsonschema.ValidationError) -> str:
    kind = error.validator
    if kind == "type":
        wanted = error.validator_value
        names = [_TYPE_NAMES.get(w, w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        return f"expected {' or '.join(names)}, got {_describe(error.instance)}"
    if kind == "enum":
        options = ", ".join(repr(v) for v in error.validator_value[:12])
        hint = did_you_mean(str(error.instance), [str(v) for v in error.validator_value])
        return f"{error.instance!r} is not one of {options}{hint}"
    if kind == "pattern":
        form = error.schema.get("description", error.validator_value)
        text = f"{error.instance!r} does not match the expected form {form}"
        if isinstance(error.instance, str) and "THH:MM" in str(form) and _DATE_ONLY.match(error.instance):
            # A date where a moment is expected: say how to write the moment.
            text += (
                f": this fact is a date and time; write {error.instance}T00:00:00 for the start of that day "
                "(read in the pack's time zone), or the time it happened"
            )
        return text
    if kind in ("minLength", "minItems", "minProperties") and not error.instance:
        return "must not be empty"
    if kind == "const":
        return f"must be {error.validator_value!r}"
    return error.message


def schema_diagnostics(
    validator: jsonschema.protocols.Validator, data: Any, smap: SourceMap, filename: str, code: str = "schema"
) -> list[Diagnostic]:
    """Every schema violation in `data`, located through `smap`."""
    return diagnostics_of(validator.iter_errors(data), smap, filename, code)


def diagnostics_of(
    errors: Iterable[jsonschema.ValidationError], smap: SourceMap, filename: str, code: str = "schema"
) -> list[Diagnostic]:
    """Located diagnostics for schema errors already found (validating a large pack twice is slow)."""
    out: list[Diagnostic] = []
    for error in errors:
        out.extend(_diagnostics(error, smap, filename, code))
    return out


def _best_branch(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # For oneOf/anyOf, the branch that got furthest explains the problem best.
    if error.validator in ("oneOf", "anyOf") and error.context:
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), e.validator != "type"))
        if len(deepest.absolute_path) > len(error.absolute_path) or deepest.validator != "type":
            return _best_branch(deepest)
    return error


def _comma_hint(key: str, value: Any) -> str:
    """A field with no value whose name reads like text is what a comma inside {…} leaves behind."""
    if value is not None or not (" " in key.strip() or not key.isascii()):
        return ""
    return (
        ": a comma inside {…} starts a new field, so the text after it became a field name; "
        'put text that contains a comma in quotes (en: "a, b")'
    )


def _diagnostics(error: jsonschema.ValidationError, smap: SourceMap, filename: str, code: str) -> list[Diagnostic]:
    error = _best_branch(error)
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        extras = [k for k in error.instance if k not in known and not any(re.search(p, k) for p in patterns)]
        return [
            Diagnostic(
                smap.location(path + (k,), key=True, default_file=filename),
                "unknown-field",
                f"unknown field '{k}'{did_you_mean(k, known)}" + _comma_hint(k, error.instance[k]),
            )
            for k in extras
        ]
    if error.validator == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        name = missing[0] if missing else error.message
        return [
            Diagnostic(smap.location(path, default_file=filename), "missing-field", f"missing required field '{name}'")
        ]
    return [Diagnostic(smap.location(path, default_file=filename), code, _message(error))]
