"""Lint `ne-missing`: `x != v` and `x not in [...]` are false when x is missing; the suggested forms behave
as the message says on both engines."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from tests.conftest import both

HEAD = 'id: ne\nversion: "1"\nfacts:\n  kind: {type: string}\n  k2: {type: string, required: true}\nfindings:\n  f: {type: string, label: f, conflict: error, default: "x"}\n  g: {type: string, label: g, conflict: error}\n'


def lint(tmp_path: Path, when: str) -> list[tuple[str, int, int]]:
    root = tmp_path / "ne"
    root.mkdir(exist_ok=True)
    (root / "policy.yaml").write_text(
        HEAD + f"rules:\n  - id: r\n    ref: x\n    when: '{when}'\n    then: {{warnings: [hit]}}\n", encoding="utf-8"
    )
    result = engine.compile_pack(root)
    assert not result.errors, result.errors
    return [(d.code, d.location.line, d.location.column) for d in result.warnings if d.code == "ne-missing"]


CASES = [
    # (id, condition, warned at column or None)
    ("optional-fact", 'kind != "v"', 17),
    ("not-in", 'kind not in ["a", "b"]', 17),
    ("literal-on-the-left", '"v" != kind', 16),
    ("guarded-by-exists", 'exists(kind) and kind != "v"', None),
    ("required-fact", 'k2 != "v"', None),
    ("finding-with-default", 'findings.f != "v"', None),
    ("finding-without-default", 'findings.g != "v"', 23),
    ("equality", 'kind == "v"', None),
    ("negated-equality", 'not (kind == "v")', None),
]


@pytest.mark.parametrize(("when", "column"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_ne_on_a_possibly_missing_value_is_linted(tmp_path, when, column):
    got = lint(tmp_path, when)
    assert got == ([("ne-missing", 12, column)] if column else [])


@pytest.mark.parametrize(
    ("when", "facts", "fires"),
    [
        ('kind != "v"', {}, False),
        ('not (kind == "v")', {}, True),
        ('exists(kind) and kind != "v"', {}, False),
        ('not (kind == "v")', {"kind": "v"}, False),
        ('not (kind in ["a", "b"])', {}, True),
    ],
    ids=["ne-missing-is-false", "not-eq-missing-is-true", "guarded-missing-is-false", "not-eq-equal", "not-in"],
)
def test_the_suggested_forms_mean_what_the_message_says(tmp_path, when, facts, fires):
    lint(tmp_path, when)
    d = both(engine.load_policy(tmp_path / "ne"), {"facts": {"k2": "z", **facts}})
    assert (d["trace"] != []) is fires
