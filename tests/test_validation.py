"""Pack validation: every error collected, located at file:line:col, sorted, and never a traceback."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

import engine
from tests.conftest import PACKS


def diagnostics(path: Path) -> list[str]:
    return [
        f"{Path(d.location.file).name}:{d.location.line}:{d.location.column}: {d.code}"
        for d in engine.compile_pack(path).diagnostics
    ]


def test_four_kinds_of_error_are_all_reported_with_positions():
    assert diagnostics(PACKS / "four-errors") == [
        "broken.yaml:6:1: yaml-syntax",
        "policy.yaml:3:10: schema",
        "rules.yaml:4:11: unknown-fact",
        "rules.yaml:6:9: duplicate-id",
    ]


def test_unknown_fact_suggests_the_close_name():
    messages = [d.message for d in engine.compile_pack(PACKS / "four-errors").diagnostics]
    assert "unknown fact 'los_amount' (did you mean 'loss_amount'?)" in messages


def test_load_policy_raises_with_every_diagnostic():
    with pytest.raises(engine.PolicyError) as info:
        engine.load_policy(PACKS / "four-errors")
    assert len(info.value.diagnostics) == 4
    assert info.value.exit_code == 1


def write_pack(tmp_path: Path, body: str, **files: str) -> Path:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "policy.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    for name, text in files.items():
        (pack / name.replace("__", ".")).write_text(textwrap.dedent(text), encoding="utf-8")
    return pack


HEAD = """\
id: t
version: "1"
facts:
  loss_amount: {type: money}
  region: {type: enum, values: [domestic, foreign]}
  at: {type: datetime}
findings:
  sev: {type: enum, label: s, values: [minor, major], conflict: error}
