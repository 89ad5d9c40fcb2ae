"""Error types that carry source locations, and the diagnostic record every stage reports."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Location:
    """Where something is: file, 1-based line and column, and the JSON path inside the document."""

    file: str
    line: int = 0
    column: int = 0
    path: str = "$"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found by a stage: `file:line:col: code: message`."""

    location: Location
    code: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        text = f"{self.location}: {self.code}: {self.message}"
        if self.location.path and self.location.path != "$":
            text += f" (at {self.location.path})"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "column": self.location.column,
            "path": self.location.path,
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
        }


def sort_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    """De-duplicate and sort diagnostics by file, line, column, code and message."""
    return sorted(set(diags), key=lambda d: (d.location.file, d.location.line, d.location.column, d.code, d.message))


class ZhiduError(Exception):
    """Base class of every error the engine raises on purpose."""

    exit_code = 1
    default_code = "error"

    def __init__(self, diagnostics: Iterable[Diagnostic] | str, code: str | None = None):
        if isinstance(diagnostics, str):
            self.diagnostics: list[Diagnostic] = []
            message = diagnostics
        else:
            self.diagnostics = sort_diagnostics(diagnostics)
            message = "\n".join(str(d) for d in self.diagnostics)
        self.code = code or (self.diagnostics[0].code if self.diagnostics else self.default_code)
        super().__init__(message)


class PolicyError(ZhiduError):
    """A policy pack failed to load, validate or compile."""

    exit_code = 1


class CaseError(ZhiduError):
    """A case file or case dict does not match the pack's fact vocabulary."""

    exit_code = 3


class EngineUnavailable(ZhiduError):
    """The chosen rule engine cannot run on this Python (durable-rules on 3.13+): a usage error."""

    exit_code = 2
    default_code = "engine-unavailable"


class EvaluationError(ZhiduError):
    """Evaluation could not reach a decision (for example a finding conflict under policy `error`)."""

    exit_code = 4
    default_code = "evaluation-error"


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix when a close candidate exists, else ''."""
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def json_path(parts: Iterable[object]) -> str:
    """Render a path tuple as a JSON path: $.rules[3].when."""
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.replace("_", "").replace("-", "").isalnum() and part.isascii():
            out += f".{part}"
        else:
            out += "[" + repr(str(part)).replace("'", '"') + "]"
    return out
