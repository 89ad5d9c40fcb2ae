"""Editor support: JSON Schemas for every kind of pack file, written into a pack with modelines pointing at them."""

from __future__ import annotations

import copy
import glob
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from .bundled import load_schema
from .errors import ZhiduError
from .loader import LIST_SECTIONS, MAP_SECTIONS, POLICY_FILE, SINGLE_SECTIONS
from .source import read_document

DRAFT = "https://json-schema.org/draft/2020-12/schema"
# The folder inside a pack that `zhidu schema --write` fills; modelines point here with relative paths,
# so a pack keeps its editor support when it is moved, committed or checked out on another machine.
SCHEMA_DIR = "schemas"
MODELINE = "# yaml-language-server: $schema="
_MODELINE_PATTERN = re.compile(r"^#\s*yaml-language-server:\s*\$schema=\S*[ \t]*$")


PLACEHOLDER = {
    "type": "object",
    "description": "a value the regulation does not state: {placeholder: NAME, value: VALUE, reason: WHY}",
    "required": ["placeholder", "value"],
    "properties": {"placeholder": {"type": "string"}, "value": {}, "reason": {"type": "string"}},
    "additionalProperties": False,
}
ACKNOWLEDGE = {
    "type": "object",
    "description": "lint code → why the warning is accepted",
    "additionalProperties": {"type": "string"},
}


def editor_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The pack schema as an editor sees a pack file: the loader takes named placeholders and `acknowledge:`
    out before its own schema check (engine/annotations.py), so here any value may be a placeholder and any
    entry may carry `acknowledge:`."""
    out = copy.deepcopy(schema)

    maps = ("properties", "patternProperties", "$defs")  # name → schema, not schemas themselves

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {
            key: {n: walk(sub) for n, sub in value.items()} if key in maps and isinstance(value, dict) else walk(value)
            for key, value in node.items()
        }
        for key in ("properties", "patternProperties"):
            if isinstance(node.get(key), dict):
                node[key] = {name: _or_placeholder(sub) for name, sub in node[key].items()}
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                node[key] = _or_placeholder(node[key])
        if node.get("type") == "object" and node.get("additionalProperties") is False:
            node.setdefault("properties", {})["acknowledge"] = {"$ref": "#/$defs/acknowledge"}
        return node

    out = walk(out)
    out.setdefault("$defs", {}).update({"placeholder": PLACEHOLDER, "acknowledge": ACKNOWLEDGE})
    return out


def _or_placeholder(sub: Any) -> Any:
    return {"anyOf": [sub, {"$ref": "#/$defs/placeholder"}]}


def section_schema() -> dict[str, Any]:
    """A file named under `include:`: only the sections an included file may hold, as policy.yaml has them."""
    policy = editor_schema(load_schema("policy.schema.json"))
    names = LIST_SECTIONS + MAP_SECTIONS + SINGLE_SECTIONS
    return {
        "$schema": DRAFT,
        "title": "zhidu included section file",
        "description": "A file listed under `include:` in policy.yaml: " + ", ".join(names),
        "type": "object",
        "properties": {name: policy["properties"][name] for name in names},
        "additionalProperties": False,
        "$defs": policy["$defs"],
    }


def tests_schema(case: dict[str, Any] | None = None) -> dict[str, Any]:
    """A file in a pack's tests/ folder (the format `zhidu test` checks). With the pack's case schema, a case
    that expects a decision (`want`) is checked against the pack's facts; one that expects an error
    (`want_error`) is not, since it is wrong on purpose."""
    from .testing import TEST_SCHEMA

    out: dict[str, Any] = {"$schema": DRAFT, "title": "zhidu policy tests", **copy.deepcopy(TEST_SCHEMA)}
    if case is not None:
        item = out["properties"]["cases"]["items"]
        item["if"] = {"required": ["want"]}
        item["then"] = {"properties": {"case": {"$ref": "#/$defs/case"}}}
        out["$defs"] = {"case": {k: v for k, v in case.items() if k != "$schema"}}
    return out


def case_schema_or_none(pack: Path) -> tuple[dict[str, Any] | None, str | None]:
    """The pack's case schema, or None and why (a pack that does not compile still gets the other schemas)."""
    from .compiler import load_policy

    try:
        return load_policy(pack).case_schema(), None
    except ZhiduError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"the pack does not compile ({first}); case and test files get a generic schema"