"""

# (id, rules section, expected "line:col: code" list, message fragment)
BROKEN_RULES = [
    (
        "expr-column-plain",
        "  - {id: a, ref: r, when: loss_amount > , then: {set: {sev: minor}}}\n",
        ["10:40: expr-syntax"],
        "ends too early",
    ),
    (
        "expr-column-quoted",
        "  - {id: a, ref: r, when: \"region == 'domstic'\", then: {set: {sev: minor}}}\n",
        ["10:38: unknown-value"],
        "did you mean 'domestic'",
    ),
    (
        "expr-column-block",
        "  - id: a\n    ref: r\n    when: |\n      region == 'domestic' and\n        los > 3\n    then: {set: {sev: minor}}\n",
        ["14:9: unknown-fact"],
        "unknown fact 'los'",
    ),
    (
        "expr-column-folded",
        "  - id: a\n    ref: r\n    when: >-\n      region == 'domestic' and\n      los > 3\n    then: {set: {sev: minor}}\n",
        ["14:7: unknown-fact"],
        "unknown fact 'los'",
    ),
    (
        "expr-column-plain-multiline",
        "  - id: a\n    ref: r\n    when: region == 'domestic'\n      and los > 3\n    then: {set: {sev: minor}}\n",
        ["13:11: unknown-fact"],
        "unknown fact 'los'",
    ),
    (
        "type-error",
        "  - {id: a, ref: r, when: loss_amount > 'x', then: {set: {sev: minor}}}\n",
        ["10:39: type-error"],
        "cannot compare money with string",
    ),
    (
        "not-boolean",
        "  - {id: a, ref: r, when: loss_amount + 1, then: {set: {sev: minor}}}\n",
        ["10:39: type-error"],
        "must be true or false",
    ),
    (
        "unknown-function",
        "  - {id: a, ref: r, when: lenght(region) > 1, then: {set: {sev: minor}}}\n",
        ["10:27: unknown-function"],
        "unknown function 'lenght'",
    ),
    (
        "unknown-finding",
        "  - {id: a, ref: r, when: findings.sevv == 'minor', then: {set: {sev: minor}}}\n",
        ["10:27: unknown-finding"],
        "did you mean 'sev'",
    ),
    (
        "dangling-finding",
        "  - {id: a, ref: r, when: exists(at), then: {set: {sevv: minor}}}\n",
        ["10:52: dangling-ref"],
        "unknown finding 'sevv'",
    ),
    (
        "bad-finding-value",
        "  - {id: a, ref: r, when: exists(at), then: {set: {sev: huge}}}\n",
        ["10:57: unknown-value"],
        "'huge'",
    ),
    (
        "dangling-form",
        "  - {id: a, ref: r, when: exists(at), then: {forms: [nope]}}\n",
        ["10:54: dangling-ref"],
        "unknown form 'nope'",
    ),
    (
        "unknown-field",
        "  - {id: a, ref: r, when: exists(at), than: {forms: [x]}}\n",
        ["10:5: missing-field", "10:39: unknown-field"],
        "did you mean 'then'",
    ),
    ("missing-ref", "  - {id: a, when: exists(at), then: {set: {sev: minor}}}\n", ["10:5: missing-field"], "'ref'"),
    (
        "cycle",
        "  - {id: a, ref: r, when: findings.sev == 'minor', then: {set: {sev: major}}}\n",
        ["10:5: finding-cycle"],
        "a → a",
    ),
    (
        "chained-compare",
        "  - {id: a, ref: r, when: 1 < loss_amount < 3, then: {set: {sev: minor}}}\n",
        ["10:43: expr-syntax"],
        "cannot be chained",
    ),
    (
        "single-equals",
        "  - {id: a, ref: r, when: region = 'x', then: {set: {sev: minor}}}\n",
        ["10:34: expr-syntax"],
        "use ==",
    ),
]


@pytest.mark.parametrize("rules,expected,fragment", [c[1:] for c in BROKEN_RULES], ids=[c[0] for c in BROKEN_RULES])
def test_rule_errors_point_into_the_expression(tmp_path, rules, expected, fragment):
    pack = write_pack(tmp_path, HEAD + "rules:\n" + rules)
    result = engine.compile_pack(pack)
    got = [f"{d.location.line}:{d.location.column}: {d.code}" for d in result.diagnostics]
    assert got == expected
    assert any(fragment in d.message for d in result.diagnostics), [d.message for d in result.diagnostics]
    assert result.policy is None


BROKEN_PACKS = [
    ("missing-include", 'id: t\nversion: "1"\ninclude: [nope.yaml]\n', {}, ["policy.yaml:3:11: file-not-found"]),
    ("bad-timezone", 'id: t\nversion: "1"\ntimezone: Mars/Base\n', {}, ["policy.yaml:3:11: unknown-timezone"]),
    ("duplicate-key", 'id: t\nversion: "1"\nid: u\n', {}, ["policy.yaml:3:1: duplicate-key"]),
    ("not-a-mapping", "- just\n- a list\n", {}, ["policy.yaml:1:1: schema"]),
    ("empty", "", {}, ["policy.yaml:1:1: schema"]),
    (
        "duplicate-fact-across-files",
        'id: t\nversion: "1"\ninclude: [a.yaml]\nfacts:\n  x: {type: string}\n',
        {"a__yaml": "facts:\n  x: {type: integer}\n"},
        ["a.yaml:2:3: duplicate-id"],
    ),
    (
        "include-wrong-section",
        'id: t\nversion: "1"\ninclude: [a.yaml]\n',
        {"a__yaml": "version: '2'\n"},
        ["a.yaml:1:1: include-section"],
    ),
    ("enum-without-values", 'id: t\nversion: "1"\nfacts:\n  x: {type: enum}\n', {}, ["policy.yaml:4:6: missing-field"]),
    ("bad-id", 'id: Bad_ID\nversion: "1"\n', {}, ["policy.yaml:1:5: schema"]),
]


@pytest.mark.parametrize("body,files,expected", [c[1:] for c in BROKEN_PACKS], ids=[c[0] for c in BROKEN_PACKS])
def test_pack_level_errors(tmp_path, body, files, expected):
    pack = write_pack(tmp_path, body, **files)
    got = [
        f"{Path(d.location.file).name}:{d.location.line}:{d.location.column}: {d.code}"
        for d in engine.compile_pack(pack).errors
    ]
    assert got == expected


def test_missing_pack_names_close_bundled_pack(tmp_path):
    with pytest.raises(engine.PolicyError) as info:
        engine.load_policy("pcb-manufactuer")
    assert "did you mean 'pcb-manufacturer'" in str(info.value)


def test_every_bundled_pack_validates_clean():
    for name in engine.bundled_packs():
        result = engine.compile_pack(name)
        assert result.errors == [], name


def test_bundled_pack_copied_elsewhere_still_validates(tmp_path):
    src = engine.compile_pack("pcb-manufacturer").policy.root
    shutil.copytree(src, tmp_path / "copy")
    assert engine.compile_pack(tmp_path / "copy").errors == []
