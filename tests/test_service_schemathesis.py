"""Schemathesis over every operation of the OpenAPI document: no server errors, answers match their schemas."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from tests.service_support import Service

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Bounded so the whole run takes about a minute on a shared 2-core machine.
EXAMPLES = 25


# Built at collection: schemathesis's lazy fixture loader does not work with pytest 9 (request.node._nodeid).
_folder = tempfile.TemporaryDirectory(prefix="zhidu-schemathesis-")
SERVICE = Service(Path(_folder.name) / "register.db", packs=("pcb-manufacturer", "field-service"))
schema = schemathesis.openapi.from_asgi("/openapi.json", SERVICE.app, headers=SERVICE.headers("admin"))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms(case) -> None:
    # The admin token reaches every operation; the authorisation matrix checks the other roles.
    case.call_and_validate(headers=SERVICE.headers("admin"), checks=CHECKS)
