"""Policy test suites: YAML cases with `want` fragments, run on every engine (Cerbos/OPA style)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from .errors import Diagnostic, Location, ZhiduError
from .evaluate import evaluate_case
from .policy import ENGINES, Policy
from .schema_check import schema_diagnostics
from .source import SourceMap, read_document

_IDS = {"type": "array", "items": {"type": "string"}}
TEST_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "description": {"type": "string"},
        "cases": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "now": {"type": "string"},
                    "case": {"type": "object"},
                    "want": {
                        "type": "object",
                        "properties": {
                            "findings": {"type": "object"},
                            "no_findings": _IDS,
                            "rules": _IDS,
                            "not_rules": _IDS,
                            "actions": _IDS,
                            "not_actions": _IDS,
                            "forms": _IDS,
                            "not_forms": _IDS,
                            "warnings": _IDS,
                            "no_warnings": {"type": "boolean"},
                            "not_timers": {
                                **_IDS,
                                "description": "timers that must be absent (their `when` does not hold)",
                            },
                            "timers": {
                                "type": "object",
                                "additionalProperties": {"type": "object"},
                                "description": "timer id → fields that must match (a subset; steps by id)",
                            },
                            "approvals": {
                                "type": "object",
                                "additionalProperties": {"type": "object"},
                                "description": "approval id → fields that must match (a subset)",
                            },
                            "penalties": {
                                "type": "object",
                                "additionalProperties": {"type": "object"},
                                "description": "person id → fields that must match (a subset)",
                            },
                            "no_penalties": {"type": "boolean"},
                            "fines": {
                                "type": "object",
                                "additionalProperties": {"type": "object"},
                                "description": "amount item id → fields that must match (a subset)",
                            },
                            "owed_to_customer": {
                                "type": "object",
                                "additionalProperties": {"type": "object"},
                                "description": "amount item id → fields that must match (a subset)",
                            },
                            "no_fines": {"type": "boolean"},
                            "no_owed_to_customer": {"type": "boolean"},
                        },
                        "additionalProperties": False,
                    },
                    "want_error": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                        "required": ["code"],
                        "additionalProperties": False,
                    },
                },
                "required": ["name", "case"],
                "oneOf": [{"required": ["want"]}, {"required": ["want_error"]}],
                "additionalProperties": False,
            },
        },
    },
    "required": ["cases"],
    "additionalProperties": False,
}


@dataclass
class CaseResult:
    file: str
    line: int
    name: str
    engine: str
    failures: list[str] = field(default_factory=list)
    decision: dict[str, Any] | None = None
    error_code: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures


def suite_files(pack_root: Path) -> list[Path]:
    folder = pack_root / "tests"
    return sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]) if folder.is_dir() else []


def load_suite(path: Path, display: str) -> tuple[list[tuple[dict[str, Any], SourceMap, int, int]], list[Diagnostic]]:
    """The cases of one test file with their source positions; problems as diagnostics."""
    data, smap, diags = read_document(path, display)
    if diags:
        return [], diags
    diags = schema_diagnostics(jsonschema.Draft202012Validator(TEST_SCHEMA), data, smap, display, code="test-invalid")
    if diags:
        return [], diags
    cases = []
    for i, case in enumerate(data["cases"]):
        cases.append((case, smap, smap.location(("cases", i)).line, i))
    return cases, []


def run_case(
    policy: Policy, spec: dict[str, Any], smap: SourceMap, file: str, line: int, index: int, engine: str
) -> CaseResult:
    result = CaseResult(file, line, spec["name"], engine)
    sub = _SubMap(smap, ("cases", index, "case"))
    try:
        decision = evaluate_case(policy, spec["case"], spec.get("now"), engine=engine, smap=sub, filename=file)
    except ZhiduError as exc:
        result.error_code = exc.code
        want_error = spec.get("want_error")
        if want_error is None:
            result.failures.append(f"unexpected error {exc.code}: {exc}")
        else:
            if exc.code != want_error["code"]:
                result.failures.append(f"error code: want {want_error['code']}, got {exc.code} ({exc})")
            if want_error.get("message") and want_error["message"] not in str(exc):
                result.failures.append(f"error message: want it to contain {want_error['message']!r}, got {str(exc)!r}")
        return result
    # `rules:` asks which rules fired, overridden ones included.
    result.decision = decision.with_full_trace().to_dict()
    if "want_error" in spec:
        result.failures.append(f"want error {spec['want_error']['code']}, but the case evaluated")
        return result
    result.failures.extend(compare(spec.get("want", {}), result.decision))
    return result


class _SubMap(SourceMap):
    """A view of a test file's source map rooted at one case (so case errors keep their lines)."""

    def __init__(self, parent: SourceMap, prefix: tuple[object, ...]):
        super().__init__()
        n = len(prefix)
        self.values = {p[n:]: v for p, v in parent.values.items() if p[:n] == prefix}
        self.keys = {p[n:]: v for p, v in parent.keys.items() if p[:n] == prefix}


