"""Fuzz targets (Hypothesis): the expression parser, the YAML/JSON loader and case normalisation never
fail with anything but their own located errors. A brief fixed-seed run is part of the suite; a longer
one: ZHIDU_FUZZ_EXAMPLES=200000 pytest tests/test_fuzz.py (see docs/security.md)."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine.errors import CaseError, Diagnostic, ZhiduError
from engine.evaluate import prepare_case
from engine.expr import ExprError, Scope, check, parse
from engine.source import parse_json, parse_yaml
from engine.types import BOOLEAN, DATE, DATETIME, DURATION, INTEGER, MONEY, NUMBER, STRING, Type, list_of

NOW = "2024-09-10T10:00:00+08:00"
EXAMPLES = int(os.environ.get("ZHIDU_FUZZ_EXAMPLES", "0"))


def fuzz_settings(default: int) -> settings:
    return settings(
        max_examples=EXAMPLES or default,
        deadline=None,
        derandomize=True,  # a fixed seed in the suite: the same inputs on every run
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


# -- the expression parser -----------------------------------------------------------------------------
TOKENS = [
    "(", ")", "[", "]", ",", ".", "+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or",
    "not", "in", "true", "false", "now", "loss_amount", "qty", "customer", "tags", "findings", "severity",
    "exists", "contains", "matches", "date", "len", "1", "0", "13d", "1.5h", "2w", "5000.50", "'a'", '"红"',
    "'", '"', "\\", "²", "１", "٣", "9" * 45, "\u200b", "\ud800", "=", "&&", "!", " ", "\n", "\t", "'\\q'",
]  # fmt: skip
SCOPE = Scope(
    {
        "loss_amount": MONEY,
        "qty": INTEGER,
        "ratio": NUMBER,
        "customer": STRING,
        "vip": BOOLEAN,
        "ship_date": DATE,
        "received_at": DATETIME,
        "wait": DURATION,
        "tags": list_of(STRING),
    },
    {"severity": Type("string", values=("minor", "major"))},
)
expressions = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=40).map("".join),
    st.text(max_size=60),
    st.integers(0, 300).map(lambda n: "(" * n + "qty" + ")" * (n % 7) + " > 1"),
    st.integers(0, 300).map(lambda n: "not " * n + "vip"),
)


@fuzz_settings(1500)
@given(expressions)
def test_the_expression_parser_only_raises_located_errors(text: str) -> None:
    try:
        check(parse(text), SCOPE)
    except ExprError as exc:
        assert exc.code and exc.message and 0 <= exc.offset <= len(text)


# -- the loader ----------------------------------------------------------------------------------------
YAML_BITS = [
    "a:", " b:", "- ", "[", "]", "{", "}", ", ", ": ", "&x ", "*x", "<<: ", "!!python/object:os.system ",
    "!x ", "!!str ", "!!int ", "010", "1:30", "1_000", "0o7", "0x1F", ".inf", ".nan", "yes", "~", "null",
    "'q'", '"\\ud800"', '"\\x00"', "|\n  ", ">-\n  ", "#c", "\n", "\n  ", "---\n", "...\n", "%YAML 1.1\n",
    "\ufeff", "\t", "? ", "9" * 50, "2024-09-01", "é", "红",
]  # fmt: skip
documents = st.one_of(
    st.lists(st.sampled_from(YAML_BITS), max_size=30).map("".join),
    st.text(max_size=80),
    st.integers(0, 400).map(lambda n: "a: " + "[" * n + "]" * n),
    st.integers(1, 12).map(
        lambda n: (
            "\n".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, n)) if n > 1 else "a: 1"
        )
    ),  # fmt: skip
)


def _diagnostics_are_located(diags: list[Diagnostic]) -> None:
    for d in diags:
        assert d.code and d.message and d.location.file == "fuzz.yaml" and d.location.line >= 0


@fuzz_settings(1000)
@given(documents, st.booleans())
def test_the_loader_only_reports_diagnostics(text: str, aliases: bool) -> None:
    data, _, diags = parse_yaml(text.replace("l0", "a"), "fuzz.yaml", aliases=aliases)
    _diagnostics_are_located(diags)
    if diags:
        return
    json.dumps(data, default=str)  # plain data only: no object a tag could have built


@fuzz_settings(300)
@given(st.one_of(documents, st.recursive(st.none() | st.integers() | st.text(), lambda c: st.lists(c) | st.dictionaries(st.text(), c)).map(json.dumps)))  # fmt: skip
def test_json_reading_only_reports_diagnostics(text: str) -> None:
    _, _, diags = parse_json(text, "fuzz.yaml")
    _diagnostics_are_located(diags)


# -- case normalisation -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def policy() -> engine.Policy:
    return engine.load_policy("pcb-manufacturer")


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(10**60), 10**60),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["2024-09-03T09:30:00+08:00", "2024-13-01", "9999-01-01", "\ud800", "quality_abnormal", "1e999"]),
)
values = st.recursive(scalars, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4))


@fuzz_settings(300)
@given(st.data())
def test_case_normalisation_only_raises_case_errors(policy: engine.Policy, data: Any) -> None:
    names = sorted(f.name for f in policy.facts)
    facts = data.draw(st.dictionaries(st.sampled_from([*names, "unknown"]), values, max_size=8))
    case: Any = data.draw(
        st.one_of(
            st.just({"case_id": "fuzz", "facts": facts}),
            st.just({"facts": facts, "now": data.draw(scalars)}),
            values,
        )
    )
    try:
        prepare_case(policy, case, None if isinstance(case, dict) and "now" in case else NOW)
    except (CaseError, ZhiduError) as exc:
        assert exc.code and str(exc)


def test_decimals_in_cases_keep_their_value(policy: engine.Policy) -> None:
    """A control for the target above: a well-formed case is evaluated, not refused."""
    case = {"case_id": "ok", "facts": {"received_at": "2024-09-03T09:30:00+08:00", "loss_amount": Decimal("12.5")}}
    assert policy.evaluate(case, "2024-09-10T10:00:00+08:00", engine="python").case_id == "ok"
