"""Seeded generator of realistic synthetic cases for the bundled `pcb-manufacturer` pack.

    python benchmarks/generate_cases.py --count 20000 --seed 1 -o cases.jsonl
    python benchmarks/generate_cases.py --count 5 --seed 7 -o -          # stdout
    python benchmarks/generate_cases.py --count 2000 --check 2000 -o /dev/null

Each line is one JSON object `{"case_id": ..., "now": ..., "facts": {...}}` (`--no-now` leaves `now` out, for
`zhidu batch --now`). Cases are produced one at a time from one `random.Random(seed)`, so the output is
reproducible and memory stays constant whatever `--count` is.

What the cases cover (the fact vocabulary of policies/pcb-manufacturer/*.yaml):
  * received / accepted times spread over 2024, with extra weight on weekends, the Spring Festival
    (2024-02-10..17), National Day (2024-10-01..07), the other public holidays and the 调休 Saturdays/Sundays,
    and on after-hours arrivals; `now` falls anywhere in the case's life, so timers are pending, running,
    met or breached and facts "in the future" of `now` are left out;
  * the serial within the month that numbers the 客户抱怨处理表 (case_serial), mostly present;
  * causes, regions, upheld / not upheld / unknown, the four resolutions, return quantities within and
    beyond the customer's or the company's 5 % ratio, incomplete receipt data, pending quantities;
  * loss amounts spread across the 核决权限 bounds 5,000 / 50,000 (the bounds themselves and one cent
    either side included), missing amounts (the GM row), actual approvers and answerers within and beyond
    their authority;
  * the 客户抱怨处理表 route done step by step up to a random point, the investigation-report and
    combined-opinion timers, the monthly duties;
  * penalty data for upheld cases: people in 制造一科/制造二科 (with group units), 业务部 and 服务部 with base
    points, bonuses, following bonuses and carried balances; single and joint faults whose shares sum to
    100 (person, unit or department named); resale within the month or not; administrative penalty records
    of every level (with counts, bases and rates at or above the minimum).

`--check N` evaluates the first N generated cases with the python engine and fails on any exception.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

TZ = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991
YEAR_START = date(2024, 1, 1)

# 2024 public holidays (days off) and 调休 working weekend days, mainland China.
HOLIDAY_RANGES = [
    (date(2024, 1, 1), date(2024, 1, 1)),
    (date(2024, 2, 10), date(2024, 2, 17)),  # Spring Festival
    (date(2024, 4, 4), date(2024, 4, 6)),  # Qingming
    (date(2024, 5, 1), date(2024, 5, 5)),  # Labour Day
    (date(2024, 6, 10), date(2024, 6, 10)),  # Dragon Boat
    (date(2024, 9, 15), date(2024, 9, 17)),  # Mid-Autumn
    (date(2024, 10, 1), date(2024, 10, 7)),  # National Day
]
MAKEUP_DAYS = [date(2024, m, d) for m, d in ((2, 4), (2, 18), (4, 7), (4, 28), (5, 11), (9, 14), (9, 29), (10, 12))]
BIG_HOLIDAYS = [HOLIDAY_RANGES[1], HOLIDAY_RANGES[6]]

CAUSES = ["quality_abnormal"] * 11 + ["human_error"] * 5 + ["other"] * 3
RESOLUTIONS = ["allowance", "compensation", "return", "rework"]
CUSTOMERS = [
    "华南电子有限公司",
    "深圳迅达科技",
    "苏州精密电路",
    "Nordic Controls AB",
    "Kobe Denshi K.K.",
    "宁波海天电器",
    "Acme Industrial GmbH",
    "成都蓉芯微电子",
    "厦门联创光电",
    "Pacific Avionics Inc.",
]
DEMANDS = ["退货重处理", "折让", "赔偿损失", "补货", "返工后再交", "退货", "扣款"]
GROUNDS = [
    "billing_error",
    "financial_error",
    "materials_not_to_spec",
    "rejects_mixed_in",
    "over_shipment",
    "production_data_reduced",
    "special_requirement_not_passed",
    "order_misrecorded",
    "late_delivery",
    "wrong_shipment",
    "delivery_note_error",
    "storage_transport_fault",
    "marking_not_to_spec",
    "inspection_data_mismatch",
    "other",
]
MINOR_GROUNDS = {
    "materials_not_to_spec",
    "rejects_mixed_in",
    "production_data_reduced",
    "special_requirement_not_passed",
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "一二三四五六七八九十伟芳娜敏静丽强磊军洋勇艳杰涛明超"
MANUFACTURING = {"制造一科": ["A组", "B组", "C组"], "制造二科": ["甲组", "乙组"]}
OTHER_DEPTS = ["业务部", "服务部"]
ROUTE_STEPS = [
    "gm_office_review",
    "qa_analysis",
    "manufacturing_analysis",
    "rnd_opinion",
    "sales_negotiation",
    "gm_office_final",
]
# calendar hours a step usually takes at most (its budget is 0.5wd, 1wd or 5wd / 12wd foreign)
STEP_HOURS = {
    "gm_office_review": 7,
    "qa_analysis": 26,
    "manufacturing_analysis": 26,
    "rnd_opinion": 26,
    "sales_negotiation": 24 * 6,
    "gm_office_final": 7,
}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _money(rng: random.Random, value: Decimal) -> Any:
    """Money as the JSON a client sends: mostly a two-place string, sometimes a whole number."""
    if value == value.to_integral_value() and rng.random() < 0.25:
        return int(value)
    return f"{value:.2f}"


def _cents(value: float) -> Decimal:
    return Decimal(int(round(value * 100))) / 100


class Generator:
    def __init__(self, seed: int, with_now: bool = True):
        self.rng = random.Random(seed)
        self.with_now = with_now

    # ── time ──────────────────────────────────────────────────────────────────────────────────────
    def _day(self) -> date:
        r = self.rng.random()
        if r < 0.55:
            return YEAR_START + timedelta(days=self.rng.randrange(366))
        if r < 0.75:
            first, last = self.rng.choice(BIG_HOLIDAYS)
            return first + timedelta(days=self.rng.randrange((last - first).days + 1))
        if r < 0.83:
            first, last = self.rng.choice(HOLIDAY_RANGES)
            return first + timedelta(days=self.rng.randrange((last - first).days + 1))
        if r < 0.90:
            return self.rng.choice(MAKEUP_DAYS)
        # a weekend day
        day = YEAR_START + timedelta(days=self.rng.randrange(366))
        return day + timedelta(days=(5 - day.weekday()) % 7 + self.rng.randrange(2))

    def _time_on(self, day: date) -> datetime:
        if self.rng.random() < 0.7:
            minute = self.rng.randrange(8 * 60, 17 * 60)
        else:
            minute = self.rng.randrange(24 * 60)
        second = 0 if self.rng.random() < 0.8 else self.rng.randrange(60)
        return datetime(day.year, day.month, day.day, minute // 60, minute % 60, second, tzinfo=TZ)

    def _later(self, moment: datetime, low_hours: float, high_hours: float) -> datetime:
        minutes = self.rng.randint(int(low_hours * 60), int(high_hours * 60))
        return moment + timedelta(minutes=minutes)

    # ── money ─────────────────────────────────────────────────────────────────────────────────────
    def _loss(self) -> Decimal:
        r = self.rng.random()
        if r < 0.08:
            return Decimal(self.rng.choice(["5000.00", "50000.00", "4999.99", "5000.01", "49999.99", "50000.01"]))
        if r < 0.35:
            return _cents(self.rng.uniform(50, 5000))
        if r < 0.80:
            return _cents(self.rng.uniform(5000, 50000))
        return _cents(self.rng.uniform(50000, 400000))

    # ── one case ──────────────────────────────────────────────────────────────────────────────────
    def case(self, index: int) -> dict[str, Any]:
        rng = self.rng
        f: dict[str, Any] = {}
        stamps: dict[str, datetime] = {}  # datetime facts; dropped later when after `now`

        received = self._time_on(self._day())
        stamps["received_at"] = received
        accepted = None
        if rng.random() < 0.95:
            accepted = self._later(received, 0.2, 72)
            stamps["accepted_at"] = accepted
        r = rng.random()
        region = "domestic" if r < 0.68 else "foreign" if r < 0.95 else None
        if region:
            f["region"] = region

        # receipt data (每项偶尔缺失 → receipt-incomplete)
        quantity = rng.choice([500, 1000, 2000, 5000, 8000, 12000, 20000, 50000])
        defect = max(1, int(quantity * rng.uniform(0.001, 0.2)))
        pending = rng.random() < 0.1
        if rng.random() > 0.03:
            f["customer_name"] = rng.choice(CUSTOMERS)
        if rng.random() > 0.04:
            f["order_no"] = f"SO-{received:%y%m}-{rng.randrange(1, 999):03d}"
        if rng.random() > 0.04:
            f["part_no"] = f"PCB-{rng.choice([2, 4, 6, 8, 10, 12])}L-{rng.randrange(1, 9999):04d}"
        if rng.random() > 0.04:
            f["ship_date"] = (received - timedelta(days=rng.randint(2, 90))).date().isoformat()
        if rng.random() > 0.03:
            f["quantity"] = quantity
        if pending:
            f["demand_quantity_pending"] = True
            if rng.random() < 0.3:
                f["defect_quantity"] = defect
        else:
            if rng.random() < 0.1:
                f["demand_quantity_pending"] = False
            if rng.random() > 0.05:
                f["defect_quantity"] = defect
        if rng.random() > 0.05:
            f["customer_demand"] = rng.choice(DEMANDS)
        if rng.random() < 0.9:
            f["case_serial"] = rng.randint(1, 120)  # (八) serial within the month → form number YYMMnn

        r = rng.random()
        if r < 0.85:
            f["loss_occurred"] = True
        elif r < 0.96:
            f["loss_occurred"] = False
        if rng.random() < 0.96:
            f["cause"] = rng.choice(CAUSES)

        # joint inspection and its report
        if rng.random() < 0.45:
            f["needs_joint_inspection"] = True
            r = rng.random()
            if r < 0.65:
                f["qa_available"] = True
            elif r < 0.95:
                f["qa_available"] = False
            if accepted is not None and rng.random() < 0.8:
                done = self._later(accepted, 4, 120)
                stamps["investigation_done_at"] = done
                if rng.random() < 0.8:
                    stamps["report_submitted_at"] = self._later(done, 1, 110)  # up to ~4.6 days: some late
        elif rng.random() < 0.2:
            f["needs_joint_inspection"] = False

        # outcome
        r = rng.random()
        upheld = True if r < 0.68 else False if r < 0.93 else None
        if upheld is not None:
            f["upheld"] = upheld
        resolution = None
        if (upheld and rng.random() < 0.9) or (not upheld and rng.random() < 0.06):
            resolution = rng.choice(RESOLUTIONS)
            f["resolution"] = resolution
        if resolution in ("return", "rework") and rng.random() < 0.92:
            approved = max(1, defect + rng.randint(-defect // 4, defect // 4))
            ratio = None
            if rng.random() < 0.4:
                ratio = rng.choice(["0.02", "0.03", "0.05", "0.08", "0.1", "0.125"])
                f["over_acceptance_ratio"] = float(ratio)
            f["approved_return_qty"] = approved
            r = rng.random()
            if r < 0.1:  # exactly on the allowed ratio
                limit = Decimal(approved) * (1 + Decimal(ratio or "0.05"))
                actual = int(limit) if limit == int(limit) else int(limit)
            elif r < 0.7:
                actual = int(approved * rng.uniform(0.85, 1.04))
            else:
                actual = int(approved * rng.uniform(1.0, 1.25)) + 1
            f["actual_return_qty"] = max(0, actual)
        r = rng.random()
        if r < 0.78:
            f["customer_accepts_conclusion"] = True
        elif r < 0.93:
            f["customer_accepts_conclusion"] = False
        if rng.random() < 0.12:
            f["involves_supplier"] = True
        elif rng.random() < 0.1:
            f["involves_supplier"] = False
        if rng.random() < 0.06:
            f["department_objection"] = True

        loss = None
        if f.get("loss_occurred") is not False and rng.random() < 0.9:
            loss = self._loss()
            f["loss_amount"] = _money(rng, loss)
        if upheld and resolution and rng.random() < 0.45:
            f["approved_by"] = rng.choice(["sales-manager", "sales-manager", "deputy-gm", "deputy-gm", "gm"])
        if rng.random() < 0.22:
            f["answered_by"] = rng.choice(["sales", "sales-manager", "deputy-gm", "gm"])

        # the handling-form route, step by step up to a random point
        if accepted is not None:
            moment = accepted
            steps = rng.choices(range(7), weights=[10, 8, 8, 8, 10, 12, 44])[0]
            route: dict[str, str] = {}
            for step in ROUTE_STEPS[:steps]:
                # mostly within the step's budget (0.5wd ≈ same or next morning, 1wd ≈ by the next
                # evening, 5/12wd ≈ one / two and a half weeks), sometimes well past it
                high = STEP_HOURS[step] * (1.6 if step == "sales_negotiation" and region == "foreign" else 1)
                if rng.random() < 0.07:
                    high *= 5
                moment = self._later(moment, 0.25, high)
                route[step] = moment  # type: ignore[assignment]
            for step, moment in route.items():
                stamps["route_done." + step] = moment  # type: ignore[arg-type]
            last = max(route.values(), default=accepted)  # type: ignore[type-var]
            if rng.random() < 0.45:
                stamps["negotiation_result_at"] = self._later(accepted, 24, 24 * 10)
                if rng.random() < 0.75:
                    stamps["combined_opinion_at"] = self._later(stamps["negotiation_result_at"], 0.5, 80)
            if rng.random() < 0.6:
                stamps["closed_at"] = self._later(max(last, accepted), 2, 24 * 12)  # type: ignore[type-var]

        # `now`: anywhere from shortly after receipt to a while after the last event
        last_event = max(stamps.values())
        if rng.random() < 0.65:  # usually evaluated soon after the latest event
            now = last_event + timedelta(seconds=rng.uniform(600, 3 * 86400))
        else:  # else anywhere in the case's life, dropping what had not happened yet
            span = (last_event - received).total_seconds() + 14 * 86400
            now = received + timedelta(seconds=rng.uniform(3600, span))
        now = now.replace(microsecond=0)
        if now.year > 2024 and rng.random() < 0.5:
            now = now.replace(year=2024, month=12, day=31)
        for name, moment in list(stamps.items()):
            if moment > now and name != "received_at":
                del stamps[name]
        if received > now:
            now = received + timedelta(hours=1)

        # monthly duties
        local_now = now.astimezone(TZ)
        for duty in ("last_monthly_summary_on", "last_penalty_publication_on"):
            r = rng.random()
            if r < 0.35:
                day = local_now.date().replace(day=rng.randint(1, 14))
                if day <= local_now.date():
                    f[duty] = day.isoformat()
            elif r < 0.6:
                prev = local_now.date().replace(day=1) - timedelta(days=1)
                f[duty] = prev.replace(day=rng.randint(1, 12)).isoformat()

        # penalties (HR data); only upheld cases with a loss get fault shares
        if upheld and loss is not None and rng.random() < 0.55:
            self._penalties(f, loss)
        elif upheld and rng.random() < 0.08:
            self._records_only(f)
        elif rng.random() < 0.005:
            # faults without people: the engine warns (penalty-people-missing)
            f["responsibilities"] = [{"department": "业务部"}]

        route_done = {k.split(".", 1)[1]: _iso(v) for k, v in stamps.items() if k.startswith("route_done.")}
        for name, moment in stamps.items():
            if "." not in name:
                f[name] = _iso(moment)
        if route_done:
            f["route_done"] = route_done
        case: dict[str, Any] = {"case_id": f"CP-{received:%y%m}-{index:07d}"}
        if self.with_now:
            case["now"] = _iso(now)
        # facts in a stable, readable order
        case["facts"] = {"received_at": f.pop("received_at"), **dict(sorted(f.items()))}
        return case

    # ── people and penalties ───────────────────────────────────────────────────────────────────────
    def _people(self) -> list[dict[str, Any]]:
        rng = self.rng
        people = []
        used: set[str] = set()
        count = rng.randint(1, 7)
        for i in range(count):
            r = rng.random()
            if r < 0.6:
                dept = rng.choice(list(MANUFACTURING))
                unit = rng.choice(MANUFACTURING[dept]) if rng.random() < 0.9 else None
            else:
                dept, unit = rng.choice(OTHER_DEPTS), None
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            pid = f"p{i + 1}"
            while pid in used:
                pid += "x"
            used.add(pid)
            person: dict[str, Any] = {
                "id": pid,
                "name": name,
                "department": dept,
                "base_points": rng.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 2.5, 1.5]),
                "monthly_bonus": _money(rng, _cents(rng.choice([rng.uniform(1500, 12000), 3000, 5000, 8000]))),
            }
            if unit:
                person["unit"] = unit
            if rng.random() < 0.2:
                person["following_bonuses"] = [
                    _money(rng, _cents(rng.uniform(0, 9000)) if rng.random() > 0.1 else Decimal(0))
                    for _ in range(rng.randint(1, 4))
                ]
            if rng.random() < 0.1:
                person["carried_balance"] = _money(rng, _cents(rng.uniform(100, 6000)))
            people.append(person)
        return people

    def _shares(self, parts: int) -> list[Any]:
        rng = self.rng
        if parts == 1:
            return [100]
        patterns = {
            2: [[60, 40], [50, 50], [70, 30], [66.5, 33.5], [80, 20]],
            3: [[50, 30, 20], [40, 40, 20], [33.3, 33.3, 33.4], [60, 25, 15]],
        }
        return list(rng.choice(patterns[parts]))

    def _penalties(self, f: dict[str, Any], loss: Decimal) -> None:
        rng = self.rng
        people = self._people()
        f["people"] = people
        parts = rng.choices([1, 2, 3], weights=[60, 30, 10])[0]
        responsibilities = []
        for share in self._shares(parts):
            person = rng.choice(people)
            r = rng.random()
            entry: dict[str, Any]
            if r < 0.35:
                entry = {"person_id": person["id"]}
                if rng.random() < 0.5:
                    entry["department"] = person["department"]
            elif r < 0.7 and person.get("unit"):
                entry = {"department": person["department"], "unit": person["unit"]}
            else:
                entry = {"department": person["department"]}
            if parts > 1 or rng.random() < 0.3:
                entry["percent"] = share
            responsibilities.append(entry)
        f["responsibilities"] = responsibilities
        r = rng.random()
        if r < 0.3:
            f["resold_within_month"] = True
            f["a_grade_price_loss"] = _money(rng, _cents(float(loss) * rng.uniform(0.1, 0.9)))
        elif r < 0.8:
            f["resold_within_month"] = False
            if rng.random() < 0.3:
                f["a_grade_price_loss"] = _money(rng, _cents(float(loss) * rng.uniform(0.1, 0.9)))
        if rng.random() < 0.35:
            f["admin_penalties"] = self._records(people)

    def _records_only(self, f: dict[str, Any]) -> None:
        people = self._people()
        f["people"] = people
        f["admin_penalties"] = self._records(people)

    def _records(self, people: list[dict[str, Any]]) -> list[dict[str, Any]]:
        rng = self.rng
        records = []
        for _ in range(rng.randint(1, 3)):
            ground = rng.choice(GROUNDS)
            record: dict[str, Any] = {"person_id": rng.choice(people)["id"], "ground": ground}
            level = ground in MINOR_GROUNDS and "minor_demerit" or "warning"
            if rng.random() < 0.15:
                level = rng.choice(["warning", "minor_demerit", "major_demerit"])
                record["level"] = level
            if rng.random() < 0.4:
                record["count"] = rng.randint(1, 3)
            if level == "minor_demerit":
                record["bases"] = rng.choice([1, 2, 3, 1.5, 2.5])
            if level != "major_demerit" and rng.random() < 0.2:
                floor = 800 if level == "minor_demerit" else 400
                record["rate"] = _money(rng, Decimal(floor + 50 * rng.randint(0, 8)))
            records.append(record)
        return records


def iter_cases(count: int, seed: int = 1, with_now: bool = True) -> Iterator[dict[str, Any]]:
    """`count` cases, one at a time, reproducible from `seed`."""
    gen = Generator(seed, with_now)
    for i in range(count):
        yield gen.case(i + 1)


def iter_lines(count: int, seed: int = 1, with_now: bool = True) -> Iterator[str]:
    for case in iter_cases(count, seed, with_now):
        yield json.dumps(case, ensure_ascii=False, separators=(",", ":"))


def write_cases(path: str | Path, count: int, seed: int = 1, with_now: bool = True) -> None:
    out = sys.stdout if str(path) == "-" else open(path, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for line in iter_lines(count, seed, with_now):
            out.write(line)
            out.write("\n")
    finally:
        if out is not sys.stdout:
            out.close()


def check(count: int, seed: int, now: str | None = None) -> int:
    """Evaluate the first `count` cases with the python engine; print and count the failures."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import engine

    policy = engine.load_policy("pcb-manufacturer")
    failures = 0
    for case in iter_cases(count, seed):
        # the same JSON round trip a batch line goes through
        line = json.loads(json.dumps(case, ensure_ascii=False), parse_float=Decimal)
        try:
            policy.evaluate(line, now, engine="python")
        except Exception as exc:  # noqa: BLE001 - report every failure, not only the first
            failures += 1
            if failures <= 10:
                print(f"FAIL {case['case_id']}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"checked {count} cases (seed {seed}) with the python engine: {failures} failed", file=sys.stderr)
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="number of cases (default 1000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("-o", "--output", default="-", help="JSON Lines out; - for stdout (default)")
    ap.add_argument("--no-now", action="store_true", help="leave each case's 'now' out (pass zhidu batch --now)")
    ap.add_argument(
        "--check",
        type=int,
        default=0,
        metavar="N",
        help="also evaluate the first N cases with the python engine and fail on any exception",
    )
    args = ap.parse_args(argv)
    write_cases(args.output, args.count, args.seed, not args.no_now)
    if args.check:
        return 1 if check(min(args.check, args.count), args.seed) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
