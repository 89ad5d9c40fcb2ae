"""Forms: definitions (forms/<id>/form.yaml), required fields, copies, routes, numbering and rendering."""

from __future__ import annotations

import dataclasses
import sqlite3
import traceback
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jsonschema

from . import limits
from .bundled import data_dir, load_schema
from .decision import jsonable
from .errors import Diagnostic, EvaluationError, Location, ZhiduError
from .expr.pyeval import MISSING, Compiled, Env
from .facts import Label
from .schema_check import schema_diagnostics
from .source import read_document
from .template_limits import BoundedSandbox, TemplateLimit, pattern_problem, render_bounded

if TYPE_CHECKING:
    from .compiler import _Compiler
    from .policy import Policy

FORM_FILE = "form.yaml"
FORMATS = ("html", "md")


@cache
def form_schema() -> dict[str, Any]:
    return load_schema("form.schema.json")


def bundled_forms() -> Path:
    return data_dir("forms")


@dataclass(frozen=True)
class FormField:
    id: str
    label: Label
    value: Compiled | None
    required: bool
    required_probe: str | None
    placeholder: str | None
    display: tuple[tuple[str, str], ...] = ()  # enum value → the label printed on the form


@dataclass(frozen=True)
class FormDef:
    id: str
    label: Label
    ref: str
    folder: Path
    fields: tuple[FormField, ...]
    copies: tuple[tuple[int, str, str | None], ...]
    route: tuple[tuple[str, str | None], ...]
    pattern: str | None
    date: Compiled | None
    serial: Compiled | None
    counter: str
    templates: dict[str, str]


@dataclass(frozen=True)
class FormsSpec:
    forms: dict[str, FormDef] = field(default_factory=dict)
    search: tuple[Path, ...] = ()


def find_definition(form_id: str, pack_root: Path) -> Path | None:
    """The folder defining a form: the pack's own forms/<id> first, then the bundled forms/<id>."""
    for base in (pack_root / "forms", bundled_forms()):
        if (base / form_id / FORM_FILE).is_file():
            return base / form_id
    return None


def compile_forms(c: _Compiler) -> FormsSpec:
    declared = c.data.get("forms") if isinstance(c.data.get("forms"), dict) else {}
    out: dict[str, FormDef] = {}
    for fid, entry in declared.items():
        # The pack's own forms/<id> is used as is; a bundled definition only when the pack names it,
        # since its fields and copies assume that pack's facts and roles.
        own = c.raw.root / "forms" / fid
        definition = entry.get("definition") if isinstance(entry, dict) else None
        if (own / FORM_FILE).is_file():
            folder: Path | None = own
        elif isinstance(definition, str) and not _plain_name(definition):
            c.error(
                ("forms", fid, "definition"),
                "form-outside",
                f"definition '{definition}' must be the name of a form folder (no paths)",
            )
            continue
        elif isinstance(definition, str):
            folder = find_definition(definition, c.raw.root)
            if folder is None:
                c.error(
                    ("forms", fid, "definition"),
                    "dangling-ref",
                    f"no form definition '{definition}' in the pack's forms/ or the bundled forms/",
                )
                continue
        else:
            continue  # a form known by name only: listed in decisions, not rendered
        overrides = entry.get("fields") if isinstance(entry, dict) and isinstance(entry.get("fields"), dict) else {}
        form = _compile_one(c, fid, folder, overrides)
        if form is not None:
            # A pack using a shared definition prints its own title and cites its own clause.
            label = Label.of(entry.get("label"), fid) if isinstance(entry, dict) and entry.get("label") else form.label
            ref = str(entry.get("ref")) if isinstance(entry, dict) and entry.get("ref") else form.ref
            out[fid] = dataclasses.replace(form, label=label, ref=ref)
    return FormsSpec(out, (c.raw.root / "forms", bundled_forms()))


