"""Documents that cannot go stale: the fact table of docs/case-vocabulary.md is generated from the packs.

`ZHIDU_UPDATE_DOCS=1 python -m pytest tests/test_docs.py` rewrites the generated block after a pack change.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import engine
from engine.facts import FactSpec
from engine.loader import bundled_packs

DOC = Path(__file__).resolve().parent.parent / "docs" / "case-vocabulary.md"
BEGIN = "<!-- facts: generated from the bundled packs by tests/test_docs.py; ZHIDU_UPDATE_DOCS=1 rewrites it -->"
END = "<!-- /facts -->"


def _type(spec: FactSpec) -> str:
    t = spec.type
    if t.values is not None:
        return "enum " + " / ".join(f"`{v}`" for v in t.values)
    if t.kind == "list" and spec.item is not None and spec.item.properties:
        return "list of {" + ", ".join(p.name for p in spec.item.properties) + "}"
    return str(t)


def vocabulary_table() -> str:
    """Every fact a bundled pack declares: name, type (as the first pack declares it), label, packs."""
    seen: dict[str, tuple[FactSpec, set[str]]] = {}
    types: dict[str, set[str]] = defaultdict(set)
    for pack in bundled_packs():
        for spec in engine.load_policy(pack).facts:
            first, packs = seen.setdefault(spec.name, (spec, set()))
            packs.add(pack)
            types[spec.name].add(_type(spec))
    lines = [BEGIN, "", "| Name | Type | 标签 | Declared by |", "|---|---|---|---|"]
    for name in sorted(seen):
        spec, packs = seen[name]
        shown = _type(spec) if len(types[name]) == 1 else f"{_type(spec)} (differs by pack)"
        lines.append(f"| `{name}` | {shown} | {spec.label.zh} | {', '.join(sorted(packs))} |")
    return "\n".join([*lines, "", END])


def test_case_vocabulary_lists_the_facts_the_packs_declare():
    text = DOC.read_text(encoding="utf-8")
    assert BEGIN in text and END in text
    block = text[text.index(BEGIN) : text.index(END) + len(END)]
    want = vocabulary_table()
    if block != want and os.environ.get("ZHIDU_UPDATE_DOCS"):
        DOC.write_text(text.replace(block, want), encoding="utf-8")
        return
    assert block == want, "docs/case-vocabulary.md is stale: ZHIDU_UPDATE_DOCS=1 python -m pytest tests/test_docs.py"


def test_adopting_gives_the_reviewed_update_workflow():
    text = (DOC.parent / "adopting.md").read_text(encoding="utf-8")
    assert "zhidu test" in text and "Review each failure" in text and "Never re-record" in text
