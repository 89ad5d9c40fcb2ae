"""SLA timers, routes and monthly duties: compiled from a pack, computed from facts, findings and `now`."""

from __future__ import annotations

import calendar as _months
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .calendar import SOURCE_STATUTORY, BusinessCalendar, CalendarError, CalendarNotCovered
from .civil import CIVIL, ELAPSED, KEEP
from .durations import (
    BUSINESS_HOURS,
    CALENDAR,
    MONTH,
    WORKING_DAYS,
    Duration,
    DurationError,
    parse_duration,
    shift_months,
)
from .errors import EvaluationError, Location
from .expr.pyeval import Compiled, Env, value_or_none
from .facts import Label
from .sla_terms import civil_due_at, start_expr, start_instant, timer_options

if TYPE_CHECKING:
    from .compiler import _Compiler
    from .policy import Action, Policy

WORKING_KINDS = (WORKING_DAYS, BUSINESS_HOURS)
SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Effects:
    actions: tuple[Action, ...] = ()
    forms: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.actions or self.forms)


@dataclass(frozen=True)
class Option:
    """One candidate goal or budget: the first option whose condition holds applies."""

    duration: Duration
    when: str | None = None
    probe: str | None = None


@dataclass(frozen=True)
class Timer:
    id: str
    label: Label
    ref: str
    calendar: str | None
    start: Compiled | None
    start_timer: str | None
    stop: Compiled | None
    pauses: Compiled | None
    goals: tuple[Option, ...]
    due_before: tuple[Compiled, Duration] | None
    warn_at: tuple[int, ...]
    on_breach: Effects
    on_late: Effects
    # issue 21: applicability, legal day counting, date starts (see engine/civil.py)
    when: str | None = None  # probe id: the timer applies only when its condition holds
    counting: str = ELAPSED
    last_day_off: str = KEEP
    date_start: str | None = None  # a date start: "next_day" or "same_day" (00:00 of that day)
    start_is_date: bool = False


@dataclass(frozen=True)
class Step:
    id: str
    label: Label
    role: str | None
    budgets: tuple[Option, ...]
    done: Compiled | None


@dataclass(frozen=True)
class Route:
    id: str
    label: Label
    ref: str
    calendar: str | None
    start: Compiled
    steps: tuple[Step, ...]
    within: str | None
    on_late_step: Effects
    stop: Compiled | None = None  # the case closes: open steps stop (default: the `within` timer's stop)


@dataclass(frozen=True)
class Duty:
    """A duty due every month before a given day (e.g. the summary of last month's cases by the 10th)."""

    id: str
    label: Label
    ref: str
    day: int
    done: Compiled | None
    on_breach: Effects


@dataclass(frozen=True)
class SlaSpec:
    calendars: dict[str, BusinessCalendar] = field(default_factory=dict)
    # calendar id → where it is defined: where a missing year's table goes
    calendar_sites: dict[str, Location] = field(default_factory=dict)
    timers: tuple[Timer, ...] = ()
    routes: tuple[Route, ...] = ()
    duties: tuple[Duty, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.timers or self.routes or self.duties)


# ------------------------------------------------------------------------------------------------
# compile
# ------------------------------------------------------------------------------------------------
def compile_sla(c: _Compiler) -> SlaSpec:
    """Read `calendars`, `timers`, `routes` and `duties`; problems go to the compiler's diagnostics."""
    calendars = _calendars(c)
    timers = _timers(c, calendars)
    routes = _routes(c, calendars, {t.id: t for t in timers})
    duties = _duties(c)
    sites = {cid: c.loc(("calendars", cid), key=True) for cid in calendars}
    return SlaSpec(calendars, sites, tuple(timers), tuple(routes), tuple(duties))


def _calendars(c: _Compiler) -> dict[str, BusinessCalendar]:
    raw = c.data.get("calendars")
    out: dict[str, BusinessCalendar] = {}
    if not isinstance(raw, dict):
        return out
    for cid, spec in raw.items():
        if not isinstance(spec, dict) or not c.schema_clean(("calendars", cid)):
            continue
        spec = {"timezone": str(c.tz), **spec}
        try:
            out[cid] = BusinessCalendar.from_spec(spec)
        except CalendarError as exc:
            for path, message in exc.problems or [((), str(exc))]:
                c.error(("calendars", cid, *path), "calendar", message)
    return out


def _duration(c: _Compiler, path: tuple[object, ...], raw: Any) -> Duration | None:
    try:
        return parse_duration(str(raw))
    except DurationError as exc:
        c.error(path, "duration", str(exc))
        return None


