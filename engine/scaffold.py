"""`zhidu init`: a new company pack that extends a bundled one, written atomically."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ZhiduError
from .loader import bundled_root, resolve_pack
from .pack_schemas import write_pack_schemas

if TYPE_CHECKING:
    from .facts import FactSpec
    from .policy import Policy

# The example rule's condition by the type of the first fact of that type the base declares, in this order.
EXAMPLES = (
    ("money", "{fact} > 100000", "{label}超过 100000，须报总经理"),
    ("integer", "{fact} > 1000", "{label}超过 1000，须报总经理"),
    ("number", "{fact} > 1000", "{label}超过 1000，须报总经理"),
    ("datetime", "now - {fact} > 30d", "{label}已过 30 天，请跟进"),
    ("boolean", "{fact} == true", "{label}：请通知质量部门"),
    ("enum", '{fact} == "{value}"', "{label}为{value}：请通知质量部门"),
)

POLICY_TEMPLATE = """\
#
# {pack_id}: your company's pack. It inherits everything from `{base}` and changes only what
# you write here. Give an entry the same id as in the base to replace it; list ids under
# `remove:` to drop them; new ids are added. See docs/adopting.md.
id: {pack_id}
version: "0.1.0"
title: {{zh: "{title_zh}", en: "{title_en}"}}
extends: {extends}

# remove:
#   rules: [some-rule-id]

# An example of your own rule, written with a fact of `{base}`: remove the leading "# " to try it.
# rules:
#   - id: my-extra-rule
#     label: {{zh: 本公司补充规定, en: Our own rule}}
#     ref: "本公司补充规定 1"          # a clause id: declare its words under clauses (below)
#     when: {when}
#     then: {{warnings: ["{warning}"]}}
#
# clauses:
#   本公司补充规定 1: {{title: 本公司补充规定, article: "1", text: "{warning}"}}
"""

README_TEMPLATE = """\
# {pack_id}

A company pack that extends `{base}` ({title}). From this folder:

- `zhidu validate .` — check it (add `--explain-origin` to see where each rule comes from).
- `zhidu test .` — run the test cases in `tests/` (copied from the base; add your own).
- `zhidu evaluate . CASE.yaml --now 2024-09-10T10:00:00+08:00 --format text` — decide a case.
- `zhidu schema --write .` — refresh the editor schemas in `schemas/` after changing facts or adding files
  (each YAML file starts with a `# yaml-language-server: $schema=` line pointing there).
"""


def example_rule(policy: Policy) -> tuple[str, str]:
    """A condition and a warning for the example rule, written with a fact the base pack declares, so the
    example validates whichever pack it extends."""
    by_type: dict[str, FactSpec] = {}
    for fact in policy.facts:
        by_type.setdefault(str(fact.type), fact)
    for kind, when, warning in EXAMPLES:
        fact = by_type.get(kind)
        if fact is None:
            continue
        first = fact.value_labels[0] if fact.value_labels else ("", fact.label)
        label = first[1].zh if first[1] else first[0]
        return when.format(fact=fact.name, value=first[0]), warning.format(label=fact.label.zh, value=label)
    return "now > now - 1d", "本公司补充规定：请复核"


def init_pack(target: Path, base: str, pack_id: str | None = None) -> Path:
    """Create `target` as a pack extending `base`; nothing is written unless everything is."""
    from .compiler import load_policy

    base_policy = load_policy(base)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ZhiduError(f"{target}: already exists and is not empty; choose a new folder")
    base_root = resolve_pack(base)
    bundled = base_root.parent.resolve() == bundled_root().resolve()
    target_abs = target.resolve()
    extends = base_root.name if bundled else os.path.relpath(base_root.resolve(), target_abs)
    pack_id = pack_id or re.sub(r"[^a-z0-9-]+", "-", target_abs.name.lower()).strip("-")
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", pack_id):
        raise ZhiduError(
            f"'{pack_id}' cannot be a pack id: use lower-case letters, digits and dashes (--id acme-complaints)"
        )
    when, warning = example_rule(base_policy)
    target_abs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".zhidu-init-", dir=target_abs.parent))
    try:
        (staging / "policy.yaml").write_text(
            POLICY_TEMPLATE.format(
                pack_id=pack_id,
                when=when,
                warning=warning,
                base=base_policy.id,
                extends=extends,
                title_zh=base_policy.title.zh.replace('"', "'"),
                title_en=base_policy.title.en.replace('"', "'"),
            ),
            encoding="utf-8",
        )
        (staging / "README.md").write_text(
            README_TEMPLATE.format(pack_id=pack_id, base=base_policy.id, title=base_policy.title.zh),
            encoding="utf-8",
        )
        for folder in ("tests", "examples"):
            if (base_root / folder).is_dir():
                shutil.copytree(base_root / folder, staging / folder)
        # Editor support travels with the pack: schemas/ inside it, modelines as relative paths.
        write_pack_schemas(staging)
        if target_abs.exists():
            target_abs.rmdir()
        os.replace(staging, target_abs)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target_abs
