"""Local throughput of the partition path (engine/partitions.py) on Dask's bag, against one process.

    python benchmarks/partitions_bench.py --count 20000 --workers 2

Generates pcb-manufacturer cases (benchmarks/generate_cases.py), then decides them (python engine, each
case's own `now`) three ways: a plain loop in this process, a Dask bag on the synchronous scheduler (the
partition function's own overhead), and a Dask bag on N worker processes (the pack shipped once per
worker as a PackBundle and compiled there). Prints cases/s for each.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import dask.bag  # noqa: E402
import generate_cases  # noqa: E402

import engine  # noqa: E402
from engine.partitions import PackBundle, evaluate_bag  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--partitions", type=int, default=16)
    args = parser.parse_args()
    cases = [json.loads(line) for line in generate_cases.iter_lines(args.count, 1)]
    policy = engine.load_policy("pcb-manufacturer")
    started = time.perf_counter()
    for case in cases:
        policy.evaluate(case, engine="python").to_dict()
    rows = [("one process, plain loop", time.perf_counter() - started)]
    bundle = PackBundle.of("pcb-manufacturer")
    for scheduler in ("synchronous", "processes"):
        bag = dask.bag.from_sequence(cases, npartitions=args.partitions)
        started = time.perf_counter()
        out = evaluate_bag(bag, bundle).compute(scheduler=scheduler, num_workers=args.workers)
        elapsed = time.perf_counter() - started
        assert len(out) == len(cases) and not [d for d in out if "error" in d]
        label = f"dask bag, {scheduler}" + (f", {args.workers} workers" if scheduler == "processes" else "")
        rows.append((label, elapsed))
    print(f"{args.count} pcb-manufacturer cases, python engine, {args.partitions} partitions")
    for label, elapsed in rows:
        print(f"{label:40s} {elapsed:7.2f} s  {args.count / elapsed:8.0f} cases/s")


if __name__ == "__main__":
    main()
