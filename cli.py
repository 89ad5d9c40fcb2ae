"""The `zhidu` command line: a thin shell over the engine API; one place maps errors to exit codes."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

# This file is the repository's top-level `cli` module and, installed, `zhidu.cli` (engine/cli.py links here):
# its engine is the package it sits in, else the source tree's `engine`. So no `import engine` or
# `from engine.x import y` in this file (the installed package has no `engine`): use _engine("x").
engine: Any = importlib.import_module(__package__ or "engine")


def _engine(module: str) -> Any:
    """A module of the engine package, whatever it is called here (zhidu installed, engine in the source tree)."""
    return importlib.import_module(f"{engine.__name__}.{module}")


CaseError, Diagnostic, Location, ZhiduError = engine.CaseError, engine.Diagnostic, engine.Location, engine.ZhiduError

EXIT_CODES = """\b
Exit codes:
  0  success
  1  a policy pack is invalid (validate, evaluate)
  2  usage error (bad option or argument)
  3  a case file is invalid
  4  evaluation failed (for example conflicting findings)
  5  internal error (a bug: please report it with the input)
  6  policy tests failed (test)
  7  some lines of a batch failed (batch; each has an error record)
  8  an output file could not be written (disk full, no permission)
  9  the register refused the operation (cases, db, report, ledger, packs publish)
  10 conflict: the case changed since the version the change was based on (--based-on)
"""


class ZhiduCommand(click.Command):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZhiduError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)


def show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(_engine("about").version_report(engine.__version__))
        ctx.exit()


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=show_version,
    help="Show the version, the rule engines available and the holiday data, and exit.",
)
def main() -> None:
    """zhidu (制度): evaluate complaint and service cases against YAML policy packs.

    PACK is a pack folder, its policy.yaml, or the name of a bundled pack
    (see `zhidu packs`).
    """


def cache_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """--no-cache: load packs without the on-disk cache (see docs/security.md for where it lives)."""
    return click.option(
        "--no-cache",
        is_flag=True,
        help="do not read or write the pack cache (default folder: $ZHIDU_CACHE_DIR, else ~/.cache/zhidu)",
    )(fn)


def pack_cache_for(no_cache: bool) -> Any:
    """The pack cache for one command: on by default in the CLI, off with --no-cache."""
    import contextlib

    return contextlib.nullcontext() if no_cache else _engine("pack_cache").active()


def load_policy_cached(pack: str, no_cache: bool) -> engine.Policy:
    with pack_cache_for(no_cache):
        return engine.load_policy(pack)


def command(fn: Callable[..., Any]) -> click.Command:
    return main.command(cls=ZhiduCommand, epilog=EXIT_CODES)(fn)


@command
@click.argument("packs", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--explain-origin", is_flag=True, help="show which file each effective entry comes from (packs that extend others)"
)
@click.option(
    "--today",
    callback=lambda _c, _p, v: check_date(v),
    help="the date to measure calendar data against (default: today's date); warns calendar-ends-soon",
)
@click.option(
    "--strict",
    is_flag=True,
    help="warnings fail too (exit 1); acknowledge an accepted one in the pack (acknowledge: {code: reason})",
)
@cache_option
def validate(
    packs: tuple[str, ...], fmt: str, explain_origin: bool, today: date | None, strict: bool, no_cache: bool
) -> None:
    """Check packs: YAML, schema, expressions and references; print every problem."""
    import json

    ends_soon = _engine("calendar_views").ends_soon
    load_pack, origins = _engine("loader").load_pack, _engine("loader").origins

    failed = False
    report = []
    for ref in packs:
        if explain_origin:
            for section, name, loc in origins(load_pack(ref)):
                click.echo(f"{section}{'[' + name + ']' if name else ''}\t{loc}")
        accepted = 0
        try:
            with pack_cache_for(no_cache):
                result = engine.compile_pack(ref)
            diags = result.diagnostics
            if result.policy is not None:
                # The only clock-dependent check, so it lives here and not in the (pure) compiler.
                diags = diags + result.accept(ends_soon(result.policy, today or date.today()))
            accepted = len(result.acknowledged)
        except ZhiduError as exc:
            diags = exc.diagnostics or [Diagnostic(Location(ref), "error", str(exc))]
        failed = failed or any(d.severity == "error" or strict for d in diags)
        report.extend(diags)
        if fmt == "text":
            for d in diags:
                click.echo(("warning: " if d.severity == "warning" else "") + str(d), err=d.severity == "error")
            if not any(d.severity == "error" for d in diags):
                notes = [f"{len(diags)} warning{'s' if len(diags) != 1 else ''}"] if diags else []
                notes += [f"{accepted} acknowledged"] if accepted else []
                verdict = "FAILED (--strict: warnings fail)" if strict and diags else "ok"
                click.echo(f"{ref}: {verdict}" + (f" ({', '.join(notes)})" if notes else ""), err=verdict != "ok")
    if fmt == "json":
        click.echo(json.dumps([d.to_dict() for d in report], ensure_ascii=False, indent=2))
    sys.exit(1 if failed else 0)


def check_now(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """--now is validated as an option: a bad value is a usage error (exit 2), not a bad case."""
    if value is None:
        return None
    import re
    from zoneinfo import ZoneInfo

    facts = _engine("facts")

    try:
        if not re.match(facts.DATETIME_PATTERN, value):
            raise ValueError("write it as 2024-09-10T10:00:00+08:00")
        moment = facts.parse_datetime(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 datetime: {exc}") from None
    if not facts.MIN_YEAR <= moment.year <= facts.MAX_YEAR:
        raise click.BadParameter(f"{value!r}: the year must be within {facts.MIN_YEAR}-{facts.MAX_YEAR}")
    return value


def check_date(value: str | None) -> date | None:
    """A YYYY-MM-DD option value; a bad one is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date: write it as 2027-01-05") from None


