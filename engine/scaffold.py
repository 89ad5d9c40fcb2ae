"""`zhidu init`: a new company pack that extends a bundled one, written atomically."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import ZhiduError
from .loader import bundled_root, resolve_pack

POLICY_TEMPLATE = """\
# yaml-language-server: $schema={schema}
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

# rules:
#   - id: my-extra-rule
#     label: {{zh: 本公司补充规定, en: Our own rule}}
#     ref: "本公司补充规定 1"          # a clause id: declare its words under clauses (below)
#     when: loss_amount > 100000
#     then: {{warnings: ["大额损失须报总经理"]}}
#
# clauses:
#   本公司补充规定 1: {{title: 本公司补充规定, article: "1", text: "大额损失须报总经理核决。"}}
"""

README_TEMPLATE = """\
# {pack_id}

A company pack that extends `{base}` ({title}).

- `zhidu validate {folder}` — check it (add `--explain-origin` to see where each rule comes from).
- `zhidu test {folder}` — run the test cases in `tests/` (copied from the base; add your own).
- `zhidu evaluate {folder} CASE.yaml --now 2024-09-10T10:00:00+08:00 --format text` — decide a case.
"""


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
    schema = Path(__file__).resolve().parent / "schemas" / "policy.schema.json"
    target_abs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".zhidu-init-", dir=target_abs.parent))
    try:
        (staging / "policy.yaml").write_text(
            POLICY_TEMPLATE.format(
                schema=schema,
                pack_id=pack_id,
                base=base_policy.id,
                extends=extends,
                title_zh=base_policy.title.zh.replace('"', "'"),
                title_en=base_policy.title.en.replace('"', "'"),
            ),
            encoding="utf-8",
        )
        (staging / "README.md").write_text(
            README_TEMPLATE.format(pack_id=pack_id, base=base_policy.id, title=base_policy.title.zh, folder=target),
            encoding="utf-8",
        )
        for folder in ("tests", "examples"):
            if (base_root / folder).is_dir():
                shutil.copytree(base_root / folder, staging / folder)
        if target_abs.exists():
            target_abs.rmdir()
        os.replace(staging, target_abs)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target_abs
