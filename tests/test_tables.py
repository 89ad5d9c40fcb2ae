"""Decision tables: unary tests to conditions, bounds, hit policies, spec errors and lint."""

from __future__ import annotations

import copy
import dataclasses
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest

from engine.expr import Scope
from engine.expr.pyeval import Env
from engine.tables import (
    SPEC_SCHEMA,
    TableError,
    TableHitError,
    check_table,
    compile_table,
    evaluate_python,
    lint_table,
    matched_rows,
)
from engine.types import BOOLEAN, DATE, DATETIME, DURATION, INTEGER, MONEY, NUMBER, STRING, Type, list_of
from tests.conftest import needs_durable

TZ = ZoneInfo("Asia/Shanghai")
NOW = datetime(2024, 9, 16, 9, 30, tzinfo=TZ)
RESOLUTION = Type("string", values=("allowance", "compensation", "return", "rework"))
SCOPE = Scope(
    {
        "resolution": RESOLUTION,
        "loss_amount": MONEY,
        "qty": INTEGER,
        "ratio": NUMBER,
        "vip": BOOLEAN,
        "customer": STRING,
        "region": Type("string", values=("华东", "华南", "华北")),
        "ship_date": DATE,
        "received_at": DATETIME,
        "wait": DURATION,
        "tags": list_of(STRING),
    },
    {"severity": Type("string", values=("minor", "major", "critical"))},
    TZ,
)
ROLES = {"sales-manager", "deputy-gm", "gm"}

SETTLEMENT: dict[str, Any] = {
    "id": "settlement-authority",
    "hit": "first",
    "inputs": [{"name": "resolution", "expr": "resolution"}, {"name": "amount", "expr": "loss_amount"}],
    "outputs": ["approver", "chain"],
    "rows": [
        {
            "when": ["allowance, compensation", "<= 5000"],
            "then": {"approver": "sales-manager", "chain": ["sales-manager"]},
        },
        {"when": ["-", "(5000..50000]"], "then": {"approver": "deputy-gm", "chain": ["sales-manager", "deputy-gm"]}},
        {"when": ["-", "> 50000"], "then": {"approver": "gm", "chain": ["sales-manager", "deputy-gm", "gm"]}},
    ],
}
CATCH_ALL = {"when": ["-", "-"], "then": {"approver": "sales-manager", "chain": ["sales-manager"]}}


def env(**facts: Any) -> Env:
    findings = {"severity": facts.pop("severity")} if "severity" in facts else {}
    return Env(facts, findings, NOW, TZ)


def one_input(fact: str, cells: list[Any], hit: str = "collect", expr: str | None = None) -> dict[str, Any]:
    """A one-input table whose rows output their own index."""
    return {
        "id": "t",
        "hit": hit,
        "inputs": [{"name": "x", "expr": expr or fact}],
        "outputs": ["n"],
        "rows": [{"when": [c], "then": {"n": i}} for i, c in enumerate(cells)],
    }


# -- every unary test form → condition ----------------------------------------------------------

