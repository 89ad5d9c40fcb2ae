"""The ASGI application: routes of the stateless API, health, metrics and tokens; `create_app` builds one per worker."""

import json
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..decision import Decision
from ..errors import CaseError
from ..evaluate import evaluate_case
from ..policy import ENGINES
from ..register.db import connect
from ..register.store import Register
from ..source import SourceMap
from . import problems
from .auth import Admin, Authenticator, Operator, Viewer
from .body import BODY, read_json, require_mapping, shape_errors
from .cases import add_routes
from .catalog import Catalog
from .metrics import EVALUATIONS, MetricsMiddleware, exposition
from .models import CreatedToken, Health, NewToken, PackDescription, PackSummary, Ready, TokenInfo
from .openapi import PROBLEM_STATUSES, build_openapi, json_body, schema_response
from .settings import Settings
from .tokens import TokenStore

PackId = Annotated[str, Path(description="a pack id, as GET /v1/packs lists them", max_length=100)]
EngineName = Literal["python", "durable"]


def create_app(settings: Settings | None = None) -> FastAPI:
    """One application: packs compiled now (once per worker), the token store opened, routes bound."""
    settings = settings or Settings.from_env()
    if settings.engine not in ENGINES:
        raise ValueError(f"unknown engine {settings.engine!r}")
    app = FastAPI(
        title="zhidu",
        version=__version__,
        summary="Evaluate after-sales and complaint cases against YAML policy packs",
        description="Every answer but /healthz and /readyz needs a bearer token (docs/service.md).",
        openapi_url=None,  # served below, behind a token like everything else but health
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.catalog = Catalog(settings.packs)
    engine = connect(settings.db)
    app.state.db = engine
    app.state.register = Register(settings.db, engine=settings.engine)
    app.state.tokens = TokenStore(engine)
    app.state.auth = Authenticator(app.state.tokens, settings.token_cache_seconds)
    app.add_middleware(MetricsMiddleware)
    problems.install(app)
    _stateless_routes(app, settings)
    _token_routes(app)
    add_routes(app, app.state.register)
    from .console.routes import add_console

    add_console(app, app.state.register)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_document(_: Viewer) -> JSONResponse:
        return JSONResponse(app.openapi())

    return app


def _stateless_routes(app: FastAPI, settings: Settings) -> None:
    catalog: Catalog = app.state.catalog

    @app.get("/healthz", tags=["health"])
    def healthz() -> Health:
        """The process answers (no token needed)."""
        return Health(status="ok")

    @app.get("/readyz", tags=["health"], responses={503: PROBLEM_STATUSES[503]})
    def readyz() -> Ready:
        """Packs compiled and the database reachable (no token needed)."""
        import sqlalchemy as sa

        try:
            with app.state.db.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
        except sa.exc.SQLAlchemyError as exc:
            raise problems.Problem(503, "database-unavailable", f"the database does not answer: {exc.orig}") from None
        return Ready(status="ready", packs=len(catalog.ids()), database="ok")

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus text"}},
    )
    def metrics(_: Viewer) -> Response:
        """Prometheus text format: requests by route and status, latencies, evaluations by pack and engine."""
        body, content_type = exposition()
        return Response(body, media_type=content_type)

    @app.get("/v1/packs", tags=["packs"])
    def list_packs(_: Viewer) -> list[PackSummary]:
        """The packs this service evaluates against."""
        return [PackSummary(**catalog.get(p).summary) for p in catalog.ids()]

    @app.get("/v1/packs/{pack}", tags=["packs"])
    def describe_pack(pack: PackId, _: Viewer) -> PackDescription:
        """Rules, tables, timers, routes, duties, authority, penalties and forms, each with its clause and location."""
        return PackDescription(**catalog.get(pack).description)

    @app.get("/v1/packs/{pack}/case-schema", tags=["packs"], responses=schema_response({"type": "object"}))
    def case_schema(pack: PackId, _: Viewer) -> JSONResponse:
        """The JSON Schema of a case for this pack (`zhidu schema case PACK`)."""
        return JSONResponse(catalog.policy(pack).case_schema())

    @app.post(
        "/v1/packs/{pack}/evaluate",
        tags=["evaluate"],
        responses=schema_response({"$ref": "#/components/schemas/Decision"}),
        openapi_extra=json_body(
            {"$ref": "#/components/schemas/CaseDocument"}, "the case, as `zhidu evaluate` reads it"
        ),
    )
    async def evaluate(
        pack: PackId,
        request: Request,
        _: Operator,
        now: Annotated[
            str | None,
            Query(
                description="evaluation time, ISO 8601 with offset (default: the case's `now`, else the current time)"
            ),
        ] = None,
        engine: Annotated[EngineName | None, Query(description=f"rules backend (default: {settings.engine})")] = None,
        strict_calendar: Annotated[
            bool, Query(description="refuse a decision whose timer needs a year without holiday data")
        ] = False,
    ) -> Response:
        """Decide one case: the same Decision JSON as `zhidu evaluate` (stateless, nothing is stored)."""
        policy = catalog.policy(pack)
        body = await read_json(request, settings.max_body)
        case = require_mapping(body.data, "a case")
        chosen = engine or settings.engine
        moment: datetime | str | None = now
        if moment is None and case.get("now") is None:
            moment = datetime.now(UTC).astimezone(policy.timezone)

        def run(smap: SourceMap | None) -> Decision:
            return evaluate_case(
                policy, case, moment, engine=chosen, smap=smap, filename=BODY, strict_calendar=strict_calendar
            )

        # Evaluation is short and CPU-bound: run inline (a thread hop would cost more than it saves).
        try:
            try:
                decision = run(None)
            except CaseError:
                run(body.smap)  # the same refusal, now with the line and column of each mistake
                raise
        except Exception:
            EVALUATIONS.labels(policy.id, chosen, "refused").inc()
            raise
        EVALUATIONS.labels(policy.id, chosen, "decided").inc()
        return Response(decision.to_json(indent=None), media_type="application/json")


