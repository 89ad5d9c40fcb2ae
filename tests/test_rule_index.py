"""The python engine's alpha index: which conditions it indexes, and that it never changes what fires."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine.backends.python_backend import IndexedLayer, RangeIndex, discriminator, interval_of
from engine.expr import Scope, check, parse
from engine.expr.pyeval import Env
from engine.types import Type
from tests.conftest import ROOT

SCOPE_FACTS = {
    "cause": Type("string", values=("quality", "delivery")),
    "region": Type("string"),
    "upheld": Type("boolean"),
    "loss": Type("money"),
}

INDEXED = [
    # (id, condition, indexed path or None, constants)
    ("equals-text", 'cause == "quality"', "cause", {"quality"}),
    ("text-on-the-left", '"quality" == cause', "cause", {"quality"}),
    ("boolean", "upheld == true", "upheld", {True}),
    ("in-list", 'region in ["north", "south"]', "region", {"north", "south"}),
    ("first-term-of-and", 'loss > 100 and region == "north"', "region", {"north"}),
    ("not-equal-is-not", 'cause != "quality"', None, None),
    ("not-in-is-not", 'region not in ["north"]', None, None),
    ("or-is-not", 'cause == "quality" or upheld == true', None, None),
    ("numbers-are-not", "loss == 100", None, None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "path", "constants"), [c[1:] for c in INDEXED], ids=[c[0] for c in INDEXED])
def test_which_conditions_are_indexed(text, path, constants):
    node = check(parse(text), Scope(facts=SCOPE_FACTS, findings={}))
    found = discriminator(node)
    if path is None:
        assert found is None
    else:
        assert (found[0].dotted, set(found[1])) == (path, constants)


def cases(count: int):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import generate_cases

    return [json.loads(line, parse_float=Decimal) for line in generate_cases.iter_lines(count, 3)]


def test_the_index_fires_exactly_what_every_rule_tried_fires():
    policy = engine.load_policy("pcb-manufacturer")
    layers = [(IndexedLayer(layer), layer) for layer in policy.layers]
    indexed_somewhere = False
    for case in cases(300):
        facts = policy.normaliser.case(case)[0]
        env = Env(facts, {}, datetime(2024, 9, 10, 10, tzinfo=policy.timezone), policy.timezone)
        for index, rules in layers:
            indexed_somewhere = indexed_somewhere or bool(index.lookups)
            assert index.fire(env) == {r.id for r in rules if r.test(env) is True}
    assert indexed_somewhere


INTERVALS = [
    # (id, condition, (low, low included, high, high included) or None)
    ("closed-open", "loss >= 100 and loss < 200", (100, True, 200, False)),
    ("mirrored", "100 < loss and 200 >= loss", (100, False, 200, True)),
    ("one-sided", "loss > 5000", (5000, False, None, True)),
    ("tightest-bound-wins", "loss > 10 and loss >= 20 and loss < 90 and loss <= 80", (20, True, 80, True)),
    ("equal-number", "loss == 7", (7, True, 7, True)),
    ("other-terms-ignored", 'loss <= 5000 and region == "x"', (None, True, 5000, True)),
    ("no-number", 'region == "x"', None),
    ("or-is-not", "loss < 1 or loss > 9", None),
]  # fmt: skip


@pytest.mark.parametrize(("text", "want"), [c[1:] for c in INTERVALS], ids=[c[0] for c in INTERVALS])
def test_which_numeric_bounds_are_indexed(text, want):
    node = check(parse(text), Scope(facts=SCOPE_FACTS, findings={}))
    found = interval_of(node)
    if want is None:
        assert found is None
    else:
        assert found[0].dotted == "loss" and found[1] == tuple(Decimal(v) if isinstance(v, int) else v for v in want)


bound = st.one_of(st.none(), st.integers(-5, 5).map(Decimal))


@given(
    st.lists(st.tuples(bound, st.booleans(), bound, st.booleans()), max_size=12),
    st.lists(st.integers(-6, 6).map(lambda n: Decimal(n) / 2), max_size=12),
)
@settings(max_examples=300, deadline=None, derandomize=True)
def test_a_range_index_finds_exactly_the_covering_intervals(intervals, values):
    members = [(iv, (str(i), None)) for i, iv in enumerate(intervals)]
    index = RangeIndex.build(members)
    if index is None:  # too many slots for the interval count: the layer tries these rules on every case
        return
    for value in values:
        covering = {
            str(i)
            for i, (lo, lo_in, hi, hi_in) in enumerate(intervals)
            if (lo is None or value > lo or (lo_in and value == lo))
            and (hi is None or value < hi or (hi_in and value == hi))
        }
        assert {rid for rid, _test in index.candidates(value)} >= covering
