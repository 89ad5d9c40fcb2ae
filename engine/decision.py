"""The Decision: what evaluation returns, its JSON form (decision.schema.json) and its text form."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from .bundled import load_schema
from .clauses import split_ref

SECTIONS = (
    "findings",
    "timers",
    "approvals",
    "penalties",
    "fines",
    "owed_to_customer",
    "forms",
    "actions",
    "trace",
    "warnings",
)


def _copy(value: Any) -> Any:
    """A fresh copy of a JSON structure (callers may change what to_dict returns)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def jsonable(value: Any, tz: ZoneInfo) -> Any:
    """A JSON-ready value: Decimal as a string (exact), dates ISO 8601 in the pack's offset."""
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(tz).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"PT{int(value.total_seconds())}S"
    if isinstance(value, list | tuple):
        return [jsonable(v, tz) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v, tz) for k, v in value.items()}
    raise TypeError(f"no JSON form for {type(value).__name__}")


@dataclass(frozen=True)
class Decision:
    """The outcome of evaluating one case; every section is a list, empty when nothing applies."""

    policy: dict[str, str]
    case_id: str
    evaluated_at: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    timers: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    penalties: list[dict[str, Any]] = field(default_factory=list)
    forms: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    trace: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # the `amounts:` section: fines charged to parties, amounts owed to the customer (engine/amounts.py)
    fines: list[dict[str, Any]] = field(default_factory=list)
    owed_to_customer: list[dict[str, Any]] = field(default_factory=list)
    # The words of every clause the decision cites, once: clause id → {title, article, text}.
    clauses: dict[str, dict[str, str]] = field(default_factory=dict)
    # The trace with rules whose every effect a higher priority overrode, and the clauses it cites
    # (shown on request: `with_full_trace()`, CLI `--trace full`).
    full_trace: list[dict[str, Any]] = field(default_factory=list, compare=False, repr=False)
    full_clauses: dict[str, dict[str, str]] = field(default_factory=dict, compare=False, repr=False)

    def with_full_trace(self) -> Decision:
        """This decision with overridden rules kept in the trace (a Decision built without them keeps its own)."""
        if not self.full_trace:
            return self
        return dataclasses.replace(self, trace=self.full_trace, clauses=self.full_clauses or self.clauses)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"policy": dict(self.policy), "case_id": self.case_id, "evaluated_at": self.evaluated_at}
        for name in SECTIONS:
            out[name] = _copy(getattr(self, name))
        out["clauses"] = _copy(self.clauses)
        return out

    def to_json(self, indent: int | None = 2) -> str:
        # The sections hold JSON values only (built with `jsonable`): dump them as they are.
        head = {"policy": self.policy, "case_id": self.case_id, "evaluated_at": self.evaluated_at}
        body = {name: getattr(self, name) for name in SECTIONS}
        return json.dumps({**head, **body, "clauses": self.clauses}, ensure_ascii=False, indent=indent)

    def finding(self, fid: str) -> Any:
        """The value of a finding, or None when it was not set; `refund.amount` reads a dotted finding."""
        root, *rest = fid.split(".")
        for f in self.findings:
            if f["id"] == fid:
                return f["value"]
            if f["id"] == root:
                value = f["value"]
                for name in rest:
                    value = value.get(name) if isinstance(value, dict) else None
                return value
        return None

    def to_text(self) -> str:
        return render_text(self)


@cache
def decision_schema() -> dict[str, Any]:
    return load_schema("decision.schema.json")


