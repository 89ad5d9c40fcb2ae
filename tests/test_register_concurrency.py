"""Several processes on one register (SQLite and PostgreSQL): numbers without gaps, no lost update,
nothing half-written after kill -9."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from register_db import db_url, pg_database  # noqa: F401 - fixtures

from engine.register import Register

WORKER = Path(__file__).with_name("register_worker.py")
ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")


def spawn(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def finish(procs: list[subprocess.Popen], timeout: float = 600) -> list[list[str]]:
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=timeout)
        assert p.returncode == 0, err[-2000:]
        outs.append([line for line in out.splitlines() if line != "ready"])
    return outs


@pytest.fixture
def reg(db_url):  # noqa: F811
    r = Register(db_url)
    r.publish("pcb-manufacturer", datetime(2024, 9, 1, tzinfo=TZ))
    return r


def test_eight_processes_registering_fifty_cases_each_get_400_numbers_without_gap(reg, db_url):  # noqa: F811
    outs = finish([spawn(db_url, "register", "50") for _ in range(8)])
    numbers = [n for out in outs for n in out]
    assert len(numbers) == 400
    assert sorted(int(n[4:]) for n in numbers) == list(range(1, 401))  # 2409 + serial
    assert reg.sizes()["cases"] == 400


def test_eight_processes_appending_to_one_case_lose_no_update(reg, db_url):  # noqa: F811
    number = reg.open_case(
        "pcb-manufacturer", {"facts": {"received_at": "2024-09-03T09:30:00+08:00"}}, datetime(2024, 9, 3, 10, tzinfo=TZ)
    ).number
    outs = finish([spawn(db_url, "append", number, "20", f"p{k}") for k in range(8)])
    assert sum(len(o) for o in outs) == 160
    events = reg.events_of(number)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    changes = [e for e in events if e.kind == "facts-changed"]
    assert len(changes) == 160
    # Each writer's own changes are all there, in its order.
    for k in range(8):
        mine = [e.payload["patch"]["order_no"] for e in changes if e.actor == f"p{k}"]
        assert mine == [f"p{k}-{i}" for i in range(20)]
    assert reg.get(number).facts["order_no"] == changes[-1].payload["patch"]["order_no"]


def test_two_ticks_at_once_issue_each_breach_once(reg, db_url):  # noqa: F811
    for day in range(2, 12):
        facts = {"received_at": f"2024-09-{day:02d}T09:00:00+08:00", "accepted_at": f"2024-09-{day:02d}T09:30:00+08:00"}
        reg.open_case("pcb-manufacturer", {"facts": facts}, datetime(2024, 9, day, 10, tzinfo=TZ))
    outs = finish([spawn(db_url, "tick", "2024-10-10T10:00:00+08:00") for _ in range(2)])
    counts = [json.loads(o[0]) for o in outs]
    issued = sum(c["breaches_issued"] for c in counts)
    with reg.reader.connect() as conn:
        from sqlalchemy import func, select

        from engine.register.schema import breaches, events

        rows = conn.execute(select(func.count()).select_from(breaches)).scalar_one()
        breach_events = conn.execute(
            select(func.count()).select_from(events).where(events.c.kind == "breach")
        ).scalar_one()
    # Ten cases, each with a breached close-case timer and a late first route step: twenty breaches, once each.
    assert rows == breach_events == issued == 20
    assert reg.tick(datetime(2024, 10, 10, 10, tzinfo=TZ))["breaches_issued"] == 0


def test_kill_9_at_random_points_loses_nothing_committed_and_leaves_no_half_event(reg, db_url):  # noqa: F811
    rng = random.Random(17)
    seen: list[str] = []
    for _round in range(4):
        proc = spawn(db_url, "loop")
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        seen.extend(out.splitlines())
    check = Register(db_url)
    # Everything a worker reported done (after its commit) is there.
    for line in seen:
        kind, number, *rest = line.split()
        view = check.get(number)
        if kind == "appended":
            assert view.version >= int(rest[0])
    # Every case is whole: its events number 1..version, its projection equals the fold of its events,
    # and it has a decision for its last change.
    from engine.register.events import fold

    data = json.loads(json.dumps(check.sizes()))
    assert data["cases"] >= sum(1 for line in seen if line.startswith("registered"))
    with check.reader.connect() as conn:
        from sqlalchemy import select

        from engine.register.schema import cases

        numbers = [r.number for r in conn.execute(select(cases.c.number))]
    for n in numbers:
        view = check.get(n)
        events = check.events_of(n)
        assert [e.seq for e in events] == list(range(1, view.version + 1))
        assert fold(events) == view.facts
        assert view.decision is not None
    serials = sorted(int(n[4:]) for n in numbers)
    assert serials == list(range(1, len(numbers) + 1))  # no number lost or taken twice
