"""Case events and their fold into facts: pure functions, no database."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from .db import RegisterError

# Each kind and what it does to the facts (nothing: it is on record only).
KINDS = {
    "opened": "the case's first facts",
    "facts-changed": "a JSON merge patch (RFC 7396) on the facts",
    "step-done": "a route step done: its `done` fact set to the time",
    "paused": "a pause opened in the timer's pause list",
    "resumed": "the open pause closed",
    "closed": "closed_at set; the case leaves the due list",
    "reopened": "closed_at removed; the case is open again",
    "penalty-confirmed": "the decision's charges posted to the penalty ledger",
    "breach": "a breach whose effects (forms with numbers, actions) were issued",
    "rejudged": "judged from now on under another pack version",
    "imported": "the case's first facts, from an import file",
}
OPENING = ("opened", "imported")


@dataclass(frozen=True)
class Event:
    seq: int
    kind: str
    payload: dict[str, Any]
    actor: str
    reason: str | None
    occurred_at: datetime
    recorded_at: datetime

    def to_dict(self, tz: tzinfo | None = None) -> dict[str, Any]:
        """As JSON; times shown in `tz` (the pack's) when given, else as stored (UTC)."""
        return {
            "seq": self.seq,
            "kind": self.kind,
            "payload": self.payload,
            "actor": self.actor,
            "reason": self.reason,
            "occurred_at": self.occurred_at.astimezone(tz).isoformat() if tz else self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.astimezone(tz).isoformat() if tz else self.recorded_at.isoformat(),
        }


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, null removes a key, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def set_path(facts: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """facts with `a.b.c` set (as a merge patch, so the other keys stay)."""
    patch: Any = value
    for part in reversed(path):
        patch = {part: patch}
    return merge_patch(facts, patch)


def fold(events: Iterable[Event]) -> dict[str, Any]:
    """The facts after the events, in order. Only the payloads count: events carry resolved changes."""
    facts: dict[str, Any] = {}
    for e in events:
        if e.kind in OPENING:
            facts = copy.deepcopy(e.payload.get("facts", {}))
        elif "patch" in e.payload:
            facts = merge_patch(facts, e.payload["patch"])
    return facts


def status_after(events: Iterable[Event]) -> str:
    status = "open"
    for e in events:
        if e.kind == "closed":
            status = "closed"
        elif e.kind == "reopened":
            status = "open"
    return status


def check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise RegisterError(f"unknown event kind '{kind}' (one of {', '.join(KINDS)})", code="bad-event")