def _compile_one(c: _Compiler, fid: str, folder: Path, overrides: dict[str, Any]) -> FormDef | None:
    display = _display(folder / FORM_FILE)
    data, smap, diags = read_document(folder / FORM_FILE, display)
    c.diags.extend(diags)
    if not isinstance(data, dict):
        return None
    errors = schema_diagnostics(jsonschema.Draft202012Validator(form_schema()), data, smap, display)
    c.diags.extend(errors)
    if errors:
        return None
    # The form file's positions join the pack's under a private prefix, so every check below reports
    # file:line:col inside form.yaml with the compiler's own helpers.
    prefix: tuple[object, ...] = ("$form", fid)
    for p, v in smap.values.items():
        c.smap.values[prefix + p] = v
    for p, v in smap.keys.items():
        c.smap.keys[prefix + p] = v
    if data["id"] != folder.name:
        c.error(prefix + ("id",), "form", f"form.yaml says id '{data['id']}' but its folder is '{folder.name}'")
    fields = []
    for i, f in enumerate(data.get("fields", [])):
        path = prefix + ("fields", i)
        text = overrides.get(f["id"], f.get("value"))
        value = c.value_expr(path + ("value",), text, None) if isinstance(text, str) else None
        probe = None
        if isinstance(f.get("required_when"), str):
            probe = c.probe(
                f"form:{fid}/{f['id']}", f["required_when"], path + ("required_when",), str(data.get("ref", ""))
            )
        display = _value_labels(c, text) if isinstance(text, str) else ()
        fields.append(
            FormField(
                f["id"],
                Label.of(f.get("label"), f["id"]),
                value,
                bool(f.get("required")),
                probe,
                f.get("placeholder"),
                display,
            )
        )
    for name in overrides:
        if name not in {f.id for f in fields}:
            c.error(("forms", fid, "fields", name), "dangling-ref", f"form '{fid}' has no field '{name}'", key=True)
    copies, route = [], []
    for i, cp in enumerate(data.get("copies", [])):
        _role(c, prefix + ("copies", i, "holder"), cp["holder"])
        copies.append((cp["copy"], cp["holder"], cp.get("note")))
    for i, step in enumerate(data.get("route", [])):
        _role(c, prefix + ("route", i, "role"), step["role"])
        route.append((step["role"], step.get("budget")))
    numbering = data.get("numbering") or {}
    date_expr = (
        c.value_expr(prefix + ("numbering", "date"), numbering["date"], ("date", "datetime"))
        if "date" in numbering
        else None
    )
    serial = (
        c.value_expr(prefix + ("numbering", "serial"), numbering["serial"], ("integer",))
        if "serial" in numbering
        else None
    )
    templates = {}
    for fmt, name in (data.get("templates") or {}).items():
        if not _inside(folder / name, folder):
            c.error(
                prefix + ("templates", fmt), "form-outside", f"template '{name}' must be a file inside {folder.name}/"
            )
            continue
        if not (folder / name).is_file():
            c.error(prefix + ("templates", fmt), "file-not-found", f"template '{name}' is not in {folder}")
        templates[fmt] = name
    problem = pattern_problem(numbering["pattern"]) if isinstance(numbering.get("pattern"), str) else None
    if problem is not None:
        c.error(prefix + ("numbering", "pattern"), limits.PATTERN_LENGTH.code, f"bad numbering pattern: {problem}")
    elif numbering.get("pattern"):
        try:
            _format_number(numbering["pattern"], date(2024, 9, 1), 1)
        except (KeyError, ValueError, IndexError, AttributeError, TypeError) as exc:
            c.error(prefix + ("numbering", "pattern"), "form", f"bad numbering pattern: {exc}")
    return FormDef(
        fid,
        Label.of(data.get("label"), fid),
        str(data.get("ref", "")),
        folder,
        tuple(fields),
        tuple(copies),
        tuple(route),
        numbering.get("pattern"),
        date_expr,
        serial,
        str(numbering.get("counter", fid)),
        templates,
    )


def _value_labels(c: _Compiler, text: str) -> tuple[tuple[str, str], ...]:
    """Chinese labels of an enum fact or finding named by a field, so the form prints 质量异常, not an id."""
    name = text.strip()
    if name.startswith("findings."):
        spec = next((f for f in c.findings if f.id == name[len("findings.") :]), None)
    else:
        spec = next((f for f in c.facts if f.name == name), None)
    return tuple((k, v.zh) for k, v in spec.value_labels) if spec is not None else ()


def _role(c: _Compiler, path: tuple[object, ...], role: str) -> None:
    if role not in c.roles:
        from .errors import did_you_mean

        c.error(
            path,
            "dangling-ref",
            f"unknown role '{role}'{did_you_mean(role, c.roles)} (declare it under the pack's roles)",
        )


def _plain_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..")