FORMS = [
    ("any", "qty", "-", "true"),
    ("lt", "qty", "< 5", "qty < 5"),
    ("le-money", "loss_amount", "<= 5000", "loss_amount <= 5000"),
    ("gt", "qty", "> 2", "qty > 2"),
    ("ge", "qty", ">= 3", "qty >= 3"),
    ("eq", "qty", "== 4", "qty == 4"),
    ("single-equals", "qty", "= 4", "qty == 4"),
    ("ne", "qty", "!= 4", "qty != 4"),
    ("money-cents", "loss_amount", "> 5000.50", "loss_amount > 5000.50"),
    ("negative-number", "ratio", ">= -0.5", "ratio >= -0.5"),
    ("closed-range", "loss_amount", "[0..5000]", "loss_amount >= 0 and loss_amount <= 5000"),
    ("open-range", "loss_amount", "(0..5000)", "loss_amount > 0 and loss_amount < 5000"),
    ("half-open-right", "loss_amount", "[0..5000)", "loss_amount >= 0 and loss_amount < 5000"),
    ("half-open-left", "loss_amount", "(5000..50000]", "loss_amount > 5000 and loss_amount <= 50000"),
    ("number-range", "ratio", "[0.1..0.25]", "ratio >= 0.1 and ratio <= 0.25"),
    (
        "date-range",
        "ship_date",
        "[2024-01-01..2024-12-31]",
        'ship_date >= date("2024-01-01") and ship_date <= date("2024-12-31")',
    ),
    ("date-compare", "ship_date", "< 2024-07-01", 'ship_date < date("2024-07-01")'),
    (
        "datetime-range",
        "received_at",
        "[2024-09-01T08:00..2024-09-01T18:00+08:00)",
        'received_at >= datetime("2024-09-01T08:00:00+08:00") and received_at < datetime("2024-09-01T18:00:00+08:00")',
    ),
    ("datetime-bare-date", "received_at", ">= 2024-09-01", 'received_at >= datetime("2024-09-01T00:00:00+08:00")'),
    ("duration-range", "wait", "[0d..3d)", "wait >= 0s and wait < 3d"),
    ("duration-units", "wait", "> 24h", "wait > 1d"),
    ("duration-fraction", "wait", "<= 1.5h", "wait <= 90min"),
    ("enum-list", "resolution", "allowance, compensation", 'resolution in ["allowance", "compensation"]'),
    ("enum-quoted", "resolution", "'allowance', \"return\"", 'resolution in ["allowance", "return"]'),
    ("enum-single", "resolution", "rework", 'resolution == "rework"'),
    ("chinese-bare", "region", "华东, 华南", 'region in ["华东", "华南"]'),
    ("chinese-quoted-comma", "customer", '"华南电子, 有限公司", 其他', 'customer in ["华南电子, 有限公司", "其他"]'),
    ("string-quote-escape", "customer", '"say \\"hi\\""', 'customer == "say \\"hi\\""'),
    ("finding-enum", "findings.severity", "major, critical", 'findings.severity in ["major", "critical"]'),
    ("true", "vip", "true", "vip == true"),
    ("false", "vip", "false", "vip == false"),
    ("yaml-bool", "vip", True, "vip == true"),
    ("yaml-int", "qty", 5, "qty == 5"),
    ("yaml-decimal", "loss_amount", Decimal("99.5"), "loss_amount == 99.5"),
    ("int-list", "qty", "1, 2, 3", "qty in [1, 2, 3]"),
    ("not-list", "resolution", "not(allowance, compensation)", 'resolution not in ["allowance", "compensation"]'),
    ("not-single", "resolution", "not(return)", 'resolution != "return"'),
    ("not-compare", "qty", "not(< 5)", "qty >= 5"),
    ("not-range", "loss_amount", "not([0..5000))", "loss_amount < 0 or loss_amount >= 5000"),
    ("not-not", "qty", "not(not(3))", "qty == 3"),
    ("disjunction", "qty", "< 10, > 100", "qty < 10 or qty > 100"),
    ("disjunction-range", "qty", "0, [10..20]", "qty == 0 or (qty >= 10 and qty <= 20)"),
    ("not-disjunction", "qty", "not(< 10, > 100)", "qty >= 10 and qty <= 100"),
    ("computed-input", "loss_amount * 2", "<= 5000", "(loss_amount * 2) <= 5000"),
]


@pytest.mark.parametrize(("fact", "cell", "want"), [f[1:] for f in FORMS], ids=[f[0] for f in FORMS])
def test_unary_test_forms(fact: str, cell: Any, want: str) -> None:
    table = compile_table(one_input(fact, [cell]), SCOPE)
    assert table.conditions == (want,)


def test_row_condition_joins_cells_and_wraps_disjunctions() -> None:
    spec = SETTLEMENT | {
        "rows": [
            {"when": ["-", "-"], "then": {"approver": "gm", "chain": []}},
            {"when": ["return", "< 10, > 100"], "then": {"approver": "gm", "chain": []}},
            {"when": ["not(return)", "not([10..100])"], "then": {"approver": "gm", "chain": []}},
        ]
    }
    table = compile_table(spec, SCOPE)
    assert table.conditions == (
        "true",
        'resolution == "return" and (loss_amount < 10 or loss_amount > 100)',
        'resolution != "return" and (loss_amount < 10 or loss_amount > 100)',
    )
    assert [r.cells for r in table.rows][1] == ('resolution == "return"', "loss_amount < 10 or loss_amount > 100")


def test_settlement_example_compiles() -> None:
    table = compile_table(SETTLEMENT, SCOPE)
    assert table.conditions == (
        'resolution in ["allowance", "compensation"] and loss_amount <= 5000',
        "loss_amount > 5000 and loss_amount <= 50000",
        "loss_amount > 50000",
    )
    assert [x.type for x in table.inputs] == [RESOLUTION, MONEY]
    assert table.rows[1].outputs == {"approver": "deputy-gm", "chain": ["sales-manager", "deputy-gm"]}
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.hit = "collect"  # type: ignore[misc]


def test_outputs_are_copied() -> None:
    spec = copy.deepcopy(SETTLEMENT)
    table = compile_table(spec, SCOPE)
    spec["rows"][0]["then"]["chain"].append("gm")
    assert table.rows[0].outputs["chain"] == ["sales-manager"]


# -- at, just below and just above each bound ---------------------------------------------------

