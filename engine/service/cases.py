"""Register routes: publish pack versions, register cases, append events, read, history, as-of, print, due."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse, Response

from ..errors import Diagnostic, Location, json_path
from ..facts import DATETIME_PATTERN, parse_datetime
from ..register.history import history
from ..register.store import CaseView, Register
from .auth import Admin, Operator, Viewer
from .body import BODY, read_json, require_mapping, shape_errors
from .catalog import Catalog
from .openapi import json_body, schema_response
from .printing import render_case_form
from .problems import Problem
from .tokens import TokenRecord

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PackId = Annotated[str, Path(description="a pack id, as GET /v1/packs lists them", max_length=100)]
Number = Annotated[str, Path(description="the case number the register gave", max_length=100)]
Instant = Annotated[str, Field(pattern=DATETIME_PATTERN, description="ISO 8601 with offset")]


class EventIn(BaseModel):
    """One event on a case; `based_on` is the case version it was written against (409 when it moved on)."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal[
        "facts-changed", "step-done", "paused", "resumed", "closed", "reopened", "penalty-confirmed", "rejudged"
    ]
    based_on: int = Field(ge=0, description="the `version` of the case this change was written against")
    patch: dict[str, Any] | None = Field(None, description="facts-changed: a JSON merge patch (RFC 7396) of the facts")
    step: str | None = Field(None, max_length=100, description="step-done: the route step")
    timer: str | None = Field(None, max_length=100, description="paused/resumed: the timer")
    version: str | None = Field(None, max_length=64, description="rejudged: the content hash of the pack version")
    occurred_at: Instant | None = Field(None, description="when it happened (default: now)")
    reason: str | None = Field(None, max_length=2000, description="why (shown in the history)")


class CaseOut(BaseModel):
    """A registered case: its number, pack version, `version` (events so far), status, facts and decision."""

    number: str
    pack: str
    pack_version: str
    content_hash: str
    version: int
    status: Literal["open", "closed"]
    external_id: str | None
    facts: dict[str, Any]
    decision: dict[str, Any] | None


class HistoryItem(BaseModel):
    event: dict[str, Any]
    summary: list[str]
    changes: list[str]


class DueItem(BaseModel):
    number: str
    pack: str
    item: str
    label: str | None
    role: str | None
    due_at: str
    state: Literal["breached", "warning", "due-soon"]


class PackVersion(BaseModel):
    pack: str
    version: str
    content_hash: str
    effective_from: str | None
    published_at: str
    published_by: str


class Published(BaseModel):
    pack: str
    version: str
    content_hash: str
    effective_from: str | None
    new: bool


class TickResult(BaseModel):
    evaluated: int
    breaches_issued: int


def actor_of(token: TokenRecord) -> str:
    """How a write through the API is attributed in the case history: the token's name and id."""
    return f"{token.name} (token {token.id})"


def instant(value: str | None, what: str) -> datetime:
    """A query-string instant (ISO 8601 with offset); None is the service's clock (a wing may read it)."""
    if value is None:
        return datetime.now(UTC)
    import re
    from zoneinfo import ZoneInfo

    try:
        if not re.match(DATETIME_PATTERN, value):
            raise ValueError("write it as 2024-09-10T10:00:00+08:00")
        return parse_datetime(value, ZoneInfo("Asia/Shanghai"))
    except ValueError as exc:
        diag = Diagnostic(Location("query", 0, 0, json_path([what])), "bad-instant", f"{what}: {value!r}: {exc}")
        raise Problem(422, "bad-instant", diag.message, [diag]) from None


def _view(view: CaseView) -> CaseOut:
    return CaseOut(**view.to_dict())


