"""Re-recording a pack's expected decisions (`zhidu test --update`): failing `want:` blocks rewritten from
the decisions, returned as old and new file texts so the caller shows the diff before anything is kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .policy import Policy
from .source import SourceMap
from .testing import load_suite, run_case, suite_files

KEYED = {"timers": "id", "approvals": "id", "penalties": "person"}


def proposed_want(want: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    """`want` with every value it checks replaced by the decision's: same keys, same shape, new values.
    Items the decision no longer has are dropped from the positive lists and kept in the negative ones."""
    found = {f["id"]: f["value"] for f in got["findings"]}
    present = {
        "rules": [t["rule"] for t in got["trace"]],
        "actions": [a["id"] for a in got["actions"]],
        "forms": [f["id"] for f in got["forms"]],
    }
    messages = [w["message"] for w in got["warnings"]]
    out: dict[str, Any] = {}
    for key, value in want.items():
        if key == "findings":
            out[key] = {k: found[k] for k in value if k in found}
            gone = [k for k in value if k not in found]
            if gone:
                out.setdefault("no_findings", []).extend(gone)
        elif key == "no_findings":
            out.setdefault(key, []).extend(k for k in value if k not in found)
        elif key in present:
            out[key] = [x for x in value if x in present[key]]
        elif key.startswith("not_") and key[4:] in present:
            out[key] = [x for x in value if x not in present[key[4:]]]
        elif key in KEYED:
            items = {item[KEYED[key]]: item for item in got[key]}
            out[key] = {i: _refresh(fields, items[i]) for i, fields in value.items() if i in items}
        elif key == "warnings":
            out[key] = [text for text in value if any(text in m for m in messages)]
        elif key == "no_warnings":
            if not messages:
                out[key] = value
        elif key == "no_penalties":
            if not got["penalties"]:
                out[key] = value
        else:
            out[key] = value
    return {k: v for k, v in out.items() if v not in ([], {})}


def _refresh(want: Any, got: Any) -> Any:
    """The decision's values at the places `want` checks (steps matched by id, lists by position)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = {}
        for key, value in want.items():
            if key == "steps" and isinstance(value, dict) and isinstance(got.get("steps"), list):
                steps = {s["id"]: s for s in got["steps"]}
                out[key] = {sid: _refresh(v, steps[sid]) for sid, v in value.items() if sid in steps}
            elif key in got:
                out[key] = _refresh(value, got[key])
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [_refresh(w, g) for w, g in zip(want, got, strict=True)]
    return got


def _block_lines(smap: SourceMap, index: int) -> tuple[int, int, int]:
    """(first line, last line, column) of a case's `want:` entry in its file."""
    prefix = ("cases", index, "want")
    _, first, column = smap.keys[prefix]
    inside = [path for path in smap.values if path[:3] == prefix]
    parents = {path[:n] for path in inside for n in range(3, len(path))}
    last = first
    for path in inside:
        # Only leaves: a block collection's end mark lies on the line of whatever follows it.
        if path not in parents:
            entry = smap.values[path]
            last = max(last, entry[1], entry[4])
    return first, last, column


def rerecord(policy: Policy, engine: str = "python") -> list[tuple[Path, str, str, int]]:
    """(file, old text, new text, cases changed) for each test file whose failing cases get a new `want:`.
    Cases that expect an error (`want_error`) or now fail with one are left for a person to look at."""
    changes = []
    for path in suite_files(policy.root):
        cases, problems = load_suite(path, str(path))
        if problems:
            continue
        old = path.read_text(encoding="utf-8")
        lines = old.splitlines(keepends=True)
        count = 0
        for spec, smap, line, index in reversed(cases):
            if "want" not in spec:
                continue
            result = run_case(policy, spec, smap, str(path), line, index, engine)
            if result.passed or result.decision is None:
                continue
            new_want = proposed_want(spec["want"], result.decision)
            first, last, column = _block_lines(smap, index)
            pad = " " * (column - 1)
            dumped = yaml.safe_dump(new_want, allow_unicode=True, sort_keys=False, width=110, default_flow_style=None)
            body = "".join(f"{pad}  {row}\n" for row in dumped.splitlines())
            lines[first - 1 : last] = [f"{pad}want:\n{body}"]
            count += 1
        new = "".join(lines)
        if count and new != old:
            changes.append((path, old, new, count))
    return changes