def check_instant(value: str) -> datetime:
    """An ISO 8601 datetime argument with its offset; a bad one is a usage error (exit 2)."""
    from zoneinfo import ZoneInfo

    check_now(None, None, value)  # type: ignore[arg-type]
    return _engine("facts").parse_datetime(value, ZoneInfo("UTC"))


def check_engine(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """--engine durable where durable-rules cannot run (Python 3.13+) is a usage error naming the Python."""
    names = value if isinstance(value, tuple) else (value,)
    if "durable" in names and (reason := engine.durable_unavailable()):
        raise click.BadParameter(f"{reason}; use --engine python")
    return value


engine_option = click.option(
    "--engine",
    "engine_name",
    type=click.Choice(list(engine.ALL_ENGINES)),
    default=engine.DEFAULT_ENGINE,
    show_default=True,
    callback=check_engine,
    help="rule engine (durable-rules runs on Python 3.11 and 3.12 only)",
)


def read_case(path: str) -> tuple[Any, Any, str]:
    """A case from a YAML/JSON file, or JSON on stdin for '-'."""
    source = _engine("source")
    if path == "-":
        name = "<stdin>"
        text, diags = read_stdin_case()
        data, smap = None, source.SourceMap()
        if text is not None:
            data, smap, diags = source.parse_json(text, name, aliases=False)
    else:
        data, smap, diags = source.read_document(Path(path), path, case=True)
        name = path
    if diags:
        raise CaseError(diags)
    return data, smap, name


def read_stdin_case() -> tuple[str | None, list[Diagnostic]]:
    """Standard input as UTF-8 text, read only up to the case size limit."""
    limits = _engine("limits")
    limit = limits.CASE_BYTES.current()
    raw = sys.stdin.buffer.read(limit + 1)
    if len(raw) > limit:
        message = f"larger than {limit:,} bytes (the limit; set {limits.CASE_BYTES.env} to raise it)"
        return None, [Diagnostic(Location("<stdin>", 0, 0), limits.CASE_BYTES.code, message)]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        return None, [Diagnostic(Location("<stdin>", 1, 1), "encoding", f"not UTF-8 text: {exc.reason}")]


@command
@click.argument("pack")
@click.argument("case", type=click.Path(allow_dash=True))
@click.option(
    "--now", callback=check_now, help="evaluation time, ISO 8601 (default: the case's 'now', else the current time)"
)
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
@engine_option
@click.option(
    "--strict-calendar",
    is_flag=True,
    help="refuse the decision (exit 4) when a timer needs a year no calendar data covers, "
    "instead of reporting that timer unknown with a warning",
)
@click.option(
    "--trace",
    "trace_mode",
    type=click.Choice(["brief", "full"]),
    default="brief",
    show_default=True,
    help="full: keep in the trace the rules a higher priority overrode",
)
@cache_option
def evaluate(
    pack: str,
    case: str,
    now: str | None,
    fmt: str,
    engine_name: str,
    strict_calendar: bool,
    trace_mode: str,
    no_cache: bool,
) -> None:
    """Evaluate CASE (YAML/JSON file, or - for JSON on stdin) against PACK."""
    policy = load_policy_cached(pack, no_cache)
    data, smap, name = read_case(case)
    if not isinstance(data, dict):
        raise CaseError([Diagnostic(Location(name, 1, 1), "case-invalid", "a case must be a mapping with 'facts'")])
    moment: datetime | str | None = now
    if moment is None and not data.get("now"):
        # The engine has no clock; the CLI is where "now" means the current time.
        moment = datetime.now(policy.timezone)
    decision = _engine("evaluate").evaluate_case(
        policy, data, moment, engine=engine_name, smap=smap, filename=name, strict_calendar=strict_calendar
    )
    if trace_mode == "full":
        decision = decision.with_full_trace()
    click.echo(decision.to_json() if fmt == "json" else decision.to_text(), nl=fmt == "json")


@command
@click.argument("pack")
@click.argument("clause", required=False)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "md"]),
    default="text",
    show_default=True,
    help="md: the clause map table for the pack README",
)
def explain(pack: str, clause: str | None, fmt: str) -> None:
    """Show a clause's words and everything in PACK that encodes it (without CLAUSE: every clause)."""
    import json

    clause_map, encodings = _engine("clauses").clause_map, _engine("clauses").encodings
    did_you_mean, load_pack = _engine("errors").did_you_mean, _engine("loader").load_pack

    policy = engine.load_policy(pack)
    raw = load_pack(pack)
    if clause is not None and clause not in policy.clauses:
        hint = did_you_mean(clause, policy.clauses)
        raise click.BadParameter(f"'{clause}' is not a clause of {policy.id}{hint}", param_hint="CLAUSE")
    if fmt == "md":
        click.echo(clause_map(policy.clauses if clause is None else {clause: policy.clauses[clause]}, raw))
        return
    chosen = [clause] if clause is not None else list(policy.clauses)
    report = []
    for cid in chosen:
        words = policy.clauses[cid]
        uses = encodings(raw, cid)
        report.append({"id": cid, **words.to_dict(), "encoded_by": [{"item": i, "at": str(loc)} for i, loc in uses]})
    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    for entry in report:
        click.echo(f"{entry['id']}  〔{entry['title']} {entry['article']}〕")
        for line in entry["text"].splitlines():
            click.echo(f"    {line}")
        if not entry["encoded_by"]:
            click.echo("  encoded by: nothing (not encoded; see the pack README)")
        for use in entry["encoded_by"]:
            click.echo(f"  encoded by {use['item']}  {use['at']}")