def _options(c: _Compiler, path: tuple[object, ...], raw: Any, owner: str, ref: str) -> tuple[Option, ...]:
    """A duration, or a list of {when, duration} tried in order; `when` becomes a probe rule."""
    if not isinstance(raw, list):
        d = _duration(c, path, raw)
        return (Option(d),) if d else ()
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            continue
        d = _duration(c, path + (i, "duration"), item.get("duration"))
        if d is None:
            continue
        when = item.get("when")
        probe = c.probe(f"{owner}#{i}", when, path + (i, "when"), ref) if isinstance(when, str) else None
        if isinstance(when, str) and probe is None:
            continue
        out.append(Option(d, when if isinstance(when, str) else None, probe))
    if out and out[-1].when is not None:
        c.warn(path, "no-default-goal", "no option without `when`: when none holds the timer has no goal")
    return tuple(out)


def _calendar_ref(
    c: _Compiler, path: tuple[object, ...], raw: Any, calendars: dict[str, BusinessCalendar]
) -> str | None:
    if raw is None:
        return next(iter(calendars), None)
    if raw not in calendars and raw not in (c.data.get("calendars") or {}):
        from .errors import did_you_mean

        c.error(path, "dangling-ref", f"unknown calendar '{raw}'{did_you_mean(str(raw), calendars)}")
        return ""  # reported once here: not None, so no second "needs a calendar" error follows
    return str(raw)


def _needs_calendar(c: _Compiler, path: tuple[object, ...], options: tuple[Option, ...], cal: str | None) -> None:
    if cal is None and any(o.duration.kind in WORKING_KINDS for o in options):
        c.error(path, "calendar", "working days and business hours need a calendar (declare one under calendars)")


def _effects(c: _Compiler, raw: Any, path: tuple[object, ...]) -> Effects:
    if not isinstance(raw, dict):
        return Effects()
    return Effects(c.actions_of(raw, path), c.forms_of(raw, path))


def _timers(c: _Compiler, calendars: dict[str, BusinessCalendar]) -> list[Timer]:
    out: list[Timer] = []
    ids = {spec["id"] for _, spec in c.entries("timers")}
    for path, spec in c.entries("timers"):
        tid, ref = spec["id"], str(spec.get("ref", ""))
        cal = _calendar_ref(c, path + ("calendar",), spec.get("calendar"), calendars)
        start = stop = pauses = None
        start_timer = None
        start_is_date = False
        raw_start = spec.get("start")
        if isinstance(raw_start, str) and raw_start.startswith("timer:"):
            start_timer = raw_start[len("timer:") :]
            if start_timer == tid:
                c.error(path + ("start",), "timer-cycle", f"timer '{tid}' cannot start from its own stop")
            elif start_timer not in ids:
                c.error(path + ("start",), "dangling-ref", f"unknown timer '{start_timer}'")
        elif isinstance(raw_start, str):
            start, start_is_date = start_expr(c, path + ("start",), raw_start)
        if isinstance(spec.get("stop"), str):
            stop = c.value_expr(path + ("stop",), spec["stop"], ("datetime",))
        if isinstance(spec.get("pauses"), str):
            pauses = c.value_expr(path + ("pauses",), spec["pauses"], ("pauses",))
        goals = _options(c, path + ("goal",), spec.get("goal"), f"timer:{tid}", ref) if "goal" in spec else ()
        due_before = None
        if isinstance(spec.get("due_before"), dict):
            db = spec["due_before"]
            anchor = c.value_expr(path + ("due_before", "date"), str(db.get("date")), ("date", "datetime"))
            by = _duration(c, path + ("due_before", "by"), db.get("by"))
            if by is not None and by.kind not in (CALENDAR, MONTH):
                c.error(
                    path + ("due_before", "by"),
                    "duration",
                    "due_before counts back in calendar time or months (e.g. 1 month, 7d)",
                )
                by = None
            if anchor is not None and by is not None:
                due_before = (anchor, by)
        if "goal" not in spec and "due_before" not in spec:
            c.error(path, "missing-field", "a timer needs `goal` (from its start) or `due_before`")
        _needs_calendar(c, path + ("goal",), goals, cal)
        extra = timer_options(c, path, spec, goals, cal, start_is_date)
        out.append(
            Timer(
                tid,
                Label.of(spec.get("label"), tid),
                ref,
                cal,
                start,
                start_timer,
                stop,
                pauses,
                goals,
                due_before,
                tuple(sorted(int(w) for w in spec.get("warn_at", []) if isinstance(w, int))),
                _effects(c, spec.get("on_breach"), path + ("on_breach",)),
                _effects(c, spec.get("on_late"), path + ("on_late",)),
                **extra,
            )
        )
    index = {spec["id"]: path[1] for path, spec in c.entries("timers")}
    return _timer_order(c, out, index)