def add_routes(app: FastAPI, register: Register) -> None:
    catalog: Catalog = app.state.catalog

    def served(pack: str) -> str:
        return catalog.get(pack).policy.id  # 404 for a pack this service does not serve

    @app.get("/v1/packs/{pack}/versions", tags=["register"])
    def list_versions(pack: PackId, _: Viewer) -> list[PackVersion]:
        """The versions of the pack published to the register."""
        return [PackVersion(**v) for v in register.versions(served(pack))]

    @app.post("/v1/packs/{pack}/versions", tags=["register"], status_code=201)
    def publish(pack: PackId, who: Admin) -> Published:
        """Publish the pack's files as served to the register (the same files twice: the same version)."""
        return Published(**register.publish(catalog.get(pack).ref, datetime.now(UTC), actor=actor_of(who)))

    @app.post(
        "/v1/packs/{pack}/cases",
        tags=["register"],
        status_code=201,
        openapi_extra=json_body({"$ref": "#/components/schemas/CaseDocument"}, "the case's first facts"),
    )
    async def register_case(
        pack: PackId,
        request: Request,
        who: Operator,
        occurred_at: Annotated[str | None, Query(description="when it was received (default: now)")] = None,
        reason: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> CaseOut:
        """Register a case: numbered now, judged by the pack version in force on its received date."""
        pack_id = served(pack)
        body = await read_json(request, app.state.settings.max_body)
        case, smap = require_mapping(body.data, "a case"), body.smap
        occurred = instant(occurred_at, "occurred_at") if occurred_at else None
        from starlette.concurrency import run_in_threadpool

        view = await run_in_threadpool(
            register.open_case,
            pack_id,
            case,
            datetime.now(UTC),
            actor=actor_of(who),
            reason=reason,
            occurred_at=occurred,
            smap=smap,
            filename=BODY,
        )
        return _view(view)

    @app.get("/v1/packs/{pack}/cases/{number}", tags=["register"])
    def read_case(
        pack: PackId,
        number: Number,
        _: Viewer,
        as_of: Annotated[str | None, Query(description="the case as it stood then (events recorded by then)")] = None,
    ) -> CaseOut:
        """A case with its facts and current decision; with `as_of`, replayed as it stood at that time."""
        pack_id = served(pack)
        if as_of is not None:
            return _view(register.as_of(number, instant(as_of, "as_of"), pack_id=pack_id))
        return _view(register.get(number, pack_id=pack_id))

    @app.post(
        "/v1/packs/{pack}/cases/{number}/events",
        tags=["register"],
        status_code=201,
        openapi_extra=json_body(
            EventIn.model_json_schema(ref_template="#/components/schemas/{model}"),
            "the event and the version it is based on",
        ),
    )
    async def append_event(pack: PackId, number: Number, request: Request, who: Operator) -> CaseOut:
        """Record what happened; 409 when the case moved on since `based_on` (read it again and retry)."""
        pack_id = served(pack)
        body = await read_json(request, app.state.settings.max_body)
        smap = body.smap
        try:
            event = EventIn.model_validate(require_mapping(body.data, "an event"))
        except ValidationError as exc:
            raise shape_errors(exc) from None
        occurred = instant(event.occurred_at, "occurred_at") if event.occurred_at else None
        from starlette.concurrency import run_in_threadpool

        view = await run_in_threadpool(
            register.append,
            number,
            event.kind,
            datetime.now(UTC),
            based_on=event.based_on,
            patch=event.patch,
            step=event.step,
            timer=event.timer,
            version=event.version,
            occurred_at=occurred,
            actor=actor_of(who),
            reason=event.reason,
            pack_id=pack_id,
            smap=smap,
            filename=BODY,
        )
        return _view(view)

    @app.get(
        "/v1/packs/{pack}/cases/{number}/decision",
        tags=["register"],
        responses=schema_response({"$ref": "#/components/schemas/Decision"}),
    )
    def current_decision(pack: PackId, number: Number, _: Viewer) -> JSONResponse:
        """The decision on record after the case's last event."""
        view = register.get(number, pack_id=served(pack))
        if view.decision is None:
            raise Problem(404, "no-decision", f"case {number} has no decision on record")
        return JSONResponse(view.decision)

    @app.get("/v1/packs/{pack}/cases/{number}/history", tags=["register"])
    def case_history(pack: PackId, number: Number, _: Viewer) -> list[HistoryItem]:
        """Every event (who, when, why) and what changed in the decision after it."""
        return [HistoryItem(**h) for h in history(register, number, served(pack))]

    @app.get(
        "/v1/packs/{pack}/cases/{number}/forms/{form_id}",
        tags=["register"],
        response_class=Response,
        responses={
            200: {
                "description": "the filled-in form",
                "content": {
                    "text/html": {"schema": {"type": "string"}},
                    "text/markdown": {"schema": {"type": "string"}},
                },
            }
        },
    )
    def print_form(
        pack: PackId,
        number: Number,
        form_id: Annotated[str, Path(max_length=100)],
        _: Operator,
        format: Annotated[Literal["html", "md"], Query(description="html for print, or Markdown")] = "html",  # noqa: A002
    ) -> Response:
        """The case's form filled in from its facts and current decision (`zhidu render`)."""
        text = render_case_form(register, register.get(number, pack_id=served(pack)), form_id, format)
        media = "text/html" if format == "html" else "text/markdown"
        return Response(text, media_type=f"{media}; charset=utf-8")

    @app.get("/v1/due", tags=["register"])
    def due(
        _: Viewer,
        at: Annotated[str | None, Query(description="as of (default: now)")] = None,
        within: Annotated[
            str | None, Query(max_length=20, description="also what comes due within (2wd, 3d, 8h)")
        ] = None,
        pack: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[DueItem]:
        """Warning and breached timers of open cases (from the index; nothing is re-evaluated)."""
        from ..errors import ZhiduError
        from ..register.due import horizon

        moment = instant(at, "at")
        until = None
        if within:
            try:
                until = horizon(register, within)
            except Exception as exc:  # click.BadParameter from the duration parser: a bad query value
                if isinstance(exc, ZhiduError) or type(exc).__name__ == "BadParameter":
                    diag = Diagnostic(Location("query", 0, 0, "$.within"), "bad-duration", str(exc))
                    raise Problem(422, "bad-duration", diag.message, [diag]) from None
                raise
        return [DueItem(**d) for d in register.due(moment, within=until, pack_id=served(pack) if pack else None)]

    @app.get(
        "/v1/reports/monthly/{month}",
        tags=["register"],
        response_class=Response,
        responses={
            200: {
                "description": "客户投诉案件统计表 for the month",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "text/markdown": {"schema": {"type": "string"}},
                    "text/html": {"schema": {"type": "string"}},
                    "text/csv": {"schema": {"type": "string"}},
                    XLSX: {"schema": {"type": "string", "format": "binary"}},
                },
            }
        },
    )
    def monthly_report(
        month: Annotated[str, Path(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
        _: Viewer,
        pack: Annotated[str | None, Query(max_length=100)] = None,
        format: Annotated[Literal["json", "md", "html", "csv", "xlsx"], Query()] = "json",  # noqa: A002
    ) -> Response:
        """Cases closed in the month by category, department, on time or late (`zhidu report monthly`)."""
        from ..register.report import monthly, render

        out = render(monthly(register, month, served(pack) if pack else None), format)
        media = {"json": "application/json", "md": "text/markdown", "html": "text/html", "csv": "text/csv"}
        if isinstance(out, bytes):
            return Response(out, media_type=XLSX)
        return Response(out, media_type=media[format] + ("" if format == "json" else "; charset=utf-8"))

    @app.get("/v1/ledger/{person}", tags=["register"], responses=schema_response({"type": "object"}))
    def ledger(
        person: Annotated[str, Path(max_length=100)],
        _: Viewer,
        month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="up to this month")] = None,
    ) -> JSONResponse:
        """A person's penalty charges and monthly deductions against the cap (`zhidu ledger show`)."""
        from ..register.ledger import statement

        return JSONResponse(statement(register, person, month))

    @app.post("/v1/tick", tags=["register"])
    def tick(who: Operator, at: Annotated[str | None, Query(description="as of (default: now)")] = None) -> TickResult:
        """Re-evaluate open cases whose next instant has passed; breach effects are issued once."""
        return TickResult(**register.tick(instant(at, "at"), actor=actor_of(who)))
