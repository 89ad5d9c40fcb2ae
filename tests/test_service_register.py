"""The register through the API: publish, register, events with versions (409), decision, history, as-of, print, due."""

from __future__ import annotations

import json

import pytest

from tests.service_support import ROOT, Service, case_json

JSON = {"Content-Type": "application/json"}
PCB = "/v1/packs/pcb-manufacturer"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Service:
    svc = Service(tmp_path_factory.mktemp("register") / "register.db", packs=("pcb-manufacturer",))
    published = svc.call("POST", f"{PCB}/versions", "admin")
    assert published.status_code == 201, published.text
    return svc


def _register(service: Service, case_id: str | None = None) -> dict:
    case = json.loads(case_json(ROOT / "policies/pcb-manufacturer/examples/quality-complaint.yaml"))
    case.pop("case_id", None)
    if case_id:
        case["case_id"] = case_id
    answer = service.call("POST", f"{PCB}/cases", "operator", content=json.dumps(case).encode(), headers=JSON)
    assert answer.status_code == 201, answer.text
    return answer.json()


def _event(service: Service, number: str, role: str = "operator", **event: object):
    return service.call("POST", f"{PCB}/cases/{number}/events", role, json=event)


def test_a_case_from_registration_to_closure(service: Service) -> None:
    case = _register(service)
    number = case["number"]
    # received in 2024 and registered now: the register records its breaches as events after the opening
    v = case["version"]
    assert v >= 1 and case["status"] == "open" and case["decision"]["case_id"] == number
    step = _event(service, number, kind="step-done", step="gm-office-review", based_on=v, reason="reviewed")
    assert step.status_code == 201, step.text
    assert step.json()["facts"]["route_done"]["gm_office_review"]
    v = step.json()["version"]
    patched = _event(service, number, kind="facts-changed", based_on=v, patch={"approved_by": "gm"})
    assert patched.json()["facts"]["approved_by"] == "gm"
    v = patched.json()["version"]
    closed = _event(service, number, kind="closed", based_on=v, reason="customer satisfied")
    assert closed.json()["status"] == "closed" and closed.json()["version"] == v + 1

    read = service.call("GET", f"{PCB}/cases/{number}", "viewer").json()
    assert read == closed.json()
    decision = service.call("GET", f"{PCB}/cases/{number}/decision", "viewer")
    assert decision.json() == read["decision"]
    history = service.call("GET", f"{PCB}/cases/{number}/history", "viewer").json()
    kinds = [h["event"]["kind"] for h in history if h["event"]["kind"] != "breach"]
    assert kinds == ["opened", "step-done", "facts-changed", "closed"]
    # every write is attributed to the token that made it
    token_id = service.app.state.tokens.lookup(service.tokens["operator"]).id
    assert {h["event"]["actor"] for h in history} == {f"test-operator (token {token_id})"}
    assert history[-1]["event"]["reason"] == "customer satisfied"
    first = history[0]["event"]["recorded_at"]
    then = service.call("GET", f"{PCB}/cases/{number}", "viewer", params={"as_of": first}).json()
    assert then["version"] == case["version"] and then["status"] == "open"


def test_an_event_on_a_stale_version_is_a_conflict(service: Service) -> None:
    case = _register(service)
    number, v = case["number"], case["version"]
    assert _event(service, number, kind="facts-changed", based_on=v, patch={"part_no": "A"}).status_code == 201
    late = _event(service, number, kind="facts-changed", based_on=v, patch={"part_no": "B"})
    assert late.status_code == 409 and late.json()["code"] == "conflict"
    assert service.call("GET", f"{PCB}/cases/{number}", "viewer").json()["facts"]["part_no"] == "A"


