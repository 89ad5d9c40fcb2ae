"""Stage 4, evaluate: normalise the case, fire rules layer by layer, resolve findings, build the Decision."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .authority import AuthorityResult
from .authority import compute as compute_authority
from .clauses import refs_of, split_ref, words
from .decision import Decision, jsonable
from .errors import CaseError, Diagnostic, EvaluationError, Location
from .expr.pyeval import MISSING
from .facts import DATETIME_PATTERN, MAX_YEAR, MIN_YEAR, parse_datetime
from .forms import enrich as enrich_forms
from .penalties import PenaltyInputError
from .penalty_section import PenaltyResult
from .penalty_section import compute as compute_penalties
from .sla import SlaResult
from .sla import compute as compute_sla
from .source import SourceMap

if TYPE_CHECKING:
    from .policy import Action, CompiledRule, Policy


def resolve_now(
    policy: Policy, now: datetime | str | None, case: Mapping[str, Any], filename: str, smap: SourceMap | None = None
) -> datetime:
    """`now` from the argument, else from the case document; never from a clock."""
    value: Any = now if now is not None else case.get("now")
    # A bad `now` written in the case is located there; a bad argument is the caller's.
    where = (smap or SourceMap()).location(("now",), default_file=filename) if now is None else Location("now", 0, 0)

    def bad(message: str) -> CaseError:
        return CaseError([Diagnostic(where, "bad-now", message)])

    if value is None:
        raise EvaluationError("no evaluation time: pass now (CLI --now) or put 'now' in the case", code="no-now")
    if isinstance(value, str):
        if not re.match(DATETIME_PATTERN, value):
            raise bad(f"now must be an ISO 8601 datetime, not {value!r}")
        try:
            value = parse_datetime(value, policy.timezone)
        except ValueError as exc:
            raise bad(f"invalid now {value!r}: {exc}") from None
    if not isinstance(value, datetime):
        raise bad(f"now must be an ISO 8601 datetime, not {value!r}")
    value = value if value.tzinfo else value.replace(tzinfo=policy.timezone)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise bad(f"now must be within {MIN_YEAR}-{MAX_YEAR}")
    return value


def evaluate_case(
    policy: Policy,
    case: Mapping[str, Any],
    now: datetime | str | None,
    *,
    engine: str = "durable",
    smap: SourceMap | None = None,
    filename: str = "<case>",
    strict_calendar: bool = False,
) -> Decision:
    facts, case_id, moment = prepare_case(policy, case, now, smap=smap, filename=filename)
    try:
        decision = decide(policy, facts, case_id, moment, engine=engine)
    except PenaltyInputError as exc:
        if not exc.path:
            raise
        # Point at the record in the case file: file:line:col and its JSON path.
        where = (smap or SourceMap()).location(exc.path, default_file=filename)
        raise PenaltyInputError([Diagnostic(where, exc.code, str(exc))]) from None
    if strict_calendar:
        refuse_uncovered(decision)
    return decision


def refuse_uncovered(decision: Decision) -> None:
    """Strict calendars: a decision with a timer whose calendar lacks a year is refused as a whole."""
    gaps = [w["message"] for w in decision.warnings if w["code"] == "calendar-not-covered"]
    if gaps:
        raise EvaluationError("\n".join(gaps), code="calendar-not-covered")


def prepare_case(
    policy: Policy,
    case: Mapping[str, Any],
    now: datetime | str | None,
    *,
    smap: SourceMap | None = None,
    filename: str = "<case>",
) -> tuple[dict[str, Any], str, datetime]:
    """Validate and normalise a case and fix its evaluation time: (facts, case id, now)."""
    facts, case_id = policy.normaliser.case(case, smap, filename)
    return facts, case_id, resolve_now(policy, now, case, filename, smap)


def decide(
    policy: Policy, facts: dict[str, Any], case_id: str, moment: datetime, *, engine: str = "durable"
) -> Decision:
    """The decision for normalised facts at `moment`."""
    return decide_with_findings(policy, facts, case_id, moment, engine=engine)[0]


def decide_with_findings(
    policy: Policy, facts: dict[str, Any], case_id: str, moment: datetime, *, engine: str = "durable"
) -> tuple[Decision, dict[str, Any]]:
    """The decision, and the findings as typed values (for callers that compute with them, like forms)."""
    from .policy import ENGINES

    if engine not in ENGINES:
        raise EvaluationError(f"unknown engine '{engine}' (choose {' or '.join(ENGINES)})", code="unknown-engine")
    backend = policy.backend(engine)
    fired: list[CompiledRule] = []
    values, outcomes = _resolve(policy, fired)  # defaults, readable from the first layer on
    for index, layer in enumerate(policy.layers):
        ids = backend.fire(index, facts, values, moment)
        new = [r for r in layer if r.id in ids]
        if new:
            fired.extend(new)
            values, outcomes = _resolve(policy, fired)
    rules = [r for r in fired if r.kind == "rule"]
    probes = frozenset(r.id for r in fired if r.kind == "probe")
    sla = compute_sla(policy, facts, values, probes, moment)
    approvals = compute_authority(policy, facts, values, probes, moment)
    penalties = compute_penalties(policy, facts, values, probes, moment, case_id)
    decision = _build(policy, case_id, moment, rules, values, outcomes, sla, approvals, penalties, facts, probes)
    return decision, values


def _resolve(policy: Policy, fired: list[CompiledRule]) -> tuple[dict[str, Any], dict[tuple[str, str], str]]:
    """Apply each finding's conflict policy to the rules that fired; never last-writer-wins."""
    values: dict[str, Any] = {}
    outcomes: dict[tuple[str, str], str] = {}
    by_finding: dict[str, list[tuple[CompiledRule, Any]]] = {}
    for r in fired:
        for fid, v in r.sets:
            by_finding.setdefault(fid, []).append((r, v))
    for spec in policy.findings:
        setters = sorted(by_finding.get(spec.id, ()), key=lambda rv: (-rv[0].priority, rv[0].layer, rv[0].order))
        if not setters:
            if spec.default is not MISSING:
                values[spec.id] = spec.default
            continue
        distinct = list(dict.fromkeys(v for _, v in setters))
        if spec.conflict == "collect":
            values[spec.id] = tuple(distinct)
            for r, _ in setters:
                outcomes[(r.id, spec.id)] = "collected"
            continue
        if spec.conflict == "priority":
            top = setters[0][0].priority
            contenders = [(r, v) for r, v in setters if r.priority == top]
        else:
            contenders = setters
        if len({v for _, v in contenders}) > 1:
            detail = ", ".join(f"{r.id} → {v}" for r, v in contenders)
            why = "at the same priority " if spec.conflict == "priority" else ""
            raise EvaluationError(
                f"finding '{spec.id}' ({spec.conflict} policy): rules set different values {why}— {detail}",
                code="finding-conflict",
            )
        values[spec.id] = contenders[0][1]
        winners = {r.id for r, _ in contenders}
        for r, _ in setters:
            outcomes[(r.id, spec.id)] = "applied" if r.id in winners else "overridden"
    return values, outcomes


