"""The pure-Python evaluator: runs each rule's compiled closure; the oracle for the durable adapter."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..expr.pyeval import Env

if TYPE_CHECKING:
    from ..policy import Policy


class PythonBackend:
    def __init__(self, policy: Policy):
        self.policy = policy
        self.layers = [[(r.id, r.test) for r in layer] for layer in policy.layers]

    def fire(self, layer: int, facts: dict[str, Any], findings: dict[str, Any], now: datetime) -> set[str]:
        env = Env(facts, findings, now, self.policy.timezone)
        return {rid for rid, test in self.layers[layer] if test(env) is True}
