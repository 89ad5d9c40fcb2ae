"""A case's history: its events and, after each, what changed in its decision."""

from __future__ import annotations

from typing import Any


def _digest(decision: dict[str, Any]) -> dict[str, str]:
    """The parts of a decision a reader follows, as comparable text."""
    out: dict[str, str] = {}
    for f in decision.get("findings", ()):
        out[f"finding {f['id']}"] = str(f.get("value_label") or f["value"])
    for t in decision.get("timers", ()):
        out[f"{t['kind']} {t['id']}"] = t["status"]
    for a in decision.get("approvals", ()):
        out[f"approval {a['id']}"] = str(a.get("approver") or a.get("chain") or "")
    for p in decision.get("penalties", ()):
        out[f"penalty {p['person']}"] = str(p.get("owed"))
    for f in decision.get("forms", ()):
        out[f"form {f['id']}"] = str(f.get("number") or "issued")
    for a in decision.get("actions", ()):
        out[f"action {a['id']}"] = "due"
    return out


def changes(before: dict[str, Any] | None, after: dict[str, Any]) -> list[str]:
    old, new = _digest(before or {}), _digest(after)
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            lines.append(f"{key}: {old.get(key, '—')} → {new.get(key, '—')}")
    return lines


def _summary(event: dict[str, Any]) -> list[str]:
    p = event["payload"]
    if event["kind"] in ("opened", "imported"):
        return [
            f"number {p.get('number')}, pack version {str(p.get('pack_version'))[:12]}, {len(p.get('facts', {}))} facts"
        ]
    if event["kind"] == "breach":
        forms = ", ".join(f"{f['id']} {f['number']}" for f in p.get("forms", ()))
        return [
            f"{p['item']} due {p['due_at']}"
            + (f": {forms}" if forms else "")
            + (f"; actions {', '.join(p['actions'])}" if p.get("actions") else "")
        ]
    if event["kind"] == "penalty-confirmed":
        return [f"posted {c['person']} {c['kind']} {c['amount']} ({c['month']})" for c in p.get("charges", ())]
    if event["kind"] == "rejudged":
        return [f"now judged by {p['pack_version'][:12]}"]
    if "patch" in p:
        return [f"facts {p['patch']}"]
    return []


def history(register: Any, number: str, pack_id: str | None = None) -> list[dict[str, Any]]:
    view = register.get(number, pack_id=pack_id)
    policy = register.latest_policy(view.pack_id)
    tz = policy.timezone if policy else None
    evs = register.events_of(number, pack_id=view.pack_id)
    log = register.decision_log(number, pack_id=view.pack_id)
    by_seq: dict[int, dict[str, Any]] = {}
    for d in log:
        by_seq[d["seq"]] = d["decision"]
    out = []
    previous: dict[str, Any] | None = None
    for e in evs:
        item = e.to_dict(tz)
        decision = by_seq.get(e.seq)
        lines = changes(previous, decision) if decision is not None else []
        if decision is not None:
            previous = decision
        out.append({"event": item, "summary": _summary(item), "changes": lines})
    return out