@command
@click.argument("pack")
@click.argument("cases", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("-o", "--output", default="-", type=click.Path(allow_dash=True), help="JSON Lines out (default stdout)")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64), help="worker processes")
@click.option(
    "--now",
    callback=check_now,
    help="evaluation time for every case, ISO 8601 (default: each case's 'now', else the current time)",
)
@engine_option
@click.option("--progress/--no-progress", default=None, help="progress on stderr (default: when stderr is a terminal)")
@click.option(
    "--resume", is_flag=True, help="continue the partial output an interrupted run left (-o FILE), after its last line"
)
@cache_option
def batch(
    pack: str,
    cases: str,
    output: str,
    jobs: int,
    now: str | None,
    engine_name: str,
    progress: bool | None,
    resume: bool,
    no_cache: bool,
) -> None:
    """Evaluate a JSON Lines file of cases (one case per line; - for stdin), in order, in bounded memory."""
    import json
    import time

    batch_module = _engine("batch")
    OutputError, bounded_lines, run_batch = batch_module.OutputError, batch_module.bounded_lines, batch_module.run_batch

    if resume and output == "-":
        raise click.UsageError("--resume needs -o FILE: standard output cannot be resumed")
    policy = load_policy_cached(pack, no_cache)
    # A case's own `now` wins over the current time, never over an explicit --now.
    fallback = datetime.now(policy.timezone)
    show = sys.stderr.isatty() if progress is None else progress
    started = time.monotonic()
    last = [0.0]

    def report(done: int) -> None:
        elapsed = time.monotonic() - started
        if elapsed - last[0] >= 0.5:
            last[0] = elapsed
            click.echo(f"\r{done} cases, {done / max(elapsed, 1e-9):.0f}/s", err=True, nl=False)

    source = click.open_file(cases, "rb")
    target_path = None if output == "-" else Path(output)
    try:
        with source:
            lines = bounded_lines(source)
            if target_path is None:
                summary = run_batch(
                    policy,
                    lines,
                    sys.stdout,
                    now=now,
                    default_now=fallback,
                    engine=engine_name,
                    jobs=jobs,
                    progress=report if show else None,
                )
            else:
                settings = {"pack": str(policy.root), "cases": cases, "engine": engine_name, "now": now}
                summary = _batch_to_file(
                    policy, lines, target_path, settings, fallback, jobs, report if show else None, resume
                )
    except OutputError as exc:
        raise OutputProblem(f"{output}: cannot write the output: {exc.strerror or exc}") from None
    except OSError as exc:
        raise ZhiduError(f"{cases}: {exc.strerror or exc}") from None
    if show:
        click.echo("", err=True)
    click.echo(json.dumps({"summary": summary.to_dict()}, ensure_ascii=False), err=True)
    sys.exit(7 if summary.errors else 0)


