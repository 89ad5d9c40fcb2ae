"""The case register: events per second (append + re-evaluation + stored decision), `cases due` over many
open cases, and stored bytes per case, on SQLite and PostgreSQL.

    python benchmarks/register_bench.py                           # SQLite in a temporary folder
    python benchmarks/register_bench.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    python benchmarks/register_bench.py --cases 200 --appends 2000 --due-cases 100000

appends  Register `--cases` generated pcb-manufacturer cases (benchmarks/generate_cases.py), then time
         `--appends` facts-changed events spread over them, one process, one event per transaction: each
         event is the fold, validation, a full evaluation (python engine), the stored decision and the
         case's index rows.
due      The due list reads only the index (`deadlines`), so 100,000 open cases are bulk-loaded into it by
         copying the index rows of the registered cases (due times spread over a month); then
         `Register.due(at)` is timed, and `zhidu cases due` as a whole process (Python start included).
bytes    Stored decisions (compressed, de-duplicated) and event payloads per case, and the SQLite file
         size per case, after the appends.
On PostgreSQL the script creates its own database (random name) on the server of --postgres and drops it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import sqlalchemy as sa  # noqa: E402
from generate_cases import Generator  # noqa: E402

from engine.register import Register  # noqa: E402
from engine.register.schema import cases, deadlines  # noqa: E402

TZ = ZoneInfo("Asia/Shanghai")
PACK = "pcb-manufacturer"


def register_cases(reg: Register, count: int) -> list[str]:
    gen = Generator(seed=1, with_now=False)
    numbers = []
    for i in range(count):
        case = gen.case(i)
        case.pop("case_id", None)
        # Registered when received; the generator's later facts (closing) are left for events.
        facts = {k: v for k, v in case["facts"].items() if k not in ("closed_at",)}
        received = datetime.fromisoformat(facts["received_at"])
        numbers.append(reg.open_case(PACK, {"facts": facts}, received + timedelta(hours=1)).number)
    return numbers


def bench_appends(reg: Register, numbers: list[str], count: int) -> dict[str, float]:
    now = datetime(2024, 12, 31, 10, tzinfo=TZ)
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        reg.append(numbers[i % len(numbers)], "facts-changed", now, patch={"order_no": f"SO-{i}"})
    elapsed, used = time.perf_counter() - start, time.process_time() - cpu
    # On a shared machine the wall clock includes waiting for a CPU; the process's own CPU time does not
    # (for SQLite that is all the work; PostgreSQL's server work is outside this process).
    return {
        "appends": count,
        "seconds": round(elapsed, 2),
        "appends_per_second": round(count / elapsed, 1),
        "cpu_seconds": round(used, 2),
        "appends_per_cpu_second": round(count / used, 1),
    }


def bulk_due_index(reg: Register, total: int) -> None:
    """Copy the registered cases' projection and index rows until `total` open cases are indexed."""
    with reg.db.begin() as conn:
        template = conn.execute(sa.select(cases).limit(1)).one()._asdict()
        rows = [r._asdict() for r in conn.execute(sa.select(deadlines).where(deadlines.c.case_id == template["id"]))]
        have = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
        base = datetime(2024, 12, 1, tzinfo=UTC)
        batch_cases, batch_rows = [], []
        next_id = conn.execute(sa.select(sa.func.max(cases.c.id))).scalar_one() + 1
        for k in range(total - have):
            cid = next_id + k
            c = dict(template, id=cid, number=f"B{cid:07d}", external_id=None)
            batch_cases.append(c)
            shift = timedelta(minutes=(k * 7) % (31 * 24 * 60))
            for r in rows or [
                {"item": "timer:close-case", "kind": "timer", "label": "x", "role": None, "warn_at": None}
            ]:
                batch_rows.append(
                    {
                        "case_id": cid,
                        "pack_id": PACK,
                        "item": r["item"],
                        "kind": r["kind"],
                        "label": r["label"],
                        "role": r["role"],
                        "warn_at": (base + shift - timedelta(days=3)) if r.get("warn_at") else None,
                        "due_at": base + shift,
                    }
                )
            if len(batch_cases) >= 5000:
                conn.execute(cases.insert(), batch_cases)
                conn.execute(deadlines.insert(), batch_rows)
                batch_cases, batch_rows = [], []
        if batch_cases:
            conn.execute(cases.insert(), batch_cases)
            conn.execute(deadlines.insert(), batch_rows)


def bench_due(reg: Register, url: str, total: int) -> dict[str, float]:
    bulk_due_index(reg, total)
    with reg.reader.connect() as conn:
        indexed = conn.execute(sa.select(sa.func.count()).select_from(deadlines)).scalar_one()
    at = datetime(2024, 12, 16, 10, tzinfo=TZ)
    reg.due(at)  # warm: the pack version is compiled once per process
    best = cpu_best = float("inf")
    listed = 0
    for _ in range(3):
        start, cpu = time.perf_counter(), time.process_time()
        listed = len(reg.due(at))
        best = min(best, time.perf_counter() - start)
        cpu_best = min(cpu_best, time.process_time() - cpu)
    cli_best = float("inf")
    for _ in range(2):
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                str(ROOT / "cli.py"),
                "cases",
                "due",
                "--db",
                url,
                "--at",
                at.isoformat(),
                "--format",
                "json",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        cli_best = min(cli_best, time.perf_counter() - start)
    return {
        "open_cases": total,
        "index_rows": indexed,
        "listed": listed,
        "due_seconds": round(best, 3),
        "due_cpu_seconds": round(cpu_best, 3),
        "cli_seconds": round(cli_best, 3),
    }


def run(url: str, args: argparse.Namespace, label: str) -> dict[str, object]:
    reg = Register(url)
    reg.publish(PACK, datetime(2024, 1, 1, tzinfo=TZ))
    start = time.perf_counter()
    numbers = register_cases(reg, args.cases)
    reg_seconds = time.perf_counter() - start
    out: dict[str, object] = {
        "database": label,
        "registrations_per_second": round(args.cases / reg_seconds, 1),
        **bench_appends(reg, numbers, args.appends),
    }
    sizes = reg.sizes()
    out["bytes_per_case"] = {
        "decisions": round(sizes["decision_bytes"] / sizes["cases"]),
        "events": round(sizes["event_bytes"] / sizes["cases"]),
        "decisions_stored": sizes["decisions"],
        "distinct_decisions": sizes["distinct_decisions"],
    }
    if url.startswith("sqlite") or "://" not in url:
        path = Path(url.split(":///", 1)[-1])
        files = [path, path.with_name(path.name + "-wal")]  # the database and its write-ahead log
        total = sum(f.stat().st_size for f in files if f.exists())
        out["bytes_per_case"]["sqlite_file"] = round(total / sizes["cases"])
    out["due"] = bench_due(reg, url, args.due_cases)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--due-cases", type=int, default=100_000)
    parser.add_argument("--postgres", help="also on PostgreSQL: a server URL (a database is created and dropped)")
    args = parser.parse_args()
    print(json.dumps({"python": platform.python_version(), "cpus": os.cpu_count(), "load": os.getloadavg()}))
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        print(json.dumps(run(url, args, "sqlite"), ensure_ascii=False), flush=True)
    if args.postgres:
        name = "zhidu_bench_" + secrets.token_hex(4)
        admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            url = args.postgres.rsplit("/", 1)[0] + "/" + name
            print(json.dumps(run(url, args, "postgresql"), ensure_ascii=False), flush=True)
        finally:
            from engine.register import db

            for eng in db._engines.values():
                eng.dispose()
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps({"load_after": os.getloadavg()}))


if __name__ == "__main__":
    main()
