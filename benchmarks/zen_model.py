"""The pack's classification and 核决权限 logic as a GoRules JDM graph (benchmarks/zen_model.json), run by zen-engine.

Only part of the pack is modelled, on purpose: enough to compare the cost of a compiled rules engine on
the table-shaped part of the decision.

  classification  cause (+ upheld) → category, track_improvement     (rules cause-*, quality-tracked)
  settlement      upheld and a resolution: loss_amount → approver, chain, row  (authority `settlement`)
  customer-answer answered_by given: loss_amount → approver, chain, row        (authority `customer-answer`)

Timers, routes, duties, penalties, forms, actions and the within-authority verdict are NOT in the model.

API (zen-engine 2.x, Python): `zen.ZenEngine()`, `engine.create_decision(json_text)` → `ZenDecision`,
`decision.evaluate(context_dict)` → `{"result": {...}, "performance": "..."}`. The context is a dict (or
JSON text); `decimal.Decimal` is refused ("unsupported type Decimal"), so the amount goes in as a float —
exact enough here, because every bound is a whole number and amounts have at most two decimals. A
comparison of null with a number is a VM error, so every amount cell is guarded by `$ != null and ...`
(`and` short-circuits); the last row, with an empty amount cell, is the pack's "no amount: the GM" row.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import zen

MODEL = Path(__file__).with_name("zen_model.json")


class ZenModel:
    def __init__(self, path: Path = MODEL):
        self.engine = zen.ZenEngine()
        self.decision = self.engine.create_decision(path.read_text(encoding="utf-8"))

    def evaluate(self, case: dict[str, Any]) -> dict[str, Any]:
        return self.decision.evaluate(zen_input(case))["result"]


def zen_input(case: dict[str, Any]) -> dict[str, Any]:
    f = case["facts"]
    loss = f.get("loss_amount")
    return {
        "cause": f.get("cause"),
        "upheld": f.get("upheld"),
        "resolution": f.get("resolution"),
        "answered_by": f.get("answered_by"),
        "loss_amount": None if loss is None else float(loss),
    }


def zen_digest(result: dict[str, Any]) -> dict[str, Any]:
    """The zen result in the shape `engine_zen_digest` gives an engine decision."""
    out: dict[str, Any] = {"category": result.get("category"), "track_improvement": result.get("track_improvement")}
    for key, aid in (("settlement", "settlement"), ("customer_answer", "customer-answer")):
        if key in result:
            a = result[key]
            out[aid] = {"approver": a["approver"], "chain": list(a["chain"]), "row": int(a["row"])}
    return out


def engine_zen_digest(decision: dict[str, Any]) -> dict[str, Any]:
    """The part of an engine decision (`Decision.to_dict()`) the zen model decides."""
    values = {f["id"]: f["value"] for f in decision["findings"]}
    out: dict[str, Any] = {"category": values.get("category"), "track_improvement": values.get("track_improvement")}
    for a in decision["approvals"]:
        out[a["id"]] = {"approver": a["approver"], "chain": [c["role"] for c in a["chain"]], "row": a["row"]}
    return out
