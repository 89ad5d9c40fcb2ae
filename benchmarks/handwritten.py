"""The pcb-manufacturer pack written by hand in plain Python: the practical speed limit for the engine.

`decide(case, now=None)` takes the same JSON-shaped case the engine takes (`{"case_id", "now"?, "facts"}`,
money as strings or numbers, times as ISO 8601 text) and returns a *digest* of the decision: every value
the engine decides, without the texts it only looks up or formats (labels, refs, basis sentences) and
without JSON Schema validation of the input. `check_handwritten.digest(decision.to_dict())` brings an
engine Decision to the same shape, so the two can be compared key by key:

    case_id
    findings        {finding: value}                      finding_rules {finding: [rule ids that set it]}
    rules           [fired pack rule ids, in trace order]  effects       [timer:/route:/duty:/authority: sources]
    forms, actions  {id: [sources]}, in decision order     warnings      [warning codes]
    form_details    {form id: {number, missing [field ids], fields {id: value}}} for forms with a definition
    timers          {id: the timer/route/duty entry without label, ref, kind and role}
    approvals       [{id, table, amount, approver, chain, row, actual?, within_authority?}]
    penalties       [{person, charges [[kind, amount]], owed, cap, cap_applied, deducted_this_month,
                      carried_over [[month, amount]], unscheduled, month}]

It covers the fact shapes benchmarks/generate_cases.py produces (all of the pack's facts). Conventions
copied from the engine on purpose: missing facts make comparisons false; findings resolve by the pack's
conflict policy (`procedure`: the higher priority wins); the office calendar is Mon-Fri 08:00-12:00,
13:00-17:00 with mainland holidays and 调休 days from `chinese_calendar` (makeup days work Monday hours);
money is Decimal, rounded half up to the cent, caps truncated, splits by largest remainder.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import chinese_calendar

TZ = timezone(timedelta(hours=8))  # Asia/Shanghai, no DST since 1991
CENT = Decimal("0.01")
TENTH = Decimal("0.1")
HUNDRED = Decimal(100)
ZERO = Decimal("0.00")
SECOND = timedelta(seconds=1)
ONE_DAY = timedelta(days=1)
COMPANY_RATIO = Decimal("1.05")

_DAYS_OFF = frozenset(chinese_calendar.holidays)
_MAKEUP = frozenset(chinese_calendar.workdays)
_HOURS = ((8, 12), (13, 17))  # Mon-Fri; a 调休 day works Monday's hours

RANKS = {"sales": 1, "sales-manager": 2, "deputy-gm": 3, "gm": 4}
ROLE_LABELS = {"sales-manager": "业务部经理", "deputy-gm": "副总经理", "gm": "总经理"}
ATTRIBUTION = {
    "制造一科": ("unit", "department"),
    "制造二科": ("unit", "department"),
    "业务部": ("person", "department"),
    "服务部": ("person", "department"),
}
GROUND_LEVELS = {
    g: "warning"
    for g in (
        "billing_error",
        "financial_error",
        "over_shipment",
        "order_misrecorded",
        "late_delivery",
        "wrong_shipment",
        "delivery_note_error",
        "storage_transport_fault",
        "marking_not_to_spec",
        "inspection_data_mismatch",
        "other",
    )
}
GROUND_LEVELS.update(
    {
        g: "minor_demerit"
        for g in (
            "materials_not_to_spec",
            "rejects_mixed_in",
            "production_data_reduced",
            "special_requirement_not_passed",
        )
    }
)
MINIMUM = {"warning": Decimal(400), "minor_demerit": Decimal(800)}
ROUTE = (  # step id, fact under route_done, budget ("region" = 12wd foreign, else 5wd)
    ("gm-office-review", "gm_office_review", "0.5"),
    ("qa-analysis", "qa_analysis", "1"),
    ("manufacturing-analysis", "manufacturing_analysis", "1"),
    ("rnd-opinion", "rnd_opinion", "1"),
    ("sales-negotiation", "sales_negotiation", "region"),
    ("gm-office-final", "gm_office_final", "0.5"),
)

# effects of each rule: (actions, forms)
EFFECTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "complaint-received": (("send-to-gm-office",), ()),
    "no-loss-abnormality-slip": ((), ("abnormality-slip",)),
    "register-case": (("assign-case-number", "route-for-analysis"), ("complaint-handling-form", "complaint-register")),
    "demand-quantity-pending": (("note-quantity-pending",), ()),
    "quality-tracked": (("assess-loss-and-penalty",), ()),
    "penalty-notice": (("issue-penalty-notice",), ("reward-penalty-notice",)),
    "joint-inspection-qa": (("dispatch-inspection",), ()),
    "joint-inspection-gm": (("gm-assigns-staff",), ()),
    "investigation-report": (("report-to-gm",), ()),
    "resolution-allowance": (("allowance-sign-off",), ("sales-allowance-certificate",)),
    "resolution-return": (("warehouse-receive",), ("finished-goods-return-slip",)),
    "customer-rejects-conclusion": (("attach-original-form",), ("complaint-handling-form",)),
    "supplier-involved": (("joint-handling-with-supplier",), ()),
    "department-objection": ((), ("petition",)),
    "no-photocopy-to-customer": (("answer-customer-per-instructions",), ()),
    "distribute-copies": (
        ("copy-1-qa", "copy-2-manufacturing", "copy-3-sales", "copy-4-accounting", "copy-5-gm-office"),
        (),
    ),
    # timers, route, duties and authority
    "timer:close-case/breach": (("issue-reminder",), ("reminder",)),
    "timer:close-case/late": (("inquire-lateness",), ("inquiry",)),
    "timer:investigation-report/breach": (("chase-investigation-report",), ()),
    "timer:combined-opinion/breach": (("chase-combined-opinion",), ()),
    "route:handling-form-route": (("chase-late-step",), ("reminder",)),
    "duty:monthly-summary": (("compile-monthly-statistics",), ("monthly-statistics",)),
    "duty:penalty-publication": (("publish-penalties",), ()),
    "authority:settlement": (("escalate-approval",), ("petition",)),
    "authority:customer-answer": (("retract-answer",), ()),
}


# ── parsing ───────────────────────────────────────────────────────────────────────────────────────────
def _dt(text: str | None) -> datetime | None:
    if text is None:
        return None
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return value.replace(tzinfo=TZ) if value.tzinfo is None else value


def _dec(value: Any) -> Decimal | None:
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def _money(value: Any) -> Decimal:
    return _dec(value).quantize(CENT)  # type: ignore[union-attr]


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(TZ).isoformat() if value is not None else None


# ── the office calendar ───────────────────────────────────────────────────────────────────────────────
_INTERVALS: dict[date, tuple[tuple[datetime, datetime], ...]] = {}


def _intervals(day: date) -> tuple[tuple[datetime, datetime], ...]:
    found = _INTERVALS.get(day)
    if found is None:
        if day in _MAKEUP or (day.weekday() < 5 and day not in _DAYS_OFF):
            y, m, d = day.year, day.month, day.day
            found = tuple((datetime(y, m, d, s, tzinfo=TZ), datetime(y, m, d, e, tzinfo=TZ)) for s, e in _HOURS)
        else:
            found = ()
        _INTERVALS[day] = found
    return found


def _local_date(moment: datetime) -> date:
    return moment.astimezone(TZ).date()


def _next_working_day(day: date) -> date:
    day += ONE_DAY
    while not _intervals(day):
        day += ONE_DAY
    return day


def _working_time(day: date) -> timedelta:
    return sum((e - s for s, e in _intervals(day)), timedelta(0))


def _advance(at: datetime, amount: timedelta) -> datetime:
    """The earliest instant by which `amount` of working time has passed since `at`."""
    if amount <= timedelta(0):
        return at
    day = _local_date(at)
    while True:
        for s, e in _intervals(day):
            if e <= at:
                continue
            begin = s if s > at else at
            if amount <= e - begin:
                return begin + amount
            amount -= e - begin
        day += ONE_DAY


def _add_working_days(at: datetime, days: str) -> datetime:
    """Budgets of whole working days (receipt day not counted) or half a day (half the start day's hours)."""
    day = _local_date(at)
    if days == "0.5":
        if not _intervals(day):
            day = _next_working_day(day)
        share = int((Decimal(_working_time(day) // SECOND) * Decimal("0.5")).to_integral_value(ROUND_HALF_UP))
        return _advance(at, timedelta(seconds=share)).astimezone(TZ)
    today = _intervals(day)
    if not (today and at < today[-1][1]):
        day = _next_working_day(day)
    for _ in range(int(days)):
        day = _next_working_day(day)
    return _intervals(day)[-1][1]


# Business seconds before each local day, so that the business time between two instants is one
# subtraction instead of a walk over the days in between (the engine walks day by day).
_FIRST_DAY = date(2023, 1, 1).toordinal()
_LAST_DAY = date(2026, 12, 31).toordinal()  # chinese_calendar 1.11 covers up to 2026
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_OFFSET = 8 * 3600
_SPANS = tuple((s * 3600, e * 3600) for s, e in _HOURS)
_BEFORE: list[int] = []
_WORKS: list[bool] = []
_total = 0
for _ordinal in range(_FIRST_DAY, _LAST_DAY + 1):
    _works = bool(_intervals(date.fromordinal(_ordinal)))
    _BEFORE.append(_total)
    _WORKS.append(_works)
    _total += sum(e - s for s, e in _SPANS) if _works else 0
_INTERVALS.clear()


def _business_seconds(moment: datetime) -> int:
    """Business seconds from the start of the table to `moment` (whole seconds)."""
    local = int(moment.timestamp()) + _OFFSET
    index = local // 86400 + _EPOCH_DAY - _FIRST_DAY
    if not 0 <= index < len(_BEFORE):
        raise ValueError(f"{moment} is outside the business-day table (2023-2026)")
    total = _BEFORE[index]
    if _WORKS[index]:
        second = local % 86400
        for s, e in _SPANS:
            if second > s:
                total += (e if second > e else second) - s
    return total


def _business_between(a: datetime, b: datetime) -> timedelta:
    if b <= a:
        return timedelta(0)
    return timedelta(seconds=_business_seconds(b) - _business_seconds(a))


# ── timers ────────────────────────────────────────────────────────────────────────────────────────────
def _measure(working: bool, a: datetime, b: datetime) -> timedelta:
    if b <= a:
        return timedelta(0)
    return _business_between(a, b) if working else b - a


def _amount_text(working: bool, span: timedelta, at: datetime) -> str:
    seconds = int(span // SECOND)
    if working:
        day = _local_date(at)
        if not _intervals(day):
            day = _next_working_day(day)
        per_day = _working_time(day) // SECOND or 1
        return f"{(Decimal(seconds) / per_day).quantize(CENT, ROUND_HALF_UP)}wd"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{minutes}min" if minutes else "")
    return text or "0min"


def _status(working: bool, start, due, stop, now) -> tuple[dict[str, Any], Decimal]:
    if start is None or due is None or start > now:
        return {"status": "pending"}, Decimal(0)
    stopped = stop is not None and stop <= now
    end = stop if stopped else now
    if stopped:
        status = "met" if stop <= due else "breached"
    elif now > due:
        status = "breached"
    else:
        status = "running"
    used = _measure(working, start, end)
    total = _measure(working, start, due) or SECOND
    out: dict[str, Any] = {"status": status}
    if end <= due:
        left = _measure(working, end, due)
        out["remaining"] = {"text": _amount_text(working, left, end), "seconds": int(left // SECOND)}
    else:
        late = _measure(working, due, end)
        out["overdue"] = {"text": _amount_text(working, late, due), "seconds": int(late // SECOND)}
    exact = Decimal(used // SECOND) * 100 / Decimal(total // SECOND)
    out["percent_elapsed"] = str(exact.quantize(TENTH, ROUND_HALF_UP))
    return out, exact


def _timer(tid: str, goal: str, start, stop, now, warn_at: tuple[int, ...] = ()) -> dict[str, Any]:
    working = goal.endswith("wd")
    due = None
    if start is not None:
        due = _add_working_days(start, goal[:-2]) if working else start + timedelta(days=int(goal[:-1]))
    entry: dict[str, Any] = {
        "id": tid,
        "goal": goal,
        "calendar": "office",
        "started_at": _iso(start),
        "due_at": _iso(due),
        "stopped_at": _iso(stop),
        "paused_seconds": 0,
    }
    fields, pct = _status(working, start, due, stop, now)
    entry.update(fields)
    entry["warnings_reached"] = [w for w in warn_at if pct >= w]
    return entry


def _route(facts: dict[str, Any], foreign: bool, now: datetime) -> dict[str, Any]:
    done_at = facts.get("route_done") or {}
    started = _dt(facts.get("accepted_at"))
    steps = []
    current = None
    for sid, fact, budget in ROUTE:
        done = _dt(done_at.get(fact))
        days = ("12" if foreign else "5") if budget == "region" else budget
        due = _add_working_days(started, days) if started is not None else None
        fields, _ = _status(True, started, due, done, now)
        step = {
            "id": sid,
            "budget": f"{days}wd",
            "started_at": _iso(started),
            "due_at": _iso(due),
            "done_at": _iso(done),
            **fields,
        }
        steps.append(step)
        if current is None and done is None and fields["status"] in ("running", "breached"):
            current = sid
        started = done if done is not None and started is not None else None
    statuses = [s["status"] for s in steps]
    late = "breached" in statuses
    overall = (
        "breached" if late else "met" if all(s == "met" for s in statuses) else "running" if current else "pending"
    )
    return {
        "id": "handling-form-route",
        "status": overall,
        "current_step": current,
        "late_steps": [s["id"] for s in steps if s["status"] == "breached"],
        "steps": steps,
    }


def _duty(did: str, done_text: str | None, now: datetime) -> dict[str, Any]:
    local = now.astimezone(TZ)
    period = datetime(local.year, local.month, 1, tzinfo=TZ)
    due = period.replace(day=10)
    entry: dict[str, Any] = {
        "id": did,
        "period": f"{local.year:04d}-{local.month:02d}",
        "started_at": period.isoformat(),
        "due_at": due.isoformat(),
        "stopped_at": None,
    }
    if done_text is None:
        entry["status"] = "pending"
        return entry
    day = date.fromisoformat(done_text)
    finished = datetime.combine(day, time(23, 59, 59), TZ)
    done: datetime | None = datetime.combine(day, time(0), TZ)
    if done > now:  # type: ignore[operator]
        done = None
    this_period = done is not None and done >= period
    if this_period:
        status = "met" if finished < due else "breached"
        entry["stopped_at"] = done.isoformat()  # type: ignore[union-attr]
    else:
        status = "breached" if now >= due else "running"
    entry["status"] = status
    if status == "running":
        left = due - now
        entry["remaining"] = {"text": _amount_text(False, left, now), "seconds": int(left // SECOND)}
    elif status == "breached" and not this_period:
        late = now - due
        entry["overdue"] = {"text": _amount_text(False, late, due), "seconds": int(late // SECOND)}
    return entry


# ── money ─────────────────────────────────────────────────────────────────────────────────────────────
def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _split(amount: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Largest remainder in whole cents; weights scaled to integers (they carry at most 6 places)."""
    cents = int(amount * 100)
    scaled = [int(w * 1_000_000) for w in weights]
    total = sum(scaled)
    floors = [cents * w // total for w in scaled]
    rests = [cents * w % total for w in scaled]
    left = cents - sum(floors)
    if left:
        for i in sorted(range(len(scaled)), key=lambda i: (-rests[i], i))[:left]:
            floors[i] += 1
    return [Decimal(c) / 100 for c in floors]


def _fmt(amount: Decimal) -> str:
    return f"{_round(amount):.2f}"


def _add_month(year: int, month: int, n: int) -> str:
    index = year * 12 + month - 1 + n
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _penalties(facts: dict[str, Any], now: datetime, warnings: list[str]) -> list[dict[str, Any]]:
    people_raw = facts.get("people") or ()
    responsibilities = facts.get("responsibilities") or ()
    records = facts.get("admin_penalties") or ()
    if not people_raw:
        if responsibilities or records:
            warnings.append("penalty-people-missing")
        return []
    people = []
    for p in people_raw:
        people.append(
            {
                "id": p["id"],
                "department": p["department"],
                "unit": p.get("unit"),
                "points": _dec(p["base_points"]),
                "bonus": _money(p["monthly_bonus"]),
                "following": [_money(b) for b in p.get("following_bonuses") or ()],
                "carried": _money(p.get("carried_balance") or 0),
            }
        )
    index = {p["id"]: p for p in people}
    charges: list[tuple[str, str, Decimal]] = []  # (person, kind, amount)
    if responsibilities:
        if facts.get("resold_within_month") is True:
            loss = _money(facts["a_grade_price_loss"])
        else:
            loss = _money(facts["loss_amount"])
        percents = [_dec(r.get("percent", 100)) for r in responsibilities]
        owed: dict[str, Decimal] = {}
        for r, share in zip(responsibilities, _split(loss, percents), strict=True):  # type: ignore[arg-type]
            person = index.get(r["person_id"]) if "person_id" in r else None
            dept = r.get("department") or person["department"]  # type: ignore[index]
            unit = r.get("unit") or (person["unit"] if person else None)
            members: list[dict[str, Any]] = []
            for step in ATTRIBUTION[dept]:
                if step == "person" and person is not None:
                    break
                if step == "unit" and unit is not None:
                    members = [p for p in people if p["department"] == dept and p["unit"] == unit]
                    break
                if step == "department":
                    members = [p for p in people if p["department"] == dept]
                    break
            if not members:  # the person named is the target
                owed[person["id"]] = owed.get(person["id"], ZERO) + share  # type: ignore[index]
                continue
            for m, part in zip(members, _split(share, [m["points"] for m in members]), strict=True):  # type: ignore[arg-type]
                owed[m["id"]] = owed.get(m["id"], ZERO) + part
        charges.extend((pid, "economic", amount) for pid, amount in owed.items())
    for rec in records:
        level = rec.get("level") or GROUND_LEVELS.get(rec.get("ground", ""))
        person = index[rec["person_id"]]
        count = rec.get("count", 1)
        if level == "major_demerit":
            amount = _round(person["bonus"])
        else:
            rate = _money(rec["rate"]) if rec.get("rate") is not None else MINIMUM[level]  # type: ignore[index]
            amount = _round(rate * count * (_dec(rec["bases"]) if level == "minor_demerit" else 1))
        charges.append((person["id"], level, amount))  # type: ignore[arg-type]
    if not charges:
        return []
    local = now.astimezone(TZ)
    month = f"{local.year:04d}-{local.month:02d}"
    out = []
    for p in people:
        own = [(kind, amount) for pid, kind, amount in charges if pid == p["id"]]
        if not own:
            continue
        capped = (p["carried"] or ZERO) + sum((a for k, a in own if k == "economic"), ZERO)
        uncapped = sum((a for k, a in own if k != "economic"), ZERO)
        cap = (p["bonus"] * Decimal("0.5")).quantize(CENT, ROUND_DOWN)
        now_capped = min(capped, cap)
        remaining = capped - now_capped
        schedule = []
        following = p["following"]
        for i in range(1, 37):
            if remaining == 0:
                break
            bonus = following[i - 1] if i <= len(following) else p["bonus"]
            pay = min(remaining, (bonus * Decimal("0.5")).quantize(CENT, ROUND_DOWN))
            schedule.append((_add_month(local.year, local.month, i), pay))
            remaining -= pay
        while schedule and schedule[-1][1] == 0:
            schedule.pop()
        out.append(
            {
                "person": p["id"],
                "month": month,
                "charges": [[k, _fmt(a)] for k, a in own],
                "owed": _fmt(capped + uncapped),
                "cap": _fmt(cap),
                "cap_applied": capped > cap,
                "deducted_this_month": _fmt(now_capped + uncapped),
                "carried_over": [[m, _fmt(a)] for m, a in schedule],
                "unscheduled": _fmt(remaining),
            }
        )
    return out


# ── the 客户抱怨处理表 (forms/complaint-handling-form/form.yaml) ─────────────────────────────────────────────
_FORM_FIELDS = (  # field id, fact, required ("unless-pending": required unless the quantity is pending)
    ("customer", "customer_name", False),
    ("order_no", "order_no", True),
    ("part_no", "part_no", True),
    ("ship_date", "ship_date", True),
    ("quantity", "quantity", True),
    ("defect_quantity", "defect_quantity", "unless-pending"),
    ("customer_demand", "customer_demand", True),
)


def _handling_form(f: dict[str, Any], category, loss, now: datetime, warnings: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    missing = []
    for fid, fact, required in _FORM_FIELDS:
        value = f.get(fact)
        if value is None or value == "":
            if required is True or (required == "unless-pending" and f.get("demand_quantity_pending") is not True):
                missing.append(fid)
            value = None
        fields[fid] = value
    fields["cause"] = category
    fields["resolution"] = f.get("resolution")
    fields["loss_amount"] = str(loss) if loss is not None else None
    if missing:
        warnings.append("form-missing-fields")
    number = None
    serial = f.get("case_serial")
    if serial is not None:
        day = _dt(f.get("accepted_at")) or now
        day = day.astimezone(TZ)
        number = f"{day.year % 100:02d}{day.month:02d}{serial:02d}"
    return {"number": number, "missing": missing, "fields": fields}


# ── the decision ──────────────────────────────────────────────────────────────────────────────────────
def _approval(aid: str, amount: Decimal | None, actual: str | None, warnings: list[str], effects: list[str]):
    if amount is None:
        row, approver = 4, "gm"
    elif amount <= 5000:
        row, approver = 1, "sales-manager"
    elif amount <= 50000:
        row, approver = 2, "deputy-gm"
    else:
        row, approver = 3, "gm"
    chain = ["sales-manager", "deputy-gm", "gm"][: {"sales-manager": 1, "deputy-gm": 2, "gm": 3}[approver]]
    entry: dict[str, Any] = {
        "id": aid,
        "table": "settlement-authority",
        "approver": approver,
        "chain": chain,
        "row": row,
    }
    if amount is not None:
        entry["amount"] = str(amount)
    if actual is not None:
        within = actual == approver or RANKS[actual] >= RANKS[approver]
        entry["actual"] = actual
        entry["within_authority"] = within
        if not within:
            warnings.append("beyond-authority")
            effects.append("authority:" + aid)
    return entry


def decide(case: dict[str, Any], now: datetime | str | None = None) -> dict[str, Any]:
    f = case["facts"]
    moment = now if isinstance(now, datetime) else _dt(now if now is not None else case["now"])
    g = f.get
    upheld = g("upheld")
    resolution = g("resolution")
    loss = _money(g("loss_amount")) if g("loss_amount") is not None else None

    # layer 0
    fired = []
    if g("loss_occurred") is False:
        fired.append("no-loss-abnormality-slip")
    fired.append("complaint-received")  # received_at is required
    if g("demand_quantity_pending") is True and g("defect_quantity") is None:
        fired.append("demand-quantity-pending")
    cause = g("cause")
    category = track = investigation = booking = receivables = None
    if cause == "quality_abnormal":
        fired.append("cause-quality")
        category = "quality_abnormal"
    elif cause == "human_error":
        fired.append("cause-human")
        category, track = "non_quality_human", False
    elif cause == "other":
        fired.append("cause-other")
        category = "other"
    people, parties, records = g("people") or [], g("responsibilities") or [], g("admin_penalties") or []
    if g("upheld") is True and people and (parties or records):
        fired.append("penalty-notice")
    if g("needs_joint_inspection") is True:
        qa = g("qa_available")
        if qa is True:
            fired.append("joint-inspection-qa")
            investigation = "qa_with_manufacturing"
        elif qa is False:
            fired.append("joint-inspection-gm")
            investigation = "gm_assigned"
    if upheld is False:
        fired.append("complaint-not-upheld")
        receivables = "normal_terms"
    if upheld is True and resolution in ("allowance", "compensation"):
        fired.append("resolution-allowance")
    if upheld is True and resolution in ("return", "rework"):
        fired.append("resolution-return")
    if upheld is True and resolution is not None:
        fired.append("collection-rate-deduction")
        receivables = "deduct_from_collection_rate"
    if resolution in ("return", "rework"):
        actual, approved = g("actual_return_qty"), g("approved_return_qty")
        if actual is not None and approved is not None:
            ratio = g("over_acceptance_ratio")
            if ratio is not None:
                within = actual <= approved * (1 + _dec(ratio))
                fired.append("return-within-customer-ratio" if within else "return-beyond-customer-ratio")
            else:
                within = actual <= approved * COMPANY_RATIO
                fired.append("return-within-company-ratio" if within else "return-beyond-company-ratio")
            booking = "book_actual" if within else "ask_superior"
    reopened = g("customer_accepts_conclusion") is False
    if reopened:
        fired.append("customer-rejects-conclusion")
    if g("involves_supplier") is True:
        fired.append("supplier-involved")
    if g("department_objection") is True:
        fired.append("department-objection")
    procedure = "abnormality_slip" if g("loss_occurred") is False else "complaint_procedure"

    # layer 1
    warnings: list[str] = []
    complaint = procedure == "complaint_procedure"
    if complaint:
        fired.append("register-case")
        if not (
            g("order_no") is not None
            and g("part_no") is not None
            and g("ship_date") is not None
            and g("quantity") is not None
            and (g("defect_quantity") is not None or g("demand_quantity_pending") is True)
            and g("customer_demand") is not None
        ):
            fired.append("receipt-incomplete")
            warnings.append("rule-warning")
    if upheld is True and category == "quality_abnormal":
        fired.append("quality-tracked")
        track = True
    if investigation is not None:
        fired.append("investigation-report")
    if complaint and resolution is not None:
        fired.append("no-photocopy-to-customer")
    if complaint and g("closed_at") is not None:
        fired.append("distribute-copies")

    findings: dict[str, Any] = {"procedure": procedure}
    rules_of: dict[str, list[str]] = {
        "procedure": ["no-loss-abnormality-slip" if not complaint else "complaint-received"]
    }
    if category is not None:
        findings["category"] = category
        rules_of["category"] = [
            "cause-" + {"quality_abnormal": "quality", "non_quality_human": "human", "other": "other"}[category]
        ]
    if track is not None:
        findings["track_improvement"] = track
        rules_of["track_improvement"] = ["quality-tracked" if track else "cause-human"]
    findings["reopened"] = reopened
    rules_of["reopened"] = ["customer-rejects-conclusion"] if reopened else []
    if investigation is not None:
        findings["investigation"] = investigation
        rules_of["investigation"] = [
            "joint-inspection-qa" if investigation == "qa_with_manufacturing" else "joint-inspection-gm"
        ]
    if booking is not None:
        findings["return_booking"] = booking
        rules_of["return_booking"] = [r for r in fired if r.startswith("return-")]
    if receivables is not None:
        findings["receivables"] = receivables
        rules_of["receivables"] = [
            "complaint-not-upheld" if receivables == "normal_terms" else "collection-rate-deduction"
        ]

    # timers, route, duties
    effects: list[str] = []  # trace sources after the rules
    effect_keys: list[str] = []
    foreign = g("region") == "foreign"
    accepted, closed = _dt(g("accepted_at")), _dt(g("closed_at"))
    timers = []
    for tid, goal, start, stop, warn in (
        ("close-case", "17d" if foreign else "13d", accepted, closed, (50, 75)),
        ("investigation-report", "3d", _dt(g("investigation_done_at")), _dt(g("report_submitted_at")), ()),
        ("combined-opinion", "1wd", _dt(g("negotiation_result_at")), _dt(g("combined_opinion_at")), ()),
    ):
        entry = _timer(tid, goal, start, stop, moment, warn)
        timers.append(entry)
        if entry["status"] == "breached":
            key = f"timer:{tid}/" + ("late" if stop is not None and stop <= moment else "breach")
            if key in EFFECTS:
                effects.append("timer:" + tid)
                effect_keys.append(key)
    route = _route(f, foreign, moment)
    timers.append(route)
    if route["late_steps"]:
        effects.append("route:handling-form-route")
        effect_keys.append("route:handling-form-route")
    for did, fact in (
        ("monthly-summary", "last_monthly_summary_on"),
        ("penalty-publication", "last_penalty_publication_on"),
    ):
        entry = _duty(did, g(fact), moment)
        timers.append(entry)
        if entry["status"] == "breached":
            effects.append("duty:" + did)
            effect_keys.append("duty:" + did)

    # approvals
    approvals = []
    n = len(effects)
    if upheld is True and resolution is not None:
        approvals.append(_approval("settlement", loss, g("approved_by"), warnings, effects))
    if g("answered_by") is not None:
        approvals.append(_approval("customer-answer", loss, g("answered_by"), warnings, effects))
    effect_keys.extend(effects[n:])

    # penalties
    penalties = _penalties(f, moment, warnings) if upheld is True else []

    # forms and actions, each with its sources, in decision order
    forms: dict[str, list[str]] = {}
    actions: dict[str, list[str]] = {}
    for source, key in [(r, r) for r in fired] + list(zip(effects, effect_keys, strict=True)):
        acts, frms = EFFECTS.get(key, ((), ()))
        for a in acts:
            src = actions.setdefault(a, [])
            if source not in src:
                src.append(source)
        for fm in frms:
            src = forms.setdefault(fm, [])
            if source not in src:
                src.append(source)
    form_details = {}
    if "complaint-handling-form" in forms:
        form_details["complaint-handling-form"] = _handling_form(f, category, loss, moment, warnings)

    return {
        "case_id": str(case.get("case_id", "")),
        "findings": findings,
        "finding_rules": rules_of,
        "rules": fired,
        "effects": effects,
        "forms": forms,
        "form_details": form_details,
        "actions": actions,
        "timers": {t["id"]: t for t in timers},
        "approvals": approvals,
        "penalties": penalties,
        "warnings": warnings,
    }
