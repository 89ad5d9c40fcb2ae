"""The case register: cases as append-only events, decisions on record, numbers, versions in force, tick."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import CaseError, Diagnostic, Location, ZhiduError
from ..evaluate import decide
from ..expr.pyeval import Env, value_or_none
from ..forms import _format_number, period_of
from ..loader import load_pack
from ..policy import Policy
from ..source import SourceMap, load_json, read_document
from . import index as idx
from .db import ConflictError, RegisterError, aware, connect, utc
from .events import Event, check_kind, fold, merge_patch, set_path
from .packs import content_hash, pack_bundle, pack_files, policy_of
from .schema import blobs, breaches, cases, charges, deadlines, decisions, events, pack_versions, serials

DEFAULT_PATTERN = "{yyyy}{mm}{serial:04d}"
_PATH = re.compile(r"^[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*(\.[A-Za-z_\u4e00-\u9fff][\w\u4e00-\u9fff]*)*$")


@dataclass(frozen=True)
class CaseView:
    number: str
    pack_id: str
    pack_version: str
    content_hash: str
    version: int
    status: str
    facts: dict[str, Any]
    decision: dict[str, Any] | None
    external_id: str | None = None
    created: bool = False  # open_case: registered now (False: the external id was registered before)

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "pack": self.pack_id,
            "pack_version": self.pack_version,
            "content_hash": self.content_hash,
            "version": self.version,
            "status": self.status,
            "external_id": self.external_id,
            "facts": self.facts,
            "decision": self.decision,
        }


@dataclass(frozen=True)
class PackLayout:
    """What the register needs from a pack's raw text: which fact each event writes."""

    number_form: Any  # the FormDef whose pattern numbers cases, or None
    serial_fact: str | None
    step_done: dict[str, tuple[str, ...]]  # step id → fact path of its `done`
    pauses: dict[str, str]  # timer id → its pause-list fact
    warn_levels: dict[str, tuple[int, ...]]
    fact_names: frozenset[str]


def _plain_path(text: Any) -> tuple[str, ...] | None:
    return tuple(text.split(".")) if isinstance(text, str) and _PATH.match(text.strip()) else None


def layout_of(policy: Policy) -> PackLayout:
    """Read once per compiled policy (cached on it): the number form, step and pause facts."""
    cached = policy._cache.get("register-layout")
    if cached is not None:
        return cached
    raw = load_pack(policy.root).data
    steps: dict[str, tuple[str, ...]] = {}
    for route in raw.get("routes") or ():
        for step in route.get("steps") or () if isinstance(route, dict) else ():
            path = _plain_path(step.get("done")) if isinstance(step, dict) else None
            if path:
                steps[str(step["id"])] = path
    pauses = {}
    for timer in raw.get("timers") or ():
        path = _plain_path(timer.get("pauses")) if isinstance(timer, dict) else None
        if path and len(path) == 1:
            pauses[str(timer["id"])] = path[0]
    names = frozenset(f.name for f in policy.facts)
    number_form, serial_fact = None, None
    for form in policy.forms_spec.forms.values() if policy.forms_spec else ():
        if form.pattern:
            data, _smap, _diags = read_document(form.folder / "form.yaml", str(form.folder / "form.yaml"))
            serial = _plain_path(((data or {}).get("numbering") or {}).get("serial"))
            number_form = form
            serial_fact = serial[0] if serial and len(serial) == 1 and serial[0] in names else None
            break
    warn = {t.id: t.warn_at for t in (policy.sla.timers if policy.sla else ())}
    out = PackLayout(number_form, serial_fact, steps, pauses, warn, names)
    policy._cache["register-layout"] = out
    return out


