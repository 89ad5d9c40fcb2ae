"""Console pages: sign-in with a service token, due board, case page with events, pack explorer, printing."""

import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from ...errors import ZhiduError
from ...register.db import ConflictError
from ...register.history import changes, history
from ...register.store import Register
from ..body import read_bytes
from ..printing import render_case_form
from ..tokens import RANK, TokenRecord

HERE = Path(__file__).parent
COOKIE = "zhidu_session"
# No inline script or style anywhere in the console: scripts and styles come from /ui/static only.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
# A printed form is the existing printable HTML, which carries its own <style>; it runs no script at all.
PRINT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'; base-uri 'none'"
FORM_LIMIT = 64 * 1024
EVENT_KINDS = ("step-done", "facts-changed", "paused", "resumed", "closed", "reopened")

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every user-supplied text is escaped
    undefined=jinja2.StrictUndefined,
)


def csrf_for(token: str) -> str:
    """The CSRF value of a session: derived from its token (no server state, the same in every worker)."""
    return hmac.new(token.encode("utf-8"), b"zhidu-console-csrf", hashlib.sha256).hexdigest()


def _secure(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers={"Content-Security-Policy": CSP})


class SignIn(Exception):
    """Not signed in (or the token was revoked): go to the sign-in page."""


def _user(request: Request) -> tuple[TokenRecord, str]:
    token = request.cookies.get(COOKIE)
    record = request.app.state.auth.check(token) if token else None
    if record is None:
        raise SignIn()
    return record, token  # type: ignore[return-value]


async def _form(request: Request) -> dict[str, str]:
    body = await read_bytes(request, FORM_LIMIT)  # bounded before it is read, like the API's bodies
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _check_csrf(form: dict[str, str], token: str) -> bool:
    return hmac.compare_digest(form.get("csrf", ""), csrf_for(token))


