"""The HTTP service: OpenAPI document, evaluate as the CLI does, problem+json errors, tokens, metrics."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest

import engine  # noqa: E402
from tests.service_support import ROOT, Service, case_json, example_cases

NOW = "2024-09-10T10:00:00+08:00"
OPENAPI = ROOT / "docs" / "openapi.json"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Service:
    return Service(tmp_path_factory.mktemp("service") / "register.db")


def test_openapi_document_is_committed(service: Service) -> None:
    """docs/openapi.json is what the service serves (rewrite it with ZHIDU_UPDATE_GOLDENS=1)."""
    served = service.call("GET", "/openapi.json", "viewer")
    assert served.status_code == 200
    text = json.dumps(served.json(), ensure_ascii=False, indent=2) + "\n"
    if os.environ.get("ZHIDU_UPDATE_GOLDENS") == "1":
        OPENAPI.write_text(text, encoding="utf-8")
    assert served.json()["openapi"].startswith("3.1")
    assert OPENAPI.read_text(encoding="utf-8") == text, "docs/openapi.json is stale: ZHIDU_UPDATE_GOLDENS=1 pytest"


@pytest.mark.parametrize(("pack", "path"), example_cases(), ids=lambda v: v if isinstance(v, str) else v.stem)
@pytest.mark.parametrize("engine_name", engine.ENGINES)
def test_evaluate_answers_the_cli_decision(service: Service, pack: str, path: Path, engine_name: str) -> None:
    response = service.call(
        "POST",
        f"/v1/packs/{pack}/evaluate",
        "operator",
        params={"now": NOW, "engine": engine_name},
        content=case_json(path).encode(),
        headers=JSON,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    expected = engine.load_policy(pack).evaluate(json.loads(case_json(path)), NOW, engine=engine_name).to_dict()
    assert response.json() == expected
    jsonschema.validate(response.json(), engine.decision_schema())


def _evaluate(body: bytes | None = None, **kw: object) -> dict[str, object]:
    kw.setdefault("headers", JSON)
    return {"method": "POST", "path": "/v1/packs/pcb-manufacturer/evaluate", "content": body, **kw}


PCB_CASE = case_json(ROOT / "policies/pcb-manufacturer/examples/quality-complaint.yaml").encode()

# (request as role, expected status, problem code, where the first error is: (file, line, column, path) or None)
ERRORS = {
    "no-token": (None, _evaluate(PCB_CASE), 401, "unauthenticated", None),
    "unknown-token": ("bogus", _evaluate(PCB_CASE), 401, "bad-token", None),
    "viewer-may-not-evaluate": ("viewer", _evaluate(PCB_CASE), 403, "forbidden", None),
    "unknown-pack": (
        "operator",
        {**_evaluate(PCB_CASE), "path": "/v1/packs/pcb-manufactuer/evaluate"},
        404,
        "pack-not-found",
        ("path", 0, 0, "$.pack"),
    ),
    "text-body": (
        "operator",
        _evaluate(b"x", headers={"Content-Type": "text/plain"}),
        415,
        "unsupported-media-type",
        None,
    ),
    "no-content-type": ("operator", _evaluate(PCB_CASE, headers={}), 415, "unsupported-media-type", None),
    "too-large": ("operator", _evaluate(b" " * (1024 * 1024 + 1)), 413, "body-too-large", None),
    "too-large-chunked": ("operator", _evaluate(iter([b" " * 600_000, b" " * 600_000])), 413, "body-too-large", None),
    "too-large-token-request": (
        "admin",
        {**_evaluate(b" " * (1024 * 1024 + 1)), "path": "/v1/tokens"},
        413,
        "body-too-large",
        None,
    ),
    "too-large-console-form": (
        None,
        {"method": "POST", "path": "/ui/login", "content": iter([b"t" * 40_000, b"t" * 40_000])},
        413,
        "body-too-large",
        None,
    ),
    "bad-json": ("operator", _evaluate(b'{"facts":\n  {"a": }}'), 400, "json-syntax", ("body", 2, 9, "$")),
    "not-utf8": ("operator", _evaluate(b'{"facts": "\xff"}'), 400, "encoding", ("body", 1, 1, "$")),
    "not-an-object": ("operator", _evaluate(b"[1, 2]"), 422, "case-invalid", ("body", 1, 1, "$")),
    "invalid-case": (
        "operator",
        _evaluate(
            b'{"now": "2024-09-10T10:00:00+08:00",\n "facts": {"received_at": "2024-09-03T09:30:00+08:00",\n  "cause": "nope"}}'
        ),
        422,
        "case-invalid",
        ("body", 3, 12, "$.facts.cause"),
    ),
    "bad-now-query": ("operator", _evaluate(PCB_CASE, params={"now": "yesterday"}), 422, "bad-now", None),
    "bad-engine": (
        "operator",
        _evaluate(PCB_CASE, params={"now": NOW, "engine": "drools"}),
        422,
        "invalid-request",
        ("query", 0, 0, "$.engine"),
    ),
    "unknown-route": ("viewer", {"method": "GET", "path": "/v2/nothing"}, 404, "not-found", None),
    "wrong-method": ("viewer", {"method": "DELETE", "path": "/v1/packs"}, 405, "method-not-allowed", None),
    "unknown-token-id": ("admin", {"method": "DELETE", "path": "/v1/tokens/nothere"}, 404, "token-not-found", None),
}


@pytest.mark.parametrize("case", list(ERRORS), ids=list(ERRORS))
def test_errors_are_problem_json(service: Service, case: str) -> None:
    role, request, status, code, where = ERRORS[case]
    request = dict(request)
    method, path = request.pop("method"), request.pop("path")
    headers = dict(request.pop("headers", {}))
    if role == "bogus":
        headers["Authorization"] = "Bearer zhidu_not-a-real-token"
        role = None
    response = service.call(method, path, role, headers=headers, **request)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith("/" + code)
    assert problem["instance"] == path
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    if where is not None:
        first = problem["errors"][0]
        assert (first["file"], first["line"], first["column"], first["path"]) == where


def test_case_errors_match_the_cli(service: Service, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same diagnostics as `zhidu evaluate` gives for the same text (the file name aside)."""
    from click.testing import CliRunner

    from cli import main

    text = '{"now": "2024-09-10T10:00:00+08:00",\n "facts": {"cause": "nope", "quantity": "many"}}'
    (tmp_path / "body").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    cli = CliRunner().invoke(main, ["evaluate", "pcb-manufacturer", "body", "--engine", "python"])
    response = service.call("POST", "/v1/packs/pcb-manufacturer/evaluate", "operator", content=text, headers=JSON)
    assert cli.exit_code == 3
    assert response.status_code == 422
    lines = [
        f"{e['file']}:{e['line']}:{e['column']}: {e['code']}: {e['message']}"
        + (f" (at {e['path']})" if e["path"] != "$" else "")
        for e in response.json()["errors"]
    ]
    assert lines == cli.output.strip().splitlines()


