"""`remove:` of a fact or finding: one error at the overlay's own entry listing the inherited items that read it."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine


def overlay(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "co"
    root.mkdir()
    (root / "policy.yaml").write_text('id: co\nversion: "1"\nextends: pcb-manufacturer\n' + body, encoding="utf-8")
    return root


CASES = [
    # (id, overlay body, message parts, suggested remove:)
    (
        "fact-read-by-rules-authority-penalties-and-a-form",
        "remove: {facts: [upheld]}\n",
        [
            "removing fact 'upheld' leaves 9 inherited items",
            "authority settlement",
            "penalties",
            "form complaint-register",
        ],
        "rules: [quality-tracked, penalty-notice, complaint-not-upheld, resolution-allowance, resolution-return, "
        "collection-rate-deduction], authority: [settlement]",
    ),
    (
        "finding-set-and-read-by-rules",
        "remove: {findings: [category]}\n",
        ["removing finding 'category'", "rules quality-tracked", "form monthly-statistics"],
        "rules: [",
    ),
]


@pytest.mark.parametrize(("body", "parts", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_removing_a_name_lists_its_inherited_readers_at_the_overlay(tmp_path, body, parts, hint):
    result = engine.compile_pack(overlay(tmp_path, body))
    errors = result.errors
    (error,) = [e for e in errors if e.code == "removed-still-read"]
    assert error.location.file.endswith("co/policy.yaml") and error.location.line == 4
    assert all(p in error.message for p in parts), error.message
    assert hint in error.message
    # nothing is located in files the overlay cannot edit for that name
    assert [e for e in errors if "policies/pcb-manufacturer" in e.location.file] == []


def test_following_the_advice_leaves_no_error_for_the_rules(tmp_path):
    body = (
        "remove:\n  facts: [upheld]\n  rules: [quality-tracked, penalty-notice, complaint-not-upheld, resolution-allowance,"
        " resolution-return, collection-rate-deduction]\n  authority: [settlement]\n"
    )
    (error,) = [e for e in engine.compile_pack(overlay(tmp_path, body)).errors if e.code == "removed-still-read"]
    assert "leaves 2 inherited items that read it: penalties; form complaint-register" in error.message


def test_the_overlays_own_rule_is_located_in_the_overlay(tmp_path):
    body = "remove: {facts: [upheld]}\nrules:\n  - {id: mine, ref: x, when: upheld, then: {warnings: [w]}}\n"
    errors = engine.compile_pack(overlay(tmp_path, body)).errors
    own = [e for e in errors if e.code == "unknown-fact"]
    assert len(own) == 1 and own[0].location.file.endswith("co/policy.yaml") and own[0].location.line == 6
