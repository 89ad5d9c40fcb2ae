"""Stage 4, evaluate: normalise the case, fire rules layer by layer, resolve findings, build the Decision."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .amounts import AmountResult
from .amounts import compute as compute_amounts
from .authority import AuthorityResult
from .authority import compute as compute_authority
from .clauses import refs_of, split_ref, words
from .computed import Computed, finish
from .decision import Decision, jsonable
from .errors import CaseError, Diagnostic, EvaluationError, Location
from .expr.pyeval import MISSING, Env
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


@lru_cache(maxsize=256)
def _parse_now(text: str, tz: Any) -> datetime:
    """A batch usually gives every case the same `now`: parse each text once."""
    return parse_datetime(text, tz)


def resolve_now(
    policy: Policy, now: datetime | str | None, case: Mapping[str, Any], filename: str, smap: SourceMap | None = None
) -> datetime:
    """`now` from the argument, else from the case document; never from a clock."""
    value: Any = now if now is not None else case.get("now")

    def bad(message: str) -> CaseError:
        # A bad `now` written in the case is located there; a bad argument is the caller's.
        where = (
            (smap or SourceMap()).location(("now",), default_file=filename) if now is None else Location("now", 0, 0)
        )
        return CaseError([Diagnostic(where, "bad-now", message)])

    if value is None:
        raise EvaluationError("no evaluation time: pass now (CLI --now) or put 'now' in the case", code="no-now")
    if isinstance(value, str):
        if not re.match(DATETIME_PATTERN, value):
            raise bad(f"now must be an ISO 8601 datetime, not {value!r}")
        try:
            value = _parse_now(value, policy.timezone)
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
    engine: str = "python",
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
    policy: Policy, facts: dict[str, Any], case_id: str, moment: datetime, *, engine: str = "python"
) -> Decision:
    """The decision for normalised facts at `moment`."""
    return decide_with_findings(policy, facts, case_id, moment, engine=engine)[0]


def decide_with_findings(
    policy: Policy, facts: dict[str, Any], case_id: str, moment: datetime, *, engine: str = "python"
) -> tuple[Decision, dict[str, Any]]:
    """The decision, and the findings as typed values (for callers that compute with them, like forms)."""
    from .engines import check_engine

    check_engine(engine)
    backend = policy.backend(engine)
    fired: list[CompiledRule] = []
    # Computed `set:` values of the rules that fired, worked out by the shared Python evaluator when
    # the rule fires (on either engine), from the findings of the layers before.
    computed: dict[str, tuple[tuple[str, Any], ...]] = {}
    resolution = _Resolution(policy, computed)  # defaults, readable from the first layer on
    values = resolution.values
    for index, lookup in enumerate(policy.layer_lookup):
        ids = backend.fire(index, facts, values, moment)
        new = [rule for _place, rule in sorted(lookup[i] for i in ids if i in lookup)]
        if new:
            env = Env(facts, values, moment, policy.timezone)
            for r in new:
                if r.computes and r.row is None:  # a table row's cells are computed only if it is chosen
                    computed[r.id] = _computed_sets(r, env)
            fired.extend(new)
            resolution.env = env
            resolution.add(new)
    outcomes = resolution.outcomes
    # table rows that fill findings are traced as rules are; the other probes only feed calculators
    rules = [r for r in fired if r.kind == "rule" or r.row is not None]
    probes = frozenset(r.id for r in fired if r.kind == "probe")
    sla = compute_sla(policy, facts, values, probes, moment)
    approvals = compute_authority(policy, facts, values, probes, moment)
    penalties = compute_penalties(policy, facts, values, probes, moment, case_id)
    amounts = compute_amounts(policy, facts, values, probes, moment, case_id, sla.timers)
    decision = _build(
        policy, case_id, moment, rules, values, outcomes, sla, approvals, penalties, facts, probes, computed, amounts
    )
    return decision, values


def _computed_sets(r: CompiledRule, env: Env) -> tuple[tuple[str, Any], ...]:
    return tuple((fid, v(env) if isinstance(v, Computed) else v) for fid, v in r.sets)


def _sets(r: CompiledRule, computed: Mapping[str, tuple[tuple[str, Any], ...]]) -> tuple[tuple[str, Any], ...]:
    return computed.get(r.id, r.sets)


def _key(value: Any) -> Any:
    """A hashable stand-in for a finding value (objects and lists of objects are dicts)."""
    if isinstance(value, dict):
        return ("{}", tuple(sorted((k, _key(v)) for k, v in value.items())))
    if isinstance(value, tuple | list):
        return ("[]", tuple(_key(v) for v in value))
    return value


class _Resolution:
    """The findings of the rules fired so far. Each finding's conflict policy (or its table's hit policy)
    is applied to all its setters, never last-writer-wins; a layer re-resolves only what its rules set."""

    def __init__(self, policy: Policy, computed: dict[str, tuple[tuple[str, Any], ...]]):
        self.policy = policy
        self.computed = computed
        self.env: Env | None = None  # the layer's environment, for the cells of the table rows chosen
        self.values: dict[str, Any] = dict(policy.default_findings)
        self.outcomes: dict[tuple[str, str], str] = {}
        self.setters: dict[str, list[tuple[CompiledRule, Any]]] = {}
        self.rows: dict[str, list[CompiledRule]] = {}
        self.specs = policy.finding_specs

    def add(self, rules: list[CompiledRule]) -> None:
        touched: dict[str, None] = {}
        tables: dict[str, None] = {}
        for r in rules:
            if r.row is not None:  # a table row: its table's hit policy decides
                self.rows.setdefault(r.row[0], []).append(r)
                tables[r.row[0]] = None
                continue
            for fid, v in _sets(r, self.computed):
                if v is MISSING:
                    self.outcomes[(r.id, fid)] = "no-value"  # a computed value without a value sets nothing
                    continue
                self.setters.setdefault(fid, []).append((r, v))
                touched[fid] = None
        for fid in touched:
            self._rule_value(self.specs[fid])
        for tid in tables:
            self._table(tid)

    def _rule_value(self, spec: Any) -> None:
        values, outcomes = self.values, self.outcomes
        setters = self.setters[spec.id]
        if len(setters) == 1:  # the common case: one rule sets the finding
            r, v = setters[0]
            values[spec.id] = (v,) if spec.conflict == "collect" else v
            outcomes[(r.id, spec.id)] = "collected" if spec.conflict == "collect" else "applied"
            return
        setters = sorted(setters, key=lambda rv: (-rv[0].priority, rv[0].layer, rv[0].order))
        distinct = list({_key(v): v for _, v in reversed(setters)}.values())[::-1]
        if spec.conflict == "collect":
            values[spec.id] = tuple(distinct)
            for r, _ in setters:
                outcomes[(r.id, spec.id)] = "collected"
            return
        if spec.conflict == "priority":
            top = setters[0][0].priority
            contenders = [(r, v) for r, v in setters if r.priority == top]
        else:
            contenders = setters
        if len(contenders) > 1 and len({_key(v) for _, v in contenders}) > 1:
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

    def _table(self, tid: str) -> None:
        table = self.policy.authority.tables[tid]
        matched = sorted(self.rows[tid], key=lambda r: r.row[1])  # type: ignore[index]
        chosen = {row.index for row in table.select([r.row[1] for r in matched])}  # type: ignore[index]
        for r in matched:
            if r.row[1] in chosen and r.computes and r.id not in self.computed and self.env is not None:  # type: ignore[index]
                self.computed[r.id] = _computed_sets(r, self.env)
        for _, fid in table.findings:
            self._table_value(self.specs[fid], table, matched, chosen)

    def _table_value(self, spec: Any, table: Any, matched: list[CompiledRule], chosen: set[int]) -> None:
        """The chosen row's value, every matching row's (collect), or their aggregate."""
        picked: list[Any] = []
        for r in matched:
            for fid, v in _sets(r, self.computed):
                if fid != spec.id:
                    continue
                if r.row[1] not in chosen:  # type: ignore[index]
                    self.outcomes[(r.id, fid)] = "overridden"
                elif v is MISSING:
                    self.outcomes[(r.id, fid)] = "no-value"
                else:
                    self.outcomes[(r.id, fid)] = "applied"
                    picked.append(v)
        values = self.values
        if not picked:  # no row applies: as for a finding no rule sets
            values.pop(spec.id, None)
            if spec.default is not MISSING:
                values[spec.id] = spec.default
        elif table.aggregate == "count":
            values[spec.id] = len(picked)
        elif table.aggregate == "sum":
            values[spec.id] = finish(sum(picked), spec.type, spec.id)
        elif table.aggregate == "min":
            values[spec.id] = min(picked)
        elif table.aggregate == "max":
            values[spec.id] = max(picked)
        elif table.hit == "collect":
            values[spec.id] = tuple(picked)
        else:
            values[spec.id] = picked[0]


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
    computed: Mapping[str, tuple[tuple[str, Any], ...]],
    amounts: AmountResult,
) -> Decision:
    tz = policy.timezone
    findings = []
    setters_of: dict[str, list[CompiledRule]] = {}
    for r in fired:
        for fid, _ in _sets(r, computed):
            if outcomes.get((r.id, fid)) not in ("overridden", "no-value") and r not in setters_of.setdefault(fid, []):
                setters_of[fid].append(r)
    for spec in policy.findings:
        if spec.id not in values:
            continue
        value = values[spec.id]
        setters = setters_of.get(spec.id, [])
        value_label: Any = None
        if not spec.value_labels:
            pass  # most findings have no value labels: skip the look-ups
        elif isinstance(value, tuple):
            labels = [spec.value_label(v) for v in value]
            value_label = [lb.zh for lb in labels] if all(labels) else None
        else:
            lb = spec.value_label(value)
            value_label = lb.zh if lb else None
        findings.append(
            {
                "id": spec.id,
                "label": spec.label.zh,
                "label_en": spec.label.en,
                "value": value if type(value) in _JSON_SCALARS else jsonable(value, tz),
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
        for fid, v in _sets(r, computed):
            effect = {"kind": "set", "finding": fid, "outcome": outcomes.get((r.id, fid), "applied")}
            if type(v) in _JSON_SCALARS:
                effect["value"] = v
            elif v is not MISSING and not isinstance(v, Computed):  # a row passed over is not computed
                effect["value"] = jsonable(v, tz)
            effects.append(effect)
        if r.actions or r.forms:
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
    warnings.extend(amounts.warnings)
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
        findings=_nest(findings) if policy.has_dotted_findings else findings,
        timers=sla.timers,
        approvals=approvals.approvals,
        penalties=penalties.penalties,
        fines=amounts.fines,
        owed_to_customer=amounts.owed,
        forms=form_list,
        actions=list(actions.values()),
        trace=brief,
        warnings=warnings,
        clauses=(shown := words(policy.clauses, cited + [t["ref"] for t in brief])),
        full_trace=trace,
        # Most decisions override nothing: then the full view cites the same clauses.
        full_clauses=shown if len(brief) == len(trace) else words(policy.clauses, cited + [t["ref"] for t in trace]),
    )


_JSON_SCALARS = frozenset({str, int, bool})  # already JSON: no conversion needed


def _nest(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Dotted findings (`refund.amount`, `refund.reason`) become one finding `refund` holding an object."""
    out: list[dict[str, Any]] = []
    groups: dict[str, dict[str, Any]] = {}
    for f in findings:
        if "." not in f["id"]:
            out.append(f)
            continue
        root, *rest = f["id"].split(".")
        group = groups.get(root)
        if group is None:
            group = groups[root] = {
                "id": root,
                "label": root,
                "label_en": root,
                "value": {},
                "value_label": None,
                "source": "default",
                "rules": [],
                "refs": [],
            }
            out.append(group)
        target = group["value"]
        for name in rest[:-1]:
            target = target.setdefault(name, {})
        target[rest[-1]] = f["value"]
        if f["source"] == "rules":
            group["source"] = "rules"
        group["rules"].extend(r for r in f["rules"] if r not in group["rules"])
        group["refs"].extend(r for r in f["refs"] if r not in group["refs"])
    return out


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
