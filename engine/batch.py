"""Batch evaluation of JSON Lines: streamed in bounded memory, in input order, optionally across processes."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from .errors import ZhiduError
from .policy import Policy
from .source import load_json

CHUNK = 256  # lines per task: large enough to amortise inter-process traffic, small enough to stream

_POLICY: Policy | None = None  # set in the parent before the workers fork; each worker builds its own backend


@dataclass
class Summary:
    total: int = 0
    ok: int = 0
    errors: int = 0
    categories: Counter[str] = field(default_factory=Counter)
    breaches: int = 0

    def add(self, ok: bool, category: str | None, breached: bool) -> None:
        self.total += 1
        if ok:
            self.ok += 1
            self.categories[category or "-"] += 1
            self.breaches += int(breached)
        else:
            self.errors += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "ok": self.ok,
            "errors": self.errors,
            "breached_cases": self.breaches,
            "by_category": dict(sorted(self.categories.items())),
        }


def evaluate_line(
    policy: Policy,
    lineno: int,
    text: str,
    now: datetime | str | None,
    engine: str,
    default_now: datetime | str | None = None,
) -> tuple[str, bool, str | None, bool]:
    """One line in, one JSON line out: the decision, or an error record naming the line."""
    case_id: Any = None
    try:
        case = load_json(text)
    except json.JSONDecodeError as exc:
        return _error(lineno, case_id, "json-syntax", f"column {exc.colno}: {exc.msg}"), False, None, False
    except ValueError as exc:  # NaN / Infinity
        return _error(lineno, case_id, "json-syntax", str(exc)), False, None, False
    try:
        if not isinstance(case, dict):
            raise ZhiduError("a case line must be a JSON object")
        case_id = case.get("case_id")
        # --now wins; else the case's own `now`; else the time the batch started.
        moment = now if now is not None else (case.get("now") or default_now)
        decision = policy.evaluate(case, moment, engine=engine)
    except ZhiduError as exc:
        return _error(lineno, case_id, exc.code, str(exc)), False, None, False
    except Exception as exc:  # noqa: BLE001 - a bug on one line must not lose the others; the record names it
        return _error(lineno, case_id, "internal", f"{type(exc).__name__}: {exc}"), False, None, False
    d = decision.to_dict()
    category = decision.finding("category")
    breached = any(t.get("status") == "breached" for t in d["timers"])
    return json.dumps(d, ensure_ascii=False), True, str(category) if category is not None else None, breached


def _error(lineno: int, case_id: Any, code: str, message: str) -> str:
    record = {"line": lineno, "case_id": case_id, "error": {"code": code, "message": message}}
    return json.dumps(record, ensure_ascii=False)


def _run_chunk(args: tuple[list[tuple[int, str]], Any, str, Any]) -> list[tuple[str, bool, str | None, bool]]:
    lines, now, engine, default_now = args
    if _POLICY is None:
        raise RuntimeError("batch worker started without a policy")
    return [evaluate_line(_POLICY, n, text, now, engine, default_now) for n, text in lines]


def _chunks(lines: Iterable[str]) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for n, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        chunk.append((n, text))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_batch(
    policy: Policy,
    lines: Iterable[str],
    out: IO[str],
    *,
    now: datetime | str | None,
    engine: str = "python",
    jobs: int = 1,
    default_now: datetime | str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Summary:
    """Evaluate every line, writing results in input order; at most 2 × jobs chunks are in flight."""
    global _POLICY
    summary = Summary()

    def emit(results: list[tuple[str, bool, str | None, bool]]) -> None:
        for text, ok, category, breached in results:
            out.write(text + "\n")
            summary.add(ok, category, breached)
        if progress:
            progress(summary.total)

    _POLICY = policy
    if jobs <= 1:
        for chunk in _chunks(lines):
            emit(_run_chunk((chunk, now, engine, default_now)))
        return summary
    # fork: workers inherit the compiled policy; the durable Host is created lazily in each worker.
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs) as pool:
        pending: deque[Any] = deque()
        for chunk in _chunks(lines):
            pending.append(pool.apply_async(_run_chunk, ((chunk, now, engine, default_now),)))
            if len(pending) >= 2 * jobs:
                emit(pending.popleft().get())
        while pending:
            emit(pending.popleft().get())
    return summary
