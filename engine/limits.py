"""Limits on everything an input controls, in one table: each has its own error code (docs/security.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    """One bound on input: its value, the error code that reports it, and what it bounds."""

    name: str
    value: int
    code: str
    what: str
    env: str | None = None  # the environment variable that overrides it, when one does

    def current(self) -> int:
        """The value in force: the environment's override (read at each call) when it is a positive integer."""
        text = os.environ.get(self.env, "").strip() if self.env else ""
        return int(text) if text.isdigit() and 0 < len(text) <= 15 and int(text) > 0 else self.value


MIB = 1024 * 1024

FILE_BYTES = Limit(
    "file_bytes",
    8 * MIB,
    "file-too-large",
    "bytes in one YAML/JSON file (policy, include, form, tests, case)",
    "ZHIDU_MAX_FILE_BYTES",
)
YAML_NODES = Limit(
    "yaml_nodes",
    1_000_000,
    "yaml-too-large",
    "values in one YAML document, counting each use of an alias in full (stops alias bombs)",
)
YAML_DEPTH = Limit("yaml_depth", 100, "yaml-too-deep", "nesting depth of mappings and lists in one YAML/JSON file")
YAML_ALIASES = Limit(
    "yaml_aliases", 1_000, "yaml-alias-limit", "uses of aliases (*name) in one pack, form or tests file"
)
CASE_BYTES = Limit(
    "case_bytes",
    1 * MIB,
    "case-too-large",
    "bytes in one case (a case file, stdin, or one batch line)",
    "ZHIDU_MAX_CASE_BYTES",
)
CASE_VALUES = Limit("case_values", 20_000, "case-too-large", "values (keys, items, scalars) in one case")
CASE_DEPTH = Limit("case_depth", 32, "case-too-deep", "nesting depth of objects and lists in one case")
NUMBER_DIGITS = Limit(
    "number_digits", 40, "number-too-long", "digits in one number written in a case, a pack or an expression"
)
EXPR_LENGTH = Limit("expr_length", 10_000, "expr-too-long", "characters in one expression")
EXPR_DEPTH = Limit(
    "expr_depth",
    64,
    "expr-too-deep",
    "nesting of parentheses, lists, calls, not and minus, and terms of one sum or product",
)
TABLE_ROWS = Limit("table_rows", 20_000, "table-too-large", "rows in one decision table")
TEMPLATE_OUTPUT = Limit("template_output", 4 * MIB, "template-limit", "characters one rendered form may have")
TEMPLATE_WORK = Limit(
    "template_work", 1_000_000, "template-limit", "loop steps and operations one form rendering may take"
)
PATTERN_LENGTH = Limit("pattern_length", 64, "numbering-pattern", "characters in a form numbering pattern")
PATTERN_WIDTH = Limit("pattern_width", 20, "numbering-pattern", "width of one field of a numbering pattern")

ALL: tuple[Limit, ...] = (
    FILE_BYTES,
    YAML_NODES,
    YAML_DEPTH,
    YAML_ALIASES,
    CASE_BYTES,
    CASE_VALUES,
    CASE_DEPTH,
    NUMBER_DIGITS,
    EXPR_LENGTH,
    EXPR_DEPTH,
    TABLE_ROWS,
    TEMPLATE_OUTPUT,
    TEMPLATE_WORK,
    PATTERN_LENGTH,
    PATTERN_WIDTH,
)


def markdown_table() -> str:
    """The limits as the Markdown table docs/security.md carries (a test keeps the two equal)."""
    lines = ["| limit | value | error code | bounds | override |", "| --- | --- | --- | --- | --- |"]
    for limit in ALL:
        lines.append(f"| `{limit.name}` | {limit.value:,} | `{limit.code}` | {limit.what} | {limit.env or '-'} |")
    return "\n".join(lines)