class OutputProblem(ZhiduError):
    """An output (file, device, pipe) could not be written: disk full, no permission, closed pipe."""

    exit_code = 8
    default_code = "output"


def _batch_to_file(policy, lines, path: Path, settings, fallback, jobs: int, progress, resume: bool):
    """Write the whole output or nothing: a partial file beside the target, fsynced and renamed at the end.
    SIGTERM/SIGINT remove the partial file; after kill -9 the next run removes it, or continues it
    with --resume. A device or pipe (/dev/null, a FIFO) is written in place: renaming over it would
    replace it."""
    import signal

    OutputError, run_batch = _engine("batch").OutputError, _engine("batch").run_batch
    BatchFile = _engine("batch_file").BatchFile

    def run(handle, skip=0, summary=None, default_now=fallback):
        return run_batch(
            policy,
            lines,
            handle,
            now=settings["now"],
            default_now=default_now,
            engine=settings["engine"],
            jobs=jobs,
            progress=progress,
            skip=skip,
            summary=summary,
        )

    if path.exists() and not path.is_file():
        try:
            with path.open("w", encoding="utf-8") as handle:
                return run(handle)
        except OSError as exc:  # closing flushes: a full device fails here
            raise OutputError(exc.errno, exc.strerror) from None
    output = BatchFile(path, {**settings, "default_now": fallback.isoformat()}, resume)

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        try:
            handle, done, summary, stored = output.open()
            summary = run(handle, done, summary, stored["default_now"])
            output.commit(_mode_for(path))
        except OSError as exc:
            output.discard()
            raise OutputError(exc.errno, exc.strerror) from None
        except BaseException:
            output.discard()
            raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    return summary