def _build(
    policy: Policy,
    case_id: str,
    now: datetime,
    fired: list[CompiledRule],
    values: dict[str, Any],
    outcomes: dict[tuple[str, str], str],
    sla: SlaResult,
    approvals: AuthorityResult,
    penalties: PenaltyResult,
    facts: dict[str, Any],
    probes: frozenset[str],
) -> Decision:
    tz = policy.timezone
    findings = []
    setters_of: dict[str, list[CompiledRule]] = {}
    for r in fired:
        for fid, _ in r.sets:
            if outcomes.get((r.id, fid)) != "overridden" and r not in setters_of.setdefault(fid, []):
                setters_of[fid].append(r)
    for spec in policy.findings:
        if spec.id not in values:
            continue
        value = values[spec.id]
        setters = setters_of.get(spec.id, [])
        if isinstance(value, tuple):
            labels = [spec.value_label(v) for v in value]
            value_label: Any = [lb.zh for lb in labels] if all(labels) else None
        else:
            lb = spec.value_label(value)
            value_label = lb.zh if lb else None
        findings.append(
            {
                "id": spec.id,
                "label": spec.label.zh,
                "label_en": spec.label.en,
                "value": jsonable(value, tz),
                "value_label": value_label,
                "source": "rules" if setters else "default",
                "rules": [r.id for r in setters],
                "refs": list(dict.fromkeys(r.ref for r in setters)),
            }
        )
    actions: dict[str, dict[str, Any]] = {}
    forms: dict[str, dict[str, Any]] = {}
    warnings: list[dict[str, Any]] = []
    trace = []
    for r in fired:
        effects: list[dict[str, Any]] = []
        for fid, v in r.sets:
            effects.append(
                {
                    "kind": "set",
                    "finding": fid,
                    "value": jsonable(v, tz),
                    "outcome": outcomes.get((r.id, fid), "applied"),
                }
            )
        effects.extend(_apply(policy, actions, forms, r.id, r.ref, r.actions, r.forms))
        for i, text in enumerate(r.warnings):
            effects.append({"kind": "warning", "id": f"{r.id}#{i + 1}"})
            warnings.append({"code": "rule-warning", "message": text, "rule": r.id, "ref": r.ref})
        trace.append(
            {
                "rule": r.id,
                "label": r.label.zh,
                "ref": r.ref,
                "clauses": list(split_ref(r.ref)),
                "priority": r.priority,
                "layer": r.layer,
                "effects": effects,
            }
        )
    labels = {f"{t['kind']}:{t['id']}": t["label"] for t in sla.timers}
    labels.update({f"authority:{a['id']}": a["label"] for a in approvals.approvals})
    for source, ref, extra in sla.effects + approvals.effects:
        label = labels.get(source, source)
        applied = _apply(policy, actions, forms, source, ref, extra.actions, extra.forms)
        trace.append(
            {
                "rule": source,
                "label": label,
                "ref": ref,
                "clauses": list(split_ref(ref)),
                "priority": 0,
                "layer": len(policy.layers),
                "effects": applied,
            }
        )
    warnings.extend(sla.warnings)
    warnings.extend(approvals.warnings)
    warnings.extend(penalties.warnings)
    form_list = list(forms.values())
    warnings.extend(enrich_forms(policy, form_list, facts, values, probes, now))
    if policy.effective_from and now.astimezone(tz).date() < policy.effective_from:
        warnings.insert(
            0,
            {
                "code": "not-yet-effective",
                "message": f"本制度自 {policy.effective_from.isoformat()} 起施行 (the policy takes effect on that date)",
            },
        )
    # A rule whose every effect a higher priority overrode changed nothing: shown on request only.
    brief = [t for t in trace if not t["effects"] or any(e.get("outcome") != "overridden" for e in t["effects"])]
    parts = {
        "findings": findings,
        "timers": sla.timers,
        "approvals": approvals.approvals,
        "penalties": penalties.penalties,
        "forms": form_list,
        "actions": list(actions.values()),
    }
    cited = refs_of(parts)
    return Decision(
        policy={"id": policy.id, "version": policy.version},
        case_id=case_id,
        evaluated_at=now.astimezone(tz).isoformat(),
        findings=findings,
        timers=sla.timers,
        approvals=approvals.approvals,
        penalties=penalties.penalties,
        forms=form_list,
        actions=list(actions.values()),
        trace=brief,
        warnings=warnings,
        clauses=(shown := words(policy.clauses, cited + [t["ref"] for t in brief])),
        full_trace=trace,
        # Most decisions override nothing: then the full view cites the same clauses.
        full_clauses=shown if len(brief) == len(trace) else words(policy.clauses, cited + [t["ref"] for t in trace]),
    )