M = Decimal
BOUNDS = [
    ("money-le-below", "loss_amount", "<= 5000", M("4999.99"), True),
    ("money-le-at", "loss_amount", "<= 5000", M("5000.00"), True),
    ("money-le-above", "loss_amount", "<= 5000", M("5000.01"), False),
    ("money-lt-at", "loss_amount", "< 5000", M("5000.00"), False),
    ("money-lt-below", "loss_amount", "< 5000", M("4999.99"), True),
    ("money-ge-at", "loss_amount", ">= 5000", M("5000.00"), True),
    ("money-ge-below", "loss_amount", ">= 5000", M("4999.99"), False),
    ("money-gt-at", "loss_amount", "> 5000", M("5000.00"), False),
    ("money-gt-above", "loss_amount", "> 5000", M("5000.01"), True),
    ("money-range-low-at", "loss_amount", "(5000..50000]", M("5000.00"), False),
    ("money-range-low-above", "loss_amount", "(5000..50000]", M("5000.01"), True),
    ("money-range-high-at", "loss_amount", "(5000..50000]", M("50000.00"), True),
    ("money-range-high-above", "loss_amount", "(5000..50000]", M("50000.01"), False),
    ("money-closed-low-at", "loss_amount", "[5000..50000)", M("5000.00"), True),
    ("money-closed-low-below", "loss_amount", "[5000..50000)", M("4999.99"), False),
    ("money-open-high-at", "loss_amount", "[5000..50000)", M("50000.00"), False),
    ("money-open-high-below", "loss_amount", "[5000..50000)", M("49999.99"), True),
    ("money-cents-bound-at", "loss_amount", "<= 99.99", M("99.99"), True),
    ("money-cents-bound-above", "loss_amount", "<= 99.99", M("100.00"), False),
    ("money-eq", "loss_amount", "5000", M("5000.00"), True),
    ("money-eq-off-by-cent", "loss_amount", "5000", M("5000.01"), False),
    ("int-range-below", "qty", "[3..5)", 2, False),
    ("int-range-low-at", "qty", "[3..5)", 3, True),
    ("int-range-inside", "qty", "[3..5)", 4, True),
    ("int-range-high-at", "qty", "[3..5)", 5, False),
    ("int-open-low-at", "qty", "(3..5]", 3, False),
    ("int-open-low-above", "qty", "(3..5]", 4, True),
    ("int-closed-high-at", "qty", "(3..5]", 5, True),
    ("int-closed-high-above", "qty", "(3..5]", 6, False),
    ("int-gt-at", "qty", "> 2", 2, False),
    ("int-gt-above", "qty", "> 2", 3, True),
    ("int-ne", "qty", "!= 4", 4, False),
    ("number-above", "ratio", "<= 0.25", M("0.250001"), False),
    ("number-at", "ratio", "<= 0.25", M("0.25"), True),
    ("date-low-below", "ship_date", "[2024-01-01..2024-12-31]", date(2023, 12, 31), False),
    ("date-low-at", "ship_date", "[2024-01-01..2024-12-31]", date(2024, 1, 1), True),
    ("date-low-above", "ship_date", "[2024-01-01..2024-12-31]", date(2024, 1, 2), True),
    ("date-high-below", "ship_date", "[2024-01-01..2024-12-31]", date(2024, 12, 30), True),
    ("date-high-at", "ship_date", "[2024-01-01..2024-12-31]", date(2024, 12, 31), True),
    ("date-high-above", "ship_date", "[2024-01-01..2024-12-31]", date(2025, 1, 1), False),
    ("date-open-high-at", "ship_date", "[2024-01-01..2024-12-31)", date(2024, 12, 31), False),
    ("date-lt-below", "ship_date", "< 2024-07-01", date(2024, 6, 30), True),
    ("date-lt-at", "ship_date", "< 2024-07-01", date(2024, 7, 1), False),
    ("datetime-at", "received_at", ">= 2024-09-01T08:00", datetime(2024, 9, 1, 8, tzinfo=TZ), True),
    (
        "datetime-second-below",
        "received_at",
        ">= 2024-09-01T08:00",
        datetime(2024, 9, 1, 7, 59, 59, tzinfo=TZ),
        False,
    ),
    (
        "datetime-other-zone",
        "received_at",
        ">= 2024-09-01T08:00",
        datetime(2024, 9, 1, 0, tzinfo=ZoneInfo("UTC")),
        True,
    ),
    ("duration-below", "wait", "[0d..3d)", timedelta(days=3) - timedelta(seconds=1), True),
    ("duration-at", "wait", "[0d..3d)", timedelta(days=3), False),
    ("duration-zero", "wait", "[0d..3d)", timedelta(0), True),
    ("enum-in", "resolution", "allowance, compensation", "compensation", True),
    ("enum-out", "resolution", "allowance, compensation", "rework", False),
    ("enum-not", "resolution", "not(allowance, compensation)", "rework", True),
    ("chinese", "region", "华东, 华南", "华南", True),
    ("bool-true", "vip", "true", True, True),
    ("bool-false", "vip", "true", False, False),
    ("disjunction-low", "qty", "< 10, > 100", 9, True),
    ("disjunction-middle", "qty", "< 10, > 100", 50, False),
]


@pytest.mark.parametrize(("fact", "cell", "value", "want"), [b[1:] for b in BOUNDS], ids=[b[0] for b in BOUNDS])
def test_bounds(fact: str, cell: str, value: Any, want: bool) -> None:
    table = compile_table(one_input(fact, [cell]), SCOPE)
    assert matched_rows(table, env(**{fact: value})) == ([0] if want else [])


@pytest.mark.parametrize(
    "cell",
    ["< 5", "!= 5", "5", "not(5)", "not([1..3])", "< 1, > 3"],
    ids=["lt", "ne", "eq", "not-eq", "not-range", "disjunction"],
)
def test_missing_input_matches_only_any(cell: str) -> None:
    table = compile_table(one_input("qty", [cell, "-"]), SCOPE)
    assert matched_rows(table, env()) == [1]


