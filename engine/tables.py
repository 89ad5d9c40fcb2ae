"""Decision tables: unary-test cells compiled to condition-language strings, hit policies and lint.

A table spec (see SPEC_SCHEMA) has inputs (each a value expression of the condition language),
outputs, and rows; each row holds one unary test per input (`when`) and a value per output (`then`).

Unary tests, one per cell (FEEL-like):
    -                      any value, missing included (contributes nothing to the row condition)
    < 5   <= 5000   > 2   >= 3   == x   != x   (`= x` is read as `== x`)
    [a..b]  (a..b)  [a..b)  (a..b]            closed/open ranges on ordered inputs
    allowance, compensation                    one of these values (bare words or "quoted", 中文 too)
    true   false                               booleans
    not(<tests>)                               negates any test but `-`
A cell may list several tests separated by commas: the cell holds when any of them holds.
Literals are typed from the input: enum values are checked against the enum; integers are whole;
numbers have at most 6 decimal places and money at most 2 (read as Decimal); dates `2024-01-01`;
datetimes `2024-01-01T08:00` (without an offset: the table's timezone; a bare date: its midnight);
durations `13d`, `24h`, `30min`, `1.5h`, `2w`, `10s`. Ordering tests and ranges apply only to
numbers, integers, money, dates, datetimes and durations.

A missing input matches `-` only: every other test, negated ones too, is false on a missing value.

Each row compiles to one condition string, e.g.
    resolution in ["allowance", "compensation"] and loss_amount <= 5000
(a row of `-` only is `true`), type-checked with engine.expr; both rule evaluators run these strings,
and `Table.select` applies the hit policy to the rows whose condition held.

Indexes in TableError, TableLint and TableHitError attributes are 0-based; messages count rows and
tests from 1, as an administrator reads them.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from .errors import EvaluationError, did_you_mean
from .expr import ExprError, Scope, check, ir, parse
from .expr.parser import parse_duration_text, tokenize
from .expr.pyeval import MISSING, Env, compile_expr
from .types import Type

HIT_POLICIES = ("first", "unique", "priority", "collect")
AGGREGATES = ("sum", "min", "max", "count")
ORDERED_KINDS = ("number", "integer", "money", "date", "datetime", "duration")
INPUT_KINDS = ("string", "boolean", *ORDERED_KINDS)
NUMBER_PLACES = 6  # as facts.NUMBER_PLACES: what the durable encoding keeps exactly
MONEY_PLACES = 2  # as facts.MONEY_PLACES
MAX_GAP_EXAMPLES = 5
DEFAULT_TZ = ZoneInfo("Asia/Shanghai")
# Lint explores candidate combinations; past this many steps it stops and reports only what it proved.
LINT_BUDGET = 200_000

_IDENTIFIER = r"^[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*$"
_ID = r"^[A-Za-z0-9\u4e00-\u9fff][A-Za-z0-9_.\-\u4e00-\u9fff]*$"
_FINDING = r"^[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*(\.[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*)*$"

SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "decision table",
    "description": "Rows of unary tests over inputs; the hit policy picks the rows whose outputs apply.",
    "properties": {
        "id": {"type": "string", "pattern": _ID},
        "description": {"type": "string"},
        "ref": {"type": "string", "minLength": 1, "description": "the clause this table encodes"},
        "hit": {
            "enum": list(HIT_POLICIES),
            "description": "first: first matching row; unique: at most one row may match; "
            "priority: highest row priority wins; collect: every matching row, in order",
        },
        "inputs": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "pattern": _IDENTIFIER},
                    "expr": {
                        "type": "string",
                        "minLength": 1,
                        "description": "a value expression (fact, findings.x, arithmetic); defaults to name",
                    },
                    "description": {"type": "string"},
                },
                "required": ["name"],
                "additionalProperties": False,
            },
        },
        "outputs": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"type": "string", "pattern": _IDENTIFIER},
        },
        "findings": {
            "type": "object",
            "propertyNames": {"pattern": _IDENTIFIER},
            "additionalProperties": {"type": "string", "pattern": _FINDING},
            "description": "output → finding the table fills (a row's value may be '= expression')",
        },
        "aggregate": {
            "enum": list(AGGREGATES),
            "description": "with hit: collect, one value from the matching rows: sum, min, max or count",
        },
        "rows": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "when": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "anyOf": [{"type": "string", "minLength": 1}, {"type": "number"}, {"type": "boolean"}]
                        },
                        "description": "one unary test per input: -, < 5, [a..b), a, b, not(...)",
                    },
                    "then": {
                        "type": "object",
                        "propertyNames": {"pattern": _IDENTIFIER},
                        "description": "a value for every output",
                    },
                    "priority": {"type": "integer", "description": "only with hit: priority; highest wins"},
                    "ref": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                },
                "required": ["when", "then"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["id", "hit", "inputs", "outputs", "rows"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"hit": {"const": "priority"}}, "required": ["hit"]},
            "then": {"properties": {"rows": {"items": {"required": ["priority"]}}}},
        }
    ],
}


# -- errors -------------------------------------------------------------------------------------


class TableError(Exception):
    """A bad table spec. row/column are 0-based (None: not about one row / one input); `path` is the
    JSON path inside the spec, e.g. ("rows", 2, "when", 1); `offset` is inside an input's expr."""

    def __init__(
        self,
        row: int | None,
        column: int | None,
        message: str,
        *,
        path: tuple[str | int, ...] = (),
        offset: int | None = None,
    ):
        super().__init__(message)
        self.row = row
        self.column = column
        self.message = message
        self.path = path
        self.offset = offset
        self.errors: list[TableError] = [self]

    def __str__(self) -> str:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.path)
        return f"{where.lstrip('.')}: {self.message}" if where else self.message


class TableHitError(EvaluationError):
    """The hit policy cannot choose: several rows under `unique`, or a priority tie."""

    default_code = "table-hit"

    def __init__(self, table_id: str, rows: list[int], message: str):
        super().__init__(message, code="table-hit")
        self.table_id = table_id
        self.rows = rows
        self.message = message


# -- unary tests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnyValue:
    """`-`"""


@dataclass(frozen=True)
class Comparison:
    op: str  # < <= > >= !=   (== becomes OneOf)
    value: Any


