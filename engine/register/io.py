"""Cases in and out of the register: import (JSON Lines or CSV, idempotent by case_id), export, backup."""

from __future__ import annotations

import csv
import json
import sqlite3
import sys
from contextlib import nullcontext
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..errors import Diagnostic, Location, ZhiduError
from ..source import SourceMap, parse_json
from .db import RegisterError
from .schema import cases
from .store import _dumps


def import_cases(register: Any, pack_id: str, source: str, now: datetime, *, actor: str) -> dict[str, Any]:
    """Each line (or CSV row) is a case with a case_id; a case_id registered before is skipped. A bad line
    is reported by number and the others go on: each case is its own transaction."""
    summary: dict[str, Any] = {"registered": 0, "skipped": 0, "errors": []}
    try:
        _import_all(register, pack_id, source, now, actor, summary)
    except (UnicodeDecodeError, csv.Error) as exc:
        # The lines before the bad one are registered (each is its own transaction); re-running is safe.
        raise RegisterError(f"{source}: cannot read the file: {exc}", code="import-unreadable") from None
    return summary


def _import_all(register: Any, pack_id: str, source: str, now: datetime, actor: str, summary: dict[str, Any]) -> None:
    for line, doc, smap in _documents(register, pack_id, source):
        if isinstance(doc, str):
            summary["errors"].append({"line": line, "error": doc})
            continue
        try:
            view = register.open_case(
                pack_id,
                doc,
                now,
                actor=actor,
                kind="imported",
                smap=smap,
                filename=source if smap else f"{source}:{line}",
            )
        except ZhiduError as exc:
            summary["errors"].append({"line": line, "error": str(exc)})
            continue
        summary["registered" if view.created else "skipped"] += 1


def _documents(register: Any, pack_id: str, source: str):
    handle = sys.stdin if source == "-" else Path(source).open(encoding="utf-8-sig", newline="")
    with nullcontext(handle) if source == "-" else handle:
        if source.endswith(".csv"):
            yield from _csv_documents(register, pack_id, handle)
            return
        for n, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            doc, smap, diags = parse_json(text, source)
            if diags:
                yield n, "\n".join(str(_on_line(d, n)) for d in diags), None
                continue
            if not isinstance(doc, dict) or not doc.get("case_id"):
                yield (
                    n,
                    f"{source}:{n}:1: import: each line needs a case_id (the external id that makes import idempotent)",
                    None,
                )
                continue
            yield n, doc, _shifted(smap, n - 1)


def _on_line(d: Diagnostic, line: int) -> Diagnostic:
    loc = d.location
    return Diagnostic(Location(loc.file, line, loc.column, loc.path), d.code, d.message, d.severity)


def _shifted(smap: SourceMap, by: int) -> SourceMap:
    """Positions of one JSON line, moved to where the line is in the file."""
    out = SourceMap()
    out.values = {p: (v[0], v[1] + by, v[2], v[3], v[4] + by) for p, v in smap.values.items()}
    out.keys = {p: (k[0], k[1] + by, k[2]) for p, k in smap.keys.items()}
    return out


def _csv_documents(register: Any, pack_id: str, handle: Any):
    """CSV columns are case_id and fact names; cells are typed by the pack's vocabulary (lists and objects
    as JSON text), an empty cell is an absent fact."""
    policy = register.latest_policy(pack_id)
    if policy is None:
        raise RegisterError(f"pack '{pack_id}' has no published version", code="not-published")
    types = {f.name: f.type.kind for f in policy.facts}
    reader = csv.DictReader(handle)
    for n, rec in enumerate(reader, start=2):
        if not (rec.get("case_id") or "").strip():
            yield n, f"line {n}: case_id is empty", None
            continue
        facts: dict[str, Any] = {}
        problem = None
        for key, cell in rec.items():
            if key == "case_id" or cell is None or cell == "":
                continue
            try:
                facts[key] = _cell(cell, types.get(key, "string"))
            except ValueError as exc:
                problem = f"line {n}, column {key}: {exc}"
                break
        yield n, problem or {"case_id": rec["case_id"].strip(), "facts": facts}, None


def _cell(text: str, kind: str) -> Any:
    if kind == "integer":
        return int(text)
    if kind == "number":
        return json.loads(text, parse_float=Decimal)
    if kind == "boolean":
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{text!r} is not true or false")
        return text.lower() == "true"
    if kind in ("list", "object"):
        return json.loads(text)
    return text


def export_cases(register: Any, output: str, pack_id: str | None = None) -> int:
    """One JSON line per case: number, pack, status, facts and every event."""
    query = sa.select(cases.c.number, cases.c.pack_id).order_by(cases.c.pack_id, cases.c.id)
    if pack_id:
        query = query.where(cases.c.pack_id == pack_id)
    with register.reader.connect() as conn:
        keys = conn.execute(query).all()
    count = 0
    target = sys.stdout if output == "-" else Path(output).open("w", encoding="utf-8")
    with nullcontext(target) if output == "-" else target:
        for number, pack in keys:
            view = register.get(number, pack_id=pack)
            events = [e.to_dict() for e in register.events_of(number, pack_id=pack)]
            record = {
                "number": view.number,
                "pack": view.pack_id,
                "external_id": view.external_id,
                "status": view.status,
                "version": view.version,
                "content_hash": view.content_hash,
                "facts": view.facts,
                "events": events,
            }
            target.write(_dumps(record) + "\n")
            count += 1
    return count


def backup(register: Any, target: Path) -> None:
    """SQLite's online backup: a consistent copy while other processes write. PostgreSQL: use pg_dump."""
    if register.dialect != "sqlite":
        raise RegisterError("db backup copies SQLite files; for PostgreSQL run pg_dump (see docs/register.md)")
    if target.exists():
        raise RegisterError(f"{target} exists; choose a new file", code="exists")
    raw = register.db.raw_connection()
    try:
        dest = sqlite3.connect(target)
        try:
            raw.driver_connection.backup(dest)
        finally:
            dest.close()
    finally:
        raw.close()
