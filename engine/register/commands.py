"""The register's click commands (`cases`, `db`, `report`, `ledger`, `packs publish`); cli.py adds them."""

from __future__ import annotations

import getpass
import json
import os
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click

DEFAULT_TZ = ZoneInfo("Asia/Shanghai")

REGISTER_EXIT_CODES = """\b
Register exit codes (cases, db, report, ledger, packs publish):
  8  the register refused the operation (unknown case, bad event, database problem)
  9  conflict: the case changed since the version you based the change on (--based-on); re-read, retry
"""

db_option = click.option(
    "--db",
    "db_url",
    metavar="URL|PATH",
    help="register database: an SQLite file or postgresql+psycopg://… (default: $ZHIDU_DATABASE_URL, "
    "else ~/.local/share/zhidu/register.db)",
)
by_option = click.option("--by", "actor", help="who does this (default: the login name)")
why_option = click.option("--why", "reason", help="why, kept with the event")


def _instant(value: str | None, what: str, default: datetime | None = None) -> datetime:
    """An ISO 8601 option value; without an offset it is read in Asia/Shanghai. None: the clock."""
    from ..facts import DATETIME_PATTERN, parse_datetime

    if value is None:
        return default or datetime.now(UTC)
    if not re.match(DATETIME_PATTERN, value):
        raise click.BadParameter(f"{value!r} is not an ISO 8601 datetime (2024-09-10T10:00:00+08:00)", param_hint=what)
    try:
        return parse_datetime(value, DEFAULT_TZ)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r}: {exc}", param_hint=what) from None


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _register(db_url: str | None):
    from .store import Register

    return Register(db_url)


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=_number))