def test_packs_are_listed_and_described(service: Service) -> None:
    listed = service.call("GET", "/v1/packs", "viewer").json()
    assert [p["id"] for p in listed] == engine.bundled_packs()
    for pack in listed:
        described = service.call("GET", f"/v1/packs/{pack['id']}", "viewer").json()
        assert described["rules"], pack["id"]
        for section in ("rules", "tables", "timers", "routes", "duties", "authority", "penalties", "forms"):
            for entry in described[section]:
                loc = entry["location"]
                source = (ROOT / "policies" / loc["file"]).read_text(encoding="utf-8").splitlines()
                line = source[loc["line"] - 1]
                # the location points at the entry itself: its id, or the first key of a mapping entry
                assert entry["id"] in line or line[loc["column"] - 1 :].strip(), (section, entry["id"], loc)
                if section != "forms" or entry["definition"].get("ref"):
                    assert entry["ref"], (pack["id"], section, entry["id"])


def test_case_schema_is_the_packs(service: Service) -> None:
    answer = service.call("GET", "/v1/packs/field-service/case-schema", "viewer")
    assert answer.json() == engine.load_policy("field-service").case_schema()


def test_health_needs_no_token(service: Service) -> None:
    assert service.call("GET", "/healthz", None).json() == {"status": "ok"}
    assert service.call("GET", "/readyz", None).json() == {
        "status": "ready",
        "packs": len(engine.bundled_packs()),
        "database": "ok",
    }


def _sample(text: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_metrics_count_requests_and_evaluations(service: Service) -> None:
    before = service.call("GET", "/metrics", "viewer").text
    for _ in range(3):
        service.call(
            "POST",
            "/v1/packs/pcb-manufacturer/evaluate",
            "operator",
            content=PCB_CASE,
            headers=JSON,
            params={"now": NOW},
        )
    service.call("POST", "/v1/packs/pcb-manufacturer/evaluate", "operator", content=b"{}", headers=JSON)
    service.call("GET", "/v1/packs/nope", "viewer")
    after = service.call("GET", "/metrics", "viewer").text
    route = "/v1/packs/{pack}/evaluate"

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert grew("zhidu_http_requests_total", method="POST", route=route, status="200") == 3
    assert grew("zhidu_http_requests_total", method="POST", route=route, status="422") == 1
    assert grew("zhidu_http_requests_total", method="GET", route="/v1/packs/{pack}", status="404") == 1
    assert grew("zhidu_http_request_duration_seconds_count", method="POST", route=route) == 4
    assert grew("zhidu_evaluations_total", pack="pcb-manufacturer", engine="python", outcome="decided") == 3
    assert grew("zhidu_evaluations_total", pack="pcb-manufacturer", engine="python", outcome="refused") == 1


def test_tokens_over_the_api(service: Service) -> None:
    made = service.call("POST", "/v1/tokens", "admin", json={"name": "crm", "role": "viewer"})
    assert made.status_code == 201
    token = made.json()["token"]
    assert token.startswith("zhidu_")
    listed = service.call("GET", "/v1/tokens", "admin").json()
    assert token not in json.dumps(listed)  # only digests are kept
    headers = {"Authorization": f"Bearer {token}"}
    assert service.client.get("/v1/packs", headers=headers).status_code == 200
    revoked = service.call("DELETE", f"/v1/tokens/{made.json()['id']}", "admin")
    assert revoked.json()["revoked_at"]
    assert service.client.get("/v1/packs", headers=headers).status_code == 401
    bad = service.call("POST", "/v1/tokens", "admin", json={"name": "x", "role": "root"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.role"


def test_a_register_made_before_the_token_table_gets_it(tmp_path: Path) -> None:
    """A database at the register's first migration (made before 0002 existed) is upgraded for tokens."""
    from alembic import command

    from engine.register import db
    from engine.service.tokens import TokenStore

    url = db.resolve_url(str(tmp_path / "old.db"))
    old = db._make_engine(url)
    with old.begin() as conn:
        command.upgrade(db._alembic_config(conn), "0001")
    assert db.current_revision(old) == "0001"
    store = TokenStore(db.connect(url))
    assert store.list() == []
    assert db.current_revision(old) == db.HEAD == "0002"
