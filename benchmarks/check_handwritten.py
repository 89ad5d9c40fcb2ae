"""Check that benchmarks/handwritten.py (and the zen-engine model) decide what the engine decides.

    python benchmarks/check_handwritten.py                    # 2,000 generated cases, python engine
    python benchmarks/check_handwritten.py --count 500 --engine durable
    python benchmarks/check_handwritten.py --cases my.jsonl   # cases from a file instead

Every case goes through the same JSON round trip as a `zhidu batch` line (floats parsed as Decimal), is
evaluated by the engine and by `handwritten.decide`, and the two digests are compared section by section
(findings, finding_rules, rules, effects, forms, actions, timers, approvals, penalties, warnings). The brief's
minimum — finding values, fired rule ids, the approver of each approval, close-case due times, penalty
amounts — is reported on its own line. The zen-engine model is compared on what it models (category,
track_improvement, approver/chain/row of both approvals). Exit 1 on any mismatch or engine error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import generate_cases  # noqa: E402
import handwritten  # noqa: E402

import engine  # noqa: E402

SECTIONS = (
    "findings",
    "finding_rules",
    "rules",
    "effects",
    "forms",
    "form_details",
    "actions",
    "timers",
    "approvals",
    "penalties",
    "warnings",
)
_DROP = {"label", "ref", "kind", "role", "approver_label", "actual_label"}


def _strip(entry: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in entry.items() if k not in _DROP}
    if "steps" in out:
        out["steps"] = [_strip(s) for s in out["steps"]]
    return out


def digest(d: dict[str, Any]) -> dict[str, Any]:
    """An engine decision (`Decision.to_dict()`) in the shape `handwritten.decide` returns."""
    approvals = []
    for a in d["approvals"]:
        entry = {k: v for k, v in a.items() if k not in _DROP and k != "row_ref"}
        entry["chain"] = [c["role"] for c in a.get("chain", [])]
        approvals.append(entry)
    penalties = []
    for p in d["penalties"]:
        penalties.append(
            {
                "person": p["person"],
                "month": p["month"],
                "charges": [[c["kind"], c["amount"]] for c in p["charges"]],
                "owed": p.get("owed"),
                "cap": p.get("cap"),
                "cap_applied": p.get("cap_applied"),
                "deducted_this_month": p.get("deducted_this_month"),
                "carried_over": [[m["month"], m["amount"]] for m in p.get("carried_over", [])],
                "unscheduled": p.get("unscheduled"),
            }
        )
    return {
        "case_id": d["case_id"],
        "findings": {f["id"]: f["value"] for f in d["findings"]},
        "finding_rules": {f["id"]: f["rules"] for f in d["findings"]},
        "rules": [t["rule"] for t in d["trace"] if ":" not in t["rule"]],
        "effects": [t["rule"] for t in d["trace"] if ":" in t["rule"]],
        "forms": {f["id"]: f["rules"] for f in d["forms"]},
        "form_details": {
            f["id"]: {"number": f.get("number"), "missing": [m["field"] for m in f["missing"]], "fields": f["fields"]}
            for f in d["forms"]
            if "fields" in f
        },
        "actions": {a["id"]: a["rules"] for a in d["actions"]},
        "timers": {t["id"]: _strip(t) for t in d["timers"]},
        "approvals": approvals,
        "penalties": penalties,
        "warnings": [w["code"] for w in d["warnings"]],
    }


def _ordered(value: Any) -> Any:
    """Dicts whose order matters (forms, actions) compared as item lists."""
    return list(value.items()) if isinstance(value, dict) else value


def brief_minimum(dg: dict[str, Any]) -> dict[str, Any]:
    """Finding values, fired rule ids, approver per approval, close-case due time, penalty amounts."""
    return {
        "findings": dg["findings"],
        "rules": dg["rules"],
        "approvers": [(a["id"], a["approver"]) for a in dg["approvals"]],
        "close_case_due": dg["timers"]["close-case"]["due_at"],
        "penalties": [
            (p["person"], p["charges"], p["owed"], p["deducted_this_month"], p["carried_over"]) for p in dg["penalties"]
        ],
    }


def _diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                out.append(f"{path}.{k}: engine={a.get(k, '<absent>')!r} hand={b.get(k, '<absent>')!r}")
            else:
                out.extend(_diff(a[k], b[k], f"{path}.{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(_diff(x, y, f"{path}[{i}]"))
        return out
    return [] if a == b else [f"{path}: engine={a!r} hand={b!r}"]


def load_cases(args: argparse.Namespace):
    if args.cases:
        with open(args.cases, encoding="utf-8") as fh:
            for i, line in enumerate(fh):
                if i >= args.count:
                    break
                if line.strip():
                    yield json.loads(line, parse_float=Decimal)
    else:
        for line in generate_cases.iter_lines(args.count, args.seed):
            yield json.loads(line, parse_float=Decimal)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="compare handwritten.py and the zen model with the engine")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", help="JSON Lines of cases instead of generated ones")
    ap.add_argument("--engine", choices=engine.ENGINES, default="python")
    ap.add_argument("--now", help="evaluation time for every case (default: each case's own 'now')")
    ap.add_argument("--show", type=int, default=5, help="print up to N mismatching cases (default 5)")
    ap.add_argument("--no-zen", action="store_true", help="skip the zen-engine comparison")
    args = ap.parse_args(argv)

    policy = engine.load_policy("pcb-manufacturer")
    zen_model = None
    if not args.no_zen:
        from zen_model import ZenModel, engine_zen_digest, zen_digest

        zen_model = ZenModel()
    total = errors = bad_cases = minimum_bad = zen_bad = 0
    by_section: Counter[str] = Counter()
    coverage: Counter[str] = Counter()
    shown = 0
    for case in load_cases(args):
        total += 1
        try:
            decision = policy.evaluate(case, args.now, engine=args.engine).to_dict()
        except Exception as exc:  # noqa: BLE001
            errors += 1
            print(f"ENGINE ERROR {case.get('case_id')}: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        want = digest(decision)
        got = handwritten.decide(case, args.now)
        for t in want["timers"].values():
            coverage[f"{t['id']}:{t['status']}"] += 1
        coverage[f"penalties:{bool(want['penalties'])}"] += 1
        for a in want["approvals"]:
            coverage[f"approval:{a['id']}:row{a['row']}:{a.get('within_authority', '-')}"] += 1
        for w in want["warnings"]:
            coverage[f"warning:{w}"] += 1
        bad = [s for s in SECTIONS if _ordered(want[s]) != _ordered(got.get(s))]
        if brief_minimum(want) != brief_minimum(got):
            minimum_bad += 1
        if bad:
            bad_cases += 1
            by_section.update(bad)
            if shown < args.show:
                shown += 1
                print(f"--- {want['case_id']}: {', '.join(bad)}")
                for s in bad:
                    for line in _diff(_ordered(want[s]), _ordered(got.get(s)), s)[:8]:
                        print("   ", line)
        if zen_model is not None:
            zw, zg = engine_zen_digest(decision), zen_digest(zen_model.evaluate(case))
            if zw != zg:
                zen_bad += 1
                if zen_bad <= args.show:
                    print(f"--- zen {want['case_id']}: engine={zw} zen={zg}")

    print(f"\n{total} cases, engine={args.engine}: {errors} engine errors")
    print(
        f"hand-written vs engine, brief minimum (findings, fired rules, approvers, close-case due, penalty "
        f"amounts): {minimum_bad} mismatching cases"
    )
    print(
        f"hand-written vs engine, all sections: {bad_cases} mismatching cases"
        + (f" ({', '.join(f'{s} {n}' for s, n in by_section.most_common())})" if by_section else "")
    )
    if zen_model is not None:
        print(f"zen-engine model vs engine (category, track_improvement, approvals): {zen_bad} mismatching cases")
    print("coverage: " + ", ".join(f"{k} {v}" for k, v in sorted(coverage.items())))
    return 1 if errors or bad_cases or minimum_bad or zen_bad else 0


if __name__ == "__main__":
    sys.exit(main())
