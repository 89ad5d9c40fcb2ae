"""The `zhidu` command line: a thin shell over the engine API; one place maps errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

import engine
from engine.errors import CaseError, Diagnostic, Location, ZhiduError
from engine.evaluate import decide_with_findings, evaluate_case, prepare_case
from engine.source import SourceMap, parse_json, read_document

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
"""


class ZhiduCommand(click.Command):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZhiduError as exc:
            click.echo(str(exc), err=True)
            ctx.exit(exc.exit_code)


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(engine.__version__, prog_name="zhidu")
def main() -> None:
    """zhidu (制度): evaluate complaint and service cases against YAML policy packs.

    PACK is a pack folder, its policy.yaml, or the name of a bundled pack
    (see `zhidu packs`).
    """


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
def validate(packs: tuple[str, ...], fmt: str, explain_origin: bool, today: date | None, strict: bool) -> None:
    """Check packs: YAML, schema, expressions and references; print every problem."""
    import json

    from engine.calendar_views import ends_soon
    from engine.loader import load_pack, origins

    failed = False
    report = []
    for ref in packs:
        if explain_origin:
            for section, name, loc in origins(load_pack(ref)):
                click.echo(f"{section}{'[' + name + ']' if name else ''}\t{loc}")
        accepted = 0
        try:
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

    from engine.facts import DATETIME_PATTERN, MAX_YEAR, MIN_YEAR, parse_datetime

    try:
        if not re.match(DATETIME_PATTERN, value):
            raise ValueError("write it as 2024-09-10T10:00:00+08:00")
        moment = parse_datetime(value, ZoneInfo("UTC"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 datetime: {exc}") from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise click.BadParameter(f"{value!r}: the year must be within {MIN_YEAR}-{MAX_YEAR}")
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

    from engine.facts import parse_datetime

    check_now(None, None, value)  # type: ignore[arg-type]
    return parse_datetime(value, ZoneInfo("UTC"))


def read_case(path: str) -> tuple[Any, SourceMap, str]:
    """A case from a YAML/JSON file, or JSON on stdin for '-'."""
    if path == "-":
        data, smap, diags = parse_json(sys.stdin.read(), "<stdin>")
        name = "<stdin>"
    else:
        data, smap, diags = read_document(Path(path), path)
        name = path
    if diags:
        raise CaseError(diags)
    return data, smap, name


@command
@click.argument("pack")
@click.argument("case", type=click.Path(allow_dash=True))
@click.option(
    "--now", callback=check_now, help="evaluation time, ISO 8601 (default: the case's 'now', else the current time)"
)
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="json", show_default=True)
@click.option("--engine", "engine_name", type=click.Choice(list(engine.ENGINES)), default="durable", show_default=True)
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
def evaluate(
    pack: str, case: str, now: str | None, fmt: str, engine_name: str, strict_calendar: bool, trace_mode: str
) -> None:
    """Evaluate CASE (YAML/JSON file, or - for JSON on stdin) against PACK."""
    policy = engine.load_policy(pack)
    data, smap, name = read_case(case)
    if not isinstance(data, dict):
        raise CaseError([Diagnostic(Location(name, 1, 1), "case-invalid", "a case must be a mapping with 'facts'")])
    moment: datetime | str | None = now
    if moment is None and not data.get("now"):
        # The engine has no clock; the CLI is where "now" means the current time.
        moment = datetime.now(policy.timezone)
    decision = evaluate_case(
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

    from engine.clauses import clause_map, encodings
    from engine.errors import did_you_mean
    from engine.loader import load_pack

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
@click.argument("cases", type=click.Path(allow_dash=True))
@click.option("-o", "--output", default="-", type=click.Path(allow_dash=True), help="JSON Lines out (default stdout)")
@click.option("--jobs", default=1, show_default=True, type=click.IntRange(1, 64), help="worker processes")
@click.option(
    "--now",
    callback=check_now,
    help="evaluation time for every case, ISO 8601 (default: each case's 'now', else the current time)",
)
@click.option("--engine", "engine_name", type=click.Choice(list(engine.ENGINES)), default="durable", show_default=True)
@click.option("--progress/--no-progress", default=None, help="progress on stderr (default: when stderr is a terminal)")
def batch(
    pack: str, cases: str, output: str, jobs: int, now: str | None, engine_name: str, progress: bool | None
) -> None:
    """Evaluate a JSON Lines file of cases (one case per line; - for stdin), in order, in bounded memory."""
    import json
    import time

    from engine.batch import run_batch

    policy = engine.load_policy(pack)
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

    source = click.open_file(cases, "r", encoding="utf-8")
    target_path = None if output == "-" else Path(output)
    try:
        with source:
            if target_path is None:
                summary = run_batch(
                    policy,
                    source,
                    sys.stdout,
                    now=now,
                    default_now=fallback,
                    engine=engine_name,
                    jobs=jobs,
                    progress=report if show else None,
                )
            else:
                summary = _batch_to_file(
                    policy, source, target_path, now, fallback, engine_name, jobs, report if show else None
                )
    except OSError as exc:
        raise ZhiduError(f"{cases}: {exc.strerror or exc}") from None
    if show:
        click.echo("", err=True)
    click.echo(json.dumps({"summary": summary.to_dict()}, ensure_ascii=False), err=True)
    sys.exit(7 if summary.errors else 0)


def _batch_to_file(policy, source, path: Path, now, fallback, engine_name: str, jobs: int, progress):
    """Write the whole output or nothing: a temporary file beside the target, renamed at the end.
    A device or pipe (/dev/null, a FIFO) is written in place: renaming over it would replace it."""
    import os
    import tempfile

    from engine.batch import run_batch

    def run(handle):
        return run_batch(
            policy, source, handle, now=now, default_now=fallback, engine=engine_name, jobs=jobs, progress=progress
        )

    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8") as handle:
            return run(handle)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            summary = run(handle)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
@click.option("--engine", "engine_name", type=click.Choice(list(engine.ENGINES)), default="durable", show_default=True)
def render(
    pack: str,
    case: str,
    form_id: str,
    fmt: str,
    output: str | None,
    now: str | None,
    counter: str | None,
    engine_name: str,
) -> None:
    """Fill in a form from CASE and print it (HTML for print, or Markdown)."""
    from engine.expr.pyeval import Env
    from engine.forms import Counter, allocate_number
    from engine.forms import render as render_form

    policy = engine.load_policy(pack)
    data, smap, name = read_case(case)
    if not isinstance(data, dict):
        raise CaseError([Diagnostic(Location(name, 1, 1), "case-invalid", "a case must be a mapping with 'facts'")])
    moment: datetime | str | None = now if now or data.get("now") else datetime.now(policy.timezone)
    facts, case_id, when = prepare_case(policy, data, moment, smap=smap, filename=name)
    result, findings = decide_with_findings(policy, facts, case_id, when, engine=engine_name)
    decision = result.to_dict()
    number = None
    entry = next((f for f in decision["forms"] if f["id"] == form_id), None)
    form = policy.forms_spec.forms.get(form_id) if policy.forms_spec else None
    if counter and form is not None and not (entry or {}).get("number"):
        env = Env(facts, findings, when, policy.timezone)
        number = allocate_number(form, env, Counter(counter))
    text = render_form(policy, decision, facts, form_id, fmt, number, findings)
    if entry is None:
        click.echo(f"note: this case does not issue form '{form_id}'; rendered blank where facts are missing", err=True)
    if output:
        write_atomically(Path(output), text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@command
def packs() -> None:
    """List the bundled packs."""
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
    from engine.calendar_views import show as show_days

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
    from engine.calendar_views import coverage as coverage_of

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
    from engine.calendar_views import between as between_of

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


@command
@click.argument("what", type=click.Choice(["policy", "decision", "case"]))
@click.argument("pack", required=False)
def schema(what: str, pack: str | None) -> None:
    """Print a JSON Schema: policy, decision, or the case schema of PACK."""
    import json

    from engine.compiler import policy_schema

    if what == "policy":
        out = policy_schema()
    elif what == "decision":
        out = engine.decision_schema()
    else:
        if not pack:
            raise click.UsageError("'schema case' needs a PACK")
        out = engine.load_policy(pack).case_schema()
    click.echo(json.dumps(out, ensure_ascii=False, indent=2))


@command
@click.argument("packs", nargs=-1, required=True)
@click.option(
    "--engine",
    "engines",
    multiple=True,
    type=click.Choice(list(engine.ENGINES)),
    help="engine(s) to run (default: all, and they must agree)",
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
def test(
    packs: tuple[str, ...], engines: tuple[str, ...], coverage: bool, verbose: bool, junit: str | None, update: bool
) -> None:
    """Run the policy test suites in each PACK's tests/ folder."""
    from engine.testing import junit_xml, run_pack_tests

    failed = False
    reports = []
    for ref in packs:
        policy = engine.load_policy(ref)
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
        if coverage:
            for key, items in report.coverage.items():
                click.echo(f"{policy.id}: {key.replace('_', ' ')}: {', '.join(items) if items else 'none'}")
        failed = failed or not report.passed
    if junit:
        write_atomically(Path(junit), junit_xml(reports))
    sys.exit(6 if failed else 0)


def _rerecord(policy: Any) -> None:
    """Rewrite failing expectations, never silently: the unified diff of every file goes to stdout."""
    import difflib

    from engine.rerecord import rerecord

    changes = rerecord(policy)
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
    from engine.scaffold import init_pack

    created = init_pack(Path(new_dir), base, pack_id)
    click.echo(f"created {created} (extends {base}); next: zhidu validate {new_dir} && zhidu test {new_dir}")


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
