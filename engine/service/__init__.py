"""The HTTP service: a stateful wing over the core and the register (FastAPI on uvicorn)."""

from __future__ import annotations

from typing import Any

# FastAPI and prometheus-client are imported on first use: `zhidu` commands that do not serve start fast.
_EXPORTS = {"create_app": "app", "Settings": "settings", "TokenStore": "tokens"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(name)