def _inside(path: Path, folder: Path) -> bool:
    """Whether a path stays inside a folder once `..` and links are resolved."""
    return path.resolve().is_relative_to(folder.resolve())


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _format_number(pattern: str, day: date, serial: int) -> str:
    return pattern.format(yy=f"{day.year % 100:02d}", yyyy=f"{day.year:04d}", mm=f"{day.month:02d}", serial=serial)


def period_of(day: date, pattern: str = "{mm}") -> str:
    """The period a serial restarts in: the month when the pattern shows one, else the year, else never."""
    if "{mm" in pattern:
        return f"{day.year:04d}-{day.month:02d}"
    if "{yy" in pattern:
        return f"{day.year:04d}"
    return "all"


# ------------------------------------------------------------------------------------------------
# evaluation: enrich the decision's forms
# ------------------------------------------------------------------------------------------------
def enrich(
    policy: Policy,
    forms: list[dict[str, Any]],
    facts: dict[str, Any],
    findings: dict[str, Any],
    probes: frozenset[str],
    now: datetime,
) -> list[dict[str, Any]]:
    """Add number, copies, route, field values and missing required fields to each issued form."""
    spec: FormsSpec = policy.forms_spec
    warnings: list[dict[str, Any]] = []
    if not spec or not spec.forms:
        return warnings
    env = Env(facts, findings, now, policy.timezone)
    for entry in forms:
        form = spec.forms.get(entry["id"])
        if form is None:
            continue
        values, missing = field_values(form, env, probes)
        tz = policy.timezone
        entry["fields"] = {k: v if type(v) in _JSON_PLAIN else jsonable(_plain(v), tz) for k, v in values.items()}
        entry["missing"] = [{"field": f.id, "label": f.label.zh} for f in missing]
        entry["number"] = number_of(form, env)
        entry["copies"] = [{"copy": n, "holder": h, "holder_label": policy.role_label(h)} for n, h, _ in form.copies]
        entry["route"] = [{"role": r, "label": policy.role_label(r), "budget": b} for r, b in form.route]
        if missing:
            names = "、".join(f.label.zh for f in missing)
            warnings.append(
                {
                    "code": "form-missing-fields",
                    "message": f"{form.label.zh}缺少：{names}",
                    "ref": form.ref or entry["refs"][0],
                }
            )
    return warnings


_JSON_PLAIN = frozenset({str, int, bool, type(None)})


def _plain(value: Any) -> Any:
    """A number fact (six places internally) as a person writes it: 3.5, not 3.500000; money keeps cents."""
    if isinstance(value, Decimal) and value.as_tuple().exponent == -6:
        text = format(value.normalize(), "f")
        return Decimal(text)
    return value


def field_values(form: FormDef, env: Env, probes: frozenset[str]) -> tuple[dict[str, Any], list[FormField]]:
    values: dict[str, Any] = {}
    missing: list[FormField] = []
    for f in form.fields:
        value = f.value(env) if f.value else MISSING
        if value is MISSING or value is None or value == "":
            needed = f.required or (f.required_probe is not None and f.required_probe in probes)
            if needed:
                missing.append(f)
            values[f.id] = None
        else:
            values[f.id] = value
    return values, missing


def number_of(form: FormDef, env: Env) -> str | None:
    if not form.pattern or form.serial is None:
        return None
    serial = form.serial(env)
    if serial is MISSING:
        return None
    return _format_number(form.pattern, _day(form, env), int(serial))


def _day(form: FormDef, env: Env) -> date:
    value = form.date(env) if form.date else env.now
    if value is MISSING:
        value = env.now
    return value.astimezone(env.tz).date() if isinstance(value, datetime) else value