def test_computed_input_evaluates() -> None:
    table = compile_table(one_input("", ["<= 5000", "> 5000"], expr="loss_amount * 2"), SCOPE)
    assert matched_rows(table, env(loss_amount=M("2500.00"))) == [0]
    assert matched_rows(table, env(loss_amount=M("2500.01"))) == [1]


# -- hit policies -------------------------------------------------------------------------------


def _hit_table(hit: str, priorities: list[int] | None = None) -> dict[str, Any]:
    spec = one_input("qty", ["< 10", ">= 5", "-"], hit=hit)
    if priorities is not None:
        for row, p in zip(spec["rows"], priorities, strict=True):
            row["priority"] = p
    return spec


HITS = [
    ("first-earliest", "first", None, 7, [0]),
    ("first-only-later", "first", None, 12, [1]),
    ("collect-in-order", "collect", None, 7, [0, 1, 2]),
    ("collect-some", "collect", None, 3, [0, 2]),
    ("priority-highest", "priority", [1, 5, 0], 7, [1]),
    ("priority-negative", "priority", [-1, -5, -9], 3, [0]),
    ("unique-one", "unique", None, None, [2]),
]


@pytest.mark.parametrize(("hit", "prios", "qty", "want"), [h[1:] for h in HITS], ids=[h[0] for h in HITS])
def test_hit_policies(hit: str, prios: list[int] | None, qty: int | None, want: list[int]) -> None:
    table = compile_table(_hit_table(hit, prios), SCOPE)
    facts = {} if qty is None else {"qty": qty}
    assert [r.index for r in evaluate_python(table, env(**facts))] == want


def test_first_no_match_is_empty() -> None:
    table = compile_table(SETTLEMENT, SCOPE)
    assert evaluate_python(table, env(resolution="return", loss_amount=M("10.00"))) == []
    assert table.select([]) == []


def test_unique_several_rows_is_an_error() -> None:
    table = compile_table(_hit_table("unique"), SCOPE)
    with pytest.raises(TableHitError) as exc:
        evaluate_python(table, env(qty=7))
    assert exc.value.rows == [0, 1, 2]
    assert "rows 1, 2 and 3 all match" in str(exc.value)
    assert exc.value.code == "table-hit"


def test_priority_tie_is_an_error() -> None:
    table = compile_table(_hit_table("priority", [3, 3, 1]), SCOPE)
    assert [r.index for r in table.select([0, 2])] == [0]
    with pytest.raises(TableHitError) as exc:
        table.select([0, 1, 2])
    assert exc.value.rows == [0, 1]
    assert "same priority 3" in str(exc.value)


def test_select_rejects_unknown_rows() -> None:
    table = compile_table(_hit_table("first"), SCOPE)
    with pytest.raises(ValueError, match="no row 9"):
        table.select([9])


def test_settlement_outputs() -> None:
    table = compile_table(SETTLEMENT, SCOPE)
    cases = [
        ("allowance", "5000.00", "sales-manager"),
        ("return", "5000.01", "deputy-gm"),
        ("rework", "50000.01", "gm"),
    ]
    for resolution, amount, approver in cases:
        (row,) = evaluate_python(table, env(resolution=resolution, loss_amount=M(amount)))
        assert row.outputs["approver"] == approver


# -- errors in specs ----------------------------------------------------------------------------


def _with(path: tuple, value: Any, base: dict[str, Any] = SETTLEMENT) -> dict[str, Any]:
    spec = copy.deepcopy(base)
    target = spec
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return spec


_DELETE = object()