def _number(value: Any) -> Any:
    """Exact decimals from the register, for display (`cases export` writes them exactly)."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _read_doc(path: str):
    """A YAML/JSON document (or JSON on stdin for -) and its source map."""
    from ..errors import CaseError
    from ..source import parse_json, read_document

    if path == "-":
        data, smap, diags = parse_json(sys.stdin.read(), "<stdin>")
        name = "<stdin>"
    else:
        data, smap, diags = read_document(Path(path), path)
        name = path
    if diags:
        raise CaseError(diags)
    return data, smap, name


def build(command_cls: type[click.Command]) -> list[click.Command]:
    """The register's command groups, each command of `command_cls` (the CLI's error-to-exit mapping)."""

    def group(name: str, help_text: str) -> click.Group:
        g = click.Group(name, help=help_text, epilog=REGISTER_EXIT_CODES)
        g.command_class = command_cls
        return g

    db = group("db", "The register's database: migrations, backup.")
    cases = group("cases", "Registered cases: open, update, close, show, history, due list, tick.")
    report = group("report", "Reports from the register.")
    ledger = group("ledger", "The penalty ledger: bonuses, charges, monthly deductions.")

    # ------------------------------------------------------------------------------------------ db
    @db.command("upgrade")
    @db_option
    def db_upgrade(db_url: str | None) -> None:
        """Create or migrate the register's tables to the current schema."""
        from .db import connect, current_revision, resolve_url

        eng = connect(db_url)
        click.echo(f"{resolve_url(db_url)}: schema at revision {current_revision(eng)}")

    @db.command("info")
    @db_option
    def db_info(db_url: str | None) -> None:
        """Where the register is, its schema revision, and what it holds."""
        from .db import current_revision, resolve_url

        reg = _register(db_url)
        sizes = reg.sizes()
        _echo_json({"url": resolve_url(db_url), "revision": current_revision(reg.db), **sizes})

    @db.command("backup")
    @click.argument("target", type=click.Path(dir_okay=False))
    @db_option
    def db_backup(target: str, db_url: str | None) -> None:
        """Copy an SQLite register to TARGET while it is in use (online backup). For PostgreSQL use pg_dump."""
        from .io import backup

        backup(_register(db_url), Path(target))
        click.echo(f"wrote {target}")

    # ------------------------------------------------------------------------------------------ cases
    @cases.command("open")
    @click.argument("pack")
    @click.argument("case_file", type=click.Path(allow_dash=True))
    @db_option
    @click.option("--now", help="when this is recorded (default: the clock)")
    @click.option("--at", "occurred", help="when it happened (default: --now)")
    @by_option
    @why_option
    def cases_open(pack, case_file, db_url, now, occurred, actor, reason) -> None:
        """Register CASE_FILE (a case document) under PACK's version in force; prints its number."""
        from ..errors import CaseError, Diagnostic, Location

        data, smap, name = _read_doc(case_file)
        if not isinstance(data, dict):
            raise CaseError([Diagnostic(Location(name, 1, 1), "case-invalid", "a case must be a mapping with 'facts'")])
        moment = _instant(now, "--now")
        view = _register(db_url).open_case(
            _pack_id(pack),
            data,
            moment,
            occurred_at=_instant(occurred, "--at", moment),
            actor=_actor(actor),
            reason=reason,
            smap=smap,
            filename=name,
        )
        click.echo(
            f"{view.number}\tversion {view.version}\t{view.pack_id} {view.pack_version} {view.content_hash[:12]}"
        )

    def event_command(name: str, kind: str, doc: str, extra: list | None = None):
        def decorate(fn):
            fn.__doc__ = doc
            f = fn
            for opt in reversed(extra or ()):
                f = opt(f)
            f = click.argument("number")(f)
            f = db_option(f)
            f = click.option("--pack", "pack_id", help="the case's pack, when numbers repeat across packs")(f)
            f = click.option(
                "--based-on", type=click.IntRange(0), help="the case version you read (conflict if changed)"
            )(f)
            f = click.option("--now", help="when this is recorded (default: the clock)")(f)
            f = click.option("--at", "occurred", help="when it happened (default: --now)")(f)
            f = by_option(why_option(f))
            return cases.command(name)(f)

        return decorate

    def run_event(kind, number, db_url, pack_id, based_on, now, occurred, actor, reason, **kw) -> None:
        moment = _instant(now, "--now")
        view = _register(db_url).append(
            number,
            kind,
            moment,
            based_on=based_on,
            occurred_at=_instant(occurred, "--at", moment),
            actor=_actor(actor),
            reason=reason,
            pack_id=pack_id,
            **kw,
        )
        click.echo(f"{view.number}\tversion {view.version}\t{view.status}")

    @event_command(
        "update",
        "facts-changed",
        "Change facts: PATCH_FILE is {facts: {...}} as a JSON merge patch (null removes).",
        [click.argument("patch_file", type=click.Path(allow_dash=True))],
    )
    def cases_update(number, patch_file, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        from ..errors import CaseError, Diagnostic, Location

        data, smap, name = _read_doc(patch_file)
        if not isinstance(data, dict) or not isinstance(data.get("facts"), dict) or set(data) - {"facts"}:
            raise CaseError([Diagnostic(Location(name, 1, 1), "patch-invalid", "a patch is a mapping {facts: {...}}")])
        run_event(
            "facts-changed",
            number,
            db_url,
            pack_id,
            based_on,
            now,
            occurred,
            actor,
            reason,
            patch=data["facts"],
            smap=smap,
            filename=name,
        )

    @event_command("step", "step-done", "Record that a route STEP of the case is done.", [click.argument("step")])
    def cases_step(number, step, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        run_event("step-done", number, db_url, pack_id, based_on, now, occurred, actor, reason, step=step)

    @event_command(
        "pause", "paused", "Pause a TIMER of the case (e.g. waiting for the customer).", [click.argument("timer")]
    )
    def cases_pause(number, timer, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        run_event("paused", number, db_url, pack_id, based_on, now, occurred, actor, reason, timer=timer)

    @event_command("resume", "resumed", "Resume a paused TIMER of the case.", [click.argument("timer")])
    def cases_resume(number, timer, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        run_event("resumed", number, db_url, pack_id, based_on, now, occurred, actor, reason, timer=timer)

    @event_command("close", "closed", "Close the case (sets closed_at).")
    def cases_close(number, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        run_event("closed", number, db_url, pack_id, based_on, now, occurred, actor, reason)

    @event_command("reopen", "reopened", "Reopen a closed case.")
    def cases_reopen(number, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        run_event("reopened", number, db_url, pack_id, based_on, now, occurred, actor, reason)

    @event_command(
        "rejudge",
        "rejudged",
        "Judge the case from now on under another published version (default: the one in force).",
        [click.option("--version", "version", help="content hash (or its start) of the version")],
    )
    def cases_rejudge(number, version, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        run_event("rejudged", number, db_url, pack_id, based_on, now, occurred, actor, reason, version=version)

    @event_command(
        "confirm-penalty", "penalty-confirmed", "Post the case's penalties (its last decision) to the ledger."
    )
    def cases_confirm(number, db_url, pack_id, based_on, now, occurred, actor, reason) -> None:
        moment = _instant(now, "--now")
        posted = _register(db_url).confirm_penalties(
            number,
            moment,
            based_on=based_on,
            pack_id=pack_id,
            actor=_actor(actor),
            reason=reason,
            occurred_at=_instant(occurred, "--at", moment),
        )
        click.echo(f"{number}: {posted} charge(s) posted")

    @cases.command("show")
    @click.argument("number")
    @db_option
    @click.option("--pack", "pack_id")
    @click.option("--as-of", "as_of", help="replay the case as it stood then (events recorded by then, judged then)")
    @click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
    def cases_show(number, db_url, pack_id, as_of, fmt) -> None:
        """Show a case: its facts and its last decision (or, with --as-of, as it stood at that time)."""
        reg = _register(db_url)
        view = (
            reg.as_of(number, _instant(as_of, "--as-of"), pack_id=pack_id)
            if as_of
            else reg.get(number, pack_id=pack_id)
        )
        if fmt == "json":
            _echo_json(view.to_dict())
            return
        from ..decision import Decision

        click.echo(
            f"{view.number}  {view.pack_id} {view.pack_version} ({view.content_hash[:12]})  version {view.version}  {view.status}"
        )
        for key, value in sorted(view.facts.items()):
            click.echo(f"  {key}: {json.dumps(value, ensure_ascii=False)}")
        if view.decision:
            click.echo(Decision(**view.decision).to_text(), nl=False)

    @cases.command("render")
    @click.argument("number")
    @click.option("--form", "form_id", required=True, help="the form id (see the pack's forms)")
    @click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True)
    @click.option("-o", "--output", type=click.Path(dir_okay=False), help="write here instead of stdout")
    @db_option
    @click.option("--pack", "pack_id")
    @click.option("--now", help="fill it as of this time (default: the clock)")
    def cases_render(number, form_id, fmt, output, db_url, pack_id, now) -> None:
        """Print a form of a registered case; it carries the case's number (and a breach form its own)."""
        text = _register(db_url).render_form(number, form_id, fmt, _instant(now, "--now"), pack_id=pack_id)
        if output:
            Path(output).write_text(text, encoding="utf-8")
        else:
            click.echo(text, nl=False)

    @cases.command("history")
    @click.argument("number")
    @db_option
    @click.option("--pack", "pack_id")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def cases_history(number, db_url, pack_id, fmt) -> None:
        """The case's events (who, when, why) and how its decision changed after each."""
        from .history import history

        items = history(_register(db_url), number, pack_id)
        if fmt == "json":
            _echo_json(items)
            return
        for h in items:
            e = h["event"]
            why = f"  — {e['reason']}" if e["reason"] else ""
            click.echo(
                f"#{e['seq']} {e['kind']}  occurred {e['occurred_at']}  recorded {e['recorded_at']}  by {e['actor']}{why}"
            )
            for line in h["summary"]:
                click.echo(f"    {line}")
            for line in h["changes"]:
                click.echo(f"    → {line}")

    @cases.command("due")
    @db_option
    @click.option("--at", "at", help="as of (default: the clock)")
    @click.option("--within", help="also list what comes due within this duration (2wd, 3d, 8h)")
    @click.option("--pack", "pack_id")
    @click.option("--by", "group_by", type=click.Choice(["none", "role", "pack"]), default="none", show_default=True)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def cases_due(db_url, at, within, pack_id, group_by, fmt) -> None:
        """Warning and breached timers of open cases, from the index (no case is re-evaluated)."""
        from .due import horizon

        moment = _instant(at, "--at")
        reg = _register(db_url)
        rows = reg.due(moment, within=horizon(reg, within) if within else None, pack_id=pack_id)
        if fmt == "json":
            _echo_json(rows)
            return
        key = {"none": None, "role": "role", "pack": "pack"}[group_by]
        last = object()
        for r in sorted(rows, key=lambda r: (str(r[key]) if key else "", r["due_at"])) if key else rows:
            if key and r[key] != last:
                last = r[key]
                click.echo(f"[{last or '-'}]")
            click.echo(
                f"{r['state']:9} {r['due_at']}  {r['number']}  {r['pack']}  {r['label']}"
                + (f"  ({r['role']})" if r["role"] else "")
            )
        click.echo(f"{len(rows)} item(s)", err=True)

    @cases.command("tick")
    @db_option
    @click.option("--at", "at", help="as of (default: the clock)")
    @by_option
    def cases_tick(db_url, at, actor) -> None:
        """Re-evaluate cases whose next instant has passed; issue breach effects once (safe to run concurrently)."""
        result = _register(db_url).tick(_instant(at, "--at"), actor=actor or "tick")
        click.echo(json.dumps(result))

    @cases.command("import")
    @click.argument("pack")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
    @db_option
    @click.option("--now", help="when this is recorded (default: the clock)")
    @by_option
    def cases_import(pack, source, db_url, now, actor) -> None:
        """Register cases from JSON Lines or CSV (idempotent: a case_id already registered is skipped)."""
        from .io import import_cases

        summary = import_cases(_register(db_url), _pack_id(pack), source, _instant(now, "--now"), actor=_actor(actor))
        click.echo(json.dumps(summary, ensure_ascii=False))
        if summary["errors"]:
            sys.exit(7)

    @cases.command("export")
    @db_option
    @click.option("--pack", "pack_id")
    @click.option("-o", "--output", default="-", type=click.Path(allow_dash=True, dir_okay=False))
    def cases_export(db_url, pack_id, output) -> None:
        """Every case with its events as JSON Lines (one case a line)."""
        from .io import export_cases

        export_cases(_register(db_url), output, pack_id)

    # ------------------------------------------------------------------------------------------ report
    @report.command("monthly")
    @click.argument("month")
    @db_option
    @click.option("--pack", "pack_id")
    @click.option(
        "--format", "fmt", type=click.Choice(["md", "html", "csv", "xlsx", "json"]), default="md", show_default=True
    )
    @click.option("-o", "--output", type=click.Path(dir_okay=False), help="write here (needed for xlsx)")
    def report_monthly(month, db_url, pack_id, fmt, output) -> None:
        """客户投诉案件统计表: cases closed in MONTH (YYYY-MM) by category, department, on time or late."""
        from .report import monthly, render

        data = monthly(_register(db_url), month, pack_id)
        out = render(data, fmt)
        if isinstance(out, bytes):
            if not output:
                raise click.UsageError("--format xlsx needs -o FILE")
            Path(output).write_bytes(out)
        elif output:
            Path(output).write_text(out, encoding="utf-8")
        else:
            click.echo(out, nl=False)

    # ------------------------------------------------------------------------------------------ ledger
    bonus = click.Group("bonus", help="Monthly bonuses per person (the base of the 50 % cap).")
    bonus.command_class = command_cls
    ledger.add_command(bonus)

    @bonus.command("import")
    @click.argument("source", type=click.Path(exists=True, dir_okay=False))
    @db_option
    @click.option("--now", help="when this is recorded (default: the clock)")
    def bonus_import(source, db_url, now) -> None:
        """CSV with columns person,month,amount (month YYYY-MM); a later import replaces a month's amount."""
        from .ledger import import_bonuses

        count = import_bonuses(_register(db_url), source, _instant(now, "--now"))
        click.echo(f"{count} bonus row(s) recorded")

    @ledger.command("show")
    @click.argument("person")
    @db_option
    @click.option("--month", help="up to this month (default: the last month with a charge or bonus)")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def ledger_show(person, db_url, month, fmt) -> None:
        """A person's charges and monthly deductions (cap against the recorded bonus, carried over)."""
        from .ledger import statement

        st = statement(_register(db_url), person, month)
        if fmt == "json":
            _echo_json(st)
            return
        click.echo(f"{person} {st['name'] or ''}")
        for m in st["months"]:
            click.echo(
                f"  {m['month']}  bonus {m['bonus'] or '-':>10}  new {m['charged']:>10}  cap {m['cap']:>10}  "
                f"deducted {m['deducted']:>10}  carried {m['carried']:>10}"
            )
            for c in m["charges"]:
                click.echo(f"      {c['case']} {c['kind']} {c['amount']}")
            if m["note"]:
                click.echo(f"      ({m['note']})")
        click.echo(f"  balance {st['balance']}")

    return [db, cases, report, ledger]


def _pack_id(ref: str) -> str:
    """A pack's id from its name or folder (the register keys cases by id, not by path)."""
    if os.sep not in ref and "/" not in ref and not Path(ref).exists():
        return ref
    from ..compiler import load_policy

    return load_policy(ref).id


def add_publish(packs_group: click.Group, command_cls: type[click.Command]) -> None:
    """`zhidu packs publish PACK` and `zhidu packs versions`."""

    @packs_group.command("publish", cls=command_cls, epilog=REGISTER_EXIT_CODES)
    @click.argument("pack")
    @db_option
    @click.option("--now", help="when this is recorded (default: the clock)")
    @by_option
    def publish(pack, db_url, now, actor) -> None:
        """Store PACK's files as an immutable version (content hash; effective_from from the policy)."""
        out = _register(db_url).publish(pack, _instant(now, "--now"), actor=_actor(actor))
        state = "published" if out["new"] else "already published"
        click.echo(
            f"{out['pack']} {out['version']} {out['content_hash']} {state}"
            + (f" (in force from {out['effective_from']})" if out["effective_from"] else "")
        )

    @packs_group.command("versions", cls=command_cls, epilog=REGISTER_EXIT_CODES)
    @click.argument("pack", required=False)
    @db_option
    def versions(pack, db_url) -> None:
        """Published pack versions in the register."""
        for v in _register(db_url).versions(pack):
            click.echo(
                f"{v['pack']}\t{v['version']}\t{v['content_hash'][:12]}\t{v['effective_from'] or '-'}\t{v['published_at']}\t{v['published_by']}"
            )