# ------------------------------------------------------------------------------------------------
# numbering database
# ------------------------------------------------------------------------------------------------
class Counter:
    """Serials kept in an SQLite file: per counter and month, each number is handed out once only,
    across threads and processes (the increment and the read are one statement in one transaction)."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            with self._connect() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS serials (counter TEXT, period TEXT, value INTEGER, PRIMARY KEY (counter, period))"
                )
        except sqlite3.Error as exc:
            raise ZhiduError(f"{self.path}: cannot open the numbering database: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=60, isolation_level=None)

    def next(self, counter: str, period: str) -> int:
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "INSERT INTO serials (counter, period, value) VALUES (?, ?, 1) "
                "ON CONFLICT (counter, period) DO UPDATE SET value = value + 1 RETURNING value",
                (counter, period),
            ).fetchone()
            db.execute("COMMIT")
            return int(row[0])
        except sqlite3.Error as exc:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise ZhiduError(f"{self.path}: numbering database: {exc}") from None
        finally:
            db.close()


def allocate_number(form: FormDef, env: Env, counter: Counter) -> str | None:
    if not form.pattern:
        return None
    day = _day(form, env)
    return _format_number(form.pattern, day, counter.next(form.counter, period_of(day, form.pattern)))


# ------------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------------
class TemplateProblem(ZhiduError):
    exit_code = 4
    default_code = "template"


def render(
    policy: Policy,
    decision: dict[str, Any],
    facts: dict[str, Any],
    form_id: str,
    fmt: str,
    number: str | None = None,
    findings: dict[str, Any] | None = None,
) -> str:
    """The form filled in from the case and its decision, as HTML (escaped) or Markdown."""
    spec: FormsSpec = policy.forms_spec
    form = spec.forms.get(form_id)
    if form is None:
        known = ", ".join(sorted(spec.forms)) or "none"
        raise EvaluationError(
            f"form '{form_id}' has no definition for this pack (forms with templates: {known})", code="unknown-form"
        )
    name = form.templates.get(fmt)
    if name is None:
        raise EvaluationError(f"form '{form_id}' has no {fmt} template", code="unknown-form")
    entry = next((f for f in decision["forms"] if f["id"] == form_id), None)
    if entry is None:
        # Not issued for this case: fill in what the facts and the typed findings give (the decision
        # holds findings only in their JSON form, which expressions must not compute with).
        from .evaluate import resolve_now

        moment = resolve_now(policy, decision["evaluated_at"], {}, "<decision>")
        env_values = Env(facts, findings or {}, moment, policy.timezone)
        values, _ = field_values(form, env_values, frozenset())
        entry_fields = {k: jsonable(_plain(v), policy.timezone) for k, v in values.items()}
    else:
        entry_fields = entry.get("fields", {})
    env = _environment(form.folder, fmt)
    context = {
        "form": {"id": form.id, "label": form.label.zh, "label_en": form.label.en, "ref": form.ref},
        "entry": entry,
        "issued": entry is not None,
        "number": number or (entry or {}).get("number"),
        "fields": [
            {
                "id": f.id,
                "label": f.label.zh,
                "label_en": f.label.en,
                "value": _shown(entry_fields.get(f.id), f),
                "placeholder": f.placeholder,
            }
            for f in form.fields
        ],
        "copies": [
            {"copy": n, "holder": h, "holder_label": policy.role_label(h), "note": note} for n, h, note in form.copies
        ],
        "route": [{"role": r, "label": policy.role_label(r), "budget": b} for r, b in form.route],
        "decision": decision,
        "facts": jsonable(facts, policy.timezone),
        "policy": {"id": policy.id, "version": policy.version, "title": policy.title.zh},
    }
    path = form.folder / name
    try:
        return render_bounded(env.get_template(name), context)
    except TemplateLimit as exc:
        where, line = _template_frame(exc, path)
        raise TemplateProblem([Diagnostic(Location(_display(where), line, 1), exc.code, str(exc))]) from None
    except jinja2.TemplateSyntaxError as exc:
        where = Path(exc.filename) if exc.filename else path
        message = exc.message or str(exc)
        raise TemplateProblem(
            [Diagnostic(Location(_display(where), exc.lineno or 0, 1), "template", message)]
        ) from None
    except Exception as exc:  # noqa: BLE001 - any failure inside a template is the template's, located below
        where, line = _template_frame(exc, path)
        message = str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
        raise TemplateProblem([Diagnostic(Location(_display(where), line, 1), "template", message)]) from None


def _shown(value: Any, f: FormField) -> Any:
    if isinstance(value, bool):
        return "是" if value else "否"
    return dict(f.display).get(value, value) if isinstance(value, str) else value


def _template_frame(exc: BaseException, path: Path) -> tuple[Path, int]:
    """Jinja2 maps template frames onto template files: the deepest one is where it went wrong."""
    where, line = path, 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(".j2") and frame.lineno:
            where, line = Path(frame.filename), frame.lineno
    return where, line


def _environment(folder: Path, fmt: str) -> BoundedSandbox:
    loader = jinja2.FileSystemLoader([str(folder), str(bundled_forms() / "_shared")])
    env = BoundedSandbox(
        loader=loader,
        autoescape=fmt == "html",  # customer text such as <script> prints as text
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["or_blank"] = lambda v, blank="": blank if v is None else v
    return env
