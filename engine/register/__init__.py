"""The case register: a stateful wing around the pure core (events, decisions on record, numbers, due list)."""

from __future__ import annotations

from typing import Any

# SQLAlchemy is imported on first use, so `zhidu` commands that do not touch the register start fast.
_EXPORTS = {
    "Register": "store",
    "CaseView": "store",
    "ConflictError": "db",
    "RegisterError": "db",
    "default_path": "db",
    "resolve_url": "db",
    "Event": "events",
    "merge_patch": "events",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