def render_text(d: Decision) -> str:
    """A decision for people: Chinese labels first, ids in brackets, every line with its clause."""
    lines = [
        f"决定 Decision · {d.policy['id']} {d.policy['version']} · 案件 case {d.case_id or '-'} · {d.evaluated_at}",
    ]

    def section(title: str, items: list[dict[str, Any]], fmt) -> None:
        lines.append("")
        lines.append(f"{title} ({len(items)})")
        if not items:
            lines.append("  —")
        for item in items:
            lines.extend("  " + line for line in fmt(item))

    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "是 (true)" if value else "否 (false)"
        return str(value)

    def words(refs: list[str]) -> list[str]:
        """The regulation's own words under an item, one block per clause it cites."""
        out: list[str] = []
        for ref in refs:
            for cid in split_ref(ref):
                clause = d.clauses.get(cid)
                if clause:
                    out.append(f"    〔{clause['title']} {clause['article']}〕")
                    out.extend("      " + line for line in clause["text"].splitlines() if line.strip())
        return out

    def finding(f: dict[str, Any]) -> list[str]:
        value = f.get("value_label") or show(f["value"])
        if isinstance(value, list):
            value = "、".join(str(v) for v in value)
        raw = "" if f.get("value_label") is None else f" [{f['value']}]"
        why = ", ".join(f"{r}" for r in f.get("rules", [])) or "default"
        refs = "；".join(f.get("refs", []))
        line = f"{f['label']} ({f['id']}): {value}{raw}  ← {why}" + (f"  依据 {refs}" if refs else "")
        return [line, *words(f.get("refs", []))]

    def action(a: dict[str, Any]) -> list[str]:
        to = f" → {a['to_label']} ({a['to']})" if a.get("to") else ""
        return [
            f"{a['label']} ({a['id']}){to}  ← {', '.join(a['rules'])}  依据 {'；'.join(a['refs'])}",
            *words(a["refs"]),
        ]

    def form(f: dict[str, Any]) -> list[str]:
        return [f"{f['label']} ({f['id']})  ← {', '.join(f['rules'])}  依据 {'；'.join(f['refs'])}"]

    def trace(t: dict[str, Any]) -> list[str]:
        out = [f"{t['rule']} 「{t['label']}」 依据 {t['ref']}"]
        for e in t["effects"]:
            if e["kind"] == "set":
                note = "" if e["outcome"] in ("applied", "collected") else f" ({e['outcome']})"
                out.append(f"    设定 set {e['finding']} = {show(e['value'])}{note}")
            else:
                out.append(f"    {e['kind']} {e['id']}")
        return out

    status_zh = {
        "pending": "未开始",
        "running": "进行中",
        "paused": "暂停",
        "met": "按时完成",
        "breached": "已超期",
        "closed": "已结案",
    }

    def clock(t: dict[str, Any]) -> list[str]:
        state = f"{status_zh.get(t['status'], t['status'])} {t['status']}"
        parts = [f"{t['label']} ({t['id']}): {state}"]
        if t.get("due_at"):
            parts.append(f"到期 due {t['due_at']}")
        if t.get("remaining"):
            parts.append(f"剩余 {t['remaining']['text']}")
        if t.get("overdue"):
            parts.append(f"超期 {t['overdue']['text']}")
        if t.get("percent_elapsed"):
            parts.append(f"{t['percent_elapsed']}%")
        if t.get("current_step"):
            parts.append(f"当前环节 {t['current_step']}")
        lines = [" · ".join(parts) + f"  依据 {t['ref']}", *words([t["ref"]])]
        for step in t.get("steps", []):
            if step["status"] != "pending":
                late = f" 超期 {step['overdue']['text']}" if step.get("overdue") else ""
                lines.append(
                    f"    {step['label']} ({step['id']}): {status_zh.get(step['status'], step['status'])}{late}"
                )
        return lines

    def approval(a: dict[str, Any]) -> list[str]:
        chain = " → ".join(c["label"] for c in a.get("chain", []))
        amount = f" {a['amount']} 元" if a.get("amount") is not None else ""
        who = (
            f"{a.get('approver_label', '-')} ({a.get('approver')})"
            if a.get("approver")
            else "无适用行 (no row applies)"
        )
        line = f"{a['label']} ({a['id']}){amount}: 核决 {who}"
        if chain:
            line += f"；呈核 {chain}"
        if a.get("row"):
            line += f"  [{a['table']} 第 {a['row']} 行]"
        lines = [line + f"  依据 {a['ref']}", *words([a["ref"]])]
        if "within_authority" in a:
            verdict = "在核决权限内 within authority" if a["within_authority"] else "超越核决权限 BEYOND AUTHORITY"
            lines.append(f"    实际 {a['actual_label']} ({a['actual']}): {verdict}")
        return lines

    def penalty(p: dict[str, Any]) -> list[str]:
        where = "/".join(x for x in (p.get("department"), p.get("unit")) if x)
        lines = [f"{p['name']} ({p['person']}, {where})"]
        for c in p["charges"]:
            lines.append(f"    {c['kind']} {c['amount']}: {c['basis']}  依据 {c['ref']}")
        if "owed" in p and "cap" not in p:
            # No monthly cap in the pack (suppliers, contractors): no payroll wording, just the total.
            lines.append(f"    {p['month']} 合计 {p['owed']}")
        elif "owed" in p:
            plan = "，".join(f"{m['month']} {m['amount']}" for m in p.get("carried_over", []))
            lines.append(
                f"    {p['month']} 应扣 {p['owed']}，本月扣 {p['deducted_this_month']}"
                + ("（已达上限 cap applied）" if p.get("cap_applied") else "")
                + (f"，分期 {plan}" if plan else "")
            )
        return lines

    def amount(a: dict[str, Any]) -> list[str]:
        who = f"{a['party_name']} ({a['party']}) " if a.get("party") else ""
        shown = a["amount"] if a["amount"] is not None else f"未能计算 {a['status']}"
        return [f"{who}{a['label']} ({a['id']}): {shown}  依据 {a['ref']}", f"    {a['basis']}"]

    def generic(item: dict[str, Any]) -> list[str]:
        return [json.dumps(item, ensure_ascii=False)]

    def warning(w: dict[str, Any]) -> list[str]:
        return [f"{w['code']}: {w['message']}"]

    section("认定 Findings", d.findings, finding)
    section("时限 Timers", d.timers, clock)
    section("审批 Approvals", d.approvals, approval)
    section("处罚 Penalties", d.penalties, penalty)
    # Shown only when a pack has an `amounts:` section at work, so other packs' text stays as it was.
    if d.fines:
        section("罚款与违约金 Fines", d.fines, amount)
    if d.owed_to_customer:
        section("应付客户 Owed to the customer", d.owed_to_customer, amount)
    section("表单 Forms", d.forms, form)
    section("动作 Actions", d.actions, action)
    section("依据 Trace", d.trace, trace)
    section("提示 Warnings", d.warnings, warning)
    return "\n".join(lines) + "\n"