ERRORS = [
    ("range-low-above-high", ("rows", 1, "when", 1), "[50000..5000]", 1, 1, "the low bound is above the high bound"),
    ("range-comma", ("rows", 1, "when", 1), "[5000, 50000]", 1, 1, "bad range '[5000, 50000]': a range is written"),
    ("range-empty", ("rows", 1, "when", 1), "(5000..5000]", 1, 1, "it holds no value"),
    ("range-one-bound", ("rows", 1, "when", 1), "[..5000]", 1, 1, "both bounds are needed"),
    ("range-on-enum", ("rows", 0, "when", 0), "[allowance..return]", 0, 0, "a range needs an ordered input"),
    ("order-on-enum", ("rows", 0, "when", 0), "< return", 0, 0, "'<' needs an ordered input"),
    ("too-few-tests", ("rows", 2, "when"), ["> 50000"], 2, None, "row 3 has 1 test, the table has 2 inputs"),
    ("too-many-tests", ("rows", 2, "when"), ["-", "-", "-"], 2, None, "row 3 has 3 tests, the table has 2 inputs"),
    (
        "enum-typo",
        ("rows", 0, "when", 0),
        "alowance, compensation",
        0,
        0,
        "'alowance' is not a value of this enum (did you mean 'allowance'?)",
    ),
    ("enum-no-close-match", ("rows", 0, "when", 0), "xyz", 0, 0, "(values: allowance, compensation, return, rework)"),
    (
        "unknown-output",
        ("rows", 0, "then", "aprover"),
        "gm",
        0,
        None,
        "'aprover' is not an output of this table (did you mean 'approver'?)",
    ),
    ("missing-output", ("rows", 1, "then", "chain"), _DELETE, 1, None, "row 2 does not set output chain"),
    ("money-places", ("rows", 0, "when", 1), "<= 5000.001", 0, 1, "money has at most 2 decimal places"),
    ("money-not-number", ("rows", 0, "when", 1), "<= lots", 0, 1, "'lots' is not a number (the input is money"),
    ("money-quoted", ("rows", 0, "when", 1), '"5000"', 0, 1, "is quoted text, the input is money"),
    ("empty-cell", ("rows", 0, "when", 1), "  ", 0, 1, "empty test (write - for any value)"),
    ("dash-in-list", ("rows", 0, "when", 0), "-, allowance", 0, 0, "'-' (any value) must stand alone"),
    ("not-any", ("rows", 0, "when", 0), "not(-)", 0, 0, "not(-) matches nothing"),
    ("empty-list-item", ("rows", 0, "when", 0), "allowance,,return", 0, 0, "empty test between commas"),
    ("duplicate-item", ("rows", 0, "when", 0), "allowance, allowance", 0, 0, '"allowance" is listed twice'),
    ("unterminated", ("rows", 0, "when", 0), '"allowance', 0, 0, "unterminated string"),
    ("null-cell", ("rows", 0, "when", 0), None, 0, 0, "a test must be text, a number or true/false"),
    ("bad-hit", ("hit",), "frist", None, None, "hit must be one of first, unique, priority, collect"),
    ("priority-without-policy", ("rows", 0, "priority"), 3, 0, None, "priority applies only to hit: priority"),
    ("unknown-row-key", ("rows", 0, "than"), {}, 0, None, "unknown row key 'than' (did you mean 'then'?)"),
    ("unknown-fact", ("inputs", 1, "expr"), "loss_amout", None, 1, "unknown fact 'loss_amout' (did you mean"),
    ("list-input", ("inputs", 1, "expr"), "tags", None, 1, "input 'amount' is list of string: a table input must be"),
    ("duplicate-input", ("inputs", 1, "name"), "resolution", None, 1, "input 'resolution' is declared twice"),
    ("duplicate-output", ("outputs",), ["approver", "approver"], None, None, "output 'approver' is declared twice"),
    ("no-rows", ("rows",), [], None, None, "a table needs at least one row"),
]


@pytest.mark.parametrize(
    ("path", "value", "row", "column", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS]
)
def test_spec_errors(path: tuple, value: Any, row: int | None, column: int | None, message: str) -> None:
    with pytest.raises(TableError) as exc:
        compile_table(_with(path, value), SCOPE)
    err = exc.value
    assert message in err.message
    assert (err.row, err.column) == (row, column)


def test_error_paths_point_into_the_spec() -> None:
    spec = _with(("rows", 0, "then", "aprover"), "gm")
    assert [e.path for e in check_table(spec, SCOPE)] == [("rows", 0, "then", "aprover")]
    spec = _with(("rows", 1, "when", 1), "[x..y]")
    (err,) = check_table(spec, SCOPE)
    assert err.path == ("rows", 1, "when", 1)
    assert str(err).startswith("rows[1].when[1]: input 'amount': 'x' is not a number")
    (err,) = check_table(_with(("inputs", 1, "expr"), "loss_amount + qtyy"), SCOPE)
    assert (err.path, err.offset) == (("inputs", 1, "expr"), 14)


@pytest.mark.parametrize(
    ("fact", "cell", "message"),
    [
        ("qty", "2.5", "'2.5' is not a whole number"),
        ("ratio", "0.1234567", "number has at most 6 decimal places"),
        ("vip", "yes", "'yes' is not true or false"),
        ("vip", "> true", "'>' needs an ordered input"),
        ("ship_date", "2024-13-01", "'2024-13-01' is not a date"),
        ("ship_date", "2024/01/01", "is not a date: write YYYY-MM-DD"),
        ("received_at", "noon", "'noon' is not a datetime"),
        ("wait", "3 days", "'3 days' is not a duration"),
        ("customer", "< abc", "'<' needs an ordered input"),
        ("region", "华中", "'华中' is not a value of this enum"),
    ],
    ids=[
        "int-fraction",
        "number-places",
        "bool-word",
        "bool-order",
        "bad-date",
        "date-slashes",
        "bad-datetime",
        "bad-duration",
        "string-order",
        "chinese-enum",
    ],
)
def test_literal_errors(fact: str, cell: str, message: str) -> None:
    (err,) = check_table(one_input(fact, [cell]), SCOPE)
    assert message in err.message
    assert (err.row, err.column) == (0, 0)


def test_all_errors_are_collected() -> None:
    spec = copy.deepcopy(SETTLEMENT)
    spec["rows"][0]["when"][0] = "alowance"
    spec["rows"][1]["when"] = ["-"]
    spec["rows"][2]["then"]["aprover"] = "gm"
    errors = check_table(spec, SCOPE)
    assert [(e.row, e.column) for e in errors] == [(0, 0), (1, None), (2, None)]
    with pytest.raises(TableError) as exc:
        compile_table(spec, SCOPE)
    assert [str(e) for e in exc.value.errors] == [str(e) for e in errors]


