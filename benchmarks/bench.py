"""Throughput of the engine on the pcb-manufacturer pack, against a hand-written decision and zen-engine.

    python benchmarks/bench.py                      # 20,000 generated cases
    python benchmarks/bench.py --count 5000 --seed 2
    python benchmarks/bench.py --count 2000 --profile python         # cProfile, top 25 by cumulative time
    python benchmarks/bench.py --count 2000 --profile durable --sort tottime --top 40

One run, one set of cases: N cases are generated (benchmarks/generate_cases.py), each parsed once the way a
`zhidu batch` line is (`json.loads(..., parse_float=Decimal)`), and the same dicts are then given to

  durable      policy.evaluate(case, engine="durable")  the whole decision (rules, timers, approvals, penalties)
  python       policy.evaluate(case, engine="python")   the same decision, pure-Python rule evaluation
  hand-written handwritten.decide(case)                 the same decided values, no labels/basis texts, no
                                                         schema validation (benchmarks/check_handwritten.py)
  zen-engine   ZenModel().evaluate(case)                ONLY classification + 核决权限 (see zen_model.py)

Each contender gets a warm-up (the first 200 cases, untimed: backends and caches are built once per
process), then one timed pass over all N cases (`--repeat R` keeps the best of R passes). JSON parsing of the
input is not included in any row; `--json` adds a row for the python engine with `Decision.to_json()`.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import generate_cases  # noqa: E402
import handwritten  # noqa: E402

import engine  # noqa: E402

WARMUP = 200


def load(count: int, seed: int) -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal) for line in generate_cases.iter_lines(count, seed)]


def contenders(policy: engine.Policy, with_json: bool) -> list[tuple[str, str, Callable[[dict[str, Any]], Any]]]:
    out: list[tuple[str, str, Callable[[dict[str, Any]], Any]]] = [
        ("durable engine", "whole decision", lambda c: policy.evaluate(c, engine="durable")),
        ("python engine", "whole decision", lambda c: policy.evaluate(c, engine="python")),
    ]
    if reason := engine.durable_unavailable():
        print(f"durable engine skipped: {reason}", file=sys.stderr)
        out = out[1:]
    if with_json:
        out.append(
            (
                "python engine + to_json()",
                "whole decision, serialised",
                lambda c: policy.evaluate(c, engine="python").to_json(indent=None),
            )
        )
    out.append(("hand-written", "same decided values", handwritten.decide))
    try:
        from zen_model import ZenModel

        model = ZenModel()
        out.append(("zen-engine", "classification + authority ONLY", model.evaluate))
    except ImportError as exc:
        print(f"zen-engine skipped: {exc} (pip install zen-engine)", file=sys.stderr)
    return out


def timed(fn: Callable[[dict[str, Any]], Any], cases: list[dict[str, Any]], repeat: int) -> tuple[float, int]:
    errors = 0
    for case in cases[:WARMUP]:
        try:
            fn(case)
        except Exception:  # noqa: BLE001 - counted in the timed pass
            pass
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        errors = 0
        start = time.perf_counter()
        for case in cases:
            try:
                fn(case)
            except Exception:  # noqa: BLE001 - a failing case still costs time; report the count
                errors += 1
        best = min(best, time.perf_counter() - start)
    return best, errors


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def environment(count: int, seed: int) -> str:
    return (
        f"{count} cases (seed {seed}) · Python {platform.python_version()} · {platform.machine()} · "
        f"{os.cpu_count()} CPUs · durable-rules {_version('durable_rules')} · zen-engine {_version('zen-engine')}"
    )


def run(args: argparse.Namespace) -> int:
    policy = engine.load_policy("pcb-manufacturer")
    t0 = time.perf_counter()
    cases = load(args.count, args.seed)
    parse_s = time.perf_counter() - t0
    print(environment(args.count, args.seed))
    print(f"generated and parsed in {parse_s:.2f} s\n")
    rows = []
    for name, scope, fn in contenders(policy, args.json):
        seconds, errors = timed(fn, cases, args.repeat)
        rows.append((name, scope, seconds, errors))
        print(f"  {name}: {seconds:.2f} s", file=sys.stderr)
    hand = next((s for n, _, s, _ in rows if n == "hand-written"), None)
    print("| contender | scope | cases/s | µs/case | × hand-written | errors |")
    print("|---|---|---:|---:|---:|---:|")
    for name, scope, seconds, errors in rows:
        per = seconds / len(cases) * 1e6
        ratio = f"{seconds / hand:.1f}" if hand else "-"
        print(f"| {name} | {scope} | {len(cases) / seconds:,.0f} | {per:,.1f} | {ratio} | {errors} |")
    return 1 if any(e for *_, e in rows) else 0


def profile(args: argparse.Namespace) -> int:
    policy = engine.load_policy("pcb-manufacturer")
    cases = load(args.count, args.seed)
    for case in cases[:WARMUP]:
        policy.evaluate(case, engine=args.profile)
    print(environment(args.count, args.seed) + f" · profile of the {args.profile} engine")
    prof = cProfile.Profile()
    prof.enable()
    for case in cases:
        policy.evaluate(case, engine=args.profile)
    prof.disable()
    stats = pstats.Stats(prof, stream=sys.stdout)
    stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="engine vs hand-written vs zen-engine on pcb-manufacturer cases")
    ap.add_argument("--count", type=int, default=20000, help="number of cases (default 20000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=1, help="timed passes per contender; the best counts")
    ap.add_argument("--json", action="store_true", help="add a row: python engine + Decision.to_json()")
    ap.add_argument("--profile", choices=engine.ENGINES, help="profile one engine instead of benchmarking")
    ap.add_argument("--sort", default="cumulative", help="pstats sort key for --profile (default cumulative)")
    ap.add_argument("--top", type=int, default=25, help="functions to print for --profile (default 25)")
    args = ap.parse_args(argv)
    return profile(args) if args.profile else run(args)


if __name__ == "__main__":
    sys.exit(main())
