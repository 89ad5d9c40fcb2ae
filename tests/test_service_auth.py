"""The authorisation matrix: every operation of the OpenAPI document × every role × no token."""

from __future__ import annotations

import json
import re

import pytest

from tests.service_support import ROLES, ROOT, Service

# The least role each operation needs; None: anyone (health only). A new operation must be added here.
MATRIX: dict[tuple[str, str], str | None] = {
    ("GET", "/healthz"): None,
    ("GET", "/readyz"): None,
    ("GET", "/metrics"): "viewer",
    ("GET", "/openapi.json"): "viewer",
    ("GET", "/v1/packs"): "viewer",
    ("GET", "/v1/packs/{pack}"): "viewer",
    ("GET", "/v1/packs/{pack}/case-schema"): "viewer",
    ("POST", "/v1/packs/{pack}/evaluate"): "operator",
    ("GET", "/v1/tokens"): "admin",
    ("POST", "/v1/tokens"): "admin",
    ("DELETE", "/v1/tokens/{token_id}"): "admin",
    ("GET", "/v1/packs/{pack}/versions"): "viewer",
    ("POST", "/v1/packs/{pack}/versions"): "admin",
    ("POST", "/v1/packs/{pack}/cases"): "operator",
    ("GET", "/v1/packs/{pack}/cases/{number}"): "viewer",
    ("POST", "/v1/packs/{pack}/cases/{number}/events"): "operator",
    ("GET", "/v1/packs/{pack}/cases/{number}/decision"): "viewer",
    ("GET", "/v1/packs/{pack}/cases/{number}/history"): "viewer",
    ("GET", "/v1/packs/{pack}/cases/{number}/forms/{form_id}"): "operator",
    ("GET", "/v1/due"): "viewer",
    ("POST", "/v1/tick"): "operator",
    ("GET", "/v1/reports/monthly/{month}"): "viewer",
    ("GET", "/v1/ledger/{person}"): "viewer",
}
RANK = {role: i for i, role in enumerate(ROLES)}
PARAMS = {
    "pack": "pcb-manufacturer",
    "token_id": "not-a-token",
    "number": "000000",
    "form_id": "reminder",
    "month": "2024-09",
    "person": "P-1",
}
BODIES = {
    "/v1/tokens": {"name": "matrix", "role": "viewer"},
    "/v1/packs/{pack}/cases/{number}/events": {"kind": "closed", "based_on": 0},
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Service:
    return Service(tmp_path_factory.mktemp("matrix") / "register.db", packs=("pcb-manufacturer",))


def test_matrix_lists_every_operation() -> None:
    doc = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    documented = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert documented | {("GET", "/openapi.json")} == set(MATRIX)


@pytest.mark.parametrize("who", [None, *ROLES], ids=lambda r: r or "no-token")
@pytest.mark.parametrize("operation", list(MATRIX), ids=[f"{m} {p}" for m, p in MATRIX])
def test_who_may_call_what(service: Service, operation: tuple[str, str], who: str | None) -> None:
    method, template = operation
    path = re.sub(r"\{(\w+)\}", lambda m: PARAMS[m.group(1)], template)
    body = BODIES.get(template, {"facts": {}}) if method in ("POST", "PUT", "PATCH") else None
    response = service.call(method, path, who, json=body)
    needed = MATRIX[operation]
    if needed is None:
        assert response.status_code == 200, response.text
    elif who is None:
        assert response.status_code == 401, response.text
        assert response.json()["code"] == "unauthenticated"
    elif RANK[who] < RANK[needed]:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "forbidden"
    else:
        # allowed: whatever the answer, it is not an authorisation refusal (nor a server error)
        assert response.status_code not in (401, 403) and response.status_code < 500, response.text