def test_priority_rows_need_a_priority() -> None:
    spec = _hit_table("priority", [1, 2, 3])
    del spec["rows"][1]["priority"]
    (err,) = check_table(spec, SCOPE)
    assert (err.row, err.message) == (1, "row 2 needs a priority (hit: priority)")


# -- the spec schema ----------------------------------------------------------------------------


def test_spec_schema_accepts_the_example() -> None:
    jsonschema.Draft202012Validator.check_schema(SPEC_SCHEMA)
    validator = jsonschema.Draft202012Validator(SPEC_SCHEMA)
    assert list(validator.iter_errors(SETTLEMENT)) == []
    assert list(validator.iter_errors(_hit_table("priority", [1, 2, 3]))) == []


@pytest.mark.parametrize(
    "spec",
    [
        _with(("colour",), "red"),
        _with(("hit",), "any"),
        _with(("rows", 0, "when"), [None, "-"]),
        _with(("inputs", 0, "name"), "has space"),
        _hit_table("priority"),
    ],
    ids=["extra-key", "bad-hit", "null-test", "bad-input-name", "priority-missing"],
)
def test_spec_schema_rejects(spec: dict[str, Any]) -> None:
    assert list(jsonschema.Draft202012Validator(SPEC_SCHEMA).iter_errors(spec))


# -- lint ---------------------------------------------------------------------------------------


def _lint(spec: dict[str, Any], **kw: Any) -> list[tuple[str, int | None, dict | None]]:
    return [(x.kind, x.row, x.example) for x in lint_table(compile_table(spec, SCOPE), **kw)]


def test_no_lint_on_a_complete_table() -> None:
    spec = SETTLEMENT | {"rows": [*SETTLEMENT["rows"], CATCH_ALL]}
    assert lint_table(compile_table(spec, SCOPE), roles=ROLES, role_outputs=["approver", "chain"]) == []


def test_no_lint_on_a_complete_unique_table() -> None:
    spec = one_input("loss_amount", ["< 0", "[0..5000]", "(5000..50000]", "> 50000"], hit="unique")
    assert lint_table(compile_table(spec, SCOPE)) == []


def test_gap_with_example() -> None:
    lints = lint_table(compile_table(SETTLEMENT, SCOPE))
    assert [x.kind for x in lints] == ["gap"]
    (gap,) = lints
    assert gap.example == {"resolution": "return", "amount": 5000}
    assert gap.message == 'no row matches resolution = "return" (or "rework"), amount = 5000'


@pytest.mark.parametrize(
    ("fact", "cells", "example"),
    [
        ("loss_amount", ["< 5000", "> 5000"], M("5000")),
        ("loss_amount", ["<= 5000", ">= 5000.02"], M("5000.01")),
        ("qty", ["<= 3", ">= 5"], 4),
        ("qty", ["> 0"], 0),
        ("ship_date", ["< 2024-07-01", "> 2024-07-01"], date(2024, 7, 1)),
        ("ship_date", ["<= 2024-06-30", ">= 2024-07-02"], date(2024, 7, 1)),
        ("ratio", ["< 0.5", "> 0.5"], M("0.5")),
        ("vip", ["true"], False),
        ("resolution", ["allowance, compensation, return"], "rework"),
        ("customer", ["A, B"], "other"),
        ("wait", ["< 3d"], timedelta(days=3)),
    ],
    ids=[
        "money-point",
        "money-cent",
        "int",
        "int-below",
        "date-point",
        "date-day",
        "number",
        "bool",
        "enum",
        "string",
        "duration",
    ],
)
def test_gap_examples(fact: str, cells: list[str], example: Any) -> None:
    lints = lint_table(compile_table(one_input(fact, cells, hit="first"), SCOPE))
    assert [(x.kind, x.example) for x in lints][:1] == [("gap", {"x": example})]


@pytest.mark.parametrize(
    ("fact", "cells"),
    [
        ("loss_amount", ["<= 5000", ">= 5000.01"]),
        ("qty", ["<= 3", ">= 4"]),
        ("ship_date", ["<= 2024-06-30", ">= 2024-07-01"]),
        ("vip", ["true", "false"]),
        ("resolution", ["allowance, compensation", "not(allowance, compensation)"]),
    ],
    ids=["money", "integer", "date", "bool", "enum"],
)
def test_no_gap_between_adjacent_values(fact: str, cells: list[str]) -> None:
    assert lint_table(compile_table(one_input(fact, cells, hit="unique"), SCOPE)) == []


def test_computed_money_is_not_on_the_cent_grid() -> None:
    # loss_amount / 3 may fall between 5000 and 5000.01
    spec = one_input("", ["<= 5000", ">= 5000.01"], hit="first", expr="loss_amount / 3")
    (gap,) = lint_table(compile_table(spec, SCOPE))
    assert gap.example == {"x": M("5000.005")}


def test_overlap_under_unique() -> None:
    spec = one_input("loss_amount", ["<= 5000", "[5000..50000]", "> 50000"], hit="unique")
    lints = lint_table(compile_table(spec, SCOPE))
    assert [(x.kind, x.row, x.related, x.example) for x in lints] == [("overlap", 1, (0,), {"x": 5000})]
    assert lints[0].message == "rows 1 and 2 both match x = 5000 (hit: unique)"


