"""Rule evaluators: each takes a layer of compiled rules and answers which of them fire."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    from ..policy import Policy


class Backend(Protocol):
    def fire(self, layer: int, facts: dict[str, Any], findings: dict[str, Any], now: datetime) -> set[str]:
        """Ids of the rules of `layer` whose condition holds."""
        ...


def make_backend(engine: str, policy: Policy) -> Backend:
    if engine == "python":
        from .python_backend import PythonBackend

        return PythonBackend(policy)
    try:
        from .durable_adapter import DurableBackend
    except ImportError as exc:  # installed but broken (a C extension built for another Python)
        from ..errors import EngineUnavailable

        raise EngineUnavailable(f"durable-rules does not import on this Python: {exc}; use engine 'python'") from None
    return DurableBackend(policy)
