"""Inputs for an imported JDM graph and the comparison of zhidu's result with zen-engine's."""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from typing import Any

from ..types import Type
from .jdm import Imported, nest_paths


def sample_cases(imported: Imported, count: int = 200, seed: int = 16, policy: Any = None) -> list[dict[str, Any]]:
    """Inputs for the graph: each fact at every literal it is compared with and one step either side of
    numbers (range boundaries), one fact varied at a time around a base case; with the compiled `policy`,
    then one case aimed at each table row (each fact the row tests set to a value its cell accepts);
    then seeded random mixes, up to `count`."""
    choices: dict[str, list[Any]] = {}
    for path, t in imported.fact_types.items():
        lits = imported.literals.get(path, [])
        if t.kind == "list" and t.item is not None and t.item.kind == "object":
            choices[path] = _object_lists(imported, path, t.item)
            continue
        values = _values_for(t, lits, imported.literals.get(path + "[]", []))
        low = imported.minimums.get(path)
        choices[path] = [v for v in values if low is None or v >= low] or values
    base = {p: v[0] for p, v in choices.items()}
    cases = [base]
    for p, values in choices.items():
        for v in values[1:]:
            cases.append({**base, p: v})
    if policy is not None:
        cases.extend(_aimed(policy, base, choices))
    rng = random.Random(seed)
    paths = list(choices)
    while len(cases) < count and paths:
        cases.append({p: rng.choice(choices[p]) for p in paths})
    return [nest_paths(c) for c in cases]


def _aimed(policy: Any, base: dict[str, Any], choices: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """One case per table row: every fact the row's cells test directly gets a value the cell accepts."""
    from datetime import UTC, datetime

    from ..expr import check, ir, parse
    from ..expr.pyeval import Env, compile_expr

    scope_facts = {f.name: f.type for f in policy.facts}
    from ..expr import Scope

    scope = Scope(scope_facts, {f.id: f.value_type for f in policy.findings}, policy.timezone)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    tables = policy.authority.tables.values() if policy.authority else []
    for table in tables:
        for row in table.rows:
            case = dict(base)
            for inp, cell in zip(table.inputs, row.cells, strict=True):
                if cell is None or not isinstance(inp.node, ir.Path) or inp.node.names[0] == "findings":
                    continue
                path = ".".join(inp.node.names)
                test = compile_expr(check(parse(cell), scope))
                for value in choices.get(path, []):
                    if test(Env(nest_paths({**case, path: value}), {}, now, policy.timezone)) is True:
                        case[path] = value
                        break
            out.append(case)
    return out


def _object_lists(imported: Imported, path: str, item: Type) -> list[Any]:
    """Lists of objects: empty, one base item, one item per field value, and all of those together."""
    fields = {name: _values_for(t, imported.literals.get(f"{path}[].{name}", []), []) for name, t in item.fields}
    base = {name: values[0] for name, values in fields.items()}
    variants = [{**base, name: v} for name, values in fields.items() for v in values[1:]]
    return [[], [base], *([v] for v in variants), [base, *variants]]


def _values_for(t: Type, lits: list[Any], item_lits: list[Any]) -> list[Any]:
    if t.values is not None:
        return list(t.values)
    if t.kind == "boolean":
        return [True, False]
    if t.kind in ("number", "integer"):
        out: list[Any] = []
        for v in lits:
            if isinstance(v, int | Decimal) and not isinstance(v, bool):
                steps = (
                    (v, v - 1, v + 1)
                    if t.kind == "integer"
                    else (v, v - 1, v + 1, v - Decimal("0.5"), v + Decimal("0.5"))
                )
                for x in steps:
                    if t.kind == "integer" and x != int(x):
                        continue
                    x = int(x) if t.kind == "integer" else x
                    if x not in out:
                        out.append(x)
        return out or [1, 10, 100, 1000, 0]  # 0 last: not the base value (zen refuses a division by 0)
    if t.kind == "date":
        return ["2022-06-15", "2023-01-01", "2023-01-15", "2019-12-31", "2024-03-01"]
    if t.kind == "list":
        strings = [v for v in item_lits if isinstance(v, str)]
        base = strings or ["a", "b", "c"]
        return [[], base[:1], base[:2], base[:3], base[-2:], base]
    strings = [v for v in lits if isinstance(v, str)]
    return strings + ["zz-other"] if strings else ["", "text", "zz-other"]


def result_of(imported: Imported, facts: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    """The JSON zen would return for this case, built from a zhidu decision (nulls left out)."""
    out: dict[str, Any] = json.loads(json.dumps(facts, default=str)) if imported.passthrough else {}
    values = {f["id"]: f["value"] for f in decision["findings"]}
    if "" in imported.outputs:  # a collect table without outputPath: zen returns the list itself
        return values.get(imported.outputs[""][-1], [])
    for path, fids in imported.outputs.items():
        value: Any = None
        for fid in reversed(fids):
            root, *rest = fid.split(".")
            value = values.get(root)
            for part in rest:
                value = value.get(part) if isinstance(value, dict) else None
            if value is not None:
                break
        if value is None:
            continue
        node = out
        parts = path.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {}
            node = nxt
        node[parts[-1]] = value
    return out


def same(a: Any, b: Any) -> bool:
    """zen's result and zhidu's agree: numbers (zhidu gives exact decimal strings, zen floats) to one part
    in a million, nulls the same as absent."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = {k for k, v in a.items() if v is not None} | {k for k, v in b.items() if v is not None}
        return all(same(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    na, nb = _number(a), _number(b)
    if na is not None and nb is not None:
        return abs(na - nb) <= Decimal("0.000001") * max(Decimal(1), abs(na), abs(nb))
    return a == b


def _number(v: Any) -> Decimal | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float | Decimal):
        return Decimal(str(v))
    if isinstance(v, str) and re.fullmatch(r"-?\d+(\.\d+)?", v):
        return Decimal(v)
    return None


def row_ids(decision: dict[str, Any]) -> set[str]:
    """The table rows a decision chose and the rules that fired (trace entries)."""
    out = set()
    for t in decision["trace"]:
        if any(e.get("outcome") in ("applied", "collected") for e in t["effects"]) or not t["rule"].startswith(
            "table:"
        ):
            out.add(t["rule"])
    return out