def test_overlap_across_inputs() -> None:
    spec = SETTLEMENT | {"hit": "unique", "rows": [*SETTLEMENT["rows"], {**CATCH_ALL, "when": ["return", "< 100"]}]}
    assert [k for k in _lint(spec) if k[0] == "overlap"] == []
    spec["rows"][3]["when"] = ["return, rework", "> 60000"]
    assert [k for k in _lint(spec) if k[0] == "overlap"] == [
        ("overlap", 3, {"resolution": "return", "amount": M("60000.01")})
    ]


def test_priority_ties_overlap_and_shadowing() -> None:
    spec = one_input("qty", ["[0..10)", "> 5", "[6..8]", "-"], hit="priority")
    for row, p in zip(spec["rows"], [2, 2, 1, 0], strict=True):
        row["priority"] = p
    lints = lint_table(compile_table(spec, SCOPE))
    assert [(x.kind, x.row) for x in lints] == [("unreachable", 2), ("overlap", 1)]
    assert "higher-priority rows 1 and 2" in lints[0].message


def test_unreachable_under_first() -> None:
    spec = SETTLEMENT | {"rows": [*SETTLEMENT["rows"], {**CATCH_ALL, "when": ["allowance", "[1000..2000]"]}, CATCH_ALL]}
    lints = lint_table(compile_table(spec, SCOPE))
    assert [(x.kind, x.row, x.related) for x in lints] == [("unreachable", 3, (0,))]
    assert lints[0].message == "row 4 can never be chosen: every input it matches is matched first by earlier row 1"


def test_unreachable_by_several_rows_together() -> None:
    spec = SETTLEMENT | {
        "rows": [
            {"when": ["allowance", "<= 5000"], "then": CATCH_ALL["then"]},
            {"when": ["return", "-"], "then": CATCH_ALL["then"]},
            {"when": ["allowance, return", "< 100"], "then": CATCH_ALL["then"]},
            CATCH_ALL,
        ]
    }
    assert _lint(spec) == [("unreachable", 2, None)]


@pytest.mark.parametrize(
    ("fact", "cells"),
    [
        ("loss_amount", ["< 5000", "> 5000", "[4000..6000]"]),
        ("loss_amount", ["<= 5000", "[4000..5000.01]"]),
        ("qty", ["<= 3", "[3..4]"]),
        ("qty", ["< 3, > 3", "3"]),
        ("ship_date", ["< 2024-07-01", "<= 2024-07-01"]),
        ("received_at", ["< 2024-09-01T08:00", "<= 2024-09-01T08:00:00+08:00"]),
        ("wait", ["< 3d", "<= 72h"]),
        ("resolution", ["allowance", "allowance, compensation"]),
        ("resolution", ["not(return)", "return, rework"]),
        ("vip", ["true", "-"]),
        ("customer", ["A, B", "not(A, B)"]),
    ],
    ids=[
        "money-point",
        "money-cent",
        "int",
        "int-point",
        "date",
        "datetime",
        "duration",
        "enum-list",
        "enum-not",
        "bool",
        "string",
    ],
)
def test_reachable_rows_are_not_reported(fact: str, cells: list[str]) -> None:
    kinds = {x.kind for x in lint_table(compile_table(one_input(fact, cells, hit="first"), SCOPE))}
    assert "unreachable" not in kinds


def test_row_matching_nothing() -> None:
    spec = one_input("resolution", ["not(allowance, compensation, return, rework)", "-"], hit="collect")
    lints = lint_table(compile_table(spec, SCOPE))
    assert [(x.kind, x.row, x.message) for x in lints] == [("unreachable", 0, "row 1 matches no value of x")]


def test_unknown_role() -> None:
    spec = copy.deepcopy(SETTLEMENT)
    spec["rows"].append(CATCH_ALL)
    spec["rows"][1]["then"]["approver"] = "deputy_gm"
    spec["rows"][2]["then"]["chain"] = ["sales-manager", "ceo"]
    lints = lint_table(compile_table(spec, SCOPE), roles=ROLES, role_outputs=["approver", "chain"])
    assert [(x.kind, x.row, x.message) for x in lints] == [
        ("unknown-role", 1, "approver: unknown role 'deputy_gm' (did you mean 'deputy-gm'?)"),
        ("unknown-role", 2, "chain: unknown role 'ceo'"),
    ]


def test_role_outputs_must_exist() -> None:
    table = compile_table(SETTLEMENT, SCOPE)
    with pytest.raises(ValueError, match="no output approvr"):
        lint_table(table, roles=ROLES, role_outputs=["approvr"])


def test_lint_on_a_wide_table_is_bounded() -> None:
    # 6 inputs x ~9 candidates each: the cover search must prune, not enumerate ~500k combinations
    facts = ["qty", "loss_amount", "ratio", "ship_date", "wait", "resolution"]
    cells = ["[1..3]", "[100..200]", "[0.1..0.2]", "[2024-01-01..2024-02-01]", "[1d..2d]", "allowance"]
    spec = {
        "id": "wide",
        "hit": "first",
        "inputs": [{"name": f"i{k}", "expr": f} for k, f in enumerate(facts)],
        "outputs": ["n"],
        "rows": [
            {"when": ["-"] * k + [cells[k]] + ["-"] * (len(facts) - k - 1), "then": {"n": k}} for k in range(len(facts))
        ]
        + [{"when": ["-"] * len(facts), "then": {"n": 99}}],
    }
    assert lint_table(compile_table(spec, SCOPE)) == []


