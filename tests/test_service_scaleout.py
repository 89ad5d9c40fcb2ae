"""Scale-out: two `zhidu serve` processes over one PostgreSQL; concurrent registrations and appends through both."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from tests.register_db import pg_database  # noqa: F401 - the session's PostgreSQL database (random name)
from tests.service_support import ROOT

httpx = pytest.importorskip("httpx")
pytestmark = pytest.mark.skipif(os.environ.get("ZHIDU_TEST_POSTGRES") == "0", reason="ZHIDU_TEST_POSTGRES=0")

PACK = "pcb-manufacturer"
CASE = {
    "facts": {
        "received_at": "2024-09-03T09:30:00+08:00",
        "loss_occurred": True,
        "cause": "quality_abnormal",
        "customer_demand": "退货",
    }
}
STARTUP_SECONDS = 90
WRITERS, WRITES_EACH, ATTEMPTS = 6, 5, 60


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(pg_database: str) -> Iterator[tuple[list[str], str]]:  # noqa: F811
    from engine.register.db import connect
    from engine.register.store import Register
    from engine.service.tokens import TokenStore

    now = datetime.now(UTC)
    Register(pg_database).publish(PACK, now, actor="tests")
    token = TokenStore(connect(pg_database)).create("scale-out", "operator", actor="tests", now=now)[1]
    ports = [_free_port(), _free_port()]
    procs = [
        subprocess.Popen(
            [sys.executable, str(ROOT / "cli.py"), "serve", "--host", "127.0.0.1", "--port", str(port)]
            + ["--db", pg_database, "--pack", PACK, "--log-level", "warning"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for port in ports
    ]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        for url, proc in zip(urls, procs, strict=True):
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"zhidu serve exited: {proc.stderr.read().decode()[-2000:]}")
                try:
                    if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"{url} not ready within {STARTUP_SECONDS} s")
                time.sleep(0.3)
        yield urls, token
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_registrations_through_both_get_unique_numbers(cluster: tuple[list[str], str]) -> None:
    urls, token = cluster
    clients = [_client(u, token) for u in urls]

    def register(i: int) -> str:
        answer = clients[i % 2].post(f"/v1/packs/{PACK}/cases", json=CASE)
        assert answer.status_code == 201, answer.text
        return answer.json()["number"]

    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(register, range(40)))
    assert len(set(numbers)) == 40
    # one counter per month: the serials are exactly 1..n with no gap (a number is never handed out twice)
    serials = sorted(int(n[-4:]) for n in numbers)
    assert serials == list(range(serials[0], serials[0] + 40))


def test_concurrent_appends_through_both_lose_nothing(cluster: tuple[list[str], str]) -> None:
    urls, token = cluster
    clients = [_client(u, token) for u in urls]
    opened = clients[0].post(f"/v1/packs/{PACK}/cases", json=CASE).json()
    number, start = opened["number"], opened["version"]
    path = f"/v1/packs/{PACK}/cases/{number}"

    def writer(w: int) -> tuple[list[str], int]:
        client, written, conflicts = clients[w % 2], [], 0
        for k in range(WRITES_EACH):
            value = f"w{w}-{k}"
            for _ in range(ATTEMPTS):
                version = client.get(path).json()["version"]
                event = {"kind": "facts-changed", "based_on": version, "patch": {"customer_demand": value}}
                answer = client.post(path + "/events", json=event)
                if answer.status_code == 201:
                    written.append(value)
                    break
                assert answer.status_code == 409, answer.text
                conflicts += 1
            else:
                pytest.fail(f"{value}: still conflicting after {ATTEMPTS} attempts")
        return written, conflicts

    with ThreadPoolExecutor(WRITERS) as pool:
        results = list(pool.map(writer, range(WRITERS)))
    written = [v for values, _ in results for v in values]
    final = clients[1].get(path).json()
    history = clients[0].get(path + "/history").json()
    recorded = [
        h["event"]["payload"]["patch"]["customer_demand"] for h in history if h["event"]["kind"] == "facts-changed"
    ]
    # every acknowledged write is in the history exactly once, and the version counts them all
    assert sorted(recorded) == sorted(written) and len(written) == WRITERS * WRITES_EACH
    assert final["version"] == start + len(written) + sum(
        1 for h in history if h["event"]["seq"] > start and h["event"]["kind"] == "breach"
    )
    assert final["facts"]["customer_demand"] == recorded[-1]
    assert sum(c for _, c in results) > 0, "the writers never collided: the test did not test concurrency"
