"""The penalty ledger: charges posted from confirmed decisions, bonuses per month, deductions under the cap."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import Diagnostic, Location
from ..money import format_money
from ..penalties import CapRule, Charge, Person, add_months, monthly_deductions
from .db import RegisterError, utc
from .schema import bonuses, charges

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,2})?$")
CAPPED = "capped"


class LedgerInputError(RegisterError):
    """A bonus file line is wrong; the message names the file, line and column."""


def posted_charges(policy: Any, decision: dict[str, Any]) -> list[dict[str, Any]]:
    """The charges of a decision, as ledger rows: person, kind, month, amount, and whether the cap applies."""
    cap = policy.penalties.cap if policy.penalties is not None else None
    out = []
    for entry in decision.get("penalties", ()):
        for c in entry.get("charges", ()):
            capped = cap is not None and c["kind"] in cap.kinds
            out.append(
                {
                    "person_id": entry["person"],
                    "name": entry.get("name"),
                    "kind": c["kind"],
                    "month": entry["month"],
                    "amount": Decimal(c["amount"]),
                    "cap_ratio": cap.ratio if capped else None,
                    "basis": c.get("basis"),
                }
            )
    return out


def import_bonuses(register: Any, source: str, now: datetime) -> int:
    """person,month,amount rows (a header line first). All rows are checked before any is written."""
    try:
        return _import_bonuses(register, source, now)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LedgerInputError(f"{source}: cannot read the file: {exc}", code="bonus-invalid") from None


def _import_bonuses(register: Any, source: str, now: datetime) -> int:
    rows = []
    problems = []
    with Path(source).open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"person", "month", "amount"} - set(reader.fieldnames or ())
        if missing:
            raise LedgerInputError(
                [
                    Diagnostic(
                        Location(source, 1, 1), "bonus-invalid", f"missing column(s): {', '.join(sorted(missing))}"
                    )
                ]
            )
        columns = {name: i + 1 for i, name in enumerate(reader.fieldnames or ())}
        for line, rec in enumerate(reader, start=2):
            person, month, amount = (
                (rec["person"] or "").strip(),
                (rec["month"] or "").strip(),
                (rec["amount"] or "").strip(),
            )

            def bad(field: str, message: str, line: int = line) -> None:
                problems.append(
                    Diagnostic(
                        Location(source, line, columns[field], f"$[{line - 2}].{field}"), "bonus-invalid", message
                    )
                )

            if not person:
                bad("person", "person is empty")
            if not _MONTH.match(month):
                bad("month", f"month {month!r} is not YYYY-MM")
            if not _AMOUNT.match(amount):
                bad("amount", f"amount {amount!r} is not a non-negative amount with at most 2 decimals")
            else:
                rows.append({"person_id": person, "month": month, "amount": Decimal(amount), "recorded_at": utc(now)})
    if problems:
        raise LedgerInputError(problems)
    if rows:
        with register._tx() as conn:
            stmt = register._insert(bonuses)
            upsert = stmt.on_conflict_do_update(
                index_elements=[bonuses.c.person_id, bonuses.c.month],
                set_={"amount": stmt.excluded.amount, "recorded_at": stmt.excluded.recorded_at},
            )
            conn.execute(upsert, rows)
    return len(rows)


def statement(register: Any, person: str, until: str | None = None) -> dict[str, Any]:
    """Month by month from the first charge: what was owed (carried + new), the cap against that month's
    recorded bonus, what is deducted and what is carried on. The carry-over comes from the ledger only."""
    if until is not None and not _MONTH.match(until):
        raise RegisterError(f"--month {until!r} is not YYYY-MM", code="bad-month")
    with register.reader.connect() as conn:
        posted = conn.execute(
            sa.select(charges).where(charges.c.person_id == person).order_by(charges.c.month, charges.c.id)
        ).all()
        paid = {
            r.month: Decimal(r.amount) for r in conn.execute(sa.select(bonuses).where(bonuses.c.person_id == person))
        }
        numbers = dict(
            conn.execute(
                sa.text("SELECT id, number FROM cases WHERE id IN (SELECT case_id FROM charges WHERE person_id = :p)"),
                {"p": person},
            ).all()
        )
    if not posted and not paid:
        raise RegisterError(f"the ledger has nothing for '{person}'", code="no-person")
    name = next((r.name for r in posted if r.name), None)
    months = sorted({r.month for r in posted} | set(paid))
    first = min(r.month for r in posted) if posted else months[0]
    last = until or max(months)
    ratio = next((Decimal(r.cap_ratio) for r in posted if r.cap_ratio is not None), None)
    rule = CapRule(ratio, frozenset({CAPPED}), 1) if ratio else None
    out_months = []
    carry = Decimal("0.00")
    month = first
    while month <= last:
        mine = [r for r in posted if r.month == month]
        bonus = paid.get(month)
        new = [
            Charge(
                person,
                numbers.get(r.case_id, str(r.case_id)),
                CAPPED if r.cap_ratio is not None else r.kind,
                Decimal(r.amount),
                r.basis or "",
            )
            for r in mine
        ]
        charged = sum((c.amount for c in new), Decimal("0.00"))
        if rule is None:
            deducted, cap = carry + charged, None
        elif new or carry:
            who = Person(person, name or person, "-", None, Decimal(0), bonus or Decimal(0), (), carry)
            m = monthly_deductions(month, [who], new, rule)[0]
            deducted, cap = m.deducted_this_month, m.cap
        else:
            deducted, cap = Decimal("0.00"), None
        owed = carry + charged
        carry = owed - deducted
        out_months.append(
            {
                "month": month,
                "bonus": format_money(bonus) if bonus is not None else None,
                "charged": format_money(charged),
                "cap": format_money(cap) if cap is not None else "-",
                "deducted": format_money(deducted),
                "carried": format_money(carry),
                "charges": [
                    {
                        "case": numbers.get(r.case_id, str(r.case_id)),
                        "kind": r.kind,
                        "amount": format_money(Decimal(r.amount)),
                        "basis": r.basis,
                    }
                    for r in mine
                ],
                "note": None
                if bonus is not None or not (new or owed)
                else "no bonus recorded for this month: nothing deducted",
            }
        )
        month = add_months(month, 1)
    return {"person": person, "name": name, "months": out_months, "balance": format_money(carry)}