def _apply(
    policy: Policy,
    actions: dict[str, dict[str, Any]],
    forms: dict[str, dict[str, Any]],
    source: str,
    ref: str,
    new_actions: tuple[Action, ...],
    new_forms: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Add actions and forms to the decision, each citing the rule (or timer) and clause behind it."""
    effects: list[dict[str, Any]] = []
    for a in new_actions:
        effects.append({"kind": "action", "id": a.id})
        entry = actions.setdefault(
            a.id, {"id": a.id, "label": a.label.zh, "label_en": a.label.en, "rules": [], "refs": []}
        )
        if a.to:
            entry["to"] = a.to
            entry["to_label"] = policy.role_label(a.to)
        if a.note:
            entry["note"] = a.note
        _cite(entry, source, ref)
    for form_id in new_forms:
        effects.append({"kind": "form", "id": form_id})
        label = policy.forms.get(form_id)
        entry = forms.setdefault(
            form_id,
            {
                "id": form_id,
                "label": label.zh if label else form_id,
                "label_en": label.en if label else form_id,
                "rules": [],
                "refs": [],
            },
        )
        _cite(entry, source, ref)
    return effects


def _cite(entry: dict[str, Any], source: str, ref: str) -> None:
    if source not in entry["rules"]:
        entry["rules"].append(source)
    if ref not in entry["refs"]:
        entry["refs"].append(ref)