def add_console(app: FastAPI, register: Register) -> None:
    catalog = app.state.catalog
    app.mount("/ui/static", StaticFiles(directory=HERE / "static"), name="console-static")

    @app.exception_handler(SignIn)
    async def _sign_in(request: Request, exc: SignIn) -> Response:
        return RedirectResponse("/ui/login", status_code=303)

    def common(user: TokenRecord, token: str) -> dict[str, Any]:
        return {"user": user, "csrf": csrf_for(token), "can_write": RANK[user.role] >= RANK["operator"]}

    @app.get("/ui/login", include_in_schema=False)
    def login_page(error: str | None = None) -> HTMLResponse:
        return page("login.html", error=error)

    @app.post("/ui/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await _form(request)
        token = form.get("token", "").strip()
        record = app.state.auth.check(token) if token else None
        if record is None:
            return page("login.html", status=401, error="令牌无效或已撤销 (unknown or revoked token)")
        response = RedirectResponse("/ui/", status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/ui", max_age=12 * 3600
        )
        return response

    @app.post("/ui/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        _, token = _user(request)
        if not _check_csrf(await _form(request), token):
            return page("error.html", status=403, message="CSRF check failed")
        response = RedirectResponse("/ui/login", status_code=303)
        response.delete_cookie(COOKIE, path="/ui")
        return response

    @app.get("/ui/", include_in_schema=False)
    def due_board(request: Request, pack: str | None = None, state: str | None = None) -> HTMLResponse:
        user, token = _user(request)
        now = datetime.now(UTC)
        rows = register.due(now, pack_id=pack if pack in catalog else None)
        if state in ("breached", "warning"):
            rows = [r for r in rows if r["state"] == state]
        month = now.astimezone(catalog.policy(catalog.ids()[0]).timezone).strftime("%Y-%m") if catalog.ids() else ""
        late = len({(r["pack"], r["number"]) for r in rows if r["state"] == "breached" and r["due_at"][:7] == month})
        return page(
            "due.html", rows=rows, packs=catalog.ids(), pack=pack, state=state, late=late, month=month,
            **common(user, token),
        )  # fmt: skip

    def _case_page(user: TokenRecord, token: str, pack: str, number: str, status: int = 200, **extra: Any):
        view = register.get(number, pack_id=catalog.get(pack).policy.id)
        items = history(register, number, view.pack_id)
        forms = sorted(catalog.get(pack).policy.forms_spec.forms) if catalog.get(pack).policy.forms_spec else []
        return page(
            "case.html",
            status=status,
            case=view.to_dict(),
            facts=json.dumps(view.facts, ensure_ascii=False, indent=2),
            history=items,
            kinds=EVENT_KINDS,
            printable=forms,
            message=extra.get("message"),
            **common(user, token),
        )

    @app.get("/ui/cases/{pack}/{number}", include_in_schema=False)
    def case_page(request: Request, pack: str, number: str) -> HTMLResponse:
        user, token = _user(request)
        try:
            return _case_page(user, token, pack, number)
        except ZhiduError as exc:
            return page("error.html", status=404, message=str(exc))

    @app.post("/ui/cases/{pack}/{number}/events", include_in_schema=False)
    async def record_event(request: Request, pack: str, number: str) -> Response:
        user, token = _user(request)
        form = await _form(request)
        if not _check_csrf(form, token):
            return page("error.html", status=403, message="CSRF check failed: reload the page and try again")
        if RANK[user.role] < RANK["operator"]:
            return page("error.html", status=403, message=f"需要 operator 角色 (the token is {user.role})")
        kind = form.get("kind", "")
        try:
            patch = json.loads(form["patch"]) if kind == "facts-changed" and form.get("patch") else None
            register.append(
                number,
                kind,
                datetime.now(UTC),
                based_on=int(form.get("based_on", "-1")),
                patch=patch,
                step=form.get("step") or None,
                timer=form.get("timer") or None,
                actor=f"{user.name} (token {user.id})",
                reason=form.get("reason") or None,
                pack_id=catalog.get(pack).policy.id,
            )
        except ConflictError as exc:
            message = f"冲突 Conflict: {exc} — 页面已更新为最新版本 (the page now shows the latest version)"
            return _case_page(user, token, pack, number, status=409, message=message)
        except (ZhiduError, ValueError) as exc:
            return _case_page(user, token, pack, number, status=422, message=f"未记录 Not recorded: {exc}")
        return RedirectResponse(f"/ui/cases/{pack}/{number}", status_code=303)

    @app.get("/ui/cases/{pack}/{number}/forms/{form_id}", include_in_schema=False)
    def print_page(request: Request, pack: str, number: str, form_id: str) -> Response:
        _user(request)
        try:
            view = register.get(number, pack_id=catalog.get(pack).policy.id)
            html = render_case_form(register, view, form_id, "html")
        except ZhiduError as exc:
            return page("error.html", status=404, message=str(exc))
        return HTMLResponse(html, headers={"Content-Security-Policy": PRINT_CSP})

    @app.get("/ui/reports/monthly", include_in_schema=False)
    def report_page(request: Request, month: str | None = None, pack: str | None = None) -> HTMLResponse:
        """客户投诉案件统计表 of a month, from the register (`zhidu report monthly`)."""
        from ...register.report import COLUMNS, monthly

        user, token = _user(request)
        month = month or datetime.now(UTC).strftime("%Y-%m")
        try:
            data = monthly(register, month, pack if pack in catalog else None)
        except ZhiduError as exc:
            return page("error.html", status=422, message=str(exc))
        return page(
            "report.html", data=data, columns=COLUMNS, month=month, packs=catalog.ids(), pack=pack,
            **common(user, token),
        )  # fmt: skip

    @app.get("/ui/ledger", include_in_schema=False)
    def ledger_page(request: Request, person: str | None = None) -> HTMLResponse:
        """A person's penalty charges and monthly deductions (`zhidu ledger show`)."""
        from ...register.ledger import statement

        user, token = _user(request)
        data, error = None, None
        if person:
            try:
                data = statement(register, person)
            except ZhiduError as exc:
                error = str(exc)
        return page("ledger.html", person=person or "", data=data, error=error, **common(user, token))

    @app.get("/ui/packs", include_in_schema=False)
    def packs_page(request: Request) -> HTMLResponse:
        user, token = _user(request)
        return page("packs.html", packs=[catalog.get(p).summary for p in catalog.ids()], **common(user, token))

    @app.get("/ui/packs/{pack}/what-if", include_in_schema=False)
    def what_if_page(request: Request, pack: str, case: str | None = None) -> HTMLResponse:
        user, token = _user(request)
        if pack not in catalog:
            return page("error.html", status=404, message=f"no pack '{pack}'")
        facts = "{}"
        if case:
            try:
                facts = json.dumps(register.get(case, pack_id=pack).facts, ensure_ascii=False, indent=2)
            except ZhiduError as exc:
                return page("error.html", status=404, message=str(exc))
        return page("what_if.html", pack=pack, case=case or "", facts=facts, result=None, **common(user, token))

    @app.post("/ui/packs/{pack}/what-if", include_in_schema=False)
    async def what_if(request: Request, pack: str) -> HTMLResponse:
        """Try facts against the pack as served: the decision, and what changed against a stored case's."""
        user, token = _user(request)
        form = await _form(request)
        if not _check_csrf(form, token):
            return page("error.html", status=403, message="CSRF check failed: reload the page and try again")
        if pack not in catalog:
            return page("error.html", status=404, message=f"no pack '{pack}'")
        text, number = form.get("facts", "{}"), form.get("case", "").strip()
        context = {"pack": pack, "case": number, "facts": text, **common(user, token)}
        try:
            facts = json.loads(text)
            policy = catalog.get(pack).policy
            decision = policy.evaluate(
                {"case_id": number or "what-if", "facts": facts}, datetime.now(UTC), engine="python"
            )
        except (ValueError, ZhiduError) as exc:
            return page("what_if.html", status=422, result=None, error=str(exc), **context)
        stored = register.get(number, pack_id=pack).decision if number else None
        result = {"text": decision.to_text(), "changes": changes(stored, decision.to_dict()) if number else None}
        return page("what_if.html", result=result, error=None, **context)

    @app.get("/ui/packs/{pack}", include_in_schema=False)
    def pack_page(request: Request, pack: str) -> HTMLResponse:
        user, token = _user(request)
        if pack not in catalog:
            return page("error.html", status=404, message=f"no pack '{pack}'")
        return page("pack.html", pack=catalog.get(pack).description, **common(user, token))
