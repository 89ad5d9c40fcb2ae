"""Bounded load test of `zhidu serve` on loopback: stateless evaluations at a fixed concurrency.

    python benchmarks/service_load.py --requests 20000 --concurrency 32 --workers 2

Starts the service on 127.0.0.1 (a free port, a throw-away SQLite register with one operator token),
sends generated pcb-manufacturer cases (benchmarks/generate_cases.py) to POST /v1/packs/{pack}/evaluate over
keep-alive connections, and prints requests per second, latency percentiles and the error count as JSON.
The client is raw asyncio (no HTTP library), so it takes as little of the shared CPUs as it can.
Every loop is bounded: --requests in total, --timeout seconds for the whole run, 30 s per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

PACK = "pcb-manufacturer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and all its descendants so far (Linux /proc), in seconds.
    Load on a shared machine stretches latency, not the CPU a request costs: this is the steadier number."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def requests_for(count: int, port: int, token: str, engine: str) -> list[bytes]:
    """`count` distinct HTTP/1.1 requests, each one generated case (its own `now` inside)."""
    from generate_cases import iter_cases

    out = []
    for case in iter_cases(count, seed=1):
        body = json.dumps(case, ensure_ascii=False).encode("utf-8")
        head = (
            f"POST /v1/packs/{PACK}/evaluate?engine={engine} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        out.append(head.encode("ascii") + body)
    return out


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return status


async def load(port: int, payloads: list[bytes], total: int, concurrency: int, deadline: float) -> dict:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(total))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for i in counter:
                if time.monotonic() > deadline:
                    errors["deadline"] = errors.get("deadline", 0) + 1
                    return
                started = time.perf_counter()
                try:
                    writer.write(payloads[i % len(payloads)])
                    status = await asyncio.wait_for(read_response(reader), 30)
                except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    continue
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else 0.0

    return {
        "requests": len(latencies),
        "seconds": round(elapsed, 2),
        "req_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": round(latencies[-1] * 1000, 2) if latencies else 0.0,
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cases", type=int, default=500, help="distinct generated cases, sent in turn")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--engine", choices=["python", "durable"], default="python")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for the whole run")
    args = parser.parse_args(argv)

    from engine.register.db import connect
    from engine.service.tokens import TokenStore

    folder = tempfile.TemporaryDirectory(prefix="zhidu-load-")
    db = str(Path(folder.name) / "register.db")
    token = TokenStore(connect(db)).create("load", "operator", actor="benchmark", now=datetime.now(UTC))[1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "serve", "--port", str(port), "--workers", str(args.workers)]
        + ["--db", db, "--pack", PACK, "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in s.recv(100):
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the service did not start")
            time.sleep(0.5)
        payloads = requests_for(args.cases, port, token, args.engine)
        end = time.monotonic() + args.timeout
        # warm-up on every connection of both workers (first requests compile backends, fill caches)
        asyncio.run(load(port, payloads, args.warmup, args.concurrency, end))
        cpu_before = tree_cpu_seconds(server.pid)
        result = asyncio.run(load(port, payloads, args.requests, args.concurrency, end))
        cpu = tree_cpu_seconds(server.pid) - cpu_before
        result["server_cpu_ms_per_request"] = round(cpu * 1000 / max(result["requests"], 1), 3)
        result.update(
            {"concurrency": args.concurrency, "workers": args.workers, "engine": args.engine, "cpus": os.cpu_count()}
        )
        result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(result))
        return 0 if not result["errors"] else 1
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        folder.cleanup()


if __name__ == "__main__":
    raise SystemExit(main())