@command
@click.argument("pack")
@click.argument("case", type=click.Path(allow_dash=True))
@click.option("--form", "form_id", required=True, help="the form id (see the pack's forms)")
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write here (atomically) instead of stdout")
@click.option(
    "--now", callback=check_now, help="evaluation time, ISO 8601 (default: the case's 'now', else the current time)"
)
@click.option("--counter", type=click.Path(dir_okay=False), help="SQLite file that hands out serial numbers")
@engine_option
@cache_option
def render(
    pack: str,
    case: str,
    form_id: str,
    fmt: str,
    output: str | None,
    now: str | None,
    counter: str | None,
    engine_name: str,
    no_cache: bool,
) -> None:
    """Fill in a form from CASE and print it (HTML for print, or Markdown)."""
    forms = _engine("forms")

    policy = load_policy_cached(pack, no_cache)
    data, smap, name = read_case(case)
    if not isinstance(data, dict):
        raise CaseError([Diagnostic(Location(name, 1, 1), "case-invalid", "a case must be a mapping with 'facts'")])
    moment: datetime | str | None = now if now or data.get("now") else datetime.now(policy.timezone)
    evaluation = _engine("evaluate")
    facts, case_id, when = evaluation.prepare_case(policy, data, moment, smap=smap, filename=name)
    result, findings = evaluation.decide_with_findings(policy, facts, case_id, when, engine=engine_name)
    decision = result.to_dict()
    number = None
    entry = next((f for f in decision["forms"] if f["id"] == form_id), None)
    form = policy.forms_spec.forms.get(form_id) if policy.forms_spec else None
    if counter and form is not None and not (entry or {}).get("number"):
        env = _engine("expr.pyeval").Env(facts, findings, when, policy.timezone)
        number = forms.allocate_number(form, env, forms.Counter(counter))
    text = forms.render(policy, decision, facts, form_id, fmt, number, findings)
    if entry is None:
        click.echo(f"note: this case does not issue form '{form_id}'; rendered blank where facts are missing", err=True)
    if output:
        try:
            write_atomically(Path(output), text)
        except OSError as exc:
            raise OutputProblem(f"{output}: cannot write the output: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@main.group(invoke_without_command=True, epilog=EXIT_CODES)
@click.pass_context
def packs(ctx: click.Context) -> None:
    """List the bundled packs (publish a version to the register with `packs publish`)."""
    if ctx.invoked_subcommand is None:
        for name in engine.bundled_packs():
            policy = engine.load_policy(name)
            click.echo(f"{name}\t{policy.version}\t{policy.title.zh}")


@main.group(epilog=EXIT_CODES)
def calendar() -> None:
    """Inspect a pack's business calendars: days off, where each year's data comes from, time between instants."""


def calendar_command(fn: Callable[..., Any]) -> click.Command:
    return calendar.command(cls=ZhiduCommand, epilog=EXIT_CODES)(fn)


def _echo_json(value: Any) -> None:
    import json

    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)


@calendar_command
@click.argument("pack")
@click.option("--year", type=click.IntRange(1900, 2999), help="the year to show (default: this year)")
@FORMAT
def show(pack: str, year: int | None, fmt: str) -> None:
    """The year's days off, make-up workdays (调休), closures and extra workdays, and where each came from."""
    show_days = _engine("calendar_views").show

    result = show_days(engine.load_policy(pack), year or date.today().year)
    if fmt == "json":
        return _echo_json(result)
    for entry in result:
        click.echo(f"{entry['calendar']} {entry['year']}: {entry['source'] or 'not covered'}")
        for day in entry["days"]:
            name = f"\t{day['holiday']}" if day["holiday"] else ""
            click.echo(f"  {day['date']}\t{day['kind']}\t{day['source']}{name}")