@pytest.mark.parametrize(
    ("event", "status", "code", "path"),
    [
        ({"kind": "closed"}, 422, "invalid-body", "$.based_on"),
        ({"kind": "exploded", "based_on": 1}, 422, "invalid-body", "$.kind"),
        ({"kind": "closed", "based_on": 1, "extra": 1}, 422, "invalid-body", "$.extra"),
        ({"kind": "step-done", "based_on": 1, "step": "nope"}, 422, "bad-event", None),
        (
            {"kind": "facts-changed", "based_on": 1, "patch": {"quantity": "many"}},
            422,
            "case-invalid",
            "$.facts.quantity",
        ),
        ({"kind": "closed", "based_on": 1, "occurred_at": "soon"}, 422, "invalid-body", "$.occurred_at"),
    ],
    ids=["no-based-on", "unknown-kind", "unknown-field", "unknown-step", "bad-fact", "bad-time"],
)
def test_bad_events_are_located(service: Service, event: dict, status: int, code: str, path: str | None) -> None:
    case = _register(service)
    if event.get("based_on") == 1:
        event = {**event, "based_on": case["version"]}
    answer = _event(service, case["number"], **event)
    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    if path:
        assert answer.json()["errors"][0]["path"] == path


def test_unknown_cases_and_forms_are_404(service: Service) -> None:
    assert service.call("GET", f"{PCB}/cases/000000", "viewer").json()["code"] == "no-case"
    number = _register(service)["number"]
    missing = service.call("GET", f"{PCB}/cases/{number}/forms/nope", "operator")
    assert missing.status_code == 404 and missing.json()["code"] == "unknown-form"


@pytest.mark.parametrize(("fmt", "media"), [("html", "text/html"), ("md", "text/markdown")])
def test_print_a_cases_form(service: Service, fmt: str, media: str) -> None:
    number = _register(service)["number"]
    answer = service.call(
        "GET", f"{PCB}/cases/{number}/forms/complaint-handling-form", "operator", params={"format": fmt}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(media)
    assert "客户抱怨处理表" in answer.text and number in answer.text


def test_due_list_and_tick(service: Service) -> None:
    number = _register(service)["number"]
    due = service.call("GET", "/v1/due", "viewer", params={"pack": "pcb-manufacturer"}).json()
    assert any(d["number"] == number and d["state"] == "breached" for d in due)
    # the register's tick semantics are its own tests'; here: it runs, answers its counts, takes a bad `at` as 422
    ticked = service.call("POST", "/v1/tick", "operator", params={"at": "2030-01-01T00:00:00+08:00"})
    assert ticked.status_code == 200 and set(ticked.json()) == {"evaluated", "breaches_issued"}
    assert service.call("POST", "/v1/tick", "operator", params={"at": "tomorrow"}).json()["code"] == "bad-instant"
    bad = service.call("GET", "/v1/due", "viewer", params={"within": "soonish"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "$.within"


def test_registration_is_idempotent_by_case_id(service: Service) -> None:
    assert _register(service, "CRM-1")["number"] == _register(service, "CRM-1")["number"]


def test_versions_are_listed(service: Service) -> None:
    versions = service.call("GET", f"{PCB}/versions", "viewer").json()
    assert versions and versions[0]["pack"] == "pcb-manufacturer"
    assert versions[0]["published_by"].startswith("test-admin (token ")


@pytest.mark.parametrize(
    ("fmt", "media"),
    [("json", "application/json"), ("md", "text/markdown"), ("html", "text/html"), ("csv", "text/csv")],
)
def test_monthly_report(service: Service, fmt: str, media: str) -> None:
    case = _register(service)
    closed = _event(service, case["number"], kind="closed", based_on=case["version"])
    month = closed.json()["facts"]["closed_at"][:7]
    answer = service.call("GET", f"/v1/reports/monthly/{month}", "viewer", params={"format": fmt})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith(media)
    assert case["number"] in answer.text


def test_monthly_report_needs_a_month(service: Service) -> None:
    answer = service.call("GET", "/v1/reports/monthly/September", "viewer")
    assert answer.status_code == 422 and answer.json()["errors"][0]["path"] == "$.month"


def test_ledger_of_nobody_is_404(service: Service) -> None:
    answer = service.call("GET", "/v1/ledger/nobody", "viewer")
    assert answer.status_code == 404 and answer.json()["code"] == "no-person"
