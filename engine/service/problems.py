"""Errors as RFC 9457 problem+json: the same codes and locations as the CLI, one place mapping them to statuses."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from ..errors import CaseError, Diagnostic, EvaluationError, PolicyError, ZhiduError, json_path

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://zhidu.invalid/problems/"
log = logging.getLogger("zhidu.service")


class Problem(Exception):
    """An error answer: HTTP status, a stable code, a human detail, and located diagnostics when there are any."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        errors: Iterable[Diagnostic] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})

    def body(self, instance: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": TYPE_BASE + self.code,
            "title": HTTPStatus(self.status).phrase,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "errors": [d.to_dict() for d in self.errors],
        }
        if instance:
            out["instance"] = instance
        return out

    def response(self, instance: str | None = None) -> Response:
        text = json.dumps(self.body(instance), ensure_ascii=False)
        return Response(text, status_code=self.status, media_type=MEDIA_TYPE, headers=self.headers)


def status_of(exc: ZhiduError) -> int:
    """The HTTP status of an engine or register error (the CLI's exit code, in HTTP terms)."""
    code = exc.code or ""
    if code.endswith("not-found") or code in ("no-case", "unknown-form", "no-person"):
        return 404
    if code == "database":
        return 503
    if code == "conflict" or type(exc).__name__ == "ConflictError":
        return 409
    if isinstance(exc, CaseError | EvaluationError):
        return 422
    if isinstance(exc, PolicyError):
        return 422
    return 422


def from_error(exc: ZhiduError) -> Problem:
    detail = exc.diagnostics[0].message if len(exc.diagnostics) == 1 else str(exc)
    return Problem(status_of(exc), exc.code, detail or exc.code, exc.diagnostics)


def _validation_problem(exc: RequestValidationError) -> Problem:
    """FastAPI's own parameter checks, located like every other error: where in the request, and the JSON path."""
    diags = []
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        where = str(loc[0]) if loc else "request"
        diags.append(Diagnostic(_location(where, loc[1:]), "invalid-" + where, str(err.get("msg", "invalid"))))
    detail = diags[0].message if len(diags) == 1 else f"{len(diags)} problems in the request"
    return Problem(422, "invalid-request", detail, diags)


def _location(where: str, parts: list[Any]):
    from ..errors import Location

    return Location(where, 0, 0, json_path(parts))


def install(app: FastAPI) -> None:
    """Every error the service answers with is problem+json; nothing from input reaches a 500."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return exc.response(request.url.path)

    @app.exception_handler(ZhiduError)
    async def _zhidu(request: Request, exc: ZhiduError) -> Response:
        return from_error(exc).response(request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return _validation_problem(exc).response(request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return Problem(exc.status_code, code, detail, headers=exc.headers).response(request.url.path)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        # A bug, not bad input: log it with its traceback for the operator, answer without internals.
        log.exception("internal error on %s %s", request.method, request.url.path)
        return Problem(500, "internal", f"internal error ({type(exc).__name__}); see the server log").response(
            request.url.path
        )