def compare(want: dict[str, Any], got: dict[str, Any]) -> list[str]:
    """Subset match of a `want` block against a decision; one readable line per difference."""
    out: list[str] = []
    findings = {f["id"]: f["value"] for f in got["findings"]}
    for fid, value in (want.get("findings") or {}).items():
        expected = json.loads(json.dumps(value, default=str))
        if fid not in findings:
            out.append(f"finding {fid}: want {expected!r}, but it was not set")
        elif findings[fid] != expected and str(findings[fid]) != str(expected):
            out.append(f"finding {fid}: want {expected!r}, got {findings[fid]!r}")
    for fid in want.get("no_findings") or []:
        if fid in findings:
            out.append(f"finding {fid}: want it unset, got {findings[fid]!r}")
    fired = [t["rule"] for t in got["trace"]]
    sections = {
        "rules": fired,
        "actions": [a["id"] for a in got["actions"]],
        "forms": [f["id"] for f in got["forms"]],
    }
    for key, present in sections.items():
        for item in want.get(key) or []:
            if item not in present:
                out.append(f"{key[:-1]} {item}: want it, got [{', '.join(present)}]")
        for item in want.get("not_" + key) or []:
            if item in present:
                out.append(f"{key[:-1]} {item}: want it absent, but it is there")
    for section, key, what in (
        ("timers", "id", "timer"),
        ("approvals", "id", "approval"),
        ("penalties", "person", "penalty for"),
        ("fines", "id", "fine"),
        ("owed_to_customer", "id", "amount owed"),
    ):
        present = {item[key]: item for item in got[section]}
        for item_id, fields in (want.get(section) or {}).items():
            if item_id not in present:
                out.append(f"{what} {item_id}: want it, got [{', '.join(present)}]")
                continue
            out.extend(_subset(f"{what} {item_id}", fields, present[item_id]))
    present_timers = {t["id"] for t in got["timers"]}
    for tid in want.get("not_timers") or []:
        if tid in present_timers:
            out.append(f"timer {tid}: want it absent (not applicable), but it is there")
    if want.get("no_penalties") and got["penalties"]:
        out.append(f"penalties: want none, got {[p['person'] for p in got['penalties']]}")
    for section in ("fines", "owed_to_customer"):
        if want.get("no_" + section) and got[section]:
            out.append(f"{section}: want none, got {[a['id'] for a in got[section]]}")
    messages = [w["message"] for w in got["warnings"]]
    for text in want.get("warnings") or []:
        if not any(text in m for m in messages):
            out.append(f"warning containing {text!r}: want it, got {messages}")
    if want.get("no_warnings") and messages:
        out.append(f"warnings: want none, got {messages}")
    return out


