"""Shared fixtures: bundled and fixture packs, and the decision schema validator."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import jsonschema
import pytest

import engine

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
PACKS = FIXTURES / "packs"
NOW = "2024-09-10T10:00:00+08:00"
# The CLI caches parsed pack files; tests keep theirs out of the user's cache folder.
os.environ.setdefault("ZHIDU_CACHE_DIR", tempfile.mkdtemp(prefix="zhidu-test-cache-"))

# Why durable-rules cannot run here (Python 3.13+), or None. Tests that exist to exercise durable-rules
# skip with this reason; cross-checks compare the engines this Python has (engine.ENGINES).
DURABLE_MISSING = engine.durable_unavailable()
needs_durable = pytest.mark.skipif(DURABLE_MISSING is not None, reason=DURABLE_MISSING or "")


@pytest.fixture(scope="session")
def decision_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(engine.decision_schema())


@pytest.fixture(scope="session")
def minimal() -> engine.Policy:
    return engine.load_policy(PACKS / "minimal")


@pytest.fixture(scope="session")
def pcb() -> engine.Policy:
    return engine.load_policy("pcb-manufacturer")


def both(policy: engine.Policy, case: dict, now: str = NOW) -> dict:
    """Evaluate on every engine this Python has, require identical output, return the decision dict."""
    python = policy.evaluate(case, now, engine="python").to_dict()
    for name in engine.ENGINES:
        if name != "python":
            assert policy.evaluate(case, now, engine=name).to_dict() == python, name
    return python
