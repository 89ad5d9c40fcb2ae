"""From a decision to the register's index: the next instants of a case and the breaches it shows (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..durations import CALENDAR, parse_duration
from ..errors import ZhiduError


@dataclass(frozen=True)
class Deadline:
    item: str  # timer:<id> or route:<id>/<step>
    kind: str
    label: str
    role: str | None
    warn_at: datetime | None  # the next warning not yet reached (calendar-time timers)
    due_at: datetime


@dataclass(frozen=True)
class Breach:
    item: str
    due_at: datetime
    source: str  # the decision trace entry that carries the effects


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def deadlines(decision: dict[str, Any], warn_levels: dict[str, tuple[int, ...]]) -> list[Deadline]:
    """Running timers and route steps with their due time (and next warning); stopped ones are left out.
    Duties are the company's, not the case's: the due list does not repeat them for every case."""
    out: list[Deadline] = []
    for t in decision.get("timers", ()):
        if t["kind"] == "timer" and t.get("stopped_at") is None and t.get("due_at"):
            if t["status"] not in ("running", "paused", "breached"):
                continue
            out.append(
                Deadline(
                    f"timer:{t['id']}",
                    "timer",
                    t["label"],
                    None,
                    _warning(t, warn_levels.get(t["id"], ())),
                    datetime.fromisoformat(t["due_at"]),
                )
            )
        elif t["kind"] == "route":
            for s in t.get("steps", ()):
                if s.get("done_at") is None and s.get("due_at") and s["status"] in ("running", "breached"):
                    out.append(
                        Deadline(
                            f"route:{t['id']}/{s['id']}",
                            "step",
                            f"{t['label']} · {s['label']}",
                            s.get("role"),
                            None,
                            datetime.fromisoformat(s["due_at"]),
                        )
                    )
    return out


def _warning(t: dict[str, Any], levels: tuple[int, ...]) -> datetime | None:
    """The first warning threshold not yet reached: the instant the decision gives (`warn_times`), else, for
    timers in plain calendar time without pauses, interpolated between start and due time."""
    goal = t.get("goal")
    warn = [w for w in levels if w not in t.get("warnings_reached", ())]
    if warn and t.get("warn_times", {}).get(str(min(warn))):
        # the core measured it in the timer's own time (working time for working-day timers)
        return _when(t["warn_times"][str(min(warn))])
    if not warn or not goal or t.get("paused_seconds") or " before " in goal:
        return None
    try:
        if parse_duration(goal).kind != CALENDAR:
            return None
    except ZhiduError:
        return None  # a goal shown as text, not a duration (e.g. "1 month before …"): no warning instant
    start, due = _when(t.get("started_at")), _when(t.get("due_at"))
    if start is None or due is None:
        return None
    return start + (due - start) * min(warn) / 100


def breaches(decision: dict[str, Any]) -> list[Breach]:
    """Breached timers and late route steps, each once by its due time."""
    out: list[Breach] = []
    for t in decision.get("timers", ()):
        if t["kind"] == "timer" and t["status"] == "breached" and t.get("due_at"):
            out.append(Breach(f"timer:{t['id']}", datetime.fromisoformat(t["due_at"]), f"timer:{t['id']}"))
        elif t["kind"] == "route":
            for s in t.get("steps", ()):
                if s["status"] == "breached" and s.get("due_at"):
                    out.append(
                        Breach(f"route:{t['id']}/{s['id']}", datetime.fromisoformat(s["due_at"]), f"route:{t['id']}")
                    )
    return out


def effects_of(decision: dict[str, Any], source: str) -> tuple[list[str], list[str]]:
    """The forms and actions the decision's trace attributes to a timer or route."""
    forms: list[str] = []
    actions: list[str] = []
    for entry in decision.get("trace", ()):
        if entry["rule"] == source:
            for e in entry["effects"]:
                if e["kind"] == "form" and e["id"] not in forms:
                    forms.append(e["id"])
                elif e["kind"] == "action" and e["id"] not in actions:
                    actions.append(e["id"])
    return forms, actions


def next_at(rows: list[Deadline], now: datetime) -> datetime | None:
    """The earliest instant after `now` at which the case's decision will change (a warning or a due time)."""
    times = [t for r in rows for t in (r.warn_at, r.due_at) if t is not None and t > now]
    return min(times, default=None)
