"""Which rule engines run on this Python: the pure-Python evaluator everywhere, durable-rules where it imports."""

from __future__ import annotations

import functools
import importlib.util
import sys

from .errors import EngineUnavailable, EvaluationError

# Every engine zhidu knows, in the order `zhidu test` runs them; the first of ENGINES is the reference.
ALL_ENGINES = ("durable", "python")
# The pure-Python evaluator is the faster of the two one case at a time (docs/performance.md) and runs on
# every supported Python; durable-rules is the cross-check.
DEFAULT_ENGINE = "python"


def python_version() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


@functools.cache
def durable_unavailable() -> str | None:
    """Why durable-rules cannot run here, or None when it can.

    durable-rules 2.0.28, its last release, does not import on Python 3.13+ and is not installed there
    (pyproject's environment marker); elsewhere it may still be missing (a C extension that did not build)."""
    if importlib.util.find_spec("durable") is None:
        if sys.version_info >= (3, 13):
            return f"durable-rules is not available on Python {python_version()}"
        return f"durable-rules is not installed on this Python ({python_version()})"
    if sys.version_info < (3, 13):
        # Installed where it works: not imported here, which would cost every `import zhidu` its C
        # extension (make_backend reports a build that fails to import, at first use).
        return None
    try:
        import durable.engine  # noqa: F401 - the import itself is the check
    except Exception as exc:  # noqa: BLE001 - any failure to load the C extension means "not available"
        return f"durable-rules is not available on Python {python_version()} ({type(exc).__name__}: {exc})"
    return None


def available_engines() -> tuple[str, ...]:
    return tuple(name for name in ALL_ENGINES if name != "durable" or durable_unavailable() is None)


def check_engine(name: str) -> None:
    """Refuse an engine that does not exist, or that cannot run on this Python, with one clear message."""
    if name not in ALL_ENGINES:
        raise EvaluationError(f"unknown engine '{name}' (choose {' or '.join(ALL_ENGINES)})", code="unknown-engine")
    if name == "durable" and (reason := durable_unavailable()):
        raise EngineUnavailable(f"{reason}: use engine 'python'")


# The engines that run here: ("durable", "python") where durable-rules imports, else ("python",).
ENGINES = available_engines()
