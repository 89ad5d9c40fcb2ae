"""Batch evaluation of JSON Lines: streamed in bounded memory, in input order, optionally across processes."""

from __future__ import annotations

import json
import multiprocessing
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from . import limits
from .errors import ZhiduError
from .policy import Policy
from .source import InputLimitError, load_json

CHUNK = 256  # lines per task: large enough to amortise inter-process traffic, small enough to stream

_POLICY: Policy | None = None  # set in the parent before the workers fork; each worker builds its own backend


@dataclass(frozen=True)
class LineProblem:
    """A line that cannot be read as text (too long, not UTF-8): it becomes an error record, not a crash."""

    code: str
    message: str


class OutputError(OSError):
    """Writing the output failed (disk full, closed pipe): the CLI names the output, not the input."""


def bounded_lines(binary: IO[bytes], max_bytes: int | None = None) -> Iterator[str | LineProblem]:
    """The lines of a binary stream as text, each read in at most `max_bytes` (+1) bytes: a longer line
    is skipped in pieces and reported, so one huge line never has to fit in memory."""
    limit = max_bytes or limits.CASE_BYTES.current()
    first = True
    while True:
        raw = binary.readline(limit + 1)
        if not raw:
            return
        if len(raw) > limit and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = binary.readline(1 << 20)
            message = f"the line is longer than {limit:,} bytes (the limit; set {limits.CASE_BYTES.env} to raise it)"
            yield LineProblem(limits.CASE_BYTES.code, message)
            first = False
            continue
        if first and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        first = False
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield LineProblem("encoding", f"not UTF-8 text at byte {exc.start + 1}: {exc.reason}")


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

    def add_record(self, text: str) -> None:
        """Count a line already written (a resumed batch): an error record, or a decision."""
        record = json.loads(text)
        if "error" in record and "findings" not in record:
            self.add(False, None, False)
            return
        category = next((f.get("value") for f in record.get("findings", []) if f.get("id") == "category"), None)
        breached = any(t.get("status") == "breached" for t in record.get("timers", []))
        self.add(True, str(category) if category is not None else None, breached)

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
    text: str | LineProblem,
    now: datetime | str | None,
    engine: str,
    default_now: datetime | str | None = None,
) -> tuple[str, bool, str | None, bool]:
    """One line in, one JSON line out: the decision, or an error record naming the line."""
    case_id: Any = None
    if isinstance(text, LineProblem):
        return _error(lineno, case_id, text.code, text.message), False, None, False
    limit = limits.CASE_BYTES.current()
    if len(text) > limit // 4 and len(text.rstrip("\r\n").encode("utf-8", "surrogatepass")) > limit:
        message = f"the line is longer than {limit:,} bytes (the limit)"
        return _error(lineno, case_id, limits.CASE_BYTES.code, message), False, None, False
    try:
        case = load_json(text)
    except json.JSONDecodeError as exc:
        return _error(lineno, case_id, "json-syntax", f"column {exc.colno}: {exc.msg}"), False, None, False
    except InputLimitError as exc:
        return _error(lineno, case_id, exc.code, str(exc)), False, None, False
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
    text = json.dumps(record, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a message quoting a lone surrogate: escaped, so the line can be written
        text = json.dumps(record)
    return text


def _run_chunk(
    args: tuple[list[tuple[int, str | LineProblem]], Any, str, Any],
) -> list[tuple[str, bool, str | None, bool]]:
    lines, now, engine, default_now = args
    if _POLICY is None:
        raise RuntimeError("batch worker started without a policy")
    return [evaluate_line(_POLICY, n, text, now, engine, default_now) for n, text in lines]


def _chunks(lines: Iterable[str | LineProblem], skip: int = 0) -> Iterator[list[tuple[int, str | LineProblem]]]:
    chunk: list[tuple[int, str | LineProblem]] = []
    for n, text in enumerate(lines, start=1):
        if isinstance(text, str) and not text.strip():
            continue
        if skip:  # a resumed batch: these lines' records are already written
            skip -= 1
            continue
        chunk.append((n, text))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_batch(
    policy: Policy,
    lines: Iterable[str | LineProblem],
    out: IO[str],
    *,
    now: datetime | str | None,
    engine: str = "python",
    jobs: int = 1,
    default_now: datetime | str | None = None,
    progress: Callable[[int], None] | None = None,
    skip: int = 0,
    summary: Summary | None = None,
) -> Summary:
    """Evaluate every line, writing results in input order; at most 2 × jobs chunks are in flight.
    `skip` non-blank lines are passed over (their records, counted in `summary`, are already written)."""
    global _POLICY
    summary = summary if summary is not None else Summary()

    def emit(results: list[tuple[str, bool, str | None, bool]]) -> None:
        for text, ok, category, breached in results:
            try:
                out.write(text + "\n")
            except OSError as exc:
                raise OutputError(exc.errno, exc.strerror) from None
            summary.add(ok, category, breached)
        if progress:
            progress(summary.total)

    _POLICY = policy
    if jobs <= 1:
        for chunk in _chunks(lines, skip):
            emit(_run_chunk((chunk, now, engine, default_now)))
        return summary
    # fork: workers inherit the compiled policy; the durable Host is created lazily in each worker.
    context = multiprocessing.get_context("fork")
    with context.Pool(jobs, initializer=_worker_signals) as pool:
        pending: deque[Any] = deque()
        for chunk in _chunks(lines, skip):
            pending.append(pool.apply_async(_run_chunk, ((chunk, now, engine, default_now),)))
            if len(pending) >= 2 * jobs:
                emit(pending.popleft().get())
        while pending:
            emit(pending.popleft().get())
    return summary


def _worker_signals() -> None:
    """Workers leave SIGINT/SIGTERM to the parent, which cleans up and stops the pool."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
