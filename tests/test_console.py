"""The web console in Debian's Chromium (Playwright): sign in, due board, case page, events, conflict, print, explorer."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.service_support import ROOT, case_json

playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
httpx = pytest.importorskip("httpx")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
PACK = "pcb-manufacturer"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from engine.register.db import connect
    from engine.register.store import Register
    from engine.service.tokens import TokenStore

    db = str(tmp_path_factory.mktemp("console") / "register.db")
    now = datetime.now(UTC)
    Register(db).publish(PACK, now, actor="tests")
    store = TokenStore(connect(db))
    tokens = {role: store.create(f"console-{role}", role, actor="tests", now=now)[1] for role in ("viewer", "operator")}
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port), "--db", db, "--pack", PACK]
        + ["--log-level", "warning"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(proc.stderr.read().decode()[-2000:])
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("the service did not start within 90 s")
            time.sleep(0.3)
        case = json.loads(case_json(ROOT / "policies/pcb-manufacturer/examples/quality-complaint.yaml"))
        opened = httpx.post(
            f"{base}/v1/packs/{PACK}/cases", json=case, headers={"Authorization": f"Bearer {tokens['operator']}"}
        )
        assert opened.status_code == 201, opened.text
        yield {"base": base, "tokens": tokens, "number": opened.json()["number"]}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def _signed_in(browser, server: dict, role: str = "operator"):
    context = browser.new_context()
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(server["base"] + "/ui/")
    assert page.url.endswith("/ui/login")
    page.fill("#token", server["tokens"][role])
    page.click("button[type=submit]")
    page.wait_for_url("**/ui/")
    return context, page, violations


def test_sign_in_due_board_case_event_and_print(browser, server: dict, tmp_path: Path) -> None:
    context, page, violations = _signed_in(browser, server)
    cookie = next(c for c in context.cookies() if c["name"] == "zhidu_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    number = server["number"]
    # received in 2024: its timers are breached, so it is on the board and counted late
    row = page.locator("#due tbody tr", has_text=number).first
    assert "逾期" in row.inner_text()
    page.click(f"#due a:text('{number}')")
    page.wait_for_url(f"**/ui/cases/{PACK}/{number}")
    version = int(page.inner_text("#case-version"))
    page.select_option("#kind", "step-done")
    page.fill("#step", "gm-office-review")
    page.fill("#reason", "总经理室已签注 <b>ok</b>")
    page.click("#event-form button[type=submit]")
    page.wait_for_load_state()
    assert int(page.inner_text("#case-version")) == version + 1
    last = page.locator("#history tbody tr").last.inner_text()
    assert "step-done" in last and "console-operator (token " in last and "<b>ok</b>" in last  # escaped text
    page.screenshot(path=str(tmp_path / "case.png"), full_page=True)

    printed = context.new_page()
    printed.goto(f"{server['base']}/ui/cases/{PACK}/{number}/forms/reminder")
    assert "催办单" in printed.inner_text("body")
    assert violations == []
    context.close()


def test_a_stale_page_shows_the_conflict(browser, server: dict) -> None:
    context, first, _ = _signed_in(browser, server)
    url = f"{server['base']}/ui/cases/{PACK}/{server['number']}"
    first.goto(url)
    second = context.new_page()
    second.goto(url)
    for page in (first, second):
        page.select_option("#kind", "facts-changed")
        page.fill("#patch", json.dumps({"part_no": "PCB-6L-0043"}))
    first.click("#event-form button[type=submit]")
    first.wait_for_load_state()
    second.click("#event-form button[type=submit]")
    second.wait_for_load_state()
    assert "Conflict" in second.inner_text("#message")
    context.close()


def test_pack_explorer_draws_tables(browser, server: dict) -> None:
    context, page, violations = _signed_in(browser, server, role="viewer")
    page.goto(f"{server['base']}/ui/packs/{PACK}")
    table = page.locator("table.decision-table").first
    assert "amount" in table.inner_text() and "sales-manager" in table.inner_text()
    assert page.locator("ol.route li").count() >= 5
    # a viewer sees no event form
    page.goto(f"{server['base']}/ui/cases/{PACK}/{server['number']}")
    assert page.locator("#event-form").count() == 0
    assert violations == []
    context.close()


def test_a_post_without_the_csrf_token_is_refused(server: dict) -> None:
    cookies = {"zhidu_session": server["tokens"]["operator"]}
    answer = httpx.post(
        f"{server['base']}/ui/cases/{PACK}/{server['number']}/events",
        data={"kind": "closed", "based_on": "1"},
        cookies=cookies,
    )
    assert answer.status_code == 403 and "CSRF" in answer.text


def test_what_if_shows_what_changes(browser, server: dict) -> None:
    context, page, violations = _signed_in(browser, server)
    page.goto(f"{server['base']}/ui/cases/{PACK}/{server['number']}")
    page.click("#what-if-link")
    facts = json.loads(page.input_value("#facts"))
    assert facts["loss_amount"] == "12000.00"
    facts["loss_amount"] = "60000.00"  # above the deputy GM's bound: the GM decides
    page.fill("#facts", json.dumps(facts, ensure_ascii=False))
    page.click("#what-if-form button[type=submit]")
    page.wait_for_load_state()
    changed = page.inner_text("#changes")
    assert "approval settlement" in changed and "gm" in changed
    assert "pcb-manufacturer" in page.inner_text("#decision")
    page.fill("#facts", "{not json")
    page.click("#what-if-form button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#message").count() == 1
    assert violations == []
    context.close()


def test_monthly_report_and_ledger_pages(browser, server: dict) -> None:
    context, page, violations = _signed_in(browser, server, role="viewer")
    page.click("text=统计 Report")
    page.wait_for_url("**/ui/reports/monthly")
    assert "结案 Closed" in page.inner_text("#report-summary")
    page.goto(f"{server['base']}/ui/reports/monthly?month=2024-13")
    assert "YYYY-MM" in page.inner_text("body")
    page.goto(f"{server['base']}/ui/ledger?person=nobody")
    assert "nobody" in page.inner_text("#message")
    assert violations == []
    context.close()


@pytest.fixture(scope="module")
def axe_js(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """axe-core from the npm registry (ZHIDU_AXE_JS names a local copy instead)."""
    import os

    local = os.environ.get("ZHIDU_AXE_JS")
    if local:
        return Path(local)
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot fetch axe-core (set ZHIDU_AXE_JS to a local axe.min.js)")
    folder = tmp_path_factory.mktemp("axe")
    done = subprocess.run(
        [npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix", str(folder), "axe-core@4"],
        capture_output=True,
        timeout=180,
    )
    script = folder / "node_modules" / "axe-core" / "axe.min.js"
    if done.returncode != 0 or not script.is_file():
        pytest.skip(f"npm could not install axe-core: {done.stderr.decode()[-300:]}")
    return script


@pytest.mark.parametrize(
    "path",
    ["/ui/login", "/ui/", "/ui/cases/{pack}/{number}", "/ui/packs/{pack}", "/ui/packs/{pack}/what-if"],
    ids=["login", "due-board", "case", "pack-explorer", "what-if"],
)
def test_no_critical_accessibility_violations(browser, server: dict, axe_js: Path, path: str) -> None:
    context = browser.new_context(bypass_csp=True)  # the injected axe script is inline: allowed for the scan only
    page = context.new_page()
    if path != "/ui/login":
        page.goto(server["base"] + "/ui/login")
        page.fill("#token", server["tokens"]["operator"])
        page.click("button[type=submit]")
        page.wait_for_url("**/ui/")
    page.goto(server["base"] + path.format(pack=PACK, number=server["number"]))
    page.add_script_tag(path=str(axe_js))
    violations = page.evaluate("async () => (await axe.run()).violations.map(v => [v.id, v.impact, v.nodes.length])")
    critical = [v for v in violations if v[1] == "critical"]
    assert critical == [], critical
    context.close()


IDEOGRAPHS_TO_TIAN = "() => { const h = document.querySelector('h1'); h.textContent = h.textContent.replace(/[\\u4e00-\\u9fff]/g, '田'); }"


def _title_shots(browser, server: dict) -> tuple[bytes, bytes]:
    """The due board's <h1> as drawn, and again with every ideograph replaced by 田."""
    context, page, _ = _signed_in(browser, server)
    before = page.locator("h1").screenshot()
    page.evaluate(IDEOGRAPHS_TO_TIAN)
    after = page.locator("h1").screenshot()
    context.close()
    return before, after


def test_chinese_text_is_drawn(browser, server: dict) -> None:
    """Without a CJK font Chromium draws the same box (tofu) for every ideograph: swapping them would change
    nothing. With one, the pixels change (the forms' browser check, applied to the console)."""
    before, after = _title_shots(browser, server)
    assert before != after, "the title looks the same whatever its characters are: tofu? install fonts-noto-cjk"


def test_the_chinese_text_check_notices_a_missing_font(browser, server: dict, tmp_path: Path) -> None:
    from tests.test_forms import fonts_without_cjk

    env = fonts_without_cjk(tmp_path / "no-cjk")
    if env is None:
        pytest.skip("cannot hide the CJK fonts from Chromium here (needs fc-list and a font without Chinese)")
    plain = browser.browser_type.launch(executable_path=CHROMIUM, args=["--no-sandbox"], env=env)
    try:
        before, after = _title_shots(plain, server)
    finally:
        plain.close()
    assert before == after  # tofu whatever the characters: the check above would fail here
