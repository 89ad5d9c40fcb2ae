"""The OpenAPI 3.1 document: FastAPI's, plus the Decision schema the engine ships and problem+json answers."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from ..decision import decision_schema
from .problems import MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
_DESCRIPTIONS = {
    400: "The body is not JSON text (problem+json, code json-syntax or encoding)",
    401: "No token, or an unknown or revoked one",
    403: "The token's role may not do this",
    404: "No such pack, case or token",
    409: "The case changed since the version this change was based on",
    413: "The body is larger than the service's limit (1 MiB unless `zhidu serve --max-body` says otherwise)",
    415: "The body is not application/json",
    422: "The request or the case is invalid: located errors, as the CLI prints them",
    503: "Not ready: the database does not answer",
}
PROBLEM_STATUSES: dict[int | str, dict[str, Any]] = {
    status: {"description": text, "content": {MEDIA_TYPE: {"schema": PROBLEM_REF}}}
    for status, text in _DESCRIPTIONS.items()
}
_READ = (401, 403, 404, 422)
_WRITE = (400, 401, 403, 404, 413, 415, 422)

# A case document in general; each pack's own schema is at GET /v1/packs/{pack}/case-schema.
CASE_DOCUMENT = {
    "type": "object",
    "description": "A case: its facts in the pack's vocabulary (docs/case-vocabulary.md).",
    "properties": {
        "case_id": {"type": "string"},
        "now": {"type": "string", "description": "evaluation time, ISO 8601 with offset"},
        "facts": {"type": "object"},
    },
    "required": ["facts"],
}


def json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """openapi_extra for a route that reads its JSON body itself (to keep line and column for errors)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def schema_response(schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def _rewrite_refs(value: Any, pattern: str, replacement: str) -> Any:
    if isinstance(value, dict):
        return {
            k: (
                re.sub(pattern, replacement, v)
                if k == "$ref" and isinstance(v, str)
                else _rewrite_refs(v, pattern, replacement)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(v, pattern, replacement) for v in value]
    return value


def decision_components() -> dict[str, Any]:
    """decision.schema.json split into components: Decision, and Decision_<def> for each of its $defs."""
    schema = _rewrite_refs(decision_schema(), r"^#/\$defs/", "#/components/schemas/Decision_")
    defs = schema.pop("$defs", {})
    for key in ("$schema", "$id"):
        schema.pop(key, None)
    out = {"Decision": schema}
    out.update({f"Decision_{name}": value for name, value in defs.items()})
    return out


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """Built once per process; every operation lists the problem+json answers it can give."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas.update(decision_components())
    schemas["CaseDocument"] = CASE_DOCUMENT
    from .models import ProblemDetails

    problem = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(problem.pop("$defs", {}))
    schemas["ProblemDetails"] = problem
    for path_item in doc.get("paths", {}).values():
        for method, operation in path_item.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)  # FastAPI's own validation shape: replaced by problem+json
            if not operation.get("security"):
                if "422" not in responses and operation.get("parameters"):
                    responses["422"] = PROBLEM_STATUSES[422]
                continue
            for status in _WRITE if method in ("post", "put", "patch") else _READ:
                responses.setdefault(str(status), PROBLEM_STATUSES[status])
    app.openapi_schema = doc
    return doc