def _timer_order(c: _Compiler, timers: list[Timer], index: dict[Any, int]) -> list[Timer]:
    """Timers started by another timer's stop come after it; a cycle is an error."""
    by_id = {t.id: t for t in timers}
    done: list[Timer] = []
    state: dict[str, int] = {}

    def visit(t: Timer, chain: tuple[str, ...]) -> None:
        if state.get(t.id) == 2:
            return
        if state.get(t.id) == 1:
            cycle = chain[chain.index(t.id) :] if t.id in chain else chain
            where = ("timers", index.get(t.id, 0), "start")
            c.error(where, "timer-cycle", "timers start from each other: " + " → ".join(cycle + (t.id,)))
            return
        state[t.id] = 1
        if t.start_timer in by_id and t.start_timer != t.id:
            visit(by_id[t.start_timer], chain + (t.id,))
        state[t.id] = 2
        done.append(t)

    for t in timers:
        visit(t, ())
    return done


def _routes(c: _Compiler, calendars: dict[str, BusinessCalendar], timers: dict[str, Timer]) -> list[Route]:
    out: list[Route] = []
    for path, spec in c.entries("routes"):
        rid, ref = spec["id"], str(spec.get("ref", ""))
        cal = _calendar_ref(c, path + ("calendar",), spec.get("calendar"), calendars)
        start = c.value_expr(path + ("start",), str(spec.get("start")), ("datetime",))
        steps = []
        for j, step in enumerate(spec.get("steps") or []):
            spath = path + ("steps", j)
            if not isinstance(step, dict) or not isinstance(step.get("id"), str):
                continue
            role = step.get("role")
            if isinstance(role, str) and role not in c.roles:
                from .errors import did_you_mean

                c.error(spath + ("role",), "dangling-ref", f"unknown role '{role}'{did_you_mean(role, c.roles)}")
            budgets = _options(c, spath + ("budget",), step.get("budget"), f"route:{rid}/{step['id']}", ref)
            _needs_calendar(c, spath + ("budget",), budgets, cal)
            done = (
                c.value_expr(spath + ("done",), step["done"], ("datetime",))
                if isinstance(step.get("done"), str)
                else None
            )
            steps.append(
                Step(
                    step["id"],
                    Label.of(step.get("label"), step["id"]),
                    role if isinstance(role, str) else None,
                    budgets,
                    done,
                )
            )
        within = spec.get("within")
        if isinstance(within, str) and within not in timers:
            c.error(path + ("within",), "dangling-ref", f"unknown timer '{within}'")
        route = Route(
            rid,
            Label.of(spec.get("label"), rid),
            ref,
            cal,
            start,
            tuple(steps),
            within if isinstance(within, str) else None,
            _effects(c, spec.get("on_late_step"), path + ("on_late_step",)),
            c.value_expr(path + ("stop",), spec["stop"], ("datetime",)) if isinstance(spec.get("stop"), str) else None,
        )
        if start is not None:
            out.append(route)
            if route.within in timers:
                _lint_budgets(c, path, route, timers[route.within])
    return out