def _dumps(value: Any) -> str:
    """Facts and payloads as JSON, exactly: a Decimal is written as the number it is (never via a float)."""
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _dumps(v) for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps(v) for v in value) + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise RegisterError(f"{value} is not a number JSON allows", code="bad-number")
        return format(value, "f")
    if isinstance(value, datetime | date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


# Stored decisions are small JSON documents that repeat the same keys and labels: compressing each against
# a frozen dictionary (decisions of the bundled packs' examples) makes them about three times smaller than
# plain zlib. The first byte names the dictionary; v1 must never change once decisions use it.
_DICTIONARY_V1 = resources.files(__package__).joinpath("decision-dictionary-v1.bin").read_bytes()


def pack_decision(text: bytes) -> bytes:
    packer = zlib.compressobj(6, zdict=_DICTIONARY_V1)
    return b"\x01" + packer.compress(text) + packer.flush()


def unpack_decision(blob: bytes) -> Any:
    if blob[:1] != b"\x01":
        raise RegisterError(f"stored decision in an unknown format ({blob[:1]!r})", code="database")
    unpacker = zlib.decompressobj(zdict=_DICTIONARY_V1)
    return json.loads(unpacker.decompress(blob[1:]) + unpacker.flush())


def _decision_json(decision: dict[str, Any]) -> bytes:
    # Decisions hold plain JSON values only (amounts are strings): the C encoder is fine and fast.
    return json.dumps(decision, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


# Statements built once (SQLAlchemy caches their compiled form; building them is most of the cost).
_UPDATE_CASE = (
    cases.update()
    .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_version"))
    .values(
        version=sa.bindparam("version"),
        facts=sa.bindparam("facts"),
        status=sa.bindparam("status"),
        pack_version_id=sa.bindparam("pack_version_id"),
        closed_at=sa.bindparam("closed_at"),
        next_at=sa.bindparam("next_at"),
        updated_at=sa.bindparam("updated_at"),
    )
)
_CASE_BY_NUMBER = sa.select(cases).where(cases.c.number == sa.bindparam("number"))
_DELETE_DEADLINES = deadlines.delete().where(deadlines.c.case_id == sa.bindparam("case_id"))
_KNOWN_BREACHES = sa.select(breaches.c.item, breaches.c.due_at).where(breaches.c.case_id == sa.bindparam("case_id"))


class Register:
    """The case register on a database URL (SQLite path or file URL, or postgresql+psycopg://…).

    Every method takes `now` (the register has no clock). Safe to share between threads; any number of
    processes may use one database: writes are transactions and conflicts are detected, not lost."""

    def __init__(self, url: str | None = None, *, engine: str = "python") -> None:
        self.db = connect(url)
        self.dialect = self.db.dialect.name
        self.reader = self.db.execution_options(zhidu_read=True)
        self._versions: dict[int, Any] = {}
        self._blob_insert = self._insert(blobs).on_conflict_do_nothing()
        self.engine_name = engine

    # ------------------------------------------------------------------------------------ plumbing
    @contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        try:
            with self.db.begin() as conn:
                yield conn
        except sa.exc.IntegrityError as exc:
            # Only a concurrent writer can trip a unique key the code checked first (same event number,
            # same external id): the caller re-reads and retries, as for any conflict.
            raise ConflictError(f"another writer got there first ({exc.orig}); read again and retry") from None
        except sa.exc.OperationalError as exc:
            raise RegisterError(f"database: {exc.orig}", code="database") from None

    def _insert(self, table: sa.Table) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    def _policy(self, conn: sa.Connection, version_id: int) -> tuple[Policy, str, str]:
        # A published version never changes: its row is read once per Register.
        row = self._versions.get(version_id)
        if row is None:
            row = conn.execute(
                sa.select(pack_versions.c.pack_id, pack_versions.c.content_hash, pack_versions.c.version).where(
                    pack_versions.c.id == version_id
                )
            ).one()
            self._versions[version_id] = row

        def blob() -> bytes:
            return conn.execute(sa.select(pack_versions.c.files).where(pack_versions.c.id == version_id)).scalar_one()

        return policy_of(row.pack_id, row.content_hash, blob), row.content_hash, row.version

    # ------------------------------------------------------------------------------------ packs
    def publish(self, pack: str, now: datetime, *, actor: str = "zhidu") -> dict[str, Any]:
        """Store the pack's current files as an immutable version (the same files twice: the same version)."""
        from ..compiler import load_policy

        policy = load_policy(pack)  # refuses an invalid pack with its located errors
        files = pack_files(pack)
        digest = content_hash(files)
        with self._tx() as conn:
            existing = conn.execute(
                sa.select(pack_versions.c.id).where(
                    pack_versions.c.pack_id == policy.id, pack_versions.c.content_hash == digest
                )
            ).scalar()
            if existing is None:
                conn.execute(
                    self._insert(pack_versions)
                    .values(
                        pack_id=policy.id,
                        version=policy.version,
                        content_hash=digest,
                        effective_from=policy.effective_from,
                        timezone=policy.timezone.key,
                        published_at=utc(now),
                        published_by=actor,
                        files=pack_bundle(files),
                    )
                    .on_conflict_do_nothing()
                )
        return {
            "pack": policy.id,
            "version": policy.version,
            "content_hash": digest,
            "effective_from": policy.effective_from.isoformat() if policy.effective_from else None,
            "new": existing is None,
        }

    def versions(self, pack_id: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(
            pack_versions.c.id,
            pack_versions.c.pack_id,
            pack_versions.c.version,
            pack_versions.c.content_hash,
            pack_versions.c.effective_from,
            pack_versions.c.published_at,
            pack_versions.c.published_by,
        ).order_by(pack_versions.c.pack_id, pack_versions.c.id)
        if pack_id:
            query = query.where(pack_versions.c.pack_id == pack_id)
        with self.reader.connect() as conn:
            return [
                {
                    "pack": r.pack_id,
                    "version": r.version,
                    "content_hash": r.content_hash,
                    "effective_from": r.effective_from.isoformat() if r.effective_from else None,
                    "published_at": aware(r.published_at).isoformat(),
                    "published_by": r.published_by,
                }
                for r in conn.execute(query)
            ]

    def _in_force(self, conn: sa.Connection, pack_id: str, day: date) -> int:
        """The version a case received on `day` is judged by: the latest published one in effect that day."""
        rows = conn.execute(
            sa.select(pack_versions.c.id, pack_versions.c.effective_from)
            .where(pack_versions.c.pack_id == pack_id)
            .order_by(pack_versions.c.id)
        ).all()
        if not rows:
            raise RegisterError(
                f"pack '{pack_id}' has no published version: run `zhidu packs publish {pack_id}` first",
                code="not-published",
            )
        usable = [r for r in rows if r.effective_from is None or r.effective_from <= day]
        if not usable:
            dates = ", ".join(sorted({r.effective_from.isoformat() for r in rows}))
            raise RegisterError(
                f"no version of pack '{pack_id}' is in force on {day.isoformat()} (effective from: {dates})",
                code="not-in-force",
            )
        return max(usable, key=lambda r: (r.effective_from or date.min, r.id)).id

    def _version_id(self, conn: sa.Connection, pack_id: str, digest: str) -> int:
        found = conn.execute(
            sa.select(pack_versions.c.id).where(
                pack_versions.c.pack_id == pack_id, pack_versions.c.content_hash.startswith(digest)
            )
        ).all()
        if len(found) != 1:
            raise RegisterError(
                f"pack '{pack_id}' has {'no' if not found else 'several'} published version(s) with hash {digest}",
                code="unknown-version",
            )
        return found[0].id

    def latest_policy(self, pack_id: str) -> Policy | None:
        """The most recently published version of a pack (for its calendar and timezone), or None."""
        with self.reader.connect() as conn:
            vid = conn.execute(
                sa.select(pack_versions.c.id)
                .where(pack_versions.c.pack_id == pack_id)
                .order_by(pack_versions.c.id.desc())
            ).scalar()
            return self._policy(conn, vid)[0] if vid is not None else None

    # ------------------------------------------------------------------------------------ cases
    def open_case(
        self,
        pack_id: str,
        case: Mapping[str, Any],
        now: datetime,
        *,
        actor: str = "zhidu",
        reason: str | None = None,
        occurred_at: datetime | None = None,
        external_id: str | None = None,
        smap: SourceMap | None = None,
        filename: str = "<case>",
        kind: str = "opened",
    ) -> CaseView:
        """Register a case: the version in force at its received date judges it; it gets its number now.
        Registering an external id twice returns the first registration (`created` False), also when two
        writers register it at once."""
        try:
            return self._open_case(pack_id, case, now, actor, reason, occurred_at, external_id, smap, filename, kind)
        except ConflictError:
            ext = external_id or (str(case["case_id"]) if case.get("case_id") else None)
            if ext is None:
                raise
            with self.reader.connect() as conn:
                row = self._case_row(conn, pack_id, external_id=ext)
                if row is None:
                    raise
                return self._view(conn, row)

    def _open_case(self, pack_id, case, now, actor, reason, occurred_at, external_id, smap, filename, kind) -> CaseView:
        occurred = occurred_at or now
        if not isinstance(case, Mapping) or not isinstance(case.get("facts"), Mapping):
            raise CaseError(
                [Diagnostic(Location(filename, 1, 1), "case-invalid", "a case must be a mapping with 'facts'")]
            )
        external_id = external_id or (str(case["case_id"]) if case.get("case_id") else None)
        with self._tx() as conn:
            if external_id is not None:
                row = self._case_row(conn, pack_id, external_id=external_id)
                if row is not None:
                    return self._view(conn, row)  # idempotent by external id: created stays False
            received = self._received(conn, pack_id, case, occurred, smap, filename)
            version_id = self._in_force(conn, pack_id, received.date())
            policy, digest, _ = self._policy(conn, version_id)
            facts = dict(case["facts"])
            layout = layout_of(policy)
            normal, _ = policy.normaliser.case({"facts": facts}, smap, filename)
            number, serial = self._allocate_case_number(conn, policy, layout, normal, received)
            if layout.serial_fact:
                facts[layout.serial_fact] = serial  # the register numbers cases: a serial sent in is replaced
            res = conn.execute(
                cases.insert().values(
                    pack_id=pack_id,
                    number=number,
                    external_id=external_id,
                    pack_version_id=version_id,
                    version=0,
                    status="open",
                    received_at=utc(received),
                    facts="{}",
                    updated_at=utc(now),
                )
            )
            case_pk = res.inserted_primary_key[0]
            payload = {"facts": facts, "number": number, "pack_version": digest}
            row = conn.execute(sa.select(cases).where(cases.c.id == case_pk)).one()
            view = self._append_locked(
                conn, row, kind, payload, now, occurred, actor, reason, smap=smap, filename=filename
            )
        return dataclasses.replace(view, created=True)

    def _received(
        self, conn: sa.Connection, pack_id: str, case: Mapping[str, Any], occurred: datetime, smap, filename
    ) -> datetime:
        raw = case["facts"].get("received_at")
        if raw is None:
            return occurred
        from ..facts import parse_datetime

        versions = conn.execute(
            sa.select(pack_versions.c.id).where(pack_versions.c.pack_id == pack_id).order_by(pack_versions.c.id.desc())
        ).first()
        if versions is None:
            self._in_force(conn, pack_id, occurred.date())  # raises not-published
        policy, _, _ = self._policy(conn, versions.id)
        if isinstance(raw, datetime):
            return raw if raw.tzinfo else raw.replace(tzinfo=policy.timezone)
        try:
            return parse_datetime(str(raw), policy.timezone)
        except ValueError as exc:
            where = (smap or SourceMap()).location(("facts", "received_at"), default_file=filename)
            raise CaseError([Diagnostic(where, "case-invalid", f"received_at: {exc}")]) from None

    def _allocate_case_number(
        self, conn: sa.Connection, policy: Policy, layout: PackLayout, facts: dict[str, Any], received: datetime
    ) -> tuple[str, int]:
        form = layout.number_form
        pattern = form.pattern if form else DEFAULT_PATTERN
        counter = form.counter if form else "case"
        day = received.astimezone(policy.timezone).date()
        if form is not None and form.date is not None:
            value = value_or_none(form.date, Env(facts, {}, received, policy.timezone))
            if isinstance(value, datetime):
                day = value.astimezone(policy.timezone).date()
            elif isinstance(value, date):
                day = value
        serial = self._next_serial(conn, policy.id, counter, period_of(day, pattern))
        return _format_number(pattern, day, serial), serial

    def _next_serial(self, conn: sa.Connection, pack_id: str, counter: str, period: str) -> int:
        """The counter's next value, in the caller's transaction: a rolled-back registration gives its
        number back, so numbers have no gaps; the row lock (PostgreSQL) or the write lock (SQLite) makes
        concurrent writers queue."""
        stmt = self._insert(serials).values(pack_id=pack_id, counter=counter, period=period, value=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[serials.c.pack_id, serials.c.counter, serials.c.period],
            set_={"value": serials.c.value + 1},
        ).returning(serials.c.value)
        return int(conn.execute(stmt).scalar_one())

    def _case_row(
        self,
        conn: sa.Connection,
        pack_id: str | None = None,
        *,
        number: str | None = None,
        external_id: str | None = None,
    ) -> Any:
        if number is not None and external_id is None and not pack_id:
            rows = conn.execute(_CASE_BY_NUMBER, {"number": number}).all()  # the common case, prebuilt
        else:
            query = sa.select(cases)
            if number is not None:
                query = query.where(cases.c.number == number)
            if external_id is not None:
                query = query.where(cases.c.external_id == external_id)
            if pack_id:
                query = query.where(cases.c.pack_id == pack_id)
            rows = conn.execute(query).all()
        if len(rows) > 1:
            packs = ", ".join(sorted(r.pack_id for r in rows))
            raise RegisterError(f"case {number or external_id} exists in several packs ({packs}): name the pack")
        return rows[0] if rows else None

    def _require(self, conn: sa.Connection, number: str, pack_id: str | None) -> Any:
        row = self._case_row(conn, pack_id, number=number)
        if row is None:
            raise RegisterError(
                f"no case numbered '{number}'" + (f" in pack '{pack_id}'" if pack_id else ""), code="no-case"
            )
        return row

    def append(
        self,
        number: str,
        kind: str,
        now: datetime,
        *,
        based_on: int | None = None,
        patch: Mapping[str, Any] | None = None,
        step: str | None = None,
        timer: str | None = None,
        version: str | None = None,
        occurred_at: datetime | None = None,
        actor: str = "zhidu",
        reason: str | None = None,
        pack_id: str | None = None,
        smap: SourceMap | None = None,
        filename: str = "<event>",
    ) -> CaseView:
        """Add one event. With `based_on`, a case changed since that version is a ConflictError; without,
        the event applies to the latest version (retried if another writer got in first)."""
        check_kind(kind)
        if kind in ("opened", "imported", "breach"):
            raise RegisterError(f"'{kind}' events are written by the register itself", code="bad-event")
        occurred = occurred_at or now
        for _attempt in range(50):
            try:
                with self._tx() as conn:
                    row = self._require(conn, number, pack_id)
                    if based_on is not None and based_on != row.version:
                        raise ConflictError(
                            f"case {number} is at version {row.version}, not {based_on}: "
                            "it changed since you read it; read it again and retry",
                        )
                    policy, _digest, _ = self._policy(conn, row.pack_version_id)
                    facts = load_json(row.facts)
                    payload = self._payload(policy, facts, row, kind, patch, step, timer, version, occurred, conn)
                    return self._append_locked(
                        conn,
                        row,
                        kind,
                        payload,
                        now,
                        occurred,
                        actor,
                        reason,
                        smap=smap,
                        filename=filename,
                    )
            except ConflictError:
                if based_on is not None:
                    raise
        raise ConflictError(f"case {number}: too many concurrent writers; try again")

    def _payload(self, policy, facts, row, kind, patch, step, timer, version, occurred, conn) -> dict[str, Any]:
        layout = layout_of(policy)
        at = occurred.astimezone(policy.timezone).isoformat()
        if kind == "facts-changed":
            if not isinstance(patch, Mapping):
                raise RegisterError("facts-changed needs a merge patch of the facts", code="bad-event")
            return {"patch": dict(patch)}
        if kind == "step-done":
            if step not in layout.step_done:
                known = ", ".join(sorted(layout.step_done)) or "none"
                raise RegisterError(
                    f"pack '{row.pack_id}' has no route step '{step}' (steps: {known})", code="bad-event"
                )
            return {"step": step, "patch": set_path({}, layout.step_done[step], at)}
        if kind in ("paused", "resumed"):
            if timer not in layout.pauses:
                known = ", ".join(sorted(layout.pauses)) or "none"
                raise RegisterError(
                    f"pack '{row.pack_id}' has no timer '{timer}' that pauses (timers: {known})", code="bad-event"
                )
            name = layout.pauses[timer]
            periods = [dict(p) for p in facts.get(name) or ()]
            open_ones = [p for p in periods if "to" not in p]
            if kind == "paused":
                if open_ones:
                    raise RegisterError(
                        f"timer '{timer}' is already paused since {open_ones[0]['from']}", code="bad-event"
                    )
                periods.append({"from": at})
            else:
                if not open_ones:
                    raise RegisterError(f"timer '{timer}' is not paused", code="bad-event")
                open_ones[-1]["to"] = at
            return {"timer": timer, "patch": {name: periods}}
        if kind == "closed":
            if row.status == "closed":
                raise RegisterError(f"case {row.number} is already closed", code="bad-event")
            return {"patch": {"closed_at": at} if "closed_at" in layout.fact_names else {}}
        if kind == "reopened":
            if row.status != "closed":
                raise RegisterError(f"case {row.number} is not closed", code="bad-event")
            return {"patch": {"closed_at": None} if "closed_at" in layout.fact_names else {}}
        if kind == "rejudged":
            target = (
                self._version_id(conn, row.pack_id, version)
                if version
                else self._in_force(conn, row.pack_id, aware(row.received_at).date())
            )
            digest = conn.execute(
                sa.select(pack_versions.c.content_hash).where(pack_versions.c.id == target)
            ).scalar_one()
            return {"pack_version": digest}
        if kind == "penalty-confirmed":
            return {}
        raise RegisterError(f"'{kind}' cannot be appended", code="bad-event")

    def _append_locked(
        self,
        conn: sa.Connection,
        row: Any,
        kind: str,
        payload: dict[str, Any],
        now: datetime,
        occurred: datetime,
        actor: str,
        reason: str | None,
        *,
        smap: SourceMap | None = None,
        filename: str = "<event>",
    ) -> CaseView:
        """Write event version+1 and everything it implies, in the caller's transaction."""
        last = aware(row.updated_at)
        if last is not None and now < last:
            # The record only moves forward: an event dated before the last one would rewrite the past.
            raise RegisterError(
                f"case {row.number} was last recorded at {last.isoformat()}; --now {now.isoformat()} is earlier",
                code="time-backwards",
            )
        version_id = row.pack_version_id
        if kind == "rejudged":
            version_id = self._version_id(conn, row.pack_id, payload["pack_version"])
        policy, digest, _ = self._policy(conn, version_id)
        facts = (
            payload["facts"] if "facts" in payload else merge_patch(load_json(row.facts), payload.get("patch") or {})
        )
        status = {"closed": "closed", "reopened": "open"}.get(kind, row.status)
        # A patch file reads like a case ({facts: …}): its positions locate errors in the merged facts.
        normal, _ = policy.normaliser.case({"facts": facts}, smap, filename)
        closed_at = utc(occurred) if kind == "closed" else (None if kind == "reopened" else row.closed_at)
        new = [(kind, payload, actor, reason, occurred)]
        decision, seq = self._judge(
            conn, row, new, policy, digest, version_id, normal, facts, status, closed_at, now, actor
        )
        return CaseView(row.number, row.pack_id, policy.version, digest, seq, status, facts, decision, row.external_id)

    def _judge(
        self,
        conn: sa.Connection,
        row: Any,
        new: list[tuple[str, dict[str, Any], str, str | None, datetime]],
        policy: Policy,
        digest: str,
        version_id: int,
        normal: dict[str, Any],
        facts: dict[str, Any],
        status: str,
        closed_at: datetime | None,
        now: datetime,
        actor: str,
    ) -> tuple[dict[str, Any], int]:
        """Evaluate; write the case's new events (with any breach issued for the first time), its projection
        (checked against the version it was read at), the decision and its index rows. Returns the decision
        and the case's version after the events."""
        decision = decide(policy, normal, row.number, now, engine=self.engine_name).to_dict()
        found = idx.breaches(decision)
        if found:
            known = {(r.item, aware(r.due_at)) for r in conn.execute(_KNOWN_BREACHES, {"case_id": row.id})}
            for b in found:
                if (b.item, b.due_at) in known:
                    continue
                # The unique key is the guard between concurrent writers; the check above only saves work.
                inserted = conn.execute(
                    self._insert(breaches)
                    .values(case_id=row.id, item=b.item, due_at=utc(b.due_at), recorded_at=utc(now))
                    .on_conflict_do_nothing()
                    .returning(breaches.c.id)
                ).scalar()
                if inserted is None:
                    continue
                form_ids, actions = idx.effects_of(decision, b.source)
                issued = [{"id": f, "number": self._form_number(conn, policy, f, now)} for f in form_ids]
                payload = {"item": b.item, "due_at": b.due_at.isoformat(), "forms": issued, "actions": actions}
                new.append(("breach", payload, actor, None, now))
        rows = idx.deadlines(decision, layout_of(policy).warn_levels) if status == "open" else []
        nxt = idx.next_at(rows, now)
        seq = row.version + len(new)
        done = conn.execute(
            _UPDATE_CASE,
            {
                "b_id": row.id,
                "b_version": row.version,
                "version": seq,
                "facts": _dumps(facts),
                "status": status,
                "pack_version_id": version_id,
                "closed_at": closed_at,
                "next_at": utc(nxt) if nxt else None,
                "updated_at": utc(now),
            },
        )
        if done.rowcount != 1:
            raise ConflictError(f"case {row.number} changed while this event was written; read it again and retry")
        conn.execute(
            events.insert(),
            [
                {
                    "case_id": row.id,
                    "seq": row.version + i + 1,
                    "kind": kind,
                    "payload": _dumps(payload),
                    "actor": who,
                    "reason": why,
                    "occurred_at": utc(when),
                    "recorded_at": utc(now),
                }
                for i, (kind, payload, who, why, when) in enumerate(new)
            ],
        )
        self._store_decision(conn, row.id, seq, version_id, digest, decision, now)
        conn.execute(_DELETE_DEADLINES, {"case_id": row.id})
        if rows:
            conn.execute(
                deadlines.insert(),
                [
                    {
                        "case_id": row.id,
                        "pack_id": policy.id,
                        "item": r.item,
                        "kind": r.kind,
                        "label": r.label,
                        "role": r.role,
                        "warn_at": utc(r.warn_at) if r.warn_at else None,
                        "due_at": utc(r.due_at),
                    }
                    for r in rows
                ],
            )
        return decision, seq

    def _form_number(self, conn: sa.Connection, policy: Policy, form_id: str, now: datetime) -> str:
        form = policy.forms_spec.forms.get(form_id) if policy.forms_spec else None
        pattern = form.pattern if form and form.pattern else "{yy}{mm}{serial:03d}"
        day = now.astimezone(policy.timezone).date()
        counter = form.counter if form and form.pattern else form_id
        return _format_number(pattern, day, self._next_serial(conn, policy.id, counter, period_of(day, pattern)))

    def _store_decision(self, conn, case_pk, seq, version_id, digest, decision, now) -> None:
        text = _decision_json(decision)
        key = hashlib.sha256(text).hexdigest()
        conn.execute(self._blob_insert, {"hash": key, "data": pack_decision(text)})
        conn.execute(
            decisions.insert(),
            {
                "case_id": case_pk,
                "seq": seq,
                "pack_version_id": version_id,
                "content_hash": digest,
                "evaluated_at": utc(now),
                "engine": self.engine_name,
                "decision_hash": key,
                "recorded_at": utc(now),
            },
        )

    def confirm_penalties(
        self,
        number: str,
        now: datetime,
        *,
        based_on: int | None = None,
        pack_id: str | None = None,
        actor: str = "zhidu",
        reason: str | None = None,
        occurred_at: datetime | None = None,
    ) -> int:
        """Post the penalties of the case's last decision to the ledger (once per case, person and kind),
        with a `penalty-confirmed` event. Returns how many charges were posted now."""
        from .ledger import posted_charges

        with self._tx() as conn:
            row = self._require(conn, number, pack_id)
            if based_on is not None and based_on != row.version:
                raise ConflictError(
                    f"case {number} is at version {row.version}, not {based_on}: read it again and retry"
                )
            policy, _digest, _ = self._policy(conn, row.pack_version_id)
            decision = self._view(conn, row).decision or {}
            rows = posted_charges(policy, decision)
            if not rows:
                raise RegisterError(f"case {number}: its decision has no penalties to confirm", code="no-penalty")
            fresh = []
            for r in rows:
                inserted = conn.execute(
                    self._insert(charges)
                    .values(case_id=row.id, recorded_at=utc(now), **r)
                    .on_conflict_do_nothing()
                    .returning(charges.c.id)
                ).scalar()
                if inserted is not None:
                    fresh.append(r)
            if fresh:
                payload = {
                    "charges": [
                        {"person": r["person_id"], "kind": r["kind"], "month": r["month"], "amount": str(r["amount"])}
                        for r in fresh
                    ]
                }
                self._append_locked(conn, row, "penalty-confirmed", payload, now, occurred_at or now, actor, reason)
            return len(fresh)

    # ------------------------------------------------------------------------------------ reading
    def _view(self, conn: sa.Connection, row: Any) -> CaseView:
        policy, digest, version = self._policy(conn, row.pack_version_id)
        last = conn.execute(
            sa.select(blobs.c.data)
            .select_from(decisions.join(blobs, decisions.c.decision_hash == blobs.c.hash))
            .where(decisions.c.case_id == row.id)
            .order_by(decisions.c.id.desc())
            .limit(1)
        ).scalar()
        decision = unpack_decision(last) if last is not None else None
        return CaseView(
            row.number,
            row.pack_id,
            version,
            digest,
            row.version,
            row.status,
            load_json(row.facts),
            decision,
            row.external_id,
        )

    def get(self, number: str, *, pack_id: str | None = None) -> CaseView:
        with self.reader.connect() as conn:
            return self._view(conn, self._require(conn, number, pack_id))

    def events_of(self, number: str, *, pack_id: str | None = None, until: datetime | None = None) -> list[Event]:
        with self.reader.connect() as conn:
            row = self._require(conn, number, pack_id)
            return self._events(conn, row.id, until)

    def _events(self, conn: sa.Connection, case_pk: int, until: datetime | None = None) -> list[Event]:
        query = sa.select(events).where(events.c.case_id == case_pk).order_by(events.c.seq)
        if until is not None:
            query = query.where(events.c.recorded_at <= utc(until))
        return [
            Event(
                r.seq,
                r.kind,
                load_json(r.payload),
                r.actor,
                r.reason,
                aware(r.occurred_at),
                aware(r.recorded_at),
            )
            for r in conn.execute(query)
        ]

    def as_of(self, number: str, at: datetime, *, pack_id: str | None = None) -> CaseView:
        """The case as it stood at `at`: the events recorded by then, folded, judged by the version then."""
        with self.reader.connect() as conn:
            row = self._require(conn, number, pack_id)
            evs = self._events(conn, row.id, at)
            if not evs:
                raise RegisterError(f"case {number} was not registered yet at {at.isoformat()}", code="no-case")
            digest = next(e.payload["pack_version"] for e in reversed(evs) if "pack_version" in e.payload)
            version_id = self._version_id(conn, row.pack_id, digest)
            policy, digest, version = self._policy(conn, version_id)
            facts = fold(evs)
            status = "open"
            for e in evs:
                status = {"closed": "closed", "reopened": "open"}.get(e.kind, status)
            normal, _ = policy.normaliser.case({"facts": facts})
            decision = decide(policy, normal, number, at, engine=self.engine_name).to_dict()
            return CaseView(number, row.pack_id, version, digest, evs[-1].seq, status, facts, decision, row.external_id)

    def decision_log(self, number: str, *, pack_id: str | None = None) -> list[dict[str, Any]]:
        with self.reader.connect() as conn:
            row = self._require(conn, number, pack_id)
            out = []
            query = (
                sa.select(decisions, blobs.c.data)
                .select_from(decisions.join(blobs, decisions.c.decision_hash == blobs.c.hash))
                .where(decisions.c.case_id == row.id)
                .order_by(decisions.c.id)
            )
            for r in conn.execute(query):
                out.append(
                    {
                        "seq": r.seq,
                        "evaluated_at": aware(r.evaluated_at).isoformat(),
                        "content_hash": r.content_hash,
                        "engine": r.engine,
                        "decision": unpack_decision(r.data),
                    }
                )
            return out

    def render_form(self, number: str, form_id: str, fmt: str, now: datetime, *, pack_id: str | None = None) -> str:
        """A form of a registered case, filled from its facts as of `now`; it carries the case's number, and a
        form a breach issued carries the number the breach gave it (the latest such)."""
        from ..evaluate import decide_with_findings
        from ..forms import render

        with self.reader.connect() as conn:
            row = self._require(conn, number, pack_id)
            policy, _, _ = self._policy(conn, row.pack_version_id)
            evs = self._events(conn, row.id)
        normal, _ = policy.normaliser.case({"facts": load_json(row.facts)})
        result, findings = decide_with_findings(policy, normal, number, now, engine=self.engine_name)
        issued = [
            f["number"] for e in evs if e.kind == "breach" for f in e.payload.get("forms", ()) if f["id"] == form_id
        ]
        return render(policy, result.to_dict(), normal, form_id, fmt, issued[-1] if issued else None, findings)

    # ------------------------------------------------------------------------------------ due and tick
    def due(
        self, at: datetime, *, within: Callable[[str, datetime], datetime] | None = None, pack_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Warning and breached items of open cases from the index (no evaluation). `within(pack, at)`
        gives the horizon for items coming due soon (e.g. two working days on the pack's calendar)."""
        at_utc = utc(at)
        state = sa.case(
            (deadlines.c.due_at <= at_utc, "breached"), (deadlines.c.warn_at <= at_utc, "warning"), else_="due-soon"
        )
        columns = (cases.c.number, deadlines.c.pack_id, deadlines.c.item, deadlines.c.label, deadlines.c.role)
        base = sa.select(*columns, deadlines.c.due_at, state).select_from(
            deadlines.join(cases, cases.c.id == deadlines.c.case_id)
        )
        with self.reader.connect() as conn:
            zones = dict(conn.execute(sa.select(pack_versions.c.pack_id, pack_versions.c.timezone)).all())
            if within is None:
                # One indexed query for every pack: due by now, or past a warning threshold.
                queries = [base.where(sa.or_(deadlines.c.due_at <= at_utc, deadlines.c.warn_at <= at_utc))]
            else:
                packs = [pack_id] if pack_id else sorted(zones)
                queries = [
                    base.where(
                        deadlines.c.pack_id == pack,
                        sa.or_(deadlines.c.due_at <= utc(within(pack, at)), deadlines.c.warn_at <= at_utc),
                    )
                    for pack in packs
                ]
            if pack_id:
                queries = [q.where(deadlines.c.pack_id == pack_id) for q in queries]
            out = []
            tzs = {pack: ZoneInfo(name) for pack, name in zones.items()}
            for query in queries:
                for number, pack, item, label, role, due_at, st in conn.execute(query.order_by(deadlines.c.due_at)):
                    when = due_at if due_at.tzinfo else due_at.replace(tzinfo=UTC)
                    out.append(
                        {
                            "number": number,
                            "pack": pack,
                            "item": item,
                            "label": label,
                            "role": role,
                            "due_at": when.astimezone(tzs.get(pack, UTC)).isoformat(),
                            "state": st,
                        }
                    )
            return out

    def tick(self, at: datetime, *, actor: str = "tick", limit: int | None = None) -> dict[str, int]:
        """Re-evaluate the open cases whose next instant has passed; breaches are issued once."""
        with self.reader.connect() as conn:
            query = (
                sa.select(cases.c.id)
                .where(cases.c.status == "open", cases.c.next_at <= utc(at))
                .order_by(cases.c.next_at)
            )
            if limit:
                query = query.limit(limit)
            ids = [r.id for r in conn.execute(query)]
        evaluated = issued = 0
        for case_pk in ids:
            with self._tx() as conn:
                lock = sa.select(cases).where(cases.c.id == case_pk)
                row = conn.execute(lock.with_for_update() if self.dialect == "postgresql" else lock).one()
                if row.status != "open" or row.next_at is None or aware(row.next_at) > at:
                    continue  # another tick got here first
                if aware(row.updated_at) > at:
                    continue  # recorded after `at`: a tick for an earlier time would rewrite the past
                policy, digest, _ = self._policy(conn, row.pack_version_id)
                normal, _ = policy.normaliser.case({"facts": load_json(row.facts)})
                facts = load_json(row.facts)
                _, seq = self._judge(
                    conn,
                    row,
                    [],
                    policy,
                    digest,
                    row.pack_version_id,
                    normal,
                    facts,
                    row.status,
                    row.closed_at,
                    at,
                    actor,
                )
                evaluated += 1
                issued += seq - row.version
        return {"evaluated": evaluated, "breaches_issued": issued}

    # ------------------------------------------------------------------------------------ measures
    def sizes(self) -> dict[str, int]:
        """Counts and stored bytes, for `db info` and the benchmarks."""
        with self.reader.connect() as conn:
            n_cases = conn.execute(sa.select(sa.func.count()).select_from(cases)).scalar_one()
            n_decisions = conn.execute(sa.select(sa.func.count()).select_from(decisions)).scalar_one()
            n_blobs = conn.execute(sa.select(sa.func.count()).select_from(blobs)).scalar_one()
            blob_bytes = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(blobs.c.data)), 0))
            ).scalar_one()
            n_events = conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
            event_bytes = conn.execute(
                sa.select(sa.func.coalesce(sa.func.sum(sa.func.length(events.c.payload)), 0))
            ).scalar_one()
        return {
            "cases": n_cases,
            "events": n_events,
            "decisions": n_decisions,
            "distinct_decisions": n_blobs,
            "decision_bytes": int(blob_bytes),
            "event_bytes": int(event_bytes),
        }


def now_utc() -> datetime:
    """For callers outside the core (the CLI): the register itself never reads a clock."""
    return datetime.now(UTC)


__all__ = ["CaseView", "ConflictError", "Register", "RegisterError", "ZhiduError"]
