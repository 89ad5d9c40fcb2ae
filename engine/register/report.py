"""客户投诉案件统计表 from the register: the cases closed in a month, by category and department."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..money import format_money
from ..source import load_json
from .db import RegisterError, aware, utc
from .schema import blobs, cases, decisions
from .store import unpack_decision

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
COLUMNS = [
    ("number", "案件编号"),
    ("customer", "客户名称"),
    ("category", "原因类别"),
    ("departments", "责任部门"),
    ("received", "受理日期"),
    ("closed", "结案日期"),
    ("days", "处理天数"),
    ("on_time", "是否逾期"),
    ("loss", "损失金额"),
    ("penalties", "罚扣金额"),
]


def monthly(register: Any, month: str, pack_id: str | None = None) -> dict[str, Any]:
    """Every case closed in `month` (in its pack's timezone), from its last stored decision."""
    m = _MONTH.match(month)
    if m is None:
        raise RegisterError(f"month {month!r} is not YYYY-MM", code="bad-month")
    # The month in UTC with a day's margin either side covers every timezone; the pack's own is applied below.
    year, mon = int(m.group(1)), int(m.group(2))
    first = datetime(year, mon, 1, tzinfo=UTC) - timedelta(days=1)
    after = datetime(year + mon // 12, mon % 12 + 1, 1, tzinfo=UTC) + timedelta(days=1)
    rows = []
    with register.reader.connect() as conn:
        last = (
            sa.select(decisions.c.case_id, sa.func.max(decisions.c.id).label("id"))
            .group_by(decisions.c.case_id)
            .subquery()
        )
        query = (
            sa.select(cases, blobs.c.data)
            .select_from(
                cases.join(last, last.c.case_id == cases.c.id)
                .join(decisions, decisions.c.id == last.c.id)
                .join(blobs, blobs.c.hash == decisions.c.decision_hash)
            )
            .where(cases.c.status == "closed", cases.c.closed_at >= utc(first), cases.c.closed_at < utc(after))
            .order_by(cases.c.number)
        )
        if pack_id:
            query = query.where(cases.c.pack_id == pack_id)
        for r in conn.execute(query):
            policy, _, _ = register._policy(conn, r.pack_version_id)
            closed = aware(r.closed_at).astimezone(policy.timezone)
            if closed.strftime("%Y-%m") != month:
                continue
            rows.append(_row(r, unpack_decision(r.data), policy, closed))
    return {"month": month, "pack": pack_id, "cases": rows, "summary": _summary(rows)}


def _row(r: Any, decision: dict[str, Any], policy: Any, closed: datetime) -> dict[str, Any]:
    facts = load_json(r.facts)
    received = aware(r.received_at).astimezone(policy.timezone)
    category = next((f.get("value_label") or f["value"] for f in decision["findings"] if f["id"] == "category"), None)
    departments = sorted({str(x["department"]) for x in facts.get("responsibilities") or () if x.get("department")})
    late = any(t["status"] == "breached" for t in decision["timers"] if t["kind"] == "timer")
    penalties = sum((Decimal(p["owed"]) for p in decision.get("penalties", ())), Decimal("0.00"))
    loss = Decimal(str(facts["loss_amount"])) if facts.get("loss_amount") is not None else Decimal("0.00")
    return {
        "number": r.number,
        "pack": r.pack_id,
        "customer": facts.get("customer_name") or "",
        "category": str(category) if category is not None else "未分类",
        "departments": "、".join(departments) or "未认定",
        "received": received.date().isoformat(),
        "closed": closed.date().isoformat(),
        "days": f"{(closed - received).total_seconds() / 86400:.1f}",
        "on_time": "逾期" if late else "如期",
        "loss": format_money(loss),
        "penalties": format_money(penalties),
    }


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def group(key: str) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for r in rows:
            for name in r[key].split("、"):
                g = out.setdefault(
                    name, {"name": name, "cases": 0, "late": 0, "loss": Decimal(0), "penalties": Decimal(0)}
                )
                g["cases"] += 1
                g["late"] += r["on_time"] == "逾期"
                g["loss"] += Decimal(r["loss"])
                g["penalties"] += Decimal(r["penalties"])
        return [
            {**g, "loss": format_money(g["loss"]), "penalties": format_money(g["penalties"])}
            for g in sorted(out.values(), key=lambda g: (-g["cases"], g["name"]))
        ]

    days = [Decimal(r["days"]) for r in rows]
    return {
        "cases": len(rows),
        "late": sum(r["on_time"] == "逾期" for r in rows),
        "on_time": sum(r["on_time"] == "如期" for r in rows),
        "average_days": f"{sum(days) / len(days):.1f}" if days else "-",
        "loss": format_money(sum((Decimal(r["loss"]) for r in rows), Decimal(0))),
        "penalties": format_money(sum((Decimal(r["penalties"]) for r in rows), Decimal(0))),
        "by_category": group("category"),
        "by_department": group("departments"),
    }


TITLE = "客户投诉案件统计表"


def render(data: dict[str, Any], fmt: str) -> str | bytes:
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([label for _, label in COLUMNS])
        for r in data["cases"]:
            w.writerow([r[key] for key, _ in COLUMNS])
        return buf.getvalue()
    if fmt == "xlsx":
        return _xlsx(data)
    if fmt == "md":
        return _markdown(data)
    return _html(data)


def _tables(data: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    s = data["summary"]
    group_head = ["", "件数", "逾期", "损失金额", "罚扣金额"]
    return [
        ("结案案件", [label for _, label in COLUMNS], [[r[k] for k, _ in COLUMNS] for r in data["cases"]]),
        (
            "按原因类别",
            ["原因类别", *group_head[1:]],
            [[g["name"], g["cases"], g["late"], g["loss"], g["penalties"]] for g in s["by_category"]],
        ),
        (
            "按责任部门",
            ["责任部门", *group_head[1:]],
            [[g["name"], g["cases"], g["late"], g["loss"], g["penalties"]] for g in s["by_department"]],
        ),
        (
            "合计",
            ["结案件数", "如期", "逾期", "平均处理天数", "损失金额", "罚扣金额"],
            [[s["cases"], s["on_time"], s["late"], s["average_days"], s["loss"], s["penalties"]]],
        ),
    ]


def _markdown(data: dict[str, Any]) -> str:
    lines = [f"# {TITLE}（{data['month']}）", ""]
    for title, head, rows in _tables(data):
        lines += [f"## {title}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def _html(data: dict[str, Any]) -> str:
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(autoescape=True)
    template = env.from_string(
        """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{{ title }}（{{ month }}）</title>
<style>body{font-family:"Noto Sans CJK SC",sans-serif}table{border-collapse:collapse;margin-bottom:1em}
td,th{border:1px solid #444;padding:2px 6px}</style></head><body>
<h1>{{ title }}（{{ month }}）</h1>
{% for name, head, rows in tables %}<h2>{{ name }}</h2>
<table><tr>{% for h in head %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>
{% endfor %}</table>
{% endfor %}</body></html>
"""
    )
    return template.render(title=TITLE, month=data["month"], tables=_tables(data))


def _xlsx(data: dict[str, Any]) -> bytes:
    try:
        from openpyxl import Workbook
    except ImportError:
        raise RegisterError("xlsx output needs openpyxl: pip install 'zhidu[xlsx]'", code="missing-extra") from None
    book = Workbook()
    book.remove(book.active)
    for title, head, rows in _tables(data):
        sheet = book.create_sheet(title)
        sheet.append(head)
        for row in rows:
            sheet.append(list(row))
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