def _subset(where: str, want: Any, got: Any) -> list[str]:
    """Differences where `want` is not contained in `got`; steps lists are matched by id."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for key, value in want.items():
            if key == "steps" and isinstance(value, dict) and isinstance(got.get("steps"), list):
                steps = {s["id"]: s for s in got["steps"]}
                for sid, fields in value.items():
                    if sid not in steps:
                        out.append(f"{where} step {sid}: no such step")
                    else:
                        out.extend(_subset(f"{where} step {sid}", fields, steps[sid]))
            elif key not in got:
                out.append(f"{where}: want {key}={value!r}, but it is absent")
            else:
                out.extend(_subset(f"{where}.{key}", value, got[key]))
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        return [d for i, (w, g) in enumerate(zip(want, got, strict=True)) for d in _subset(f"{where}[{i}]", w, g)]
    expected = json.loads(json.dumps(want, default=str))
    if expected != got and str(expected) != str(got):
        return [f"{where}: want {expected!r}, got {got!r}"]
    return []


@dataclass
class SuiteReport:
    results: list[CaseResult]
    diagnostics: list[Diagnostic]
    coverage: dict[str, list[str]]

    @property
    def passed(self) -> bool:
        return not self.diagnostics and all(r.passed for r in self.results)


def run_pack_tests(policy: Policy, engines: tuple[str, ...] = ENGINES) -> SuiteReport:
    """Run every case of the pack's tests/ folder on each engine; engines must also agree exactly."""
    results: list[CaseResult] = []
    diags: list[Diagnostic] = []
    fired: set[str] = set()
    started: set[str] = set()
    rows: set[str] = set()
    amounts: set[str] = set()
    files = suite_files(policy.root)
    if not files:
        diags.append(Diagnostic(Location(str(policy.root / "tests"), 0, 0), "no-tests", "the pack has no tests/*.yaml"))
    for path in files:
        display = str(path)
        cases, problems = load_suite(path, display)
        diags.extend(problems)
        for spec, smap, line, index in cases:
            per_engine = [run_case(policy, spec, smap, display, line, index, e) for e in engines]
            first = per_engine[0]
            for other in per_engine[1:]:
                if other.decision != first.decision or other.error_code != first.error_code:
                    other.failures.append(
                        f"{other.engine} and {first.engine} disagree:\n" + _diff(first.decision, other.decision)
                    )
            for r in per_engine:
                if r.decision:
                    fired.update(t["rule"] for t in r.decision["trace"])
                    started.update(t["id"] for t in r.decision["timers"] if t["status"] != "pending")
                    rows.update(f"{a['table']}#{a['row']}" for a in r.decision["approvals"] if a.get("row"))
                    amounts.update(a["id"] for a in r.decision["fines"] + r.decision["owed_to_customer"])
                    rows.update(
                        f"{a['table']}#{a['row']}"
                        for a in r.decision["fines"] + r.decision["owed_to_customer"]
                        if a.get("row")
                    )
            results.extend(per_engine)
    sla = policy.sla
    clocks = [t.id for t in sla.timers] + [r.id for r in sla.routes] + [d.id for d in sla.duties] if sla else []
    coverage = {
        "rules_never_fired": [r.id for r in policy.rules if r.kind == "rule" and r.id not in fired],
        "timers_never_started": [t for t in clocks if t not in started],
        "table_rows_never_chosen": [
            f"{tid}#{row.index + 1}"
            for tid, table in (policy.authority.tables.items() if policy.authority else [])
            for row in table.rows
            if f"{tid}#{row.index + 1}" not in rows
        ],
        "amounts_never_computed": [a.id for a in policy.amounts.items if a.id not in amounts] if policy.amounts else [],
    }
    return SuiteReport(results, diags, coverage)


def _diff(a: Any, b: Any) -> str:
    import difflib

    left = json.dumps(a, ensure_ascii=False, indent=1).splitlines()
    right = json.dumps(b, ensure_ascii=False, indent=1).splitlines()
    return "\n".join(difflib.unified_diff(left, right, lineterm="", n=1))


def junit_xml(reports: list[tuple[str, SuiteReport]]) -> str:
    """A JUnit XML document for CI systems: one testsuite per pack, one testcase per case and engine."""
    from xml.etree import ElementTree as ET

    root = ET.Element("testsuites")
    for pack_id, report in reports:
        failures = sum(not r.passed for r in report.results)
        suite = ET.SubElement(root, "testsuite", name=pack_id, tests=str(len(report.results)), failures=str(failures))
        for r in report.results:
            case = ET.SubElement(
                suite, "testcase", classname=f"{pack_id}.{Path(r.file).stem}", name=f"[{r.engine}] {r.name}"
            )
            case.set("file", r.file)
            case.set("line", str(r.line))
            if not r.passed:
                failure = ET.SubElement(case, "failure", message=r.failures[0][:200])
                failure.text = "\n".join(r.failures)
        for d in report.diagnostics:
            case = ET.SubElement(suite, "testcase", classname=pack_id, name=d.code)
            ET.SubElement(case, "error", message=str(d))
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
