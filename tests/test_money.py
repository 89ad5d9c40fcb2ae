"""Money: one rounding rule, exact parsing that refuses floats, and splits that conserve the sum."""

from __future__ import annotations

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.money import MoneyError, format_money, format_number, round_money, split, to_decimal, to_money


@pytest.mark.parametrize(
    ("value", "want"),
    [
        pytest.param(D("0.125"), D("0.13"), id="half-up-not-half-even"),
        pytest.param(D("0.135"), D("0.14"), id="half-up-odd"),
        pytest.param(D("2.675"), D("2.68"), id="float-trap-value"),
        pytest.param(D("-0.125"), D("-0.13"), id="negative-half-away-from-zero"),
        pytest.param(D("1500.004"), D("1500.00"), id="below-half"),
        pytest.param(7, D("7.00"), id="int"),
        pytest.param(D("1E+3"), D("1000.00"), id="exponent"),
    ],
)
def test_round_money(value, want):
    got = round_money(value)
    assert got == want
    assert got.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(0.5, id="float"),
        pytest.param(True, id="bool"),
        pytest.param("1.5", id="str"),
        pytest.param(D("NaN"), id="nan"),
    ],
)
def test_round_money_refuses(value):
    with pytest.raises(MoneyError):
        round_money(value)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        pytest.param(400, D("400.00"), id="int"),
        pytest.param("1,200.50", D("1200.50"), id="str-thousands"),
        pytest.param(" 3000 ", D("3000.00"), id="str-spaces"),
        pytest.param(D("12.3400"), D("12.34"), id="decimal-trailing-zeros"),
        pytest.param("-5.1", D("-5.10"), id="negative"),
    ],
)
def test_to_money(value, want):
    got = to_money(value)
    assert got == want
    assert got.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param(0.1, "not exact", id="float"),
        pytest.param(False, "not exact", id="bool"),
        pytest.param(None, "not exact", id="none"),
        pytest.param("12.345", "fractions of a cent", id="sub-cent"),
        pytest.param("abc", "not a number", id="garbage"),
        pytest.param("Infinity", "not a finite", id="infinity"),
        pytest.param(D("NaN"), "not a finite", id="nan"),
    ],
)
def test_to_money_refuses(value, message):
    with pytest.raises(MoneyError, match=message):
        to_money(value, "loss")


def test_to_decimal_keeps_precision():
    assert to_decimal("1.125") == D("1.125")
    with pytest.raises(MoneyError, match="base points"):
        to_decimal(1.5, "base points")


@pytest.mark.parametrize(
    ("value", "money", "number"),
    [
        pytest.param(D("2400"), "2400.00", "2400", id="integral"),
        pytest.param(D("1.50"), "1.50", "1.5", id="fraction"),
        pytest.param(D("1E+2"), "100.00", "100", id="exponent"),
    ],
)
def test_format(value, money, number):
    assert format_money(value) == money
    assert format_number(value) == number


@pytest.mark.parametrize(
    ("amount", "weights", "want"),
    [
        pytest.param("100.00", [1, 1, 1], ["33.34", "33.33", "33.33"], id="thirds-first-gets-cent"),
        pytest.param("200.00", [1, 1, 1], ["66.67", "66.67", "66.66"], id="thirds-two-cents"),
        pytest.param("12000", [4, 6, 10], ["2400.00", "3600.00", "6000.00"], id="base-points"),
        pytest.param("100.01", [60, 40], ["60.01", "40.00"], id="percent-largest-remainder"),
        pytest.param("0.01", [1, 1], ["0.01", "0.00"], id="one-cent-tie-by-order"),
        pytest.param("0.01", [1, 2], ["0.00", "0.01"], id="one-cent-to-largest-remainder"),
        pytest.param("10", ["0.5", "0.5"], ["5.00", "5.00"], id="ratios"),
        pytest.param("10", [0, 3], ["0.00", "10.00"], id="zero-weight"),
        pytest.param("-100.00", [1, 1, 1], ["-33.34", "-33.33", "-33.33"], id="negative-mirrors"),
        pytest.param("0", [1, 2], ["0.00", "0.00"], id="zero-amount"),
    ],
)
def test_split(amount, weights, want):
    assert split(amount, weights) == [D(w) for w in want]


@pytest.mark.parametrize(
    ("amount", "weights", "message"),
    [
        pytest.param("1", [], "no weights", id="empty"),
        pytest.param("1", [0, 0], "sum to zero", id="all-zero"),
        pytest.param("1", [1, -1, 1], "negative weight", id="negative"),
        pytest.param("1", [0.5, 0.5], "not exact", id="float-weight"),
        pytest.param(1.0, [1], "not exact", id="float-amount"),
        pytest.param("1.005", [1], "fractions of a cent", id="sub-cent-amount"),
    ],
)
def test_split_refuses(amount, weights, message):
    with pytest.raises(MoneyError, match=message):
        split(amount, weights)


amounts = st.decimals(min_value=D("-1000000"), max_value=D("1000000"), places=2, allow_nan=False)
weight_lists = st.lists(
    st.one_of(st.integers(0, 10_000), st.decimals(min_value=0, max_value=1000, places=3)), min_size=1, max_size=12
).filter(lambda ws: sum(ws) > 0)


@given(amounts, weight_lists)
def test_split_sums_exactly_and_stays_within_a_cent(amount, weights):
    parts = split(amount, weights)
    assert sum(parts, D(0)) == amount
    assert all(p.as_tuple().exponent == -2 for p in parts)
    total = Fraction(sum(weights, D(0)))
    for part, w in zip(parts, weights, strict=True):
        exact = Fraction(amount) * Fraction(w) / total
        assert abs(Fraction(part) - exact) < Fraction(1, 100)
        if w == 0:
            assert part == 0


@given(st.decimals(min_value=0, max_value=D("1000000"), places=2, allow_nan=False), weight_lists)
def test_split_larger_weight_never_gets_less(amount, weights):
    parts = split(amount, weights)
    for i, wi in enumerate(weights):
        for j, wj in enumerate(weights):
            if wi > wj:
                assert parts[i] >= parts[j]