@calendar_command
@click.argument("packs", nargs=-1, required=True)
@FORMAT
def coverage(packs: tuple[str, ...], fmt: str) -> None:
    """First and last day with official holiday data of every calendar, and the source of each year."""
    coverage_of = _engine("calendar_views").coverage

    result = [{"pack": ref, "calendars": coverage_of(engine.load_policy(ref))} for ref in packs]
    if fmt == "json":
        return _echo_json(result)
    for item in result:
        for cal in item["calendars"]:
            click.echo(
                f"{item['pack']}\t{cal['calendar']}\t{cal['first_day']} .. {cal['last_day']}\t"
                f"after: {cal['after_last_day']} (fallback: {cal['fallback']})"
            )
            sources: dict[str, list[str]] = {}
            for year, source in cal["years"].items():
                sources.setdefault(source, []).append(year)
            for source, years in sources.items():
                click.echo(f"  {source}: {_ranges(years)}")


def _ranges(years: list[str]) -> str:
    """2004, 2005, 2006, 2010 → 2004-2006, 2010."""
    numbers = sorted(int(y) for y in years)
    parts, start = [], numbers[0]
    for prev, cur in zip(numbers, numbers[1:] + [0], strict=True):
        if cur != prev + 1:
            parts.append(f"{start}-{prev}" if prev != start else str(start))
            start = cur
    return ", ".join(parts)


@calendar_command
@click.argument("pack")
@click.argument("start", callback=lambda _c, _p, v: check_instant(v))
@click.argument("end", callback=lambda _c, _p, v: check_instant(v))
@FORMAT
def between(pack: str, start: datetime, end: datetime, fmt: str) -> None:
    """Working days and business hours between two instants (ISO 8601 with offset), per calendar."""
    between_of = _engine("calendar_views").between

    result = between_of(engine.load_policy(pack), start, end)
    if fmt == "json":
        _echo_json(result)
    for entry in result if fmt == "text" else ():
        if "error" in entry:
            click.echo(f"{entry['calendar']}: {entry['error']}")
        else:
            click.echo(
                f"{entry['calendar']}: {entry['working_days']} working days, {entry['business_hours']} business hours"
            )
    # a span the calendar cannot count is an evaluation failure, as for a timer under --strict-calendar
    if any("error" in entry for entry in result):
        sys.exit(4)


SCHEMAS = ("policy", "section", "tests", "case", "decision", "form")


