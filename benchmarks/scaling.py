"""How compile time and per-case time grow with the size of a pack: rules, and decision-table rows.

    python benchmarks/scaling.py                         # rules 10..10,000, rows 10..10,000, both engines
    python benchmarks/scaling.py --rules 10 100 --rows 10 --cases 300 --engines python
    python benchmarks/scaling.py --png docs/scaling.png  # also draw the curves (matplotlib)

Generated packs (in a temporary folder), each with N rules of the shape a regulation has — a discriminating
test on the complaint kind plus a threshold, `kind == "k17" and loss_amount > 170`, each issuing its own
action, about ten rules per kind — or one `hit: first` approval table of R amount ranges read by an
`authority:` entry. Cases pick a kind at random (so about ten rules can fire, however many the pack has)
and a random amount. Per-case time is the whole decision
(`policy.evaluate`), the median of `--repeat` passes over the same cases after a warm-up; compile time is
`engine.load_policy` of the folder (no cache). The durable engine is skipped above `--durable-max` rules or
rows (its compile time grows too fast to be worth waiting for; the table says so).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

import engine  # noqa: E402


def kinds(size: int) -> int:
    """About ten rules share a complaint kind whatever the pack's size: the rules that can fire for a case
    stay few while the rules that cannot grow with the pack (the question a Rete engine answers)."""
    return max(1, size // 10)


HEAD = """\
id: scaling
version: "1"
title: {zh: 规模测试, en: Scaling}
timezone: Asia/Shanghai
facts:
  received_at: {type: datetime, required: true}
  kind: {type: string}
  loss_amount: {type: money}
roles:
  r0: {label: 审批人0}
"""


def rules_pack(folder: Path, count: int) -> None:
    lines = [HEAD, "rules:\n"]
    for i in range(count):
        lines.append(
            f'  - id: r{i}\n    ref: "S{i}"\n    when: kind == "k{i % kinds(count)}" and loss_amount > {i * 10}\n'
            f"    then: {{actions: [{{id: a{i}, label: 处理{i}}}]}}\n"
        )
    (folder / "policy.yaml").write_text("".join(lines), encoding="utf-8")


def table_pack(folder: Path, rows: int) -> None:
    lines = [
        HEAD,
        "tables:\n  - id: t\n    ref: T\n    hit: first\n    inputs:\n      - {name: amount, expr: loss_amount}\n",
    ]
    lines.append("    outputs: [approver]\n    rows:\n")
    for i in range(rows - 1):
        lines.append(f'      - when: ["[{i * 100}..{(i + 1) * 100})"]\n        then: {{approver: r0}}\n')
    lines.append('      - when: ["-"]\n        then: {approver: r0}\n')
    lines.append("authority:\n  - id: a\n    label: 审批\n    ref: T\n    table: t\n    amount: loss_amount\n")
    (folder / "policy.yaml").write_text("".join(lines), encoding="utf-8")


def cases(count: int, seed: int, top: int, kind_count: int = 10) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    return [
        {
            "case_id": f"c{i}",
            "facts": {
                "received_at": "2024-09-03T09:30:00+08:00",
                "kind": f"k{rnd.randrange(kind_count)}",
                "loss_amount": str(rnd.randrange(top)),
            },
        }
        for i in range(count)
    ]


def measure(build, size: int, engine_name: str, n_cases: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        build(folder, size)
        started = time.perf_counter()
        policy = engine.load_policy(folder)
        policy.backend(engine_name)  # durable builds its rulesets here
        compile_s = time.perf_counter() - started
        batch = cases(n_cases, 1, max(size * 100, 1000), kinds(size))
        now = "2024-09-10T10:00:00+08:00"
        for case in batch[:50]:
            policy.evaluate(case, now, engine=engine_name)
        passes = []
        for _ in range(repeat):
            started = time.perf_counter()
            for case in batch:
                policy.evaluate(case, now, engine=engine_name)
            passes.append((time.perf_counter() - started) / len(batch))
    return {"compile_s": round(compile_s, 3), "us_per_case": round(statistics.median(passes) * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rules", type=int, nargs="*", default=[10, 100, 1000, 10000])
    parser.add_argument("--rows", type=int, nargs="*", default=[10, 100, 1000, 10000])
    parser.add_argument("--engines", nargs="*", default=["python", "durable"])
    parser.add_argument("--cases", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--durable-max", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--png", type=Path, help="draw the curves into this PNG (needs matplotlib)")
    args = parser.parse_args()
    results: list[dict[str, Any]] = []
    for what, build, sizes in (("rules", rules_pack, args.rules), ("table rows", table_pack, args.rows)):
        for size in sizes:
            for engine_name in args.engines:
                if engine_name not in engine.ENGINES:
                    continue
                row: dict[str, Any] = {"what": what, "size": size, "engine": engine_name}
                if engine_name == "durable" and size > args.durable_max:
                    row["skipped"] = f"above --durable-max {args.durable_max}"
                else:
                    row.update(measure(build, size, engine_name, args.cases, args.repeat))
                results.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    if args.png:
        draw(results, args.png)


def draw(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, title in ((axes[0], "us_per_case", "per case (µs)"), (axes[1], "compile_s", "compile (s)")):
        for what in ("rules", "table rows"):
            for engine_name in ("python", "durable"):
                points = [
                    (r["size"], r[key])
                    for r in results
                    if r["what"] == what and r["engine"] == engine_name and key in r
                ]
                if points:
                    xs, ys = zip(*points, strict=True)
                    ax.plot(xs, ys, marker="o", label=f"{engine_name}: {what}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rules or table rows in the pack")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
