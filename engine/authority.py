"""Decision tables and the authority matrix in packs: compiled to probe rules, resolved into approvals."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import limits, pack_cache
from .decision import jsonable
from .errors import did_you_mean
from .expr.pyeval import MISSING, Compiled, Env, compile_expr
from .facts import Label
from .sla import Effects
from .tables import Row, Table, TableError, compile_table_checked, lint_table

if TYPE_CHECKING:
    from .compiler import _Compiler
    from .policy import Policy


@dataclass(frozen=True)
class Authority:
    """Who must approve a decision: the row a table picks names the approver and the chain."""

    id: str
    label: Label
    ref: str
    table: str
    when: str | None
    amount: Compiled | None
    actual: Compiled | None
    approver_output: str
    chain_output: str | None
    on_exceeded: Effects


@dataclass(frozen=True)
class AuthoritySpec:
    tables: dict[str, Table] = field(default_factory=dict)
    entries: tuple[Authority, ...] = ()
    ranks: dict[str, int] = field(default_factory=dict)
    # per table: (row index, probe id), built once at compile time
    # table id → probe id → row index: the rows a case matched come from its (few) probes, not a row scan
    row_probes: dict[str, dict[str, int]] = field(default_factory=dict)
    # finding → (table id, output) for the findings tables fill
    finding_sources: dict[str, tuple[str, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.entries or self.tables)


def row_probe(table_id: str, row: int) -> str:
    return f"table:{table_id}#{row + 1}"


def compile_authority(c: _Compiler) -> AuthoritySpec:
    tables = _tables(c)
    entries = _entries(c, tables)
    role_outputs: dict[str, set[str]] = {}
    for a in entries:
        role_outputs.setdefault(a.table, set()).add(a.approver_output)
        if a.chain_output:
            role_outputs[a.table].add(a.chain_output)
    for index, (tid, table) in enumerate(tables.items()):
        _lint(c, c.table_index.get(tid, index), table, role_outputs.get(tid, set()))
    raw_roles = c.data.get("roles") if isinstance(c.data.get("roles"), dict) else {}
    ranks = {k: v["rank"] for k, v in raw_roles.items() if isinstance(v, dict) and isinstance(v.get("rank"), int)}
    row_probes = {tid: {row_probe(tid, r.index): r.index for r in t.rows} for tid, t in tables.items()}
    sources = {fid: (tid, output) for tid, t in tables.items() for output, fid in t.findings}
    return AuthoritySpec(tables, tuple(entries), ranks, row_probes, sources)


def _targets(c: _Compiler, path: tuple[object, ...], table: Table, filled: dict[str, str]) -> list[tuple[str, Any]]:
    """(output, finding spec) for each finding the table fills, checked against its hit policy."""
    by_id = {f.id: f for f in c.findings}
    out = []
    for output, fid in table.findings:
        where = path + ("findings", output)
        spec = by_id.get(fid)
        if spec is None:
            c.error(where, "dangling-ref", f"unknown finding '{fid}'{did_you_mean(fid, by_id)}")
            continue
        if fid in filled:
            c.error(where, "finding-source", f"finding '{fid}' is already filled by table '{filled[fid]}'")
            continue
        filled[fid] = table.id
        collects = table.hit == "collect" and table.aggregate is None
        if collects != (spec.conflict == "collect"):
            want = (
                "hit: collect without aggregate gives a list: declare the finding with conflict: collect"
                if collects
                else "a finding with conflict: collect takes the values of hit: collect (without aggregate)"
            )
            c.error(where, "type-error", f"finding '{fid}': {want}")
            continue
        if table.aggregate == "count" and spec.type.kind != "integer":
            c.error(where, "type-error", f"finding '{fid}' counts rows: declare it integer, not {spec.type}")
            continue
        if table.aggregate == "sum" and not spec.type.numeric:
            c.error(where, "type-error", f"finding '{fid}' is a sum: declare it number, integer or money")
            continue
        out.append((output, spec))
    return out


def _tables(c: _Compiler) -> dict[str, Table]:
    out: dict[str, Table] = {}
    filled: dict[str, str] = {}
    for path, spec in c.entries("tables"):
        i = int(path[1])  # type: ignore[call-overload]
        if spec["id"] in out or spec["id"] in c.table_index:
            continue  # reported by the compiler's id check
        c.table_index.setdefault(spec["id"], i)
        rows = spec.get("rows")
        if isinstance(rows, list) and len(rows) > limits.TABLE_ROWS.value:
            message = f"the table has {len(rows):,} rows; at most {limits.TABLE_ROWS.value:,} are allowed"
            c.error(path + ("rows",), limits.TABLE_ROWS.code, message)
            continue
        table, errors = _compiled_table(spec, c.scope)
        for err in errors:
            _report(c, path, spec, err)
        if table is None:
            continue
        targets = _targets(c, path, table, filled)
        for row in table.rows:
            sets: list[tuple[str, Any]] = []
            for output, spec_f in targets:
                where = path + ("rows", row.index, "then", output)
                if row.outputs[output] is None:
                    continue  # an empty cell (YAML null): the row gives this finding no value
                value = 1 if table.aggregate == "count" else c.set_value(where, spec_f, row.outputs[output])
                if value is not MISSING:
                    sets.append((spec_f.id, value))
            c.probe(
                row_probe(table.id, row.index),
                row.condition,
                path + ("rows", row.index),
                row.ref or table.ref or "",
                typed=row.node,
                sets=tuple(sets),
                row=(table.id, row.index) if targets else None,
                compiled=row.predicate,
            )
        out[table.id] = table
        c.table_index[table.id] = i
    return out


def _report(c: _Compiler, path: tuple[object, ...], spec: dict[str, Any], err: TableError) -> None:
    where = path + tuple(err.path)
    if err.offset is not None and err.column is not None:
        inputs = spec.get("inputs") or []
        expr = (
            inputs[err.column].get("expr")
            if err.column < len(inputs) and isinstance(inputs[err.column], dict)
            else None
        )
        if isinstance(expr, str):
            loc = c.expr_location(where, expr, err.offset)
            from .errors import Diagnostic

            c.diags.append(Diagnostic(loc, "table", err.message))
            return
    c.error(where, "table", err.message)


def _compiled_table(spec: dict[str, Any], scope: Any) -> tuple[Table | None, list[TableError]]:
    """Compile a table once; the CLI's pack cache keeps a compiled table (its typed row conditions, not
    the closures made from them, which are rebuilt) by the spec and the fact types it was checked with."""
    entry = pack_cache.key("table", spec, scope)
    found = pack_cache.get("table", entry)
    if found is not None and isinstance(found[0], Table):
        rows = tuple(dataclasses.replace(r, predicate=compile_expr(r.node)) for r in found[0].rows)
        return dataclasses.replace(found[0], rows=rows), []
    table, errors = compile_table_checked(spec, scope)
    if table is not None:
        pack_cache.put("table", entry, dataclasses.replace(table, rows=tuple(_without_closure(r) for r in table.rows)))
    return table, errors


def _without_closure(row: Row) -> Row:
    return dataclasses.replace(row, predicate=None)


def _lint(c: _Compiler, index: int, table: Table, role_outputs: set[str]) -> None:
    roles, outputs = sorted(c.roles), sorted(role_outputs)
    # Lint is the costly part of a large table: kept in the pack cache (when on) by what it reads.
    entry = pack_cache.key("lint", table.id, table.hit, table.inputs, table.rows, str(table.tz), roles, outputs)
    findings = pack_cache.cached("lint", entry, lambda: lint_table(table, roles=set(roles), role_outputs=outputs))
    for finding in findings:
        path: tuple[object, ...] = ("tables", index) + (("rows", finding.row) if finding.row is not None else ())
        if finding.kind == "unknown-role":
            c.error(path, "unknown-role", finding.message)
        else:
            c.warn(path, f"table-{finding.kind}", finding.message)


def _entries(c: _Compiler, tables: dict[str, Table]) -> list[Authority]:
    out: list[Authority] = []
    declared = {spec["id"] for _, spec in c.entries("tables")}
    for path, spec in c.entries("authority"):
        aid, ref = spec["id"], str(spec.get("ref", ""))
        tid = spec.get("table")
        if tid not in declared:
            c.error(
                path + ("table",),
                "dangling-ref",
                f"unknown table '{tid}'{did_you_mean(str(tid), [str(d) for d in declared])}",
            )
            continue
        if tid not in tables:
            continue  # the table's own errors are reported
        table = tables[tid]
        approver = spec.get("approver_output", "approver")
        chain = spec.get("chain_output", "chain" if "chain" in table.outputs else None)
        for key, name in (("approver_output", approver), ("chain_output", chain)):
            if name is not None and name not in table.outputs:
                c.error(
                    path + (key,),
                    "dangling-ref",
                    f"table '{tid}' has no output '{name}'{did_you_mean(str(name), table.outputs)}",
                )
        when = spec.get("when")
        probe = c.probe(f"authority:{aid}", when, path + ("when",), ref) if isinstance(when, str) else None
        amount = (
            c.value_expr(path + ("amount",), spec["amount"], ("money", "number", "integer"))
            if isinstance(spec.get("amount"), str)
            else None
        )
        actual = (
            c.value_expr(path + ("actual",), spec["actual"], ("string",))
            if isinstance(spec.get("actual"), str)
            else None
        )
        _actual_values_are_roles(c, path + ("actual",), spec.get("actual"))
        effects = spec.get("on_exceeded")
        out.append(
            Authority(
                aid,
                Label.of(spec.get("label"), aid),
                ref,
                str(tid),
                probe,
                amount,
                actual,
                str(approver),
                chain if isinstance(chain, str) else None,
                Effects(c.actions_of(effects, path + ("on_exceeded",)), c.forms_of(effects, path + ("on_exceeded",)))
                if isinstance(effects, dict)
                else Effects(),
            )
        )
    return out


@dataclass
class AuthorityResult:
    approvals: list[dict[str, Any]] = field(default_factory=list)
    effects: list[tuple[str, str, Effects]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)


def compute(
    policy: Policy, facts: dict[str, Any], findings: dict[str, Any], probes: frozenset[str], now: datetime
) -> AuthorityResult:
    spec: AuthoritySpec = policy.authority
    out = AuthorityResult()
    if not spec:
        return out
    env = Env(facts, findings, now, policy.timezone)
    tz = policy.timezone
    for a in spec.entries:
        if a.when is not None and a.when not in probes:
            continue
        table = spec.tables[a.table]
        rows_of = spec.row_probes[table.id]
        matched = sorted(rows_of[pid] for pid in probes if pid in rows_of)
        rows = table.select(matched)
        entry: dict[str, Any] = {"id": a.id, "label": a.label.zh, "ref": a.ref, "table": table.id}
        amount = a.amount(env) if a.amount else MISSING
        if amount is not MISSING:
            entry["amount"] = jsonable(amount, tz)
        if not rows:
            entry.update({"approver": None, "row": None, "chain": []})
            out.warnings.append(
                {
                    "code": "no-authority-row",
                    "message": f"{a.label.zh}: no row of table '{table.id}' applies",
                    "ref": a.ref,
                }
            )
            out.approvals.append(entry)
            continue
        row = rows[0]
        approver = row.outputs.get(a.approver_output)
        chain = row.outputs.get(a.chain_output) if a.chain_output else None
        chain = list(chain) if isinstance(chain, list) else [approver] if approver else []
        entry.update(
            {
                "approver": approver,
                "approver_label": policy.role_label(approver),
                "chain": [{"role": r, "label": policy.role_label(r)} for r in chain],
                "row": row.index + 1,
            }
        )
        if row.ref:
            entry["row_ref"] = row.ref
        actual = a.actual(env) if a.actual else MISSING
        if actual is not MISSING and approver and actual not in policy.roles:
            # A free-text fact naming someone the pack does not know: say so instead of guessing.
            hint = did_you_mean(str(actual), policy.roles)
            out.warnings.append(
                {
                    "code": "unknown-role",
                    "message": f"{a.label.zh}: '{actual}' is not a role of this pack{hint}; authority not checked",
                    "ref": a.ref,
                }
            )
        elif actual is not MISSING and approver:
            within = _within(spec, chain, approver, actual)
            entry.update({"actual": actual, "actual_label": policy.role_label(actual), "within_authority": within})
            if not within:
                out.warnings.append(
                    {
                        "code": "beyond-authority",
                        "message": f"{a.label.zh}: {policy.role_label(actual)} ({actual}) 超越核决权限，应由 {policy.role_label(approver)} ({approver}) 核决",
                        "ref": a.ref,
                    }
                )
                if a.on_exceeded:
                    out.effects.append((f"authority:{a.id}", a.ref, a.on_exceeded))
        out.approvals.append(entry)
    return out


def _actual_values_are_roles(c: _Compiler, path: tuple[object, ...], fact: Any) -> None:
    """Who really approved is compared with roles: an enum value that is no role could never be judged."""
    spec = next((f for f in c.facts if f.name == fact), None)
    for value in (spec.type.values or ()) if spec is not None else ():
        if value not in c.roles:
            c.error(
                path,
                "unknown-role",
                f"fact '{fact}' has the value '{value}', which is not a role{did_you_mean(value, c.roles)}",
            )


def _within(spec: AuthoritySpec, chain: list[str], approver: str, actual: str) -> bool:
    """The actor is the required approver or ranks above: by declared rank, else by chain order."""
    if actual == approver:
        return True
    if actual in spec.ranks and approver in spec.ranks:
        return spec.ranks[actual] >= spec.ranks[approver]
    return actual in chain and approver in chain and chain.index(actual) >= chain.index(approver)