def _days(d: Duration) -> Decimal | None:
    """A duration in days when that is meaningful for comparing budgets with goals."""
    if d.kind == WORKING_DAYS or d.kind == MONTH:
        return Decimal(d.amount) * (30 if d.kind == MONTH else 1)
    if d.kind == CALENDAR:
        return Decimal(d.amount // SECOND) / 86400
    return None


def _unit(d: Duration) -> str:
    """Working days, or calendar time (days, hours, months)."""
    return WORKING_DAYS if d.kind == WORKING_DAYS else CALENDAR


def _lint_budgets(c: _Compiler, path: tuple[object, ...], route: Route, timer: Timer) -> None:
    """Route budgets adding up past the goal they sit in, compared like with like: working days with working
    days, calendar time with calendar time. Working-day budgets under a calendar-day goal are over when their
    count alone exceeds it (a working day spans at least a calendar day); otherwise a holiday can still make
    them overrun, which is reported as route-units-differ."""
    conditions = {o.when for s in route.steps for o in s.budgets if o.when} | {o.when for o in timer.goals if o.when}

    def pick(options: tuple[Option, ...], cond: str | None) -> Duration | None:
        for o in options:
            if o.when == cond:
                return o.duration
        return next((o.duration for o in options if o.when is None), None)

    for cond in [None, *sorted(conditions)]:
        parts = [pick(s.budgets, cond) for s in route.steps]
        goal = pick(timer.goals, cond)
        if goal is None or any(p is None for p in parts):
            continue
        total = [_days(p) for p in parts if p is not None]
        goal_days = _days(goal)
        if goal_days is None or any(t is None for t in total):
            continue
        budget = sum(t for t in total if t is not None)
        where = f"when {cond}" if cond else "by default"
        units = {_unit(p) for p in parts if p is not None}
        if budget > goal_days and (units == {_unit(goal)} or units == {WORKING_DAYS}):
            c.warn(
                path + ("steps",),
                "route-over-goal",
                f"route '{route.id}' budgets add up to {budget.normalize()} days {where}, past the goal {goal} of timer '{timer.id}'",
            )
        elif units != {_unit(goal)}:
            c.warn(
                path + ("steps",),
                "route-units-differ",
                f"route '{route.id}' budgets ({budget.normalize()} days {where}) and the goal {goal} of timer "
                f"'{timer.id}' count days differently (working vs calendar days): across a holiday the route can "
                "overrun the goal. Read both the same way",
            )


def _duties(c: _Compiler) -> list[Duty]:
    out: list[Duty] = []
    for path, spec in c.entries("duties"):
        done = (
            c.value_expr(path + ("done",), spec["done"], ("date", "datetime"))
            if isinstance(spec.get("done"), str)
            else None
        )
        out.append(
            Duty(
                spec["id"],
                Label.of(spec.get("label"), spec["id"]),
                str(spec.get("ref", "")),
                int(spec.get("before_day", 1)),
                done,
                _effects(c, spec.get("on_breach"), path + ("on_breach",)),
            )
        )
    return out


# ------------------------------------------------------------------------------------------------
# compute
# ------------------------------------------------------------------------------------------------
@dataclass
class SlaResult:
    timers: list[dict[str, Any]] = field(default_factory=list)
    # (source id, ref, effects) for the decision's actions and forms
    effects: list[tuple[str, str, Effects]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def compute(
    policy: Policy, facts: dict[str, Any], findings: dict[str, Any], probes: frozenset[str], now: datetime
) -> SlaResult:
    spec: SlaSpec = policy.sla
    out = SlaResult()
    if not spec:
        return out
    env = Env(facts, findings, now, policy.timezone)
    gaps = _Gaps(spec)
    stops: dict[str, datetime | None] = {}
    for t in spec.timers:
        if t.when is not None and t.when not in probes:
            stops[t.id] = None  # a timer that does not apply is left out, and starts nothing
            continue
        entry, effects = _timer(policy, spec, t, env, probes, stops, gaps)
        out.timers.append(entry)
        if effects:
            out.effects.append((f"timer:{t.id}", t.ref, effects))
    for r in spec.routes:
        entry, late = _route(policy, spec, r, env, probes, gaps, stops)
        out.timers.append(entry)
        if late and r.on_late_step:
            out.effects.append((f"route:{r.id}", r.ref, r.on_late_step))
    for d in spec.duties:
        entry = _duty(policy, d, env)
        out.timers.append(entry)
        if entry["status"] == "breached" and d.on_breach:
            out.effects.append((f"duty:{d.id}", d.ref, d.on_breach))
    out.warnings.extend(gaps.warnings())
    return out


class _Gaps:
    """What the calendars could not answer in one evaluation: uncovered years (per timer) and provisional
    years used, turned into the decision's warnings. A calendar set to `fallback: error` refuses instead."""

    def __init__(self, spec: SlaSpec):
        self.spec = spec
        self.uncovered: list[dict[str, Any]] = []
        self.provisional: dict[tuple[str, int], list[str]] = {}

    def missing(self, source: str, ref: str, cal_id: str | None, exc: CalendarNotCovered, what: str) -> None:
        cal = self.spec.calendars.get(cal_id or "")
        site = self.spec.calendar_sites.get(cal_id or "")
        if cal is not None and cal.fallback == "error":
            raise EvaluationError(f"{source}: {exc}", code="calendar-not-covered")
        fix = (
            f"add `years: {exc.year}:` with that year's days off and 调休 workdays to calendar '{cal_id}'"
            f"{f' ({site})' if site else ''}, or set its `fallback: statutory` (provisional); see docs/adopting.md"
        )
        self.uncovered.append(
            {
                "code": "calendar-not-covered",
                "message": f"{source}: {what}: no public-holiday data for {exc.year} "
                f"(needed for {exc.day.isoformat()}); {fix}",
                "timer": source,
                "year": exc.year,
                "calendar": cal_id or "",
                "ref": ref,
            }
        )

    def used(self, source: str, cal_id: str | None, first: datetime | None, *ends: datetime | None) -> None:
        """Note the provisional (statutory) years a timer's arithmetic went through: from its start to the
        latest of its ends (due time, stop, now). Nothing to do unless the calendar is statutory."""
        cal = self.spec.calendars.get(cal_id or "")
        if cal is None or first is None or cal.fallback != "statutory":
            return
        last = max((end for end in ends if end is not None), default=None)
        if last is None:
            return
        lo, hi = sorted((first.astimezone(cal.tzinfo).year, last.astimezone(cal.tzinfo).year))
        for year in range(lo, hi + 1):
            if cal.year_source(year) == SOURCE_STATUTORY:
                self.provisional.setdefault((str(cal_id), year), []).append(source)

    def warnings(self) -> list[dict[str, Any]]:
        out = list(self.uncovered)
        for (cal_id, year), sources in sorted(self.provisional.items()):
            names = ", ".join(dict.fromkeys(sources))
            out.append(
                {
                    "code": "calendar-provisional",
                    "message": f"{names}: calendar '{cal_id}' has no official schedule for {year}; its days off "
                    f"are provisional (the statutory holidays, without the State Council's 调休 workdays)",
                    "timer": sources[0],
                    "year": year,
                    "calendar": cal_id,
                }
            )
        return out


def _choose(options: tuple[Option, ...], probes: frozenset[str]) -> Option | None:
    for o in options:
        if o.probe is None or o.probe in probes:
            return o
    return None


def _plain_add(start: datetime, d: Duration, tz) -> datetime:
    if d.kind == MONTH:
        local = start.astimezone(tz)
        day = shift_months(local.date(), int(d.amount))
        return local.replace(year=day.year, month=day.month, day=day.day)
    return start + d.amount


def _add(cal: BusinessCalendar | None, start: datetime, d: Duration, tz) -> datetime:
    """Due time of `d` from `start`. A fraction of a working day below one is that share of the
    start day's working time, counted as business time from the start (route budgets of 1/2 day)."""
    if cal is None:
        return _plain_add(start, d, tz)
    if d.kind == WORKING_DAYS and Decimal(d.amount) < 1:
        day = start.astimezone(cal.tzinfo).date()
        if not cal.is_working_day(day):
            day = cal.next_working_day(day)
        share = Decimal(cal.working_time_on(day) // SECOND) * Decimal(d.amount)
        return cal.add_business_time(start, timedelta(seconds=int(share.to_integral_value(ROUND_HALF_UP))))
    return cal.add(start, d)


def _pauses(raw: Any, now: datetime) -> tuple[list[tuple[datetime, datetime]], bool]:
    """Pause intervals (an open one ends at `now`, the best estimate) and whether one is open now."""
    out = []
    open_now = False
    for item in raw or ():
        if isinstance(item, dict) and isinstance(item.get("from"), datetime):
            start = item["from"]
            if not isinstance(item.get("to"), datetime):
                open_now = open_now or start <= now
                end = now
            else:
                end = item["to"]
                open_now = open_now or start <= now < end
            if end > start:
                out.append((start, end))
    return sorted(out), open_now


def _merged(pauses: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for s, e in sorted(pauses):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _overlap(
    pauses: list[tuple[datetime, datetime]], a: datetime, b: datetime, cal: BusinessCalendar | None, working: bool
) -> timedelta:
    total = timedelta(0)
    merged: list[tuple[datetime, datetime]] = []
    for s, e in pauses:
        s, e = max(s, a), min(e, b)
        if e <= s:
            continue
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    for s, e in merged:
        total += cal.business_time_between(s, e) if working and cal else e - s
    return total


def _due(cal: BusinessCalendar | None, start: datetime, d: Duration, pauses, tz) -> datetime:
    """The moment the goal's time has run outside pauses: walk the pauses in order, spending the
    goal's length (business time for working durations) only in the gaps between them."""
    base = _add(cal, start, d, tz)
    if not pauses:
        return base
    working = d.kind in WORKING_KINDS and cal is not None
    remaining = _measure(cal, d.kind, start, base, [])
    at = start
    for p_start, p_end in _merged(pauses):
        if p_end <= at:
            continue
        gap = _measure(cal, d.kind, at, p_start, []) if p_start > at else timedelta(0)
        if gap >= remaining:
            break
        remaining -= gap
        at = max(at, p_end)
    if working and cal is not None:
        return cal.add_business_time(at, remaining)
    return at + remaining


def _measure(cal: BusinessCalendar | None, kind: str, a: datetime, b: datetime, pauses) -> timedelta:
    if b <= a:
        return timedelta(0)
    working = kind in WORKING_KINDS and cal is not None
    span = cal.business_time_between(a, b) if working and cal else b - a
    return span - _overlap(pauses, a, b, cal, working)


def _iso(value: datetime | None, tz) -> str | None:
    return value.astimezone(tz).isoformat() if value else None


def _amount(cal: BusinessCalendar | None, kind: str, span: timedelta, at: datetime) -> str:
    """A span in the timer's own unit, for people."""
    seconds = int(span // SECOND)
    if kind == WORKING_DAYS and cal is not None:
        day = at.astimezone(cal.tzinfo).date()
        if not cal.is_working_day(day):
            day = cal.next_working_day(day)
        per_day = cal.working_time_on(day) // SECOND or 1
        return f"{(Decimal(seconds) / per_day).quantize(Decimal('0.01'), ROUND_HALF_UP)}wd"
    if kind == BUSINESS_HOURS:
        return f"{(Decimal(seconds) / 3600).quantize(Decimal('0.01'), ROUND_HALF_UP)}bh"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{minutes}min" if minutes else ""]
    return "".join(parts) or "0min"


def _status_fields(
    cal,
    kind: str,
    start: datetime | None,
    due: datetime | None,
    stop: datetime | None,
    now: datetime,
    pauses,
    tz,
    paused_now: bool = False,
) -> dict[str, Any]:
    if start is None or due is None or start > now:
        return {"status": "pending"}
    end = stop if stop is not None and stop <= now else now
    if stop is not None and stop <= now:
        status = "met" if stop <= due else "breached"
    elif now > due:
        status = "breached"
    elif paused_now:
        status = "paused"
    else:
        status = "running"
    out: dict[str, Any] = {"status": status}
    try:
        used = _measure(cal, kind, start, end, pauses)
        measured_total = _measure(cal, kind, start, due, pauses)
    except CalendarNotCovered as exc:
        # The status stands (it compares instants); how much is left or late cannot be counted.
        out["_uncovered"] = exc
        return out
    total = measured_total or SECOND
    # Without pauses the spans add up, so what is left (or late) is a difference, not a new count.
    try:
        if end <= due:
            left = measured_total - used if not pauses else _measure(cal, kind, end, due, [])
            out["remaining"] = {"text": _amount(cal, kind, left, end), "seconds": int(left // SECOND)}
        else:
            late = used - measured_total if not pauses else _measure(cal, kind, due, end, [])
            out["overdue"] = {"text": _amount(cal, kind, late, due), "seconds": int(late // SECOND)}
    except CalendarNotCovered as exc:
        out["_uncovered"] = exc
    # A zero goal (an appointment time) is wholly used up the moment it starts.
    exact = Decimal(used // SECOND) * 100 / Decimal(total // SECOND) if measured_total else Decimal(100)
    out["percent_elapsed"] = str(exact.quantize(Decimal("0.1"), ROUND_HALF_UP))
    out["_percent"] = exact  # thresholds compare the exact share, not the rounded one
    out["_total"] = measured_total  # the goal's length in the timer's time, for the warning instants
    return out


def _timer(policy, spec: SlaSpec, t: Timer, env: Env, probes, stops, gaps: _Gaps) -> tuple[dict[str, Any], Effects]:
    tz = policy.timezone
    cal = spec.calendars.get(t.calendar) if t.calendar else None
    start = start_instant(
        stops.get(t.start_timer) if t.start_timer else value_or_none(t.start, env), t.counting, t.date_start, tz
    )
    stop = value_or_none(t.stop, env)
    if stop is not None and stop > env.now:
        stop = None  # recorded after `now`: not stopped yet as of `now`
    stops[t.id] = stop
    pauses, paused_now = _pauses(value_or_none(t.pauses, env), env.now)
    entry: dict[str, Any] = {"id": t.id, "kind": "timer", "label": t.label.zh, "ref": t.ref}
    due: datetime | None = None
    kind = CALENDAR
    if t.due_before is not None:
        anchor = value_or_none(t.due_before[0], env)
        whole_day = isinstance(anchor, date) and not isinstance(anchor, datetime)
        if whole_day:
            anchor = datetime.combine(anchor, time(0), tz)
        if anchor is not None:
            by = t.due_before[1]
            due = _minus(anchor, by, tz)
            # Without a start, the window opens as long before the due time as `by` (one month).
            start = start or _minus(due, by, tz)
            if whole_day:
                # "one month before 31 March" is met by a notice any time on 28 February
                due = due.replace(hour=23, minute=59, second=59)
            entry["goal"] = f"{by} before {anchor.astimezone(tz).date().isoformat()}"
    else:
        option = _choose(t.goals, probes)
        if option is None:
            entry.update({"status": "pending", "goal": None, "started_at": _iso(start, tz)})
            return entry, Effects()
        kind = option.duration.kind
        entry["goal"] = str(option.duration)
        if start is not None:
            try:
                if t.counting == CIVIL:
                    due = civil_due_at(start, option.duration, tz, cal, t.last_day_off)
                else:
                    due = _due(cal, start, option.duration, pauses, tz)
            except CalendarNotCovered as exc:
                gaps.missing(f"timer:{t.id}", t.ref, t.calendar, exc, "due time unknown")
                entry.update(_unknown(t.calendar, start, stop, tz))
                return entry, Effects()
    paused = _overlap(pauses, start, min(stop or env.now, env.now), cal, False) if start else timedelta(0)
    entry.update(
        {
            "calendar": t.calendar,
            "started_at": _iso(start, tz),
            "due_at": _iso(due, tz),
            "stopped_at": _iso(stop, tz),
            "paused_seconds": int(paused // SECOND),
        }
    )
    entry.update(_status_fields(cal, kind, start, due, stop, env.now, pauses, tz, paused_now))
    uncovered = entry.pop("_uncovered", None)
    if uncovered is not None:
        gaps.missing(
            f"timer:{t.id}", t.ref, t.calendar, uncovered, f"{entry['status']}, but the time left or late is unknown"
        )
    gaps.used(f"timer:{t.id}", t.calendar, start, due, stop, env.now)
    pct = entry.pop("_percent", Decimal(0))
    total = entry.pop("_total", None)
    entry["warnings_reached"] = [w for w in t.warn_at if pct >= w]
    if t.warn_at and start is not None and due is not None and not pauses and uncovered is None:
        entry["warn_times"] = _warn_times(cal, kind, start, due, total, t.warn_at, tz)
    effects = Effects()
    if entry["status"] == "breached":
        effects = t.on_late if stop is not None and stop <= env.now else t.on_breach
    return entry, effects


def _warn_times(
    cal, kind: str, start: datetime, due: datetime, total: timedelta | None, levels: tuple[int, ...], tz
) -> dict[str, str]:
    """When each warning level is reached (percent → instant), in the timer's own measure of time, so a
    register can index a working-day timer's warnings without evaluating the case again. `total`: the
    goal's length already measured for the status (measured here only for a timer not started yet)."""
    out: dict[str, str] = {}
    working = kind in WORKING_KINDS and cal is not None
    try:
        total = _measure(cal, kind, start, due, []) if total is None else total
        for level in levels:
            share = total * level / 100
            at = cal.add_business_time(start, share) if working else start + share
            out[str(level)] = at.astimezone(tz).isoformat()
    except CalendarNotCovered:
        return {}
    return out


def _unknown(calendar: str | None, start: datetime | None, stop: datetime | None, tz) -> dict[str, Any]:
    """A timer whose due time the calendar cannot compute: no due time, no progress, no breach effects."""
    return {
        "calendar": calendar,
        "started_at": _iso(start, tz),
        "due_at": None,
        "stopped_at": _iso(stop, tz),
        "status": "unknown",
        "warnings_reached": [],
    }


def _minus(anchor: datetime, d: Duration, tz) -> datetime:
    if d.kind == MONTH:
        local = anchor.astimezone(tz)
        day = shift_months(local.date(), -int(d.amount))
        return local.replace(year=day.year, month=day.month, day=day.day)
    return anchor - d.amount


def _route(policy, spec: SlaSpec, r: Route, env: Env, probes, gaps: _Gaps, stops) -> tuple[dict[str, Any], bool]:
    tz = policy.timezone
    cal = spec.calendars.get(r.calendar) if r.calendar else None
    started = value_or_none(r.start, env)
    # A closed case stops the steps still open: they are reported closed, never chased.
    closed = value_or_none(r.stop, env) if r.stop is not None else stops.get(r.within) if r.within else None
    closed = closed if closed is not None and closed <= env.now else None
    steps = []
    current = None
    late = False
    for s in r.steps:
        done = value_or_none(s.done, env)
        option = _choose(s.budgets, probes)
        kind = option.duration.kind if option else CALENDAR
        try:
            if closed is not None and done is None:
                raise _Closed
            due = _add(cal, started, option.duration, tz) if started is not None and option is not None else None
        except CalendarNotCovered as exc:
            gaps.missing(f"route:{r.id}", r.ref, r.calendar, exc, f"step '{s.id}': due time unknown")
            due = None
            fields: dict[str, Any] = {"status": "unknown"}
        except _Closed:
            due, fields = None, {"status": "closed"}
        else:
            fields = _status_fields(cal, kind, started, due, done, env.now, [], tz)
            uncovered = fields.pop("_uncovered", None)
            if uncovered is not None:
                what = f"step '{s.id}': {fields['status']}, but the time left or late is unknown"
                gaps.missing(f"route:{r.id}", r.ref, r.calendar, uncovered, what)
            gaps.used(f"route:{r.id}", r.calendar, started, due, done, env.now)
        step = {
            "id": s.id,
            "label": s.label.zh,
            "role": s.role,
            "budget": str(option.duration) if option else None,
            "started_at": _iso(started, tz),
            "due_at": _iso(due, tz),
            "done_at": _iso(done, tz),
            **fields,
        }
        step.pop("_percent", None)
        step.pop("_total", None)
        steps.append(step)
        late = late or fields["status"] == "breached"
        if current is None and done is None and fields["status"] in ("running", "breached", "paused", "unknown"):
            current = s.id
        started = done if done is not None and started is not None else None
    statuses = [s["status"] for s in steps]
    overall = (
        "closed"
        if "closed" in statuses
        else "breached"
        if "breached" in statuses
        else "met"
        if statuses and all(s == "met" for s in statuses)
        else "unknown"
        if "unknown" in statuses
        else "running"
        if current
        else "pending"
    )
    entry = {
        "id": r.id,
        "kind": "route",
        "label": r.label.zh,
        "ref": r.ref,
        "status": overall,
        "current_step": current,
        "late_steps": [s["id"] for s in steps if s["status"] == "breached"],
        "steps": steps,
    }
    if closed is not None:
        entry["closed_at"] = _iso(closed, tz)
        late = False  # nothing left to chase
    return entry, late


class _Closed(Exception):
    """The case closed before this step was done."""


def _duty(policy, d: Duty, env: Env) -> dict[str, Any]:
    tz = policy.timezone
    local = env.now.astimezone(tz)
    period = datetime(local.year, local.month, 1, tzinfo=tz)
    due = period.replace(day=min(d.day, _months.monthrange(local.year, local.month)[1]))
    # Nothing recorded means not done this month: overdue once the day has passed.
    done = value_or_none(d.done, env)
    finished = done  # the moment to compare with the due time
    if isinstance(done, date) and not isinstance(done, datetime):
        # A date says "sometime that day": done on the due day itself is not "before" it.
        finished = datetime.combine(done, time(23, 59, 59), tz)
        done = datetime.combine(done, time(0), tz)
    if done is not None and done > env.now:
        done = None  # recorded in the future: not done yet as of `now`
    done_this_period = done is not None and done >= period
    if done_this_period:
        status = "met" if finished < due else "breached"
    else:
        status = "breached" if env.now >= due else "running"
    entry = {
        "id": d.id,
        "kind": "duty",
        "label": d.label.zh,
        "ref": d.ref,
        "period": f"{local.year:04d}-{local.month:02d}",
        "started_at": period.isoformat(),
        "due_at": due.isoformat(),
        "stopped_at": done.astimezone(tz).isoformat() if done_this_period else None,
        "status": status,
    }
    if status == "running":
        left = due - env.now
        entry["remaining"] = {"text": _amount(None, CALENDAR, left, env.now), "seconds": int(left // SECOND)}
    elif status == "breached" and not done_this_period:
        late = env.now - due
        entry["overdue"] = {"text": _amount(None, CALENDAR, late, due), "seconds": int(late // SECOND)}
    return entry
