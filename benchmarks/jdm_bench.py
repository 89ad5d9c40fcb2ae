"""Per-evaluation time of zhidu (python engine) and zen-engine on the imported JDM conformance graphs.

    python benchmarks/jdm_bench.py                  # every graph that imports, 100 inputs each, best of 5 alternating passes
    python benchmarks/jdm_bench.py --count 200 --repeat 5

For each graph of tests/fixtures/jdm/graphs that `zhidu import jdm` converts, the conformance inputs
(engine.importers.jdm.sample_cases) are evaluated, side by side in this one process:

  zen-engine   ZenDecision.evaluate(input)                     (PyPI zen-engine: Rust core, Python binding)
  zhidu        policy.evaluate(case, now, engine="python")     the whole Decision: facts checked and
                                                               normalised, rules and tables, findings, trace

The inputs given to zen-engine are the JSON form of the same cases (floats), built before timing. Each
contender gets one untimed warm-up pass; the time per evaluation is the best of R timed passes divided
by the number of inputs; the passes of the two alternate. Inputs zen-engine refuses (an error) are left out for both.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import zen  # noqa: E402

from engine.compiler import load_policy  # noqa: E402
from engine.importers.jdm import JdmError, convert  # noqa: E402
from engine.importers.jdm_pack import NOW  # noqa: E402
from engine.importers.jdm_samples import sample_cases  # noqa: E402
from engine.importers.yamlout import dump_yaml  # noqa: E402

GRAPHS = HERE.parent / "tests" / "fixtures" / "jdm" / "graphs"


def _pass(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return time.perf_counter() - start


def _side_by_side(a, a_items, b, b_items, repeat: int) -> tuple[float, float]:
    """Best pass of each, the passes alternating so that a busy moment of a shared machine hits both."""
    _pass(a, a_items)  # warm-up
    _pass(b, b_items)
    best_a = best_b = float("inf")
    for _ in range(repeat):
        best_a = min(best_a, _pass(a, a_items))
        best_b = min(best_b, _pass(b, b_items))
    return best_a / len(a_items), best_b / len(b_items)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    engine_zen = zen.ZenEngine()
    rows = []
    for path in sorted(GRAPHS.glob("*.json")):
        graph = json.loads(path.read_text(encoding="utf-8"))
        try:
            imported = convert(graph, path.stem)
        except JdmError:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "policy.yaml").write_text(dump_yaml(imported.pack), encoding="utf-8")
            policy = load_policy(tmp)
        decision = engine_zen.create_decision(json.dumps(graph))
        pairs = []
        for case in sample_cases(imported, args.count, policy=policy):
            as_json = json.loads(json.dumps(case, default=float))
            try:
                decision.evaluate(as_json)
            except RuntimeError:
                continue
            pairs.append(({"case_id": "b", "facts": case}, as_json))
        zen_t, zhidu_t = _side_by_side(
            decision.evaluate,
            [j for _, j in pairs],
            lambda c, policy=policy: policy.evaluate(c, NOW, engine="python"),
            [c for c, _ in pairs],
            args.repeat,
        )
        rows.append((path.stem, len(pairs), zen_t * 1e6, zhidu_t * 1e6))
    print(f"zen-engine {metadata.version('zen-engine')}, Python {platform.python_version()}, {platform.machine()}")
    print(f"{'graph':45} {'inputs':>6} {'zen-engine µs':>14} {'zhidu µs':>9} {'zhidu/zen':>9}")
    for name, n, z, y in rows:
        print(f"{name:45} {n:6d} {z:14.1f} {y:9.1f} {y / z:9.2f}")
    ratios = sorted(y / z for _, _, z, y in rows)
    print(
        f"{'median of the graphs':45} {'':6} {statistics.median(r[2] for r in rows):14.1f} "
        f"{statistics.median(r[3] for r in rows):9.1f} {statistics.median(ratios):9.2f}"
    )
    print(f"zhidu faster on {sum(1 for r in ratios if r < 1)} of {len(rows)} graphs")


if __name__ == "__main__":
    main()