@dataclass(frozen=True)
class Interval:
    low: Any
    high: Any
    low_closed: bool
    high_closed: bool


@dataclass(frozen=True)
class OneOf:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class AnyOf:
    """Several comma-separated tests of one cell: holds when one of them holds."""

    tests: tuple[UnaryTest, ...]


@dataclass(frozen=True)
class Negation:
    test: UnaryTest


UnaryTest = AnyValue | Comparison | Interval | OneOf | AnyOf | Negation


# -- compiled table -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    name: str
    expr: str
    type: Type
    subject: str  # how conditions name the value: the path, or the expression in parentheses
    node: ir.Node = field(compare=False, repr=False)


@dataclass(frozen=True)
class Row:
    """One row: its typed tests, per-input conditions (None for `-`), the row condition and outputs.
    `outputs` is a private copy of the spec's `then`; treat it as read-only."""

    index: int
    tests: tuple[UnaryTest, ...]
    cells: tuple[str | None, ...]
    condition: str
    outputs: dict[str, Any]
    priority: int | None = None
    ref: str | None = None
    node: ir.Node | None = field(default=None, compare=False, repr=False)
    predicate: Callable[[Env], Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Table:
    id: str
    hit: str
    inputs: tuple[Input, ...]
    outputs: tuple[str, ...]
    rows: tuple[Row, ...]
    tz: ZoneInfo = DEFAULT_TZ
    description: str | None = None
    ref: str | None = None
    findings: tuple[tuple[str, str], ...] = ()  # (output, finding) pairs the table fills
    aggregate: str | None = None

    @property
    def conditions(self) -> tuple[str, ...]:
        """One condition-language string per row, in row order."""
        return tuple(r.condition for r in self.rows)

    def select(self, matched_row_indexes: Collection[int]) -> list[Row]:
        """Apply the hit policy to the rows whose condition held; raises TableHitError."""
        matched = sorted(set(matched_row_indexes))
        for i in matched:
            if not 0 <= i < len(self.rows):
                raise ValueError(f"table '{self.id}' has no row {i}")
        rows = [self.rows[i] for i in matched]
        if not rows:
            return []
        if self.hit == "first":
            return rows[:1]
        if self.hit == "collect":
            return rows
        if self.hit == "unique":
            if len(rows) > 1:
                raise TableHitError(
                    self.id,
                    matched,
                    f"table '{self.id}' (hit: unique): {_rows_text(matched)} all match; exactly one may",
                )
            return rows
        top = max(r.priority or 0 for r in rows)
        best = [r for r in rows if (r.priority or 0) == top]
        if len(best) > 1:
            idx = [r.index for r in best]
            raise TableHitError(
                self.id, idx, f"table '{self.id}' (hit: priority): {_rows_text(idx)} match with the same priority {top}"
            )
        return best


def _rows_text(indexes: Collection[int]) -> str:
    nums = [str(i + 1) for i in indexes]
    if len(nums) == 1:
        return f"row {nums[0]}"
    return "rows " + ", ".join(nums[:-1]) + " and " + nums[-1]


def matched_rows(table: Table, env: Env) -> list[int]:
    """Indexes of the rows whose condition holds, on the Python evaluator."""
    return [r.index for r in table.rows if r.predicate is not None and r.predicate(env) is True]


def evaluate_python(table: Table, env: Env) -> list[Row]:
    """The rows the hit policy picks, evaluated on the Python side (lint, tests)."""
    return table.select(matched_rows(table, env))


# -- compiling ----------------------------------------------------------------------------------


def check_table(spec: Mapping[str, Any], scope: Scope) -> list[TableError]:
    """Every problem of a table spec, in spec order; empty when it compiles."""
    return _Compiler(spec, scope).run()[1]


def compile_table_checked(spec: Mapping[str, Any], scope: Scope) -> tuple[Table | None, list[TableError]]:
    """Compile once: (the table, []) or (None, every problem in spec order)."""
    table, errors = _Compiler(spec, scope).run()
    return (None if errors else table), errors


def compile_table(spec: Mapping[str, Any], scope: Scope) -> Table:
    """Compile a table spec against a scope; raises the first TableError (all of them in `.errors`)."""
    table, errors = _Compiler(spec, scope).run()
    if errors or table is None:
        first = errors[0] if errors else TableError(None, None, "invalid table")
        first.errors = errors
        raise first
    return table


class _CellError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class _Compiler:
    def __init__(self, spec: Mapping[str, Any], scope: Scope):
        self.spec = spec
        self.scope = scope
        self.errors: list[TableError] = []

    def error(self, row: int | None, column: int | None, message: str, path: tuple[str | int, ...], **kw) -> None:
        self.errors.append(TableError(row, column, message, path=path, **kw))

    def run(self) -> tuple[Table | None, list[TableError]]:
        spec = self.spec
        if not isinstance(spec, Mapping):
            return None, [TableError(None, None, "a table must be a mapping")]
        table_id = spec.get("id")
        if not isinstance(table_id, str) or not table_id:
            self.error(None, None, "a table needs an id", ("id",))
            table_id = "?"
        hit = spec.get("hit")
        if hit not in HIT_POLICIES:
            hint = did_you_mean(hit, HIT_POLICIES) if isinstance(hit, str) else ""
            self.error(None, None, f"hit must be one of {', '.join(HIT_POLICIES)}, not {hit!r}{hint}", ("hit",))
        inputs = self._inputs(spec.get("inputs"))
        outputs = self._outputs(spec.get("outputs"))
        raw_rows = spec.get("rows")
        rows: list[Row] = []
        if not isinstance(raw_rows, list) or not raw_rows:
            self.error(None, None, "a table needs at least one row", ("rows",))
        elif inputs is not None and outputs is not None:
            for i, raw in enumerate(raw_rows):
                row = self._row(i, raw, inputs, outputs, hit)
                if row is not None:
                    rows.append(row)
        findings = self._findings(spec.get("findings"), outputs or [])
        aggregate = spec.get("aggregate")
        if aggregate is not None and (aggregate not in AGGREGATES or hit != "collect"):
            self.error(None, None, f"aggregate ({', '.join(AGGREGATES)}) applies only to hit: collect", ("aggregate",))
        if self.errors or inputs is None or outputs is None:
            return None, self.errors
        table = Table(
            id=table_id,
            hit=str(hit),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            rows=tuple(rows),
            tz=self.scope.tz,
            description=spec.get("description"),
            ref=spec.get("ref"),
            findings=findings,
            aggregate=aggregate,
        )
        return table, []

    def _findings(self, raw: Any, outputs: list[str]) -> tuple[tuple[str, str], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            self.error(None, None, "findings maps outputs to findings: {output: finding}", ("findings",))
            return ()
        pairs = []
        for output, finding in raw.items():
            if output not in outputs:
                hint = did_you_mean(str(output), outputs)
                self.error(None, None, f"'{output}' is not an output of this table{hint}", ("findings", output))
            elif not isinstance(finding, str) or not re.fullmatch(_FINDING, finding):
                self.error(None, None, f"findings.{output} must name a finding", ("findings", output))
            else:
                pairs.append((output, finding))
        return tuple(pairs)

    def _inputs(self, raw: Any) -> list[Input] | None:
        if not isinstance(raw, list) or not raw:
            self.error(None, None, "a table needs at least one input", ("inputs",))
            return None
        out: list[Input] = []
        names: set[str] = set()
        ok = True
        for k, item in enumerate(raw):
            path: tuple[str | int, ...] = ("inputs", k)
            if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
                self.error(None, k, "an input needs a name", path)
                ok = False
                continue
            name = item["name"]
            if not re.fullmatch(_IDENTIFIER, name):
                self.error(None, k, f"input name '{name}' must be letters, digits and _", (*path, "name"))
                ok = False
            if name in names:
                self.error(None, k, f"input '{name}' is declared twice", (*path, "name"))
                ok = False
            names.add(name)
            expr = item.get("expr", name)
            if not isinstance(expr, str) or not expr.strip():
                self.error(None, k, "an input's expr must be a non-empty expression", (*path, "expr"))
                ok = False
                continue
            try:
                node = check(parse(expr), self.scope, want_boolean=False)
            except ExprError as exc:
                self.error(None, k, f"input '{name}': {exc.message}", (*path, "expr"), offset=exc.offset)
                ok = False
                continue
            t = node.type
            if t is None or t.kind not in INPUT_KINDS:
                self.error(None, k, f"input '{name}' is {t}: a table input must be a single value", (*path, "expr"))
                ok = False
                continue
            subject = node.dotted if isinstance(node, ir.Path) else f"({expr.strip()})"
            out.append(Input(name, expr.strip(), t, subject, node))
        return out if ok else None

    def _outputs(self, raw: Any) -> list[str] | None:
        if not isinstance(raw, list) or not raw:
            self.error(None, None, "a table needs at least one output", ("outputs",))
            return None
        seen: list[str] = []
        ok = True
        for k, name in enumerate(raw):
            if not isinstance(name, str) or not re.fullmatch(_IDENTIFIER, name):
                self.error(None, None, f"output name {name!r} must be letters, digits and _", ("outputs", k))
                ok = False
            elif name in seen:
                self.error(None, None, f"output '{name}' is declared twice", ("outputs", k))
                ok = False
            else:
                seen.append(name)
        return seen if ok else None

    def _row(self, i: int, raw: Any, inputs: list[Input], outputs: list[str], hit: Any) -> Row | None:
        path: tuple[str | int, ...] = ("rows", i)
        if not isinstance(raw, Mapping):
            self.error(i, None, f"row {i + 1} must be a mapping with when and then", path)
            return None
        before = len(self.errors)
        unknown = sorted(set(raw) - {"when", "then", "priority", "ref", "description"})
        for key in unknown:
            hint = did_you_mean(str(key), ["when", "then", "priority", "ref", "description"])
            self.error(i, None, f"unknown row key '{key}'{hint}", (*path, key))
        when = raw.get("when")
        tests: list[UnaryTest] = []
        if not isinstance(when, list):
            self.error(i, None, f"row {i + 1} needs when: a list of {len(inputs)} tests", (*path, "when"))
        elif len(when) != len(inputs):
            self.error(
                i,
                None,
                f"row {i + 1} has {len(when)} test{'s' if len(when) != 1 else ''}, "
                f"the table has {len(inputs)} input{'s' if len(inputs) != 1 else ''} "
                f"({', '.join(x.name for x in inputs)})",
                (*path, "when"),
            )
        else:
            for k, (cell, inp) in enumerate(zip(when, inputs, strict=True)):
                try:
                    tests.append(parse_unary_test(cell, inp.type, self.scope.tz))
                except _CellError as exc:
                    self.error(i, k, f"input '{inp.name}': {exc.message}", (*path, "when", k))
        then = raw.get("then")
        values: dict[str, Any] = {}
        if not isinstance(then, Mapping):
            self.error(i, None, f"row {i + 1} needs then: a value for each output", (*path, "then"))
        else:
            for key, value in then.items():
                if key not in outputs:
                    hint = did_you_mean(str(key), outputs)
                    self.error(
                        i,
                        None,
                        f"'{key}' is not an output of this table{hint} (outputs: {', '.join(outputs)})",
                        (*path, "then", key),
                    )
                else:
                    values[key] = copy.deepcopy(value)
            missing = [o for o in outputs if o not in then]
            if missing:
                self.error(i, None, f"row {i + 1} does not set output {', '.join(missing)}", (*path, "then"))
        priority = raw.get("priority")
        if hit == "priority":
            if priority is None:
                self.error(i, None, f"row {i + 1} needs a priority (hit: priority)", path)
            elif isinstance(priority, bool) or not isinstance(priority, int):
                self.error(i, None, f"priority must be an integer, not {priority!r}", (*path, "priority"))
        elif priority is not None:
            self.error(i, None, f"priority applies only to hit: priority (this table is {hit})", (*path, "priority"))
        ref = raw.get("ref")
        if len(self.errors) > before:
            return None
        cells = tuple(render_test(t, x.subject) for t, x in zip(tests, inputs, strict=True))
        present = [c for c in cells if c is not None]
        condition = " and ".join(f"({c})" if _top_or(c) and len(present) > 1 else c for c in present) or "true"
        try:
            node = check(parse(condition), self.scope)
        except ExprError as whole:
            # Parsed cell by cell only now, to say which cell is wrong (large tables parse each row once).
            for k, cell in enumerate(cells):
                if cell is None:
                    continue
                try:
                    check(parse(cell), self.scope)
                except ExprError as exc:
                    self.error(i, k, f"input '{inputs[k].name}': {exc.message}", (*path, "when", k))
            if len(self.errors) == before:
                self.error(i, None, f"row condition {condition!r}: {whole.message}", (*path, "when"))
            return None
        return Row(
            index=i,
            tests=tuple(tests),
            cells=cells,
            condition=condition,
            outputs=values,
            priority=priority if hit == "priority" else None,
            ref=ref if isinstance(ref, str) else None,
            node=node,
            predicate=compile_expr(node),
        )


# -- unary test parsing -------------------------------------------------------------------------


_CMP_OPS = ("<=", ">=", "==", "!=", "<", ">", "=")
_INVERSE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
_RANGE = re.compile(r"([\[(])(.*?)\.\.(.*)([\])])", re.S)
_NOT = re.compile(r"not\s*\((.*)\)", re.S)
_RANGE_HELP = "a range is written [low..high], (low..high), [low..high) or (low..high]"


def parse_unary_test(cell: Any, t: Type, tz: ZoneInfo = DEFAULT_TZ) -> UnaryTest:
    """One cell → a typed unary test; raises _CellError with a message for the administrator."""
    if isinstance(cell, bool):
        text = "true" if cell else "false"
    elif isinstance(cell, int | Decimal):
        text = str(cell)
    elif isinstance(cell, str):
        text = cell.strip()
    else:
        raise _CellError(f"a test must be text, a number or true/false, not {cell!r}")
    if not text:
        raise _CellError("empty test (write - for any value)")
    if text == "-":
        return AnyValue()
    return _tests(text, t, tz)


def _tests(text: str, t: Type, tz: ZoneInfo) -> UnaryTest:
    parts = _split(text)
    tests: list[UnaryTest] = []
    for part in parts:
        if not part:
            raise _CellError(f"empty test between commas in {text!r}")
        if part == "-":
            raise _CellError("'-' (any value) must stand alone")
        tests.append(_one(part, t, tz))
    if all(isinstance(x, OneOf) for x in tests):
        values: list[Any] = []
        for x in tests:
            for v in x.values:  # type: ignore[union-attr]
                if v in values:
                    raise _CellError(f"{_show(v)} is listed twice")
                values.append(v)
        return OneOf(tuple(values))
    return tests[0] if len(tests) == 1 else AnyOf(tuple(tests))


def _split(text: str) -> list[str]:
    """Split on commas outside quotes and brackets."""
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    buf: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and i + 1 < len(text):
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            buf.append(ch)
        elif ch in "[(":
            depth += 1
            buf.append(ch)
        elif ch in "])":
            depth -= 1
            if depth < 0:
                raise _CellError(f"unbalanced '{ch}' in {text!r}")
            buf.append(ch)
        elif ch == "," and depth == 0:
            parts.append("".join(buf).strip())
            buf = []
        else:
            buf.append(ch)
        i += 1
    if quote:
        raise _CellError(f"unterminated string in {text!r}")
    if depth:
        raise _CellError(f"unbalanced brackets in {text!r}")
    parts.append("".join(buf).strip())
    return parts


def _one(part: str, t: Type, tz: ZoneInfo) -> UnaryTest:
    m = _NOT.fullmatch(part)
    if m:
        inner = m.group(1).strip()
        if not inner:
            raise _CellError("not() needs a test inside")
        if inner == "-":
            raise _CellError("not(-) matches nothing")
        return Negation(_tests(inner, t, tz))
    if part[0] in "[(":
        rm = _RANGE.fullmatch(part)
        if not rm:
            raise _CellError(f"bad range {part!r}: {_RANGE_HELP}")
        _ordered(t, "a range")
        lo_text, hi_text = rm.group(2).strip(), rm.group(3).strip()
        if not lo_text or not hi_text:
            raise _CellError(f"bad range {part!r}: both bounds are needed (use <, <=, >, >= for one bound)")
        low, high = _literal(lo_text, t, tz), _literal(hi_text, t, tz)
        low_closed, high_closed = rm.group(1) == "[", rm.group(4) == "]"
        if low > high:
            raise _CellError(f"bad range {part!r}: the low bound is above the high bound")
        if low == high and not (low_closed and high_closed):
            raise _CellError(f"bad range {part!r}: it holds no value")
        return Interval(low, high, low_closed, high_closed)
    for op in _CMP_OPS:
        if part.startswith(op):
            rest = part[len(op) :].strip()
            if not rest:
                raise _CellError(f"'{op}' needs a value after it")
            op = "==" if op == "=" else op
            if op not in ("==", "!="):
                _ordered(t, f"'{op}'")
            value = _literal(rest, t, tz)
            return OneOf((value,)) if op == "==" else Comparison(op, value)
    return OneOf((_literal(part, t, tz),))


def _ordered(t: Type, what: str) -> None:
    if t.kind not in ORDERED_KINDS:
        kind = "enum" if t.values is not None else t.kind
        raise _CellError(f"{what} needs an ordered input (number, money, date, datetime, duration), this one is {kind}")


def _unquote(text: str) -> str | None:
    if text[:1] not in ("'", '"'):
        return None
    try:
        toks = tokenize(text)
    except ExprError as exc:
        raise _CellError(f"{exc.message} in {text}") from None
    if len(toks) != 2 or toks[0].kind != "str":
        raise _CellError(f"text after the closing quote in {text}")
    return str(toks[0].value)


_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"[+-]?\d+(\.(\d+))?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?")


def _literal(text: str, t: Type, tz: ZoneInfo) -> Any:
    quoted = _unquote(text)
    raw = quoted if quoted is not None else text
    kind = t.kind
    if kind == "string":
        if t.values is not None and raw not in t.values:
            hint = did_you_mean(raw, t.values)
            listing = "" if hint or len(t.values) > 12 else f" (values: {', '.join(t.values)})"
            raise _CellError(f"'{raw}' is not a value of this enum{hint}{listing}")
        return raw
    if quoted is not None and kind != "date" and kind != "datetime":
        raise _CellError(f"{text} is quoted text, the input is {kind}")
    if kind == "boolean":
        if raw in ("true", "false"):
            return raw == "true"
        raise _CellError(f"'{raw}' is not true or false")
    if kind == "integer":
        if not _INT.fullmatch(raw):
            raise _CellError(f"'{raw}' is not a whole number (the input is integer)")
        return int(raw)
    if kind in ("number", "money"):
        m = _DEC.fullmatch(raw)
        if not m:
            raise _CellError(f"'{raw}' is not a number (the input is {kind}; write e.g. 5000 or 5000.50)")
        places = len(m.group(2) or "")
        limit = MONEY_PLACES if kind == "money" else NUMBER_PLACES
        if places > limit:
            raise _CellError(f"'{raw}': {kind} has at most {limit} decimal places")
        value = Decimal(raw)
        return int(value) if places == 0 else value
    if kind == "date":
        if not _DATE.fullmatch(raw):
            raise _CellError(f"'{raw}' is not a date: write YYYY-MM-DD")
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise _CellError(f"'{raw}' is not a date: {exc}") from None
    if kind == "datetime":
        try:
            if _DATE.fullmatch(raw):
                d = date.fromisoformat(raw)
                return datetime(d.year, d.month, d.day, tzinfo=tz)
            if not _DATETIME.fullmatch(raw):
                raise ValueError("write YYYY-MM-DDTHH:MM[:SS][+08:00]")
            value = datetime.fromisoformat(raw)
        except ValueError as exc:
            raise _CellError(f"'{raw}' is not a datetime: {exc}") from None
        return value if value.tzinfo is not None else value.replace(tzinfo=tz)
    if kind == "duration":
        value = parse_duration_text(raw)
        if value is None:
            raise _CellError(f"'{raw}' is not a duration: write a number and a unit (w, d, h, min, s), e.g. 13d")
        return value
    raise _CellError(f"inputs of type {kind} cannot be tested")


# -- rendering ----------------------------------------------------------------------------------


def literal_text(value: Any) -> str:
    """A typed value as a condition-language literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
        return f'"{escaped}"'
    if isinstance(value, datetime):
        return f'datetime("{value.isoformat()}")'
    if isinstance(value, date):
        return f'date("{value.isoformat()}")'
    if isinstance(value, timedelta):
        return _duration_text(value)
    raise TypeError(f"no literal for {value!r}")


def _duration_text(value: timedelta) -> str:
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    for unit, size in (("w", 7 * 86_400_000_000), ("d", 86_400_000_000), ("h", 3_600_000_000)):
        if micros and micros % size == 0:
            return f"{sign}{micros // size}{unit}"
    if micros and micros % 60_000_000 == 0:
        return f"{sign}{micros // 60_000_000}min"
    return f"{sign}{format(Decimal(micros) / Decimal(1_000_000), 'f')}s"


def _show(value: Any) -> str:
    """A value as a message shows it (the way a cell writes it)."""
    if value is MISSING:
        return "(missing)"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return literal_text(value)


def render_test(test: UnaryTest, subject: str, negated: bool = False) -> str | None:
    """The condition text of one cell; None for `-`."""
    if isinstance(test, AnyValue):
        return None
    return _render(test, subject, negated)


def _top_or(text: str) -> bool:
    """Whether `text` has an `or` outside parentheses and strings (it must be wrapped inside `and`)."""
    return _top_level(text, " or ")


def _top_and(text: str) -> bool:
    return _top_level(text, " and ")


def _top_level(text: str, word: str) -> bool:
    depth = 0
    quote: str | None = None
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(word, i):
            return True
        i += 1
    return False


def _render(test: UnaryTest, s: str, negated: bool) -> str:
    if isinstance(test, Comparison):
        op = _INVERSE[test.op] if negated else test.op
        return f"{s} {op} {literal_text(test.value)}"
    if isinstance(test, OneOf):
        if len(test.values) == 1:
            return f"{s} {'!=' if negated else '=='} {literal_text(test.values[0])}"
        items = ", ".join(literal_text(v) for v in test.values)
        return f"{s} {'not in' if negated else 'in'} [{items}]"
    if isinstance(test, Interval):
        if negated:
            lo = "<" if test.low_closed else "<="
            hi = ">" if test.high_closed else ">="
            return f"{s} {lo} {literal_text(test.low)} or {s} {hi} {literal_text(test.high)}"
        lo = ">=" if test.low_closed else ">"
        hi = "<=" if test.high_closed else "<"
        return f"{s} {lo} {literal_text(test.low)} and {s} {hi} {literal_text(test.high)}"
    if isinstance(test, Negation):
        return _render(test.test, s, not negated)
    if isinstance(test, AnyOf):
        parts = [_render(x, s, negated) for x in test.tests]
        if negated:  # not(a or b) = not a and not b
            return " and ".join(f"({p})" if _top_or(p) else p for p in parts)
        return " or ".join(f"({p})" if _top_and(p) else p for p in parts)
    raise TypeError(f"no condition for {test!r}")


# -- lint ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableLint:
    """A finding of lint: kind is gap, overlap, unreachable or unknown-role; row is 0-based (None for
    gaps); example maps input names to values no row (gap) or both rows (overlap) match."""

    kind: str
    row: int | None
    message: str
    example: dict[str, Any] | None = None
    related: tuple[int, ...] = ()


_PROBE = "_v"
_ANY_VALUE: dict[str, Any] = {
    "integer": 0,
    "money": Decimal(0),
    "number": Decimal(0),
    "date": date(2024, 1, 1),
    "datetime": datetime(2024, 1, 1, tzinfo=UTC),
    "duration": timedelta(0),
}


def _steps(t: Type) -> Any:
    return {
        "integer": 1,
        "money": Decimal("0.01"),
        "number": Decimal("0.000001"),
        "date": timedelta(days=1),
        "datetime": timedelta(seconds=1),
        "duration": timedelta(seconds=1),
    }[t.kind]


def _bounds(test: UnaryTest) -> Iterator[Any]:
    if isinstance(test, Comparison):
        yield test.value
    elif isinstance(test, Interval):
        yield test.low
        yield test.high
    elif isinstance(test, OneOf):
        yield from test.values
    elif isinstance(test, AnyOf):
        for x in test.tests:
            yield from _bounds(x)
    elif isinstance(test, Negation):
        yield from _bounds(test.test)


def candidates(table: Table, k: int) -> list[Any]:
    """Values of input k, one per class of values every test of the column treats alike, and the
    missing value (only `-` matches it), so a catch-all row is never called unreachable."""
    return [*_present_candidates(table, k), MISSING]


def _present_candidates(table: Table, k: int) -> list[Any]:
    inp = table.inputs[k]
    t = inp.type
    # dict, not list: a membership test per bound made a 5,000-row column quadratic
    seen = list(dict.fromkeys(b for row in table.rows for b in _bounds(row.tests[k])))
    if t.values is not None:
        return list(t.values)
    if t.kind == "boolean":
        return [True, False]
    if t.kind == "string":
        other, n = "other", 1
        taken = set(seen)
        while other in taken:
            n += 1
            other = f"other{n}"
        return [*seen, other]
    if not seen:
        return [_ANY_VALUE[t.kind]]
    step = _steps(t)
    # Facts are normalised onto a grid (whole numbers, cents, 6 places, days), so between two adjacent
    # grid points there is nothing to find; a computed value may fall anywhere, so take the midpoint.
    discrete = t.kind in ("integer", "date") or (t.kind in ("money", "number") and isinstance(inp.node, ir.Path))
    points = sorted(seen)
    out = [points[0] - step]
    for lo, hi in zip(points, points[1:], strict=False):
        out.append(lo)
        if lo + step < hi:
            out.append(lo + step)
        elif not discrete:
            mid = lo + (hi - lo) / 2
            if lo < mid < hi:
                out.append(mid)
    out.append(points[-1])
    out.append(points[-1] + step)
    return out


Spans = list[tuple[int, int]]  # sorted, disjoint, inclusive index ranges


def _union(spans: Spans) -> Spans:
    out: Spans = []
    for lo, hi in sorted(spans):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _complement(spans: Spans, size: int) -> Spans:
    out: Spans = []
    at = 0
    for lo, hi in spans:
        if lo > at:
            out.append((at, lo - 1))
        at = hi + 1
    if at < size:
        out.append((at, size - 1))
    return out


def _accepted(test: UnaryTest, raw: list[Any], ordered: bool, index: dict[Any, int]) -> Spans:
    """The candidate indexes a test accepts, as ranges: bisection over the sorted candidates of an
    ordered input, look-ups for the others. It must agree with the row condition the engines run
    (a property test compares it with evaluating that condition on every candidate)."""
    from bisect import bisect_left, bisect_right

    size = len(raw)

    def equal(value: Any) -> Spans:
        if ordered:
            lo, hi = bisect_left(raw, value), bisect_right(raw, value)
            return [(lo, hi - 1)] if lo < hi else []
        i = index.get(value)
        return [] if i is None else [(i, i)]

    if isinstance(test, OneOf):
        return _union([span for v in test.values for span in equal(v)])
    if isinstance(test, Comparison):
        if test.op == "!=":
            return _complement(equal(test.value), size)
        v = test.value
        lo, hi = {
            "<": (0, bisect_left(raw, v) - 1),
            "<=": (0, bisect_right(raw, v) - 1),
            ">": (bisect_right(raw, v), size - 1),
            ">=": (bisect_left(raw, v), size - 1),
        }[test.op]
        return [(lo, hi)] if lo <= hi else []
    if isinstance(test, Interval):
        lo = bisect_left(raw, test.low) if test.low_closed else bisect_right(raw, test.low)
        hi = (bisect_right(raw, test.high) if test.high_closed else bisect_left(raw, test.high)) - 1
        return [(lo, hi)] if lo <= hi else []
    if isinstance(test, Negation):
        return _complement(_accepted(test.test, raw, ordered, index), size)
    if isinstance(test, AnyOf):
        return _union([span for x in test.tests for span in _accepted(x, raw, ordered, index)])
    raise TypeError(f"no candidates for {test!r}")


def _mix(r: int) -> int:
    """A fixed 64-bit hash of a row index (splitmix64): XORs of these tell row sets apart."""
    z = (r + 1) * 0x9E3779B97F4A7C15 & 0xFFFFFFFFFFFFFFFF
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & 0xFFFFFFFFFFFFFFFF
    return z ^ (z >> 31)


class _Column:
    """One input's candidate values cut into segments that no test splits, the classes of segments
    every row treats alike (with one value shown for each), and each row's segments as ranges."""

    def __init__(self, table: Table, k: int):
        raw = candidates(table, k)  # the present values, then MISSING (only `-` accepts it)
        present = raw[:-1]
        ordered = table.inputs[k].type.kind in ORDERED_KINDS
        index = {} if ordered else {v: i for i, v in reversed(list(enumerate(present)))}
        spans: list[Spans | None] = [
            None if isinstance(row.tests[k], AnyValue) else _accepted(row.tests[k], present, ordered, index)
            for row in table.rows
        ]
        cuts = {0, len(present), len(raw)}
        for row_spans in spans:
            for lo, hi in row_spans or ():
                cuts.update((lo, hi + 1))
        self.starts = sorted(cuts)[:-1]  # segment s holds candidates starts[s] .. starts[s+1]-1
        position = {start: s for s, start in enumerate(self.starts)}
        position[len(raw)] = len(self.starts)
        self.rows: list[Spans | None] = [
            None if row_spans is None else [(position[lo], position[hi + 1] - 1) for lo, hi in row_spans]
            for row_spans in spans
        ]
        nseg = len(self.starts)
        # The set of rows accepting each segment, as an XOR of row hashes and a count, by a sweep.
        delta_hash = [0] * (nseg + 1)
        delta_count = [0] * (nseg + 1)
        for r, row_spans in enumerate(self.rows):
            for lo, hi in row_spans if row_spans is not None else [(0, nseg - 1)]:
                delta_hash[lo] ^= _mix(r)
                delta_hash[hi + 1] ^= _mix(r)
                delta_count[lo] += 1
                delta_count[hi + 1] -= 1
        signature, running_hash, running_count = [], 0, 0
        for s in range(nseg):
            running_hash ^= delta_hash[s]
            running_count += delta_count[s]
            signature.append((running_hash, running_count))
        # Candidates every test of the column treats alike form one class: keep one, preferring a
        # value written in a test (5000 reads better than 4999.99).
        bounds = {b for row in table.rows for b in _bounds(row.tests[k])}
        groups: dict[tuple[int, int], list[int]] = {}
        for s in range(nseg):
            groups.setdefault(signature[s], []).append(s)
        ends = [*self.starts[1:], len(raw)]
        keep: list[int] = []
        members: list[list[int]] = []
        for segs in groups.values():
            cands = [c for s in segs for c in range(self.starts[s], ends[s])]
            keep.append(next((c for c in cands if raw[c] in bounds), cands[0]))
            members.append(cands)
        order = sorted(range(len(keep)), key=lambda i: keep[i])
        self.values = [raw[keep[i]] for i in order]
        self.alike = [[raw[c] for c in members[i] if c != keep[i]] for i in order]
        class_of_group = {g: n for n, g in enumerate(order)}
        group_ids = {sig: g for g, sig in enumerate(groups)}
        self.seg_class = [class_of_group[group_ids[signature[s]]] for s in range(nseg)]
        self.first_seg = [0] * len(self.values)
        for s in reversed(range(nseg)):
            self.first_seg[self.seg_class[s]] = s
        self.nseg = nseg

    def accepts(self, r: int, c: int) -> bool:
        spans = self.rows[r]
        if spans is None:
            return True
        s = self.first_seg[c]
        from bisect import bisect_right

        i = bisect_right(spans, (s, self.nseg)) - 1
        return i >= 0 and spans[i][0] <= s <= spans[i][1]

    def spans(self, r: int) -> Spans:
        return self.rows[r] if self.rows[r] is not None else [(0, self.nseg - 1)]  # type: ignore[return-value]


def _intersect(a: Spans, b: Spans) -> Spans:
    out: Spans = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo <= hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


class _Analysis:
    """Which candidate classes each row accepts per input, pairs of rows that meet, and cover searches."""

    def __init__(self, table: Table):
        self.table = table
        self.columns = [_Column(table, k) for k in range(len(table.inputs))]
        self.values: list[list[Any]] = [col.values for col in self.columns]
        self.alike: list[list[list[Any]]] = [col.alike for col in self.columns]
        self.steps = 0
        self.exhausted = False

    def accepts(self, r: int, k: int, c: int) -> bool:
        return self.columns[k].accepts(r, c)

    def allowed(self, r: int | None, *, present: bool = False) -> list[list[int]]:
        """Candidate indexes row r accepts per input (every candidate for None); `present` leaves out
        the missing value, so gaps are reported only for values a case can actually carry."""
        out = []
        for col in self.columns:
            if r is None or col.rows[r] is None:
                classes = list(range(len(col.values)))
            else:
                classes = sorted({col.seg_class[s] for lo, hi in col.rows[r] for s in range(lo, hi + 1)})
            out.append([c for c in classes if not (present and col.values[c] is MISSING)])
        return out

    def meeting_pairs(self) -> set[tuple[int, int]]:
        """Every pair of rows (a < b) that some input combination matches both of: swept on the input
        that pairs the fewest rows (sort by start, keep the open ranges), then checked on the others."""
        n = len(self.table.rows)
        if n < 2:
            return set()
        best = min(range(len(self.columns)), key=lambda k: self._pair_count(k))
        pairs = self._sweep(best)
        others = [col for k, col in enumerate(self.columns) if k != best]
        return {(a, b) for a, b in pairs if all(_intersect(col.spans(a), col.spans(b)) for col in others)}

    def _events(self, k: int) -> list[tuple[int, int, int]]:
        col = self.columns[k]
        return sorted((lo, hi, r) for r in range(len(self.table.rows)) for lo, hi in col.spans(r))

    def _pair_count(self, k: int) -> int:
        import heapq

        open_ends: list[int] = []
        count = 0
        for lo, hi, _ in self._events(k):
            while open_ends and open_ends[0] < lo:
                heapq.heappop(open_ends)
            count += len(open_ends)
            heapq.heappush(open_ends, hi)
        return count

    def _sweep(self, k: int) -> set[tuple[int, int]]:
        import heapq

        open_rows: list[tuple[int, int]] = []
        pairs: set[tuple[int, int]] = set()
        for lo, hi, r in self._events(k):
            while open_rows and open_rows[0][0] < lo:
                heapq.heappop(open_rows)
            for _, q in open_rows:
                if q != r:
                    pairs.add((min(q, r), max(q, r)))
            heapq.heappush(open_rows, (hi, r))
        return pairs

    def uncovered(self, rows: list[int], allowed: list[list[int]], limit: int) -> list[tuple[int, ...]]:
        """Up to `limit` candidate combinations within `allowed` that none of `rows` matches."""
        n = len(allowed)
        found: list[tuple[int, ...]] = []
        covered: set[tuple[int, frozenset[int]]] = set()
        allowed_sets = [set(a) for a in allowed]

        def walk(k: int, sub: frozenset[int], prefix: tuple[int, ...]) -> None:
            if len(found) >= limit or self.exhausted:
                return
            self.steps += 1 + len(sub)
            if self.steps > LINT_BUDGET:
                self.exhausted = True
                return
            if not sub:
                found.append(prefix + tuple(allowed[j][0] for j in range(k, n)))
                return
            if k == n or (k, sub) in covered:
                return
            if any(all(self.columns[j].rows[q] is None for j in range(k, n)) for q in sub):
                covered.add((k, sub))
                return
            before = len(found)
            for c, group in self._groups(k, sub, allowed[k], allowed_sets[k]):
                walk(k + 1, group, (*prefix, c))
                if len(found) >= limit or self.exhausted:
                    return
            if len(found) == before:
                covered.add((k, sub))

        if all(allowed):
            walk(0, frozenset(rows), ())
        return found

    def _groups(
        self, k: int, sub: frozenset[int], allowed: list[int], allowed_set: set[int]
    ) -> Iterator[tuple[int, frozenset[int]]]:
        """For each allowed class of input k, in order, the rows of `sub` that accept it: one sweep over
        the segments; a class's rows are read at its first segment."""
        col = self.columns[k]
        wide = [q for q in sub if col.rows[q] is None]
        starts: dict[int, list[int]] = {}
        ends: dict[int, list[int]] = {}
        for q in sub:
            for lo, hi in col.rows[q] or ():
                starts.setdefault(lo, []).append(q)
                ends.setdefault(hi + 1, []).append(q)
        wanted = {col.first_seg[c]: c for c in allowed_set}
        active: set[int] = set(wide)
        rows_of: dict[int, frozenset[int]] = {}
        points = sorted(set(starts) | set(ends) | set(wanted))
        self.steps += len(points)
        for s in points:
            for q in ends.get(s, ()):
                active.discard(q)
            active.update(starts.get(s, ()))
            c = wanted.get(s)
            if c is not None:
                rows_of[c] = frozenset(active)
        for c in allowed:
            yield c, rows_of[c]

    def common(self, a: int, b: int) -> tuple[int, ...] | None:
        """A candidate combination both rows match (the first class of each input), or None."""
        combo = []
        for col in self.columns:
            both = _intersect(col.spans(a), col.spans(b))
            if not both:
                return None
            combo.append(min(col.seg_class[s] for lo, hi in both for s in range(lo, hi + 1)))
        return tuple(combo)

    def example(self, combo: tuple[int, ...]) -> dict[str, Any]:
        return {inp.name: self.values[k][c] for k, (inp, c) in enumerate(zip(self.table.inputs, combo, strict=True))}

    def text(self, combo: tuple[int, ...]) -> str:
        parts = []
        for k, (inp, c) in enumerate(zip(self.table.inputs, combo, strict=True)):
            part = f"{inp.name} = {_show(self.values[k][c])}"
            others = [v for v in self.alike[k][c] if v is not MISSING]
            if others and inp.type.kind in ("string", "boolean"):
                shown = ", ".join(_show(v) for v in others[:5]) + (", …" if len(others) > 5 else "")
                part += f" (or {shown})"
            parts.append(part)
        return ", ".join(parts)


def lint_table(
    table: Table,
    *,
    roles: Collection[str] | None = None,
    role_outputs: Collection[str] = (),
    max_gaps: int = MAX_GAP_EXAMPLES,
) -> list[TableLint]:
    """Gaps, overlaps (unique; priority ties), unreachable rows (first; priority) and unknown roles.

    Lint never reports a false gap, overlap or unreachable row: candidate values cover every class
    of values the tests tell apart; if the search budget runs out it reports only what it proved."""
    unknown_outputs = [o for o in role_outputs if o not in table.outputs]
    if unknown_outputs:
        raise ValueError(f"table '{table.id}' has no output {', '.join(unknown_outputs)}")
    if role_outputs and roles is None:
        raise ValueError("role_outputs needs the set of roles")
    out: list[TableLint] = []
    out.extend(_role_lint(table, roles or (), role_outputs))
    an = _Analysis(table)
    names = [x.name for x in table.inputs]
    pairs = an.meeting_pairs() if table.hit in ("first", "unique", "priority") else set()
    meets: dict[int, list[int]] = {}
    for a, b in sorted(pairs):
        meets.setdefault(b, []).append(a)
        meets.setdefault(a, []).append(b)

    for row in table.rows:
        empty = [names[k] for k, col in enumerate(an.columns) if col.rows[row.index] == []]
        if empty:
            out.append(TableLint("unreachable", row.index, f"row {row.index + 1} matches no value of {empty[0]}"))
            continue
        # Only rows that meet this one can shadow it.
        if table.hit == "first":
            shadow = sorted(q for q in meets.get(row.index, ()) if q < row.index)
        elif table.hit == "priority":
            shadow = sorted(q for q in meets.get(row.index, ()) if (table.rows[q].priority or 0) > (row.priority or 0))
        else:
            continue
        if not shadow:
            continue
        an.exhausted, an.steps = False, 0
        if an.uncovered(shadow, an.allowed(row.index), 1) or an.exhausted:
            continue
        why = "earlier" if table.hit == "first" else "higher-priority"
        out.append(
            TableLint(
                "unreachable",
                row.index,
                f"row {row.index + 1} can never be chosen: every input it matches is matched first by "
                f"{why} {_rows_text(shadow)}",
                related=tuple(shadow),
            )
        )

    if table.hit in ("unique", "priority"):
        for a_index, b_index in sorted(pairs, key=lambda p: (p[1], p[0])):
            a, b = table.rows[a_index], table.rows[b_index]
            if table.hit == "priority" and (a.priority or 0) != (b.priority or 0):
                continue
            combo = an.common(a.index, b.index)
            if combo is None:
                continue
            example = an.example(combo)
            why = "(hit: unique)" if table.hit == "unique" else f"with the same priority {b.priority}"
            out.append(
                TableLint(
                    "overlap",
                    b.index,
                    f"rows {a.index + 1} and {b.index + 1} both match {an.text(combo)} {why}",
                    example=example,
                    related=(a.index,),
                )
            )

    an.exhausted, an.steps = False, 0
    for combo in an.uncovered([r.index for r in table.rows], an.allowed(None, present=True), max_gaps):
        example = an.example(combo)
        out.append(TableLint("gap", None, f"no row matches {an.text(combo)}", example=example))
    return out


def _role_lint(table: Table, roles: Collection[str], role_outputs: Collection[str]) -> Iterator[TableLint]:
    for row in table.rows:
        for name in role_outputs:
            value = row.outputs.get(name)
            items = value if isinstance(value, list | tuple) else [value]
            for item in items:
                if item is None:
                    continue
                if not isinstance(item, str):
                    yield TableLint("unknown-role", row.index, f"{name}: {item!r} is not a role id")
                elif item not in roles:
                    hint = did_you_mean(item, roles)
                    yield TableLint("unknown-role", row.index, f"{name}: unknown role '{item}'{hint}")


__all__ = [
    "SPEC_SCHEMA",
    "HIT_POLICIES",
    "Table",
    "Row",
    "Input",
    "TableError",
    "TableHitError",
    "TableLint",
    "compile_table",
    "compile_table_checked",
    "check_table",
    "evaluate_python",
    "matched_rows",
    "lint_table",
    "parse_unary_test",
    "render_test",
    "literal_text",
    "candidates",
]