def _token_routes(app: FastAPI) -> None:
    store: TokenStore = app.state.tokens

    @app.get("/v1/tokens", tags=["tokens"])
    def list_tokens(_: Admin) -> list[TokenInfo]:
        """Every token ever created (never the token text), revoked ones with their revocation time."""
        return [TokenInfo(**t.to_dict()) for t in store.list()]

    @app.post(
        "/v1/tokens",
        tags=["tokens"],
        status_code=201,
        openapi_extra=json_body(NewToken.model_json_schema(), "the token's name and role"),
    )
    async def create_token(request: Request, who: Admin) -> CreatedToken:
        """A new token; its text is in this answer only."""
        # The body is read here, bounded like every other (FastAPI would read any size before checking).
        body = await read_json(request, app.state.settings.max_body)
        try:
            new = NewToken.model_validate(require_mapping(body.data, "a token request"))
        except ValidationError as exc:
            raise shape_errors(exc) from None
        record, token = store.create(new.name, new.role, actor=f"token:{who.id}", now=datetime.now(UTC))
        return CreatedToken(**record.to_dict(), token=token)

    @app.delete("/v1/tokens/{token_id}", tags=["tokens"])
    def revoke_token(token_id: Annotated[str, Path(max_length=32)], _: Admin) -> TokenInfo:
        """Revoke a token (it stops working within the token cache time, 5 s by default)."""
        return TokenInfo(**store.revoke(token_id, now=datetime.now(UTC)).to_dict())


def dump_openapi(app: FastAPI) -> str:
    """The OpenAPI document as committed in docs/openapi.json."""
    return json.dumps(app.openapi(), ensure_ascii=False, indent=2, sort_keys=False) + "\n"


__all__ = ["create_app", "dump_openapi"]
