"""Stages 2 and 3, validate and compile: schema and semantic checks, then an immutable Policy."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema

from .amounts import compile_amounts
from .annotations import Acknowledgement, Placeholder, apply_acknowledgements, take_annotations, unused
from .authority import compile_authority
from .bundled import load_schema
from .clauses import compile_clauses
from .computed import Computed, assignable, expression_offset, expression_text
from .errors import Diagnostic, Location, PolicyError, did_you_mean, sort_diagnostics
from .expr import ExprError, Scope, check, ir, parse
from .expr.pyeval import MISSING, Compiled, compile_expr
from .facts import MAX_MAGNITUDE, FactSpec, Label, build_spec, parse_datetime
from .forms import compile_forms
from .inherit_lint import lint_extended_enums
from .loader import RawPack, load_pack
from .penalty_section import compile_penalties
from .policy import Action, CompiledRule, FindingSpec, Policy
from .schema_check import diagnostics_of
from .sla import compile_sla
from .source import SourceMap
from .types import BOOLEAN, DURATION, Type

DEFAULT_TZ = "Asia/Shanghai"


@cache
def policy_schema() -> dict[str, Any]:
    return load_schema("policy.schema.json")


@dataclass
class Compilation:
    """Result of validate+compile: the policy when there were no errors, and every diagnostic."""

    policy: Policy | None
    diagnostics: list[Diagnostic]
    acknowledgements: list[Acknowledgement] = dataclasses.field(default_factory=list)
    acknowledged: list[Diagnostic] = dataclasses.field(default_factory=list)
    placeholders: list[Placeholder] = dataclasses.field(default_factory=list)

    def accept(self, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
        """Diagnostics found outside the compiler (e.g. clock-dependent ones) less those the pack acknowledges."""
        shown, accepted = apply_acknowledgements(diagnostics, self.acknowledgements)
        self.acknowledged.extend(accepted)
        return shown

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]


def load_policy(ref: str | Path) -> Policy:
    """Load, validate and compile a pack; raises PolicyError listing every problem."""
    result = compile_pack(ref)
    if result.policy is None:
        raise PolicyError(result.errors)
    return result.policy


def compile_pack(ref: str | Path) -> Compilation:
    raw = load_pack(ref)
    return _Compiler(raw).run()


def _is_map(value: Any) -> bool:
    return isinstance(value, dict)


FINDING_KINDS = (
    "string",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "enum",
    "money",
    "duration",
    "list",
    "object",
)


def _finding_reads(value: Any) -> tuple[str, ...]:
    """Findings a computed value reads: its rule runs after the rules setting them."""
    if not isinstance(value, Computed):
        return ()
    return tuple(sorted({p.names[1] for p in ir.paths(value.node) if p.names[0] == "findings"}))


class _Compiler:
    def __init__(self, raw: RawPack):
        self.raw = raw
        self.data = raw.data
        self.smap: SourceMap = raw.smap
        self.diags: list[Diagnostic] = list(raw.diagnostics)
        self.main_file = raw.files[0] if raw.files else "policy.yaml"
        self._texts: dict[str, list[str]] = {}
        self.tz = ZoneInfo(DEFAULT_TZ)
        self.roles: dict[str, Label] = {}
        self.forms: dict[str, Label] = {}
        self.scope = Scope({})
        self.probes: list[CompiledRule] = []
        self.table_index: dict[str, int] = {}
        self.facts: list[FactSpec] = []
        self.bad_paths: set[tuple[object, ...]] = set()
        self.findings: list[FindingSpec] = []

    # -- helpers -------------------------------------------------------------------------------
    def loc(self, path: tuple[object, ...], *, key: bool = False) -> Location:
        return self.smap.location(path, key=key, default_file=self.main_file)

    def error(self, path: tuple[object, ...], code: str, message: str, *, key: bool = False) -> None:
        self.diags.append(Diagnostic(self.loc(path, key=key), code, message))

    def warn(self, path: tuple[object, ...], code: str, message: str) -> None:
        self.diags.append(Diagnostic(self.loc(path), code, message, "warning"))

    def expr_location(self, path: tuple[object, ...], text: str, offset: int) -> Location:
        """Location of a character inside an expression string, through the YAML scalar's layout."""
        base = self.loc(path)
        style = self.smap.style(path)
        quoted = 1 if style in ("'", '"') else 0
        lines = self._file_lines(base.file)
        last = max(self.smap.end_line(path), base.line)
        if "\n" not in text and last == base.line or not lines:
            return Location(base.file, base.line, base.column + quoted + offset, base.path)
        # Rebuild which source line holds each part of the value: YAML joins the parts with one
        # character (a newline for `|`, a space for `>`, plain and quoted scalars).
        segments: list[tuple[int, int, int]] = []  # (line, column of the first character, length)
        if style in ("|", ">"):
            body = [n for n in range(base.line + 1, last + 1) if n <= len(lines) and lines[n - 1].strip()]
            indent = len(lines[body[0] - 1]) - len(lines[body[0] - 1].lstrip(" ")) if body else 0
            for n in range(base.line + 1, last + 1):
                if n <= len(lines):
                    segments.append((n, indent + 1, len(lines[n - 1][indent:].rstrip())))
        else:
            first = lines[base.line - 1][base.column - 1 + quoted :]
            segments.append((base.line, base.column + quoted, len(first.rstrip())))
            for n in range(base.line + 1, last + 1):
                if n <= len(lines):
                    raw = lines[n - 1]
                    stripped = raw.lstrip(" ")
                    segments.append((n, len(raw) - len(stripped) + 1, len(stripped.rstrip())))
        consumed = 0
        for line, column, length in segments:
            if offset <= consumed + length:
                return Location(base.file, line, column + offset - consumed, base.path)
            consumed += length + 1
        return Location(base.file, base.line, base.column, base.path)

    def _file_lines(self, name: str) -> list[str]:
        if name not in self._texts:
            try:
                self._texts[name] = Path(name).read_text(encoding="utf-8").splitlines()
            except OSError:
                self._texts[name] = []
        return self._texts[name]

    # -- stages --------------------------------------------------------------------------------
    def run(self) -> Compilation:
        acks, holders, problems = take_annotations(self.data, self.smap, self.main_file)
        self.diags.extend(problems)
        for h in holders:
            self.diags.append(
                Diagnostic(
                    h.location,
                    "placeholder",
                    f"'{h.name}' = {h.shown} is a placeholder, not the regulation's value"
                    + (f" ({h.reason})" if h.reason else "")
                    + ": write your company's value in place of the placeholder mapping",
                    "warning",
                )
            )
        if self.data:
            validator = jsonschema.Draft202012Validator(policy_schema())
            errors = list(validator.iter_errors(self.data))
            self.diags.extend(diagnostics_of(errors, self.smap, self.main_file))
            # Later checks skip what the schema already refused, instead of guarding every shape again.
            self.bad_paths = {tuple(e.absolute_path) for e in errors}
        tz = self.tz = self._timezone()
        facts = self.facts = self._facts()
        findings = self.findings = self._findings()
        roles = self.roles = self._declared("roles")
        forms = self.forms = self._declared("forms")
        self.scope = Scope(
            {f.name: f.type for f in facts}, {f.id: f.value_type for f in findings}, tz, self._first_calendar()
        )
        rules = self._rules(findings) + self._derived(findings)
        for section in ("timers", "routes", "duties", "tables", "authority"):
            self.unique_ids((section,), self.data.get(section))
        for i, route in enumerate(self.data.get("routes") or []):
            if isinstance(route, dict):
                self.unique_ids(("routes", i, "steps"), route.get("steps"))
        sla = compile_sla(self)
        authority = compile_authority(self)
        for r in rules:
            for fid, _ in r.sets:
                if fid in authority.finding_sources:
                    table = authority.finding_sources[fid][0]
                    self.diags.append(
                        Diagnostic(
                            r.location,
                            "finding-source",
                            f"finding '{fid}' is filled by table '{table}': a rule may not set it too",
                        )
                    )
        penalties = compile_penalties(self)
        amounts = compile_amounts(self)
        forms_spec = compile_forms(self)
        clauses = compile_clauses(self)
        lint_extended_enums(self)
        rules = self._layer(rules + self.probes, findings)
        effective = self._effective_from()
        from .removals import summarise

        summarised = summarise(self.diags, self.raw.removals, self.raw.own_files, self.data)
        diags, accepted = apply_acknowledgements(sort_diagnostics(summarised), acks)
        diags = sort_diagnostics(diags + unused(acks, accepted))
        extra = {"acknowledgements": acks, "acknowledged": accepted, "placeholders": holders}
        if any(d.severity == "error" for d in diags) or not self.data:
            return Compilation(None, diags, **extra)
        policy = Policy(
            id=self.data["id"],
            version=str(self.data["version"]),
            title=Label.of(self.data.get("title"), self.data["id"]),
            timezone=tz,
            effective_from=effective,
            facts=tuple(facts),
            findings=tuple(findings),
            rules=tuple(rules),
            roles=MappingProxyType(roles),
            forms=MappingProxyType(forms),
            sla=sla,
            authority=authority,
            penalties=penalties,
            forms_spec=forms_spec,
            clauses=clauses,
            amounts=amounts,
            root=self.raw.root,
            files=tuple(self.raw.files),
        )
        return Compilation(policy, diags, **extra)

    def _first_calendar(self) -> Any:
        """The pack's first calendar, for working_days_between (its problems are reported by the SLA stage)."""
        from .calendar import BusinessCalendar, CalendarError

        raw = self.data.get("calendars")
        if not isinstance(raw, dict) or not raw:
            return None
        spec = next(iter(raw.values()))
        try:
            return BusinessCalendar.from_spec({"timezone": str(self.tz), **spec}) if isinstance(spec, dict) else None
        except CalendarError:
            return None

    def computed(self, path: tuple[object, ...], raw: str, target: Type, finding: str) -> Computed | None:
        """A `= expression` value for a finding of type `target`; type errors located in the expression."""
        text = expression_text(raw) or ""
        start = expression_offset(raw)
        try:
            typed = check(parse(text), self.scope, want_boolean=False)
        except ExprError as exc:
            self.diags.append(Diagnostic(self.expr_location(path, raw, start + exc.offset), exc.code, exc.message))
            return None
        if not assignable(typed.type, target):
            where = self.expr_location(path, raw, start + typed.pos)
            self.diags.append(Diagnostic(where, "type-error", f"finding '{finding}' is {target}, this is {typed.type}"))
            return None
        return Computed(text.strip(), compile_expr(typed), target, finding, typed)

    def set_value(self, path: tuple[object, ...], spec: FindingSpec, value: Any) -> Any:
        """A literal or computed value for a finding; MISSING after reporting why it cannot be."""
        if expression_text(value) is not None:
            computed = self.computed(path, value, spec.type, spec.id)
            return MISSING if computed is None else computed
        if spec.type.kind in ("list", "object", "duration"):
            self.error(path, "type-error", f"finding '{spec.id}' is {spec.type}: set it with an expression (= …)")
            return MISSING
        return self._literal_value(path, spec.type, value, spec.id)

    def _derived(self, findings: list[FindingSpec]) -> list[CompiledRule]:
        """Findings with `value: = …` are computed on every case: one rule each, `finding:<id>`."""
        out: list[CompiledRule] = []
        raw = self.data.get("findings")
        for index, spec in enumerate(findings):
            entry = raw.get(spec.id) if _is_map(raw) else None
            if not _is_map(entry) or "value" not in entry:
                continue
            path: tuple[object, ...] = ("findings", spec.id, "value")
            if expression_text(entry["value"]) is None:
                self.error(path, "type-error", f"finding '{spec.id}': value is an expression, written = …")
                continue
            computed = self.computed(path, entry["value"], spec.type, spec.id)
            if computed is None:
                continue
            typed = check(parse("true"), self.scope)
            rid = f"finding:{spec.id}"
            out.append(
                CompiledRule(
                    id=rid,
                    label=spec.label,
                    ref=str(entry.get("ref", "")),
                    priority=0,
                    when_text="true",
                    when=typed,
                    test=compile_expr(typed),
                    sets=((spec.id, computed),),
                    actions=(),
                    forms=(),
                    warnings=(),
                    order=500_000 + index,
                    layer=0,
                    location=self.loc(path),
                    reads=_finding_reads(computed),
                )
            )
        return out

    def _effective_from(self) -> date | None:
        raw = self.data.get("effective_from")
        if not isinstance(raw, str):
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            self.error(("effective_from",), "schema", f"invalid date {raw!r}: {exc}")
            return None

    def _timezone(self) -> ZoneInfo:
        name = self.data.get("timezone", DEFAULT_TZ)
        if not isinstance(name, str):
            return ZoneInfo(DEFAULT_TZ)
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            self.error(("timezone",), "unknown-timezone", f"unknown timezone '{name}' (for example Asia/Shanghai)")
            return ZoneInfo(DEFAULT_TZ)

    def _facts(self) -> list[FactSpec]:
        raw = self.data.get("facts")
        out: list[FactSpec] = []
        if not _is_map(raw):
            return out
        for name, spec in raw.items():
            if not _is_map(spec) or not isinstance(spec.get("type"), str):
                continue
            try:
                out.append(build_spec(name, spec))
            except (KeyError, TypeError, AttributeError, ValueError):
                continue  # the schema check has reported the malformed entry
        return out

    def _findings(self) -> list[FindingSpec]:
        raw = self.data.get("findings")
        out: list[FindingSpec] = []
        if not _is_map(raw):
            return out
        for name, spec in raw.items():
            if not _is_map(spec) or spec.get("type") not in FINDING_KINDS:
                continue
            root = name.rsplit(".", 1)[0] if "." in name else None
            while root is not None:
                if root in raw:
                    self.error(
                        ("findings", name),
                        "duplicate-id",
                        f"finding '{name}' is a field of '{root}', which is itself a finding",
                        key=True,
                    )
                    break
                root = root.rsplit(".", 1)[0] if "." in root else None
            try:
                fact = (
                    FactSpec(name, DURATION, Label.of(spec.get("label"), name), False)
                    if spec.get("type") == "duration"
                    else build_spec(
                        name, {k: v for k, v in spec.items() if k in ("type", "label", "values", "items", "properties")}
                    )
                )
            except (KeyError, TypeError, AttributeError, ValueError):
                continue
            conflict = spec.get("conflict") if spec.get("conflict") in ("error", "priority", "collect") else "error"
            default = MISSING
            if "default" in spec and conflict == "collect":
                raw_default = spec["default"]
                if not isinstance(raw_default, list):
                    self.error(
                        ("findings", name, "default"),
                        "type-error",
                        f"finding '{name}' collects values: its default must be a list",
                    )
                else:
                    items = [
                        self._literal_value(("findings", name, "default", i), fact.type, v, name)
                        for i, v in enumerate(raw_default)
                    ]
                    default = tuple(dict.fromkeys(items)) if MISSING not in items else MISSING
            elif "default" in spec:
                default = self._literal_value(("findings", name, "default"), fact.type, spec["default"], name)
            out.append(FindingSpec(name, fact.type, fact.label, fact.value_labels, conflict, default))
        return out

    def _declared(self, section: str) -> dict[str, Label]:
        raw = self.data.get(section)
        if not _is_map(raw):
            return {}
        return {k: Label.of(v.get("label") if _is_map(v) else None, k) for k, v in raw.items()}

    def _literal_value(self, path: tuple[object, ...], t: Type, value: Any, finding: str) -> Any:
        """A YAML literal as a value of type `t`, or MISSING after reporting why not."""
        kind = t.kind
        ok = True
        result: Any = value
        if t.values is not None:
            if not isinstance(value, str) or value not in t.values:
                self.error(
                    path,
                    "unknown-value",
                    f"{value!r} is not a value of finding '{finding}'{did_you_mean(str(value), t.values)}",
                )
                return MISSING
        elif kind == "string":
            ok = isinstance(value, str)
        elif kind == "boolean":
            ok = isinstance(value, bool)
        elif kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            if ok and abs(value) >= MAX_MAGNITUDE:
                self.error(path, "type-error", f"finding '{finding}': {value} is too large (limit 10^12)")
                return MISSING
        elif kind in ("number", "money"):
            ok = isinstance(value, int | Decimal) and not isinstance(value, bool)
            places = Decimal("0.01") if kind == "money" else Decimal("0.000001")
            if ok and abs(Decimal(value)) >= MAX_MAGNITUDE:
                self.error(path, "type-error", f"finding '{finding}': {value} is too large (limit 10^12)")
                return MISSING
            if ok and Decimal(value) != Decimal(value).quantize(places):
                self.error(path, "type-error", f"finding '{finding}': {value} has too many decimal places for {kind}")
                return MISSING
            if ok:
                result = Decimal(value).quantize(places) if kind == "money" else Decimal(value)
        elif kind == "date":
            try:
                result = date.fromisoformat(str(value))
            except ValueError:
                ok = False
        elif kind == "datetime":
            try:
                result = parse_datetime(str(value), self.tz)
            except ValueError:
                ok = False
        if not ok:
            self.error(path, "type-error", f"finding '{finding}' is {t}, not {value!r}")
            return MISSING
        return result

    def _rules(self, findings: list[FindingSpec]) -> list[CompiledRule]:
        raw = self.data.get("rules")
        if not isinstance(raw, list):
            return []
        by_finding = {f.id: f for f in findings}
        seen: dict[str, Location] = {}
        out: list[CompiledRule] = []
        for index, rule in enumerate(raw):
            path: tuple[object, ...] = ("rules", index)
            if not _is_map(rule):
                continue
            rid = rule.get("id")
            if isinstance(rid, str):
                if rid in seen:
                    self.error(path + ("id",), "duplicate-id", f"rule id '{rid}' is already used at {seen[rid]}")
                else:
                    seen[rid] = self.loc(path + ("id",))
            text = rule.get("when")
            typed = self._typed(path + ("when",), text, boolean=True) if isinstance(text, str) else None
            then = rule.get("then") if _is_map(rule.get("then")) else {}
            sets: list[tuple[str, Any]] = []
            set_raw = then.get("set")
            if _is_map(set_raw):
                for fid, value in set_raw.items():
                    spec = by_finding.get(fid)
                    if spec is None:
                        self.error(
                            path + ("then", "set", fid),
                            "dangling-ref",
                            f"unknown finding '{fid}'{did_you_mean(fid, by_finding)}",
                            key=True,
                        )
                        continue
                    literal = self.set_value(path + ("then", "set", fid), spec, value)
                    if literal is not MISSING:
                        sets.append((fid, literal))
            actions = self.actions_of(then, path + ("then",))
            form_ids = self.forms_of(then, path + ("then",))
            warnings = (
                tuple(w for w in (then.get("warnings") or []) if isinstance(w, str))
                if isinstance(then.get("warnings"), list)
                else ()
            )
            if typed is None or not isinstance(rid, str) or not isinstance(rule.get("ref"), str):
                continue
            priority = rule.get("priority", 0)
            out.append(
                CompiledRule(
                    id=rid,
                    label=Label.of(rule.get("label"), rid),
                    ref=rule["ref"],
                    priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else 0,
                    when_text=text,
                    when=typed,
                    test=compile_expr(typed),
                    sets=tuple(sets),
                    actions=actions,
                    forms=form_ids,
                    warnings=warnings,
                    order=index,
                    layer=0,
                    location=self.loc(path),
                    reads=tuple(
                        sorted(
                            {p.names[1] for p in ir.paths(typed) if p.names[0] == "findings"}.union(
                                *(_finding_reads(v) for _, v in sets)
                            )
                        )
                    ),
                )
            )
        return out

    def entries(self, section: str) -> Iterator[tuple[tuple[object, ...], dict[str, Any]]]:
        """(path, entry) for each well-formed entry of a list section (one with a string id); the schema
        check reports the others."""
        raw = self.data.get(section)
        for i, spec in enumerate(raw if isinstance(raw, list) else []):
            if isinstance(spec, dict) and isinstance(spec.get("id"), str) and self.schema_clean((section, i)):
                yield (section, i), spec

    def schema_clean(self, path: tuple[object, ...]) -> bool:
        """No schema error lies at or below `path`."""
        n = len(path)
        return not any(bad[:n] == path for bad in self.bad_paths)

    def unique_ids(self, path: tuple[object, ...], items: Any) -> None:
        """A second entry with the same id in a list section is an error at the second one."""
        if not isinstance(items, list):
            return
        seen: dict[str, Location] = {}
        for i, item in enumerate(items):
            iid = item.get("id") if isinstance(item, dict) else None
            if not isinstance(iid, str):
                continue
            if iid in seen:
                self.error(path + (i, "id"), "duplicate-id", f"id '{iid}' is already used at {seen[iid]}")
            else:
                seen[iid] = self.loc(path + (i, "id"))

    def actions_of(self, then: dict[str, Any], path: tuple[object, ...]) -> tuple[Action, ...]:
        """The `actions` list of a rule or of an SLA effect, with role references checked."""
        out: list[Action] = []
        raw = then.get("actions")
        for ai, action in enumerate(raw if isinstance(raw, list) else []):
            if not _is_map(action) or not isinstance(action.get("id"), str):
                continue
            to = action.get("to")
            if isinstance(to, str) and to not in self.roles:
                self.error(
                    path + ("actions", ai, "to"), "dangling-ref", f"unknown role '{to}'{did_you_mean(to, self.roles)}"
                )
            label = Label.of(action.get("label"), action["id"])
            out.append(Action(action["id"], label, to if isinstance(to, str) else None, action.get("note")))
        return tuple(out)

    def forms_of(self, then: dict[str, Any], path: tuple[object, ...]) -> tuple[str, ...]:
        """The `forms` list of a rule or of an SLA effect, each declared under `forms`."""
        out: list[str] = []
        raw = then.get("forms")
        for fi, form in enumerate(raw if isinstance(raw, list) else []):
            if not isinstance(form, str):
                continue
            if form not in self.forms:
                hint = did_you_mean(form, self.forms)
                self.error(
                    path + ("forms", fi), "dangling-ref", f"unknown form '{form}'{hint} (declare it under forms)"
                )
            out.append(form)
        return tuple(out)

    def _typed(self, path: tuple[object, ...], text: str, *, boolean: bool) -> ir.Node | None:
        try:
            typed = check(parse(text), self.scope, want_boolean=boolean)
        except ExprError as exc:
            self.diags.append(Diagnostic(self.expr_location(path, text, exc.offset), exc.code, exc.message))
            return None
        if boolean and path[:1] != ("tables",):  # a table cell's `!= x` documents missing as unmatched
            self._lint_missing(path, text, typed)
        return typed

    def _lint_missing(self, path: tuple[object, ...], text: str, typed: ir.Node) -> None:
        from .lint_missing import CODE, message, possibly_missing_negations

        present = frozenset(
            [f.name for f in self.facts if f.required]
            + [f"findings.{f.id}" for f in self.findings if f.default is not MISSING]
        )
        for offset, subject, op in possibly_missing_negations(typed, present):
            where = self.expr_location(path, text, offset)
            self.diags.append(Diagnostic(where, CODE, message(subject, op), "warning"))

    def probe(
        self,
        pid: str,
        text: str,
        path: tuple[object, ...],
        ref: str,
        typed: ir.Node | None = None,
        compiled: Compiled | None = None,
        *,
        sets: tuple[tuple[str, Any], ...] = (),
        row: tuple[str, int] | None = None,
    ) -> str | None:
        """A condition a calculator needs, compiled as a probe rule so both engines evaluate it (`typed`,
        `compiled`: the condition already checked against this scope and compiled, e.g. a table row's); a
        table row that fills findings carries them in `sets` (the hit policy chooses among the rows)."""
        if typed is None or typed.type != BOOLEAN:
            typed, compiled = self._typed(path, text, boolean=True), None
        if typed is None:
            return None
        reads = {p.names[1] for p in ir.paths(typed) if p.names[0] == "findings"}.union(
            *(_finding_reads(v) for _, v in sets)
        )
        self.probes.append(
            CompiledRule(
                id=pid,
                label=Label(pid, pid),
                ref=ref,
                priority=0,
                when_text=text,
                when=typed,
                test=compiled or compile_expr(typed),
                sets=sets,
                actions=(),
                forms=(),
                warnings=(),
                order=1_000_000 + len(self.probes),
                layer=0,
                location=self.loc(path),
                reads=tuple(sorted(reads)),
                kind="probe",
                row=row,
            )
        )
        return pid

    def value_expr(self, path: tuple[object, ...], text: str, kinds: tuple[str, ...] | None) -> Compiled | None:
        """A value expression (e.g. a timer's start) of one of `kinds` (None: any); 'pauses' is a list of {from, to}."""
        typed = self._typed(path, text, boolean=False)
        if typed is None:
            return None
        t = typed.type
        if kinds is None:
            return compile_expr(typed)
        if "pauses" in kinds:
            item = t.item if t and t.kind == "list" else None
            start = item.field("from") if item and item.kind == "object" else None
            if start is None or start.kind != "datetime":
                self.error(path, "type-error", "pauses must be a list of objects with a datetime `from` (and `to`)")
                return None
        elif t is None or t.kind not in kinds:
            self.error(path, "type-error", f"expected {' or '.join(kinds)}, this is {t}")
            return None
        return compile_expr(typed)

    def _layer(self, rules: list[CompiledRule], findings: list[FindingSpec]) -> list[CompiledRule]:
        """Rules reading a finding run after every rule that sets it; a cycle is an error."""
        setters: dict[str, list[CompiledRule]] = {}
        for r in rules:
            for fid, _ in r.sets:
                setters.setdefault(fid, []).append(r)
        layer: dict[str, int] = {}
        visiting: set[str] = set()
        by_id = {r.id: r for r in rules}

        def depth(r: CompiledRule, chain: tuple[str, ...]) -> int:
            if r.id in layer:
                return layer[r.id]
            if r.id in visiting:
                cycle = " → ".join(chain[chain.index(r.id) :] + (r.id,))
                self.diags.append(
                    Diagnostic(r.location, "finding-cycle", f"rules depend on each other through findings: {cycle}")
                )
                return 0
            visiting.add(r.id)
            d = 0
            for fid in r.reads:
                for s in setters.get(fid, []):
                    d = max(d, depth(s, chain + (r.id,)) + 1)
            visiting.discard(r.id)
            layer[r.id] = d
            return d

        for r in rules:
            depth(r, ())
        return [dataclasses.replace(r, layer=layer.get(r.id, 0)) for r in rules if r.id in by_id]