def pack_schemas(pack: Path) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Every schema a pack's files need, by file name, and a note when the pack's own case schema is missing."""
    case, note = case_schema_or_none(pack)
    generic_case: dict[str, Any] = {"$schema": DRAFT, "type": "object", "properties": {"facts": {"type": "object"}}}
    return {
        "policy.schema.json": editor_schema(load_schema("policy.schema.json")),
        "section.schema.json": section_schema(),
        "tests.schema.json": tests_schema(case),
        "case.schema.json": case or generic_case,
        "form.schema.json": load_schema("form.schema.json"),
    }, note


def pack_files(pack: Path) -> list[tuple[Path, str]]:
    """Each YAML file of a pack and the schema (a file name in SCHEMA_DIR) it is written against."""
    out: list[tuple[Path, str]] = [(pack / POLICY_FILE, "policy.schema.json")]
    data, _smap, _diags = read_document(pack / POLICY_FILE)
    includes = data.get("include") if isinstance(data, dict) else None
    seen = {pack / POLICY_FILE}
    for pattern in includes if isinstance(includes, list) else []:
        if isinstance(pattern, str):
            for match in sorted(glob.glob(str(pack / pattern))):
                path = Path(match)
                if path.suffix in (".yaml", ".yml") and path not in seen:
                    seen.add(path)
                    out.append((path, "section.schema.json"))
    for folder, schema in (("tests", "tests.schema.json"), ("examples", "case.schema.json")):
        for path in sorted((pack / folder).rglob("*.y*ml")) if (pack / folder).is_dir() else []:
            out.append((path, schema))
    for path in sorted((pack / "forms").glob("*/form.yaml")) if (pack / "forms").is_dir() else []:
        out.append((path, "form.schema.json"))
    return out


def with_modeline(text: str, target: str) -> str:
    """`text` whose first line is the yaml-language-server modeline for `target` (an existing one is replaced)."""
    line = MODELINE + target
    lines = text.split("\n")
    if lines and _MODELINE_PATTERN.match(lines[0]):
        lines[0] = line
        return "\n".join(lines)
    return line + "\n" + text


def write_pack_schemas(pack: Path) -> tuple[list[Path], str | None]:
    """Write every schema into PACK/schemas/ and point each YAML file of the pack at its schema.

    Returns the files written or changed, and a note when the pack's case schema could not be built."""
    if not (pack / POLICY_FILE).is_file():
        raise ZhiduError(f"{pack}: no {POLICY_FILE} here; give the pack folder (zhidu schema --write PACK)")
    schemas, note = pack_schemas(pack)
    changed: list[Path] = []
    folder = pack / SCHEMA_DIR
    path = folder
    try:
        folder.mkdir(exist_ok=True)
        for name, schema in schemas.items():
            path = folder / name
            if _write_if_changed(path, json.dumps(schema, ensure_ascii=False, indent=2) + "\n"):
                changed.append(path)
        for path, schema_name in pack_files(pack):
            target = Path(os.path.relpath(folder / schema_name, path.parent)).as_posix()
            if _write_if_changed(path, with_modeline(path.read_text(encoding="utf-8"), target)):
                changed.append(path)
    except (OSError, UnicodeDecodeError) as exc:
        # A read-only pack, a `schemas` that is a file, a file that is not UTF-8: one line, no traceback.
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ZhiduError(f"{path}: cannot write the editor schemas: {reason}") from None
    return changed, note


def _write_if_changed(path: Path, text: str) -> bool:
    """Write a whole file or nothing (a temporary file beside it, then a rename), keeping its mode."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    if path.exists():
        mode = path.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
