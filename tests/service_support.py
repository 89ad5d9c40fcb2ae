"""Fixtures for the HTTP service tests: one app over every bundled pack, a token per role."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the service extra (zhidu[serve]) is not installed")

from fastapi.testclient import TestClient  # noqa: E402

from engine.service.app import create_app  # noqa: E402
from engine.service.settings import Settings  # noqa: E402
from engine.source import read_document  # noqa: E402

ROLES = ("viewer", "operator", "admin")
ROOT = Path(__file__).resolve().parent.parent


class Service:
    """A TestClient and a token for each role; `call` sends a request as a role (None: no token)."""

    def __init__(self, db: Path, **settings: object) -> None:
        self.app = create_app(Settings(db=str(db), token_cache_seconds=0, **settings))  # type: ignore[arg-type]
        self.client = TestClient(self.app, raise_server_exceptions=False)
        store = self.app.state.tokens
        self.tokens = {
            role: store.create(f"test-{role}", role, actor="tests", now=datetime.now(UTC))[1] for role in ROLES
        }

    def headers(self, role: str | None, **extra: str) -> dict[str, str]:
        out = dict(extra)
        if role is not None:
            out["Authorization"] = f"Bearer {self.tokens[role]}"
        return out

    def call(self, method: str, path: str, role: str | None = "admin", **kwargs: object):
        headers = self.headers(role, **kwargs.pop("headers", {}))  # type: ignore[arg-type]
        return self.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]


def example_cases() -> list[tuple[str, Path]]:
    """(pack, example case file) for every bundled pack's examples/."""
    return [(p.parent.parent.name, p) for p in sorted(ROOT.glob("policies/*/examples/*.yaml"))]


def case_json(path: Path) -> str:
    data, _, diags = read_document(path)
    assert not diags, diags
    # YAML numbers with decimals load as Decimal: written back as JSON numbers, as a client would send them
    return json.dumps(data, ensure_ascii=False, default=lambda v: float(v) if isinstance(v, Decimal) else str(v))