@command
@click.argument("what", required=False, metavar=f"[{'|'.join(SCHEMAS)}]")
@click.argument("pack", required=False)
@click.option(
    "--write",
    is_flag=True,
    help="write every schema into PACK/schemas/ (PACK defaults to the current folder) and start each YAML "
    "file of the pack with a modeline pointing at its schema",
)
def schema(what: str | None, pack: str | None, write: bool) -> None:
    """Print a JSON Schema (case and tests: of PACK), or write them all into a pack for editors.

    \b
    policy    policy.yaml
    section   a file listed under include: (rules.yaml, sla.yaml, ...)
    tests     a file in tests/ (with PACK: cases checked against its facts)
    case      a case file (examples/, zhidu evaluate) of PACK
    decision  what zhidu evaluate prints
    form      forms/<id>/form.yaml
    """
    import json

    schemas = _engine("pack_schemas")
    if write:
        if pack is not None:
            raise click.UsageError("'schema --write' takes one PACK folder")
        folder = Path(what or ".")
        changed, note = schemas.write_pack_schemas(folder)
        for path in changed:
            click.echo(f"wrote {path}")
        if note:
            click.echo(f"note: {note}", err=True)
        click.echo(f"{folder}: {len(changed)} file{'s' if len(changed) != 1 else ''} written or updated")
        return
    if what not in SCHEMAS:
        raise click.UsageError(f"say which schema: {', '.join(SCHEMAS)} (or --write PACK)")
    if what == "case" and not pack:
        raise click.UsageError("'schema case' needs a PACK")
    if what == "policy":
        out = _engine("compiler").policy_schema()
    elif what == "section":
        out = schemas.section_schema()
    elif what == "tests":
        out = schemas.tests_schema(engine.load_policy(pack).case_schema() if pack else None)
    elif what == "decision":
        out = engine.decision_schema()
    elif what == "form":
        out = _engine("forms").form_schema()
    else:
        out = engine.load_policy(pack).case_schema()
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@command
@click.argument("packs", nargs=-1, required=True)
@click.option(
    "--engine",
    "engines",
    multiple=True,
    type=click.Choice(list(engine.ALL_ENGINES)),
    callback=check_engine,
    help="engine(s) to run (default: every engine this Python has, and they must agree)",
)
@click.option("--coverage", is_flag=True, help="list rules no test case fired")
@click.option("-v", "--verbose", is_flag=True, help="print every case, not only failures")
@click.option("--junit", "junit", type=click.Path(dir_okay=False), help="also write a JUnit XML report to this file")
@click.option(
    "--update",
    is_flag=True,
    help="re-record the want: blocks of failing cases from the decisions, print the diff, then run the tests; "
    "review the diff before you commit it",
)
@cache_option
def test(
    packs: tuple[str, ...],
    engines: tuple[str, ...],
    coverage: bool,
    verbose: bool,
    junit: str | None,
    update: bool,
    no_cache: bool,
) -> None:
    """Run the policy test suites in each PACK's tests/ folder."""
    testing = _engine("testing")
    junit_xml, run_pack_tests = testing.junit_xml, testing.run_pack_tests

    failed = False
    reports = []
    for ref in packs:
        policy = load_policy_cached(ref, no_cache)
        if update:
            _rerecord(policy)
        report = run_pack_tests(policy, engines or engine.ENGINES)
        reports.append((policy.id, report))
        for d in report.diagnostics:
            click.echo(str(d), err=True)
        for r in report.results:
            if not r.passed:
                click.echo(f"FAIL {r.file}:{r.line} [{r.engine}] {r.name}")
                for line in r.failures:
                    click.echo("     " + line.replace("\n", "\n     "))
            elif verbose:
                click.echo(f"ok   {r.file}:{r.line} [{r.engine}] {r.name}")
        passed = sum(r.passed for r in report.results)
        click.echo(f"{policy.id}: {passed} passed, {len(report.results) - passed} failed")
        if not engines and (reason := engine.durable_unavailable()):
            click.echo(f"{policy.id}: checked with the python engine only ({reason})")
        if coverage:
            for key, items in report.coverage.items():
                click.echo(f"{policy.id}: {key.replace('_', ' ')}: {', '.join(items) if items else 'none'}")
        failed = failed or not report.passed
    if junit:
        try:
            write_atomically(Path(junit), junit_xml(reports))
        except OSError as exc:
            raise OutputProblem(f"{junit}: cannot write the report: {exc.strerror or exc}") from None
    sys.exit(6 if failed else 0)


def _rerecord(policy: Any) -> None:
    """Rewrite failing expectations, never silently: the unified diff of every file goes to stdout."""
    import difflib

    changes = _engine("rerecord").rerecord(policy)
    for path, old, new, _ in changes:
        diff = difflib.unified_diff(old.splitlines(True), new.splitlines(True), f"a/{path}", f"b/{path}")
        click.echo("".join(diff), nl=False)
        write_atomically(path, new)
    cases = sum(count for *_, count in changes)
    click.echo(
        f"{policy.id}: re-recorded {cases} case{'s' if cases != 1 else ''} in {len(changes)} file"
        f"{'s' if len(changes) != 1 else ''}" + (": review the diff above before you commit it" if changes else "")
    )