# -- both rule evaluators -----------------------------------------------------------------------


@needs_durable
def test_durable_rules_agrees_on_every_generated_condition() -> None:
    """The generated strings give the same answers on durable-rules as on the Python oracle, at every
    lint candidate (each bound, just below, just above) and for a missing input."""
    from types import SimpleNamespace

    from engine.backends.durable_adapter import DurableBackend
    from engine.tables import candidates

    tables = {
        f"r{i}": compile_table(one_input(fact, [cell]), SCOPE)
        for i, (_, fact, cell, *_) in enumerate(FORMS + BOUNDS)
        if "*" not in fact
    }
    rules = [SimpleNamespace(id=rid, when=t.rows[0].node) for rid, t in tables.items()]
    backend = DurableBackend(SimpleNamespace(id="tables", version="1", timezone=TZ, layers=[rules]))  # type: ignore[arg-type]
    disagreements = []
    for rid, table in tables.items():
        fact = table.inputs[0].expr
        for value in [*candidates(table, 0), None]:
            given = {} if value is None else {fact.removeprefix("findings."): value}
            case = env(**given)
            python = matched_rows(table, case) == [0]
            durable = rid in backend.fire(0, case.facts, case.findings, NOW)
            if python != durable:
                disagreements.append((table.rows[0].condition, value, python, durable))
    assert disagreements == []


def test_lint_matches_brute_force_on_random_tables() -> None:
    """Gaps, overlaps and unreachable rows agree with trying every value of a domain that holds every
    class of values the tests tell apart: lint neither misses nor invents any."""
    import itertools
    import random

    rng = random.Random(7)

    def qty_cell() -> str:
        a, b = sorted(rng.sample(range(12), 2))
        forms = ["-", f"[{a}..{b}]", f"({a}..{b}]", f"[{a}..{b})", f"({a}..{b})", f"< {a}", f">= {b}", f"{a}, {b}",
                 f"not({a})", f"not([{a}..{b}])", f"< {a}, > {b}"]  # fmt: skip
        return rng.choice(forms)

    def money_cell() -> str:
        a, b = sorted(rng.sample(["0", "0.01", "0.02", "0.03", "0.05", "0.1"], 2), key=Decimal)
        return rng.choice(["-", f"[{a}..{b}]", f"({a}..{b})", f"<= {a}", f"> {b}", a, f"not({b})"])

    def enum_cell() -> str:
        return rng.choice(["-", "allowance", "return, rework", "not(compensation)", "not(allowance, return)"])

    domain = list(itertools.product(range(-2, 15), [M(i) / 100 for i in range(-2, 13)], RESOLUTION.values or ()))
    for _ in range(60):
        hit = rng.choice(["first", "unique"])
        n = rng.randint(1, 6)
        spec = {
            "id": "random",
            "hit": hit,
            "inputs": [
                {"name": "q", "expr": "qty"},
                {"name": "m", "expr": "loss_amount"},
                {"name": "r", "expr": "resolution"},
            ],
            "outputs": ["n"],
            "rows": [{"when": [qty_cell(), money_cell(), enum_cell()], "then": {"n": i}} for i in range(n)],
        }
        table = compile_table(spec, SCOPE)
        gap, chosen, matched, overlapping = False, set(), set(), set()
        for q, m, r in domain:
            rows = matched_rows(table, env(qty=q, loss_amount=m, resolution=r))
            gap = gap or not rows
            chosen.update(rows[:1])
            matched.update(rows)
            overlapping.update(rows[1:])
        lints = lint_table(table, max_gaps=1000)
        reachable = chosen if hit == "first" else matched
        assert {x.row for x in lints if x.kind == "unreachable"} == set(range(n)) - reachable, spec
        assert any(x.kind == "gap" for x in lints) == gap, spec
        if hit == "unique":
            assert {x.row for x in lints if x.kind == "overlap"} == overlapping, spec
        for x in lints:
            if x.kind == "gap":
                assert x.example is not None
                case = env(qty=x.example["q"], loss_amount=x.example["m"], resolution=x.example["r"])
                assert matched_rows(table, case) == [], x


def test_catch_all_row_after_complete_ranges_is_reachable_for_missing_inputs() -> None:
    # `-` is the only test a missing value passes: the last row answers "no amount recorded yet".
    spec = {
        "id": "t",
        "hit": "first",
        "inputs": [{"name": "amount", "expr": "loss_amount"}],
        "outputs": ["approver"],
        "rows": [
            {"when": ["<= 5000"], "then": {"approver": "a"}},
            {"when": ["> 5000"], "then": {"approver": "b"}},
            {"when": ["-"], "then": {"approver": "c"}},
        ],
    }
    assert lint_table(compile_table(spec, SCOPE)) == []
