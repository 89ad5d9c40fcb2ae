"""Case input: validated against the vocabulary's schema, errors located, values normalised."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

import engine
from engine.source import parse_json, parse_yaml
from tests.conftest import NOW


def normalise(policy, facts):
    return policy.normaliser.case({"facts": facts})[0]


def test_values_take_their_declared_types(minimal):
    facts = normalise(
        minimal,
        {
            "received_at": "2024-09-14 08:30",
            "loss_amount": "12000.5",
            "ratio": 0.125,
            "quantity": 3,
            "ship_date": "2024-09-01",
            "tags": ["a"],
            "customer": {"name": "华南", "level": 2},
        },
    )
    assert facts["received_at"] == datetime.fromisoformat("2024-09-14T08:30:00+08:00")
    assert facts["received_at"].utcoffset() == timedelta(hours=8)  # naive → the pack's timezone
    assert facts["loss_amount"] == Decimal("12000.50") and str(facts["loss_amount"]) == "12000.50"
    assert isinstance(facts["ratio"], Decimal)
    assert facts["ship_date"] == date(2024, 9, 1)
    assert facts["tags"] == ("a",)
    assert facts["customer"] == {"name": "华南", "level": 2}


def test_offsets_are_kept(minimal):
    facts = normalise(minimal, {"received_at": "2024-09-14T00:30:00Z"})
    assert facts["received_at"].utcoffset() == timedelta(0)


BAD = [
    (
        "unknown-fact",
        {"received_at": "2024-09-14T08:30:00+08:00", "los_amount": 1},
        "unknown-field",
        "did you mean 'loss_amount'",
    ),
    ("missing-required", {"region": "domestic"}, "missing-field", "received_at"),
    (
        "enum-typo",
        {"received_at": "2024-09-14T08:30:00+08:00", "region": "domestc"},
        "case-invalid",
        "did you mean 'domestic'",
    ),
    (
        "money-three-places",
        {"received_at": "2024-09-14T08:30:00+08:00", "loss_amount": "1.005"},
        "case-invalid",
        "expected form",
    ),
    (
        "money-float-places",
        {"received_at": "2024-09-14T08:30:00+08:00", "loss_amount": Decimal("1.005")},
        "case-invalid",
        "more than 2 decimal places",
    ),
    (
        "number-seven-places",
        {"received_at": "2024-09-14T08:30:00+08:00", "ratio": Decimal("0.1234567")},
        "case-invalid",
        "more than 6",
    ),
    ("too-large", {"received_at": "2024-09-14T08:30:00+08:00", "quantity": 10**13}, "case-invalid", "too large"),
    (
        "bool-for-integer",
        {"received_at": "2024-09-14T08:30:00+08:00", "quantity": True},
        "case-invalid",
        "expected an integer",
    ),
    (
        "int-for-boolean",
        {"received_at": "2024-09-14T08:30:00+08:00", "vip": 1},
        "case-invalid",
        "expected true or false",
    ),
    (
        "bad-date",
        {"received_at": "2024-09-14T08:30:00+08:00", "ship_date": "2024-02-30"},
        "case-invalid",
        "invalid date",
    ),
    ("date-for-datetime", {"received_at": "2024-09-14"}, "case-invalid", "expected form"),
    (
        "nested-unknown",
        {"received_at": "2024-09-14T08:30:00+08:00", "customer": {"name": "x", "lvl": 1}},
        "unknown-field",
        "lvl",
    ),
    (
        "nested-required",
        {"received_at": "2024-09-14T08:30:00+08:00", "customer": {"level": 1}},
        "missing-field",
        "name",
    ),
    (
        "list-item-type",
        {"received_at": "2024-09-14T08:30:00+08:00", "tags": ["a", 3]},
        "case-invalid",
        "expected a string",
    ),
]


@pytest.mark.parametrize("facts,code,fragment", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_cases_are_refused_with_a_reason(minimal, facts, code, fragment):
    with pytest.raises(engine.CaseError) as info:
        minimal.evaluate({"facts": facts}, NOW)
    assert info.value.code == code
    assert fragment in str(info.value)
    assert info.value.exit_code == 3


def test_case_errors_name_the_case_file_line_and_path(minimal):
    text = 'case_id: "1"\nfacts:\n  received_at: 2024-09-14T08:30:00+08:00\n  region: domestc\n'
    data, smap, _ = parse_yaml(text, "case.yaml")
    from engine.evaluate import evaluate_case

    with pytest.raises(engine.CaseError) as info:
        evaluate_case(minimal, data, NOW, smap=smap, filename="case.yaml")
    d = info.value.diagnostics[0]
    assert (d.location.file, d.location.line, d.location.column, d.location.path) == (
        "case.yaml",
        4,
        11,
        "$.facts.region",
    )


def test_json_cases_keep_positions_and_decimals(minimal):
    text = '{\n  "facts": {\n    "received_at": "2024-09-14T08:30:00+08:00",\n    "loss_amount": 0.1\n  }\n}'
    data, smap, diags = parse_json(text, "case.json")
    assert not diags and data["facts"]["loss_amount"] == Decimal("0.1")
    assert smap.location(("facts", "loss_amount")).line == 4


def test_yaml_timestamps_stay_text_so_yaml_and_json_agree(minimal):
    data, _, _ = parse_yaml("facts:\n  received_at: 2024-09-14 08:30:00\n", "c.yaml")
    assert data["facts"]["received_at"] == "2024-09-14 08:30:00"


def test_now_is_required_and_never_taken_from_a_clock(minimal):
    with pytest.raises(engine.EvaluationError) as info:
        minimal.evaluate({"facts": {"received_at": "2024-09-14T08:30:00+08:00"}})
    assert info.value.code == "no-now"
    decision = minimal.evaluate({"now": "2024-09-15T08:00:00", "facts": {"received_at": "2024-09-14T08:30:00+08:00"}})
    assert decision.evaluated_at == "2024-09-15T08:00:00+08:00"


def test_bad_now_is_a_case_error(minimal):
    with pytest.raises(engine.CaseError):
        minimal.evaluate({"facts": {"received_at": "2024-09-14T08:30:00+08:00"}}, "yesterday")


def test_python_native_values_from_integrators(minimal):
    from zoneinfo import ZoneInfo

    at = datetime(2024, 9, 14, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    facts = normalise(
        minimal, {"received_at": at, "ship_date": date(2024, 9, 1), "ratio": 0.25, "loss_amount": Decimal("10.5")}
    )
    assert facts["received_at"] == at and facts["ship_date"] == date(2024, 9, 1)
    assert facts["ratio"] == Decimal("0.25") and facts["loss_amount"] == Decimal("10.50")
    with pytest.raises(engine.CaseError, match="not a float"):
        normalise(minimal, {"received_at": at, "loss_amount": 10.5})


def test_policy_not_yet_effective_is_a_warning(tmp_path):
    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "policy.yaml").write_text(
        'id: p\nversion: "1"\neffective_from: 2021-01-12\nfacts: {a: {type: integer}}\n', encoding="utf-8"
    )
    policy = engine.load_policy(pack)
    early = policy.evaluate({"facts": {}}, "2021-01-11T23:59:00+08:00").warnings
    assert [w["code"] for w in early] == ["not-yet-effective"]
    assert policy.evaluate({"facts": {}}, "2021-01-12T00:00:00+08:00").warnings == []


def test_invalid_effective_date_is_a_validation_error(tmp_path):
    pack = tmp_path / "p"
    pack.mkdir()
    (pack / "policy.yaml").write_text('id: p\nversion: "1"\neffective_from: 2024-02-30\n', encoding="utf-8")
    assert [d.code for d in engine.compile_pack(pack).errors] == ["schema"]


def test_fast_case_check_agrees_with_jsonschema(minimal, pcb):
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 10**13),
        st.decimals(allow_nan=False, allow_infinity=False, places=3),
        st.sampled_from(
            ["domestic", "domestc", "quality_abnormal", "2024-09-14", "2024-09-14T08:30:00+08:00", "12.50", "x", ""]
        ),
    )
    values = st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["name", "level", "id", "department", "base_points", "monthly_bonus", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=8,
    )
    base = {"received_at": "2024-09-14T08:30:00+08:00"}
    for policy in (minimal, pcb):
        names = [f.name for f in policy.facts] + ["unknown_fact"]
        # Enum values and near misses of them, so the enum checks are actually exercised.
        words = sorted({v for f in policy.facts if f.type.values for v in f.type.values})
        near = st.sampled_from(words + [w[:-1] for w in words])
        # A valid case with one or two facts replaced: the check must say what jsonschema says.
        documents = st.builds(
            lambda changes, case_id, keep: {"case_id": case_id, "facts": {**(base if keep else {}), **changes}},
            st.dictionaries(st.sampled_from(names), st.one_of(near, values), min_size=1, max_size=2),
            st.sampled_from(["c1", "", 5]),
            st.booleans(),
        )

        def make(normaliser, documents=documents):
            @settings(max_examples=500, deadline=None)
            @given(documents)
            def agree(doc):
                assert normaliser.conforms(doc) == normaliser.validator.is_valid(doc)

            return agree

        make(policy.normaliser)()


FAST = [
    ("valid", {"received_at": "2024-09-14T08:30:00+08:00", "region": "domestic"}, True),
    ("unknown-fact", {"received_at": "2024-09-14T08:30:00+08:00", "regoin": "domestic"}, False),
    ("missing-required", {"region": "domestic"}, False),
    ("enum-typo", {"received_at": "2024-09-14T08:30:00+08:00", "region": "domestc"}, False),
    ("bad-datetime", {"received_at": "2024-09-14"}, False),
    ("money-pattern", {"received_at": "2024-09-14T08:30:00+08:00", "loss_amount": "1.005"}, False),
    ("bool-as-integer", {"received_at": "2024-09-14T08:30:00+08:00", "quantity": True}, False),
    ("nested-unknown", {"received_at": "2024-09-14T08:30:00+08:00", "customer": {"name": "x", "lvl": 1}}, False),
    ("nested-required", {"received_at": "2024-09-14T08:30:00+08:00", "customer": {"level": 1}}, False),
    ("list-item", {"received_at": "2024-09-14T08:30:00+08:00", "tags": ["a", 1]}, False),
]


@pytest.mark.parametrize("facts,valid", [f[1:] for f in FAST], ids=[f[0] for f in FAST])
def test_fast_case_check_table(minimal, facts, valid):
    doc = {"case_id": "c", "facts": facts}
    assert minimal.normaliser.conforms(doc) is valid
    assert minimal.normaliser.validator.is_valid(doc) is valid