def _mode_for(path: Path) -> int:
    """The mode a plain write would give: the existing file's, else 0666 less the umask."""
    import os

    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomically(path: Path, text: str) -> None:
    """Write a whole file or nothing: a temporary file in the same folder, then a rename.
    A device or pipe is written in place: renaming over it would replace it."""
    import os
    import tempfile

    if path.exists() and not path.is_file():
        path.write_text(text, encoding="utf-8")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@command
@click.argument("new_dir", type=click.Path(file_okay=False))
@click.option("--from", "base", required=True, help="the pack to extend (a bundled name or a folder)")
@click.option("--id", "pack_id", help="the new pack's id (default: the folder name)")
def init(new_dir: str, base: str, pack_id: str | None) -> None:
    """Create NEW_DIR as a company pack that extends a bundled one; it validates and tests green."""
    init_pack = _engine("scaffold").init_pack

    created = init_pack(Path(new_dir), base, pack_id)
    click.echo(f"created {created} (extends {base}); next: zhidu validate {new_dir} && zhidu test {new_dir}")


@main.group("table", epilog=EXIT_CODES)
def table_() -> None:
    """Decision tables as spreadsheets (.xlsx, .csv): the layout is in docs/importing.md."""


@table_.command("export", cls=ZhiduCommand, epilog=EXIT_CODES)
@click.argument("pack")
@click.option("-o", "--output", "out", required=True, type=click.Path(dir_okay=False), help="FILE.xlsx or FILE.csv")
@click.option("--table", "ids", multiple=True, help="only this table (repeat for several); CSV takes one")
def table_export(pack: str, out: str, ids: tuple[str, ...]) -> None:
    """Write a pack's decision tables to a spreadsheet, one sheet per table."""
    export_pack_tables = _engine("importers.spreadsheet").export_pack_tables

    count = export_pack_tables(pack, out, ids)
    click.echo(f"wrote {out}: {count} table{'s' if count != 1 else ''}")


@table_.command("import", cls=ZhiduCommand, epilog=EXIT_CODES)
@click.argument("sheet", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False), help="YAML file to write (default stdout)")
def table_import(sheet: str, out: str | None) -> None:
    """Read decision tables from FILE.xlsx or FILE.csv as YAML (`tables:`, a file a pack can include)."""
    spreadsheet = _engine("importers.spreadsheet")
    import_tables, tables_yaml, write_text = spreadsheet.import_tables, spreadsheet.tables_yaml, spreadsheet.write_text

    text = tables_yaml(import_tables(sheet))
    if out:
        write_text(out, text)
    else:
        click.echo(text, nl=False)


@main.group("import", epilog=EXIT_CODES)
def import_() -> None:
    """Import rules written for other engines into a zhidu pack."""


@import_.command("jdm", cls=ZhiduCommand, epilog=EXIT_CODES)
@click.argument("graph", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", "out", required=True, type=click.Path(file_okay=False), help="new pack folder")
def import_jdm(graph: str, out: str) -> None:
    """Convert a GoRules JDM graph (GRAPH.json) into a pack with generated tests."""
    run_import = _engine("importers.jdm_pack").import_jdm

    summary = run_import(graph, out)
    click.echo(
        f"wrote {summary['pack']}: {summary['tables']} table{'s' if summary['tables'] != 1 else ''}, {summary['cases']} test cases "
        f"choosing {summary['rows_chosen']} of {summary['rows']} table rows"
    )


# The case register (engine/register): its commands live in the wing; SQLAlchemy loads on first use.
for _group in _engine("register.commands").build(ZhiduCommand):
    main.add_command(_group)
_engine("register.commands").add_publish(packs, ZhiduCommand)


# The HTTP service (engine/service): `serve` and `tokens`; FastAPI and uvicorn load only when serving.
def _add_service_commands() -> None:
    for cmd in _engine("service.commands").build(ZhiduCommand):
        main.add_command(cmd)


_add_service_commands()


def run() -> None:
    """Console-script entry point: any unexpected exception becomes exit 5 with one line, not a traceback."""
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence; the message names the bug
        click.echo(f"zhidu: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(5)


if __name__ == "__main__":
    run()
