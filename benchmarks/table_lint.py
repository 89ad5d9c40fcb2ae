"""CPU time of compiling and linting large generated decision tables: python benchmarks/table_lint.py."""

from __future__ import annotations

import argparse
import time
from zoneinfo import ZoneInfo

from engine.expr import Scope
from engine.tables import compile_table, lint_table
from engine.types import INTEGER, MONEY, Type

TZ = ZoneInfo("Asia/Shanghai")
KINDS = tuple(f"k{i}" for i in range(10))
SCOPE = Scope({"kind": Type("string", values=KINDS), "amount": MONEY, "qty": INTEGER}, {}, TZ)


def unique_table(rows: int) -> dict:
    """`rows` disjoint rows: each kind × consecutive amount ranges, and a catch-all range per kind."""
    per_kind = rows // len(KINDS)
    body = []
    for kind in KINDS:
        for i in range(per_kind):
            cell = f"[{i * 100}..{(i + 1) * 100})" if i < per_kind - 1 else f">= {i * 100}"
            if i == 0:
                cell = f"< {(i + 1) * 100}"
            body.append({"when": [kind, cell], "then": {"n": len(body)}})
    return {
        "id": "big",
        "hit": "unique",
        "inputs": [{"name": "kind"}, {"name": "amount"}],
        "outputs": ["n"],
        "rows": body,
    }


def first_table(rows: int) -> dict:
    """`rows` rows over one integer input, each shadowing part of the next, and a catch-all last row."""
    body = [{"when": [f"[{i}..{i + 5}]"], "then": {"n": i}} for i in range(rows - 1)]
    body.append({"when": ["-"], "then": {"n": rows}})
    return {"id": "first", "hit": "first", "inputs": [{"name": "qty"}], "outputs": ["n"], "rows": body}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[500, 1000, 2000, 5000])
    args = parser.parse_args()
    for make in (unique_table, first_table):
        for n in args.rows:
            spec = make(n)
            started = time.process_time()
            table = compile_table(spec, SCOPE)
            compiled = time.process_time()
            lints = lint_table(table)
            done = time.process_time()
            print(
                f"{make.__name__:12} rows={n:5}  compile {compiled - started:6.2f} s  lint {done - compiled:6.2f} s"
                f"  findings {len(lints)}"
            )


if __name__ == "__main__":
    main()
