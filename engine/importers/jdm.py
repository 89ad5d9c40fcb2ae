"""`zhidu import jdm`: a GoRules JSON Decision Model graph becomes a zhidu pack (facts, findings, tables, rules).

What converts: input, output, decision-table (hit first), expression and switch (first or collect)
nodes; ZEN unary tests and the expression subset with a zhidu equivalent. Decision-table rows become
table rows filling findings, expression-node entries become rules with computed values, switch branches
become the conditions of the nodes behind them. JDM is untyped: fact types are inferred from how the
graph uses each field (the input node's JSON Schema wins where it has one). Anything else is refused
with a JdmError naming the node.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..errors import ZhiduError
from ..expr import ExprError, Scope, check, parse
from ..types import BOOLEAN, DATE, INTEGER, NUMBER, STRING, Type, list_of
from .zen_expr import Z, ZenError, dotted, parse_expression, parse_unary, walk, write

SUPPORTED = ("inputNode", "outputNode", "decisionTableNode", "expressionNode", "switchNode")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RESERVED = {"and", "or", "not", "in", "true", "false", "now", "findings"}


class JdmError(ZhiduError):
    """The graph cannot be imported; the message names the node (and the expression) at fault."""

    exit_code = 1
    default_code = "jdm-import"


@dataclass
class Imported:
    """A converted graph: the pack as YAML-ready data, and how the graph's result maps onto it."""

    pack: dict[str, Any]
    # the result zen returns: the case's facts when they pass through, and output path → the findings
    # that may hold it (the last with a value wins)
    passthrough: bool
    outputs: dict[str, tuple[str, ...]]
    fact_types: dict[str, Type]
    # per table: its id and row count; per switch: (statement id → condition) for coverage
    tables: dict[str, int] = field(default_factory=dict)
    literals: dict[str, list[Any]] = field(default_factory=dict)
    minimums: dict[str, Decimal] = field(default_factory=dict)


# -- reading the graph ---------------------------------------------------------------------------


def load_graph(path: str | Path) -> dict[str, Any]:
    try:
        graph = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise JdmError(f"{path}: cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise JdmError(f"{path}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    if (
        not isinstance(graph, dict)
        or not isinstance(graph.get("nodes"), list)
        or not isinstance(graph.get("edges"), list)
    ):
        raise JdmError(f"{path}: not a JDM graph (it needs nodes and edges)")
    return graph


def _check_shape(graph: dict[str, Any]) -> None:
    """Nodes with a string id and type, edges between them: what the conversion relies on."""
    ids = set()
    for i, node in enumerate(graph["nodes"]):
        if not isinstance(node, dict) or not isinstance(node.get("id"), str) or not isinstance(node.get("type"), str):
            raise JdmError(f"nodes[{i}]: a node needs a string id and type")
        if node.get("content") is not None and not isinstance(node["content"], dict):
            raise JdmError(f"{_label(node)}: content must be an object")
        ids.add(node["id"])
    for i, edge in enumerate(graph["edges"]):
        if not isinstance(edge, dict) or edge.get("sourceId") not in ids or edge.get("targetId") not in ids:
            raise JdmError(f"edges[{i}]: an edge needs the sourceId and targetId of two nodes")


def _order(graph: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = {n.get("id"): n for n in graph["nodes"] if isinstance(n, dict)}
    incoming: dict[str, int] = {nid: 0 for nid in nodes}
    for e in graph["edges"]:
        if e.get("targetId") in incoming and e.get("sourceId") in nodes:
            incoming[e["targetId"]] += 1
    ready = [nid for nid in nodes if incoming[nid] == 0]
    out = []
    while ready:
        nid = ready.pop(0)
        out.append(nodes[nid])
        for e in graph["edges"]:
            if e.get("sourceId") == nid and e.get("targetId") in incoming:
                incoming[e["targetId"]] -= 1
                if incoming[e["targetId"]] == 0:
                    ready.append(e["targetId"])
    if len(out) != len(nodes):
        raise JdmError("the graph has a cycle")
    return out


def _label(node: dict[str, Any]) -> str:
    return f"{node.get('type')} '{node.get('name') or node.get('id')}'"


# -- contexts: what a name means inside a node ----------------------------------------------------


@dataclass
class _Context:
    facts: bool = True  # the case's facts are visible (every node up to here passed them through)
    # output path → the findings that may hold it: several when switch branches each write it (one runs)
    findings: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def merged(self, other: _Context) -> _Context:
        out = dict(self.findings)
        for path, fids in other.findings.items():
            out[path] = tuple(dict.fromkeys(out.get(path, ()) + fids))
        return _Context(self.facts or other.facts, out)


class _Converter:
    def __init__(self, graph: dict[str, Any], pack_id: str):
        self.graph = graph
        self.pack_id = pack_id
        self.evidence: dict[str, dict[str, int]] = {}
        self.schema_types: dict[str, Type] = {}
        self.finding_types: dict[str, Type] = {}
        self.literals: dict[str, list[Any]] = {}
        self.findings: dict[str, dict[str, Any]] = {}
        self.tables: list[dict[str, Any]] = []
        self.rules: list[dict[str, Any]] = []
        self.fact_types: dict[str, Type] = {}
        self.minimums: dict[str, Decimal] = {}

    # -- pass 1: fact types ----------------------------------------------------------------------
    def note(self, path: str, kind: str) -> None:
        self.evidence.setdefault(path, {}).setdefault(kind, 0)
        self.evidence[path][kind] += 1

    def literal(self, path: str, value: Any) -> None:
        if value is not None and not isinstance(value, list | dict):
            bucket = self.literals.setdefault(path, [])
            if value not in bucket:
                bucket.append(value)

    def gather(
        self, node: Z, fact_of: Any, subject: str | None = None, item: str | None = None, condition: bool = False
    ) -> None:
        """Record what each fact path is compared with or used as (subject: the path `$` stands for)."""

        def path_of(n: Z) -> str | None:
            if n.kind == "dollar":
                return subject
            if n.kind == "item":
                return item
            if n.kind == "member" and n.args[0].kind == "item" and item:
                return f"{item}.{n.value}"
            p = dotted(n)
            return fact_of(p) if p else None

        def lit_kind(v: Any) -> str | None:
            if isinstance(v, bool):
                return "boolean"
            if isinstance(v, int | Decimal):
                return "number"
            if isinstance(v, str):
                return "string"
            return None

        for n in walk(node):
            seen = path_of(n) if n.kind in ("name", "member", "dollar") else None
            if seen:
                self.evidence.setdefault(seen, {})
            if n.kind == "binary":
                a, b = n.args
                pa, pb = path_of(a), path_of(b)
                if n.value in ("==", "!=", "<", ">", "<=", ">="):
                    for p, other in ((pa, b), (pb, a)):
                        if p and other.kind == "lit" and lit_kind(other.value):
                            self.note(p, lit_kind(other.value) or "string")
                            self.literal(p, other.value)
                        elif p and other.kind == "call" and other.value == "date":
                            self.note(p, "date")
                        elif p and other.kind in ("binary",) and other.value in "+-*/%":
                            self.note(p, "number")
                    if n.value in ("<", ">", "<=", ">="):
                        for p, other in ((pa, b), (pb, a)):
                            if (
                                p
                                and not (other.kind == "lit" and isinstance(other.value, str))
                                and other.kind != "call"
                            ):
                                self.note(p, "number")  # ordered against a computed value: a number
                elif n.value == "??":
                    if pa and b.kind == "lit" and lit_kind(b.value):
                        self.note(pa, lit_kind(b.value) or "string")
                    elif pa and b.kind == "list":
                        self.note(pa, "list")
                elif n.value in ("+", "-", "*", "/", "%"):
                    strings = any(x.kind == "lit" and isinstance(x.value, str) for x in (a, b))
                    for p in (pa, pb):
                        if p:
                            self.note(p, "string" if strings else "number")
                elif n.value in ("and", "or"):
                    for p in (pa, pb):
                        if p:
                            self.note(p, "boolean")
                elif n.value == "in":
                    if pa and b.kind == "list":
                        for i in b.args:
                            if i.kind == "lit" and lit_kind(i.value):
                                self.note(pa, lit_kind(i.value) or "string")
                                self.literal(pa, i.value)
                    if pb and a.kind == "lit":
                        self.note(pb, "list")
                        self.note(pb + "[]", lit_kind(a.value) or "string")
                        self.literal(pb + "[]", a.value)
            elif n.kind == "unary" and n.value == "not":
                p = path_of(n.args[0])
                if p:
                    self.note(p, "boolean")
            elif n.kind == "unary" and n.value == "-":
                p = path_of(n.args[0])
                if p:
                    self.note(p, "number")
            elif n.kind == "cond":
                p = path_of(n.args[0])
                if p:
                    self.note(p, "boolean")
            elif n.kind == "call" and n.args:
                fn, first = str(n.value), n.args[0]
                p = path_of(first)
                if fn in ("some", "all", "none", "filter", "map", "count") and p:
                    self.note(p, "list")
                    if len(n.args) > 1:
                        self.gather(n.args[1], fact_of, subject, p + "[]")
                elif fn in ("floor", "ceil", "round", "abs") and p:
                    self.note(p, "number")
                elif fn in ("upper", "lower", "trim", "startsWith", "endsWith", "number") and p:
                    self.note(p, "string")
                elif fn == "date" and p:
                    self.note(p, "date")
                elif fn == "contains" and p:
                    if len(n.args) > 1 and n.args[1].kind == "lit":
                        self.note(p, "string")
                        self.literal(p, n.args[1].value)
                elif fn == "contains" and first.kind == "list" and len(n.args) > 1:
                    q = path_of(n.args[1])
                    if q:
                        for i in first.args:
                            if i.kind == "lit":
                                self.note(q, lit_kind(i.value) or "string")
                                self.literal(q, i.value)
                elif fn in ("min", "max", "sum") and first.kind == "list":
                    for i in first.args:
                        q = path_of(i)
                        if q:
                            self.note(q, "number")
                if fn in ("len",) and p:
                    self.note(p, "string")
            elif n.kind in ("name", "member", "dollar", "item") and node is n and condition:
                p = path_of(n)
                if p:
                    self.note(p, "boolean")  # a bare name as a whole condition

    def schema(self, schema: Any, prefix: str = "") -> None:
        """The input node's JSON Schema, when it has one, types its properties."""
        if isinstance(schema, str):
            try:
                schema = json.loads(schema) if schema.strip() else None
            except json.JSONDecodeError:
                return
        if not isinstance(schema, dict):
            return
        for name, sub in (schema.get("properties") or {}).items():
            if not isinstance(sub, dict):
                continue
            path = f"{prefix}{name}"
            kind = sub.get("type")
            if kind == "object":
                self.schema(sub, path + ".")
            elif kind == "array":
                item = sub.get("items") if isinstance(sub.get("items"), dict) else {}
                self.schema_types[path] = list_of(_SCALARS.get(item.get("type"), STRING))
            elif (
                kind == "string" and isinstance(sub.get("enum"), list) and all(isinstance(v, str) for v in sub["enum"])
            ):
                self.schema_types[path] = Type("string", values=tuple(sub["enum"]))
            elif kind in _SCALARS:
                self.schema_types[path] = _SCALARS[kind]
                if isinstance(sub.get("minimum"), int | float):
                    self.minimums[path] = Decimal(str(sub["minimum"]))
            for value in sub.get("enum") or []:
                self.literal(path, value)

    # -- converting ------------------------------------------------------------------------------
    def run(self) -> Imported:
        _check_shape(self.graph)
        order = _order(self.graph)
        for node in order:
            if node.get("type") not in SUPPORTED:
                raise JdmError(
                    f"{_label(node)}: {node.get('type')} nodes cannot be converted (only {', '.join(SUPPORTED)})"
                )
            if node.get("type") == "inputNode":
                self.schema((node.get("content") or {}).get("schema"))
        # Pass 1 walks every expression with the contexts to learn the fact types; pass 2 writes.
        self.writing = False
        self._walk(order)
        self._settle_types()
        self.writing = True
        final = self._walk(order)
        facts = _fact_specs(self.fact_types)
        pack = {
            "id": self.pack_id,
            "version": "1",
            "title": {"zh": self.graph.get("name") or self.pack_id, "en": self.graph.get("name") or self.pack_id},
            "facts": facts,
            "findings": self.findings,
        }
        if self.tables:
            pack["tables"] = self.tables
        if self.rules:
            pack["rules"] = self.rules
        return Imported(
            pack,
            final.facts,
            dict(final.findings),
            dict(self.fact_types),
            {t["id"]: len(t["rows"]) for t in self.tables},
            self.literals,
            self.minimums,
        )

    def _walk(self, order: list[dict[str, Any]]) -> _Context:
        self.findings = {}
        self.tables = []
        self.rules = []
        self.used_ids: set[str] = set()
        contexts: dict[str, _Context] = {}
        activation: dict[str, str] = {}
        branch: dict[tuple[str, str], str] = {}  # (switch id, statement id) → condition text
        sinks: list[str] = []
        for node in order:
            nid = node["id"]
            parents = [e for e in self.graph["edges"] if e.get("targetId") == nid]
            if node["type"] == "inputNode":
                ctx, act = _Context(), "true"
            else:
                if not parents:
                    continue  # a node nothing leads to never runs
                ctx = _Context(False)
                acts = []
                for e in parents:
                    src = e["sourceId"]
                    if src not in contexts:
                        continue
                    ctx = ctx.merged(contexts[src])
                    cond = activation[src]
                    handle = e.get("sourceHandle")
                    if handle and (src, handle) in branch:
                        cond = _and(cond, branch[(src, handle)])
                    acts.append(cond)
                act = _or(acts)
            try:
                out = self._node(node, ctx, act, branch)
            except (ZenError, ExprError) as exc:
                raise JdmError(f"{_label(node)}: {getattr(exc, 'message', exc)}") from None
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                # content of the wrong shape (a rule that is not an object, an input without an id, …)
                raise JdmError(f"{_label(node)}: malformed node content ({type(exc).__name__}: {exc})") from None
            contexts[nid] = out
            activation[nid] = act
            if not any(e.get("sourceId") == nid for e in self.graph["edges"]):
                sinks.append(nid)
        final = _Context(False)
        for nid in sinks:
            final = final.merged(contexts[nid])
        return final

    def _node(self, node: dict[str, Any], ctx: _Context, act: str, branch: dict[tuple[str, str], str]) -> _Context:
        kind = node["type"]
        content = node.get("content") or {}
        if kind in ("inputNode", "outputNode"):
            return ctx
        self.prefix = str(content.get("inputField") or "")  # names are read inside this sub-object
        self.out_prefix = str(content.get("outputPath") or "")  # outputs are written inside this one
        mode = content.get("executionMode", "single")
        if mode not in ("single", "loop") or (mode == "loop" and kind != "decisionTableNode"):
            raise ZenError(f"executionMode {mode} is not supported here")
        if kind == "switchNode":
            return self._switch(node, content, ctx, act, branch)
        passes = content.get("passThrough") is True  # zen: absent means false
        produced: dict[str, str] = {}
        if kind == "expressionNode":
            self._expressions(node, content, ctx, act, produced)
        elif mode == "loop":
            self._loop(node, content, ctx, act, produced)
        else:
            self._table(node, content, ctx, act, produced)
        base = ctx if passes else _Context(False)
        # A new value of a path hides what was known below it.
        kept = {p: f for p, f in base.findings.items() if not any(p == q or p.startswith(q + ".") for q in produced)}
        return _Context(base.facts, {**kept, **{p: (f,) for p, f in produced.items()}})

    # -- names -----------------------------------------------------------------------------------
    def resolver(self, ctx: _Context, local: dict[str, str] | None = None):
        prefix = getattr(self, "prefix", "")

        def resolve(path: str) -> str:
            if prefix:
                path = f"{prefix}.{path}"
            for source in {k: (v,) for k, v in (local or {}).items()}, ctx.findings:
                parts = path.split(".")
                for k in range(len(parts), 0, -1):
                    head = ".".join(parts[:k])
                    if head in source:
                        return _read(source[head], parts[k:])
                below = {p[len(path) + 1 :]: fids for p, fids in source.items() if p.startswith(path + ".")}
                if below:
                    # an object whose fields several outputs wrote: gathered back into one object
                    return _object_text(nest_paths({k: _read(fids) for k, fids in below.items()}))
            if not ctx.facts:
                raise ZenError(f"'{path}' has no value here (an earlier node does not pass its input through)")
            for part in path.split("."):
                if not _IDENT.match(part) or part in _RESERVED:
                    raise ZenError(f"field name '{part}' is not a zhidu name")
            return path

        def fact_of(path: str) -> str | None:
            try:
                text = resolve(path)
            except ZenError:
                return None
            return text if re.fullmatch(r"[A-Za-z_][\w.]*", text) and not text.startswith("findings.") else None

        return resolve, fact_of

    def finding_id(self, path: str) -> str:
        for part in path.split("."):
            if not _IDENT.match(part) or part in _RESERVED:
                raise ZenError(f"output field '{path}' is not a zhidu name")
        fid = path
        n = 2
        # A path written twice in the graph (two nodes setting `discount`) gets a second finding.
        while fid in self.used_ids or any(u.startswith(fid + ".") or fid.startswith(u + ".") for u in self.used_ids):
            fid = f"{path}_{n}"
            n += 1
        self.used_ids.add(fid)
        return fid

    def scope(self) -> Scope:
        return Scope(dict(_roots(self.fact_types)), dict(self.finding_types))

    def typed(self, text: str) -> Type:
        node = check(parse(text), self.scope(), want_boolean=False)
        return node.type or STRING

    # -- node kinds ------------------------------------------------------------------------------
    def _switch(self, node, content, ctx: _Context, act: str, branch) -> _Context:
        resolve, fact_of = self.resolver(ctx)
        hit = content.get("hitPolicy", "first")
        if hit not in ("first", "collect"):
            raise ZenError(f"switch hitPolicy {hit} is not supported")
        earlier: list[str] = []
        for st in content.get("statements") or []:
            if st.get("isDefault"):
                continue
            text = (st.get("condition") or "").strip()
            if not text:
                cond = "true"
            else:
                tree = parse_expression(text)
                self.gather(tree, fact_of, condition=True)
                cond = write(tree, resolve) if self.writing else "true"
            branch[(node["id"], st["id"])] = _and(cond, *(f"not ({c})" for c in earlier)) if hit == "first" else cond
            earlier.append(cond)
        for st in content.get("statements") or []:
            if st.get("isDefault"):
                branch[(node["id"], st["id"])] = _and(*(f"not ({c})" for c in earlier)) if earlier else "true"
        return ctx

    def _expressions(self, node, content, ctx: _Context, act: str, produced: dict[str, str]) -> None:
        local: dict[str, str] = {}
        for i, item in enumerate(content.get("expressions") or []):
            key, value = item.get("key"), item.get("value")
            if not isinstance(key, str) or not key or not isinstance(value, str):
                continue
            resolve, fact_of = self.resolver(ctx)

            def dollar(name: str, local=local) -> str:
                if name not in local:
                    raise ZenError(f"'$.{name}' is not an earlier key of this node")
                return "findings." + local[name]

            tree = _dollar_members(parse_expression(value))
            if tree.kind == "lit" and tree.value is None:
                continue  # null: the key is never set
            self.gather(tree, fact_of)
            fid = self.finding_id(self.out(key))
            if self.writing:
                text = write(tree, resolve, dollar=dollar)
                t = self.typed(text)
                self.finding_types[fid] = t
                self.findings[fid] = _finding_spec(fid, t)
                self.rules.append(
                    {
                        "id": _rule_id(node, i),
                        "ref": f"JDM {node.get('name') or node['id']}: {key}",
                        "when": act,
                        "then": {"set": {fid: "= " + text}},
                    }
                )
            local[key] = fid
            produced[self.out(key)] = fid

    def out(self, path: str) -> str:
        return f"{self.out_prefix}.{path}" if self.out_prefix else path

    def _table(self, node, content, ctx: _Context, act: str, produced: dict[str, str]) -> None:
        hit = content.get("hitPolicy", "first")
        if hit not in ("first", "collect"):
            raise ZenError(f"hitPolicy {hit} is not supported (only first and collect)")
        resolve, fact_of = self.resolver(ctx)
        inputs = content.get("inputs") or []
        outputs = content.get("outputs") or []
        rules = content.get("rules") or []
        if not outputs:
            raise ZenError("a decision table without outputs")
        columns: list[dict[str, Any]] = []
        cells: list[list[str]] = [[] for _ in rules]
        if act != "true":
            columns.append({"name": "active", "expr": act})
            for row in cells:
                row.append("true")
        for k, inp in enumerate(inputs):
            field_text = (inp.get("field") or "").strip()
            subject_tree = parse_expression(field_text) if field_text else None
            subject_path = dotted(subject_tree) if subject_tree else None
            subject_fact = fact_of(subject_path) if subject_path else None
            if subject_tree is not None:
                self.gather(subject_tree, fact_of)
            trees = []
            for r in rules:
                raw = r.get(inp["id"], "")
                tree = (
                    parse_unary(raw) if subject_tree is not None else (parse_expression(raw) if raw.strip() else None)
                )
                trees.append(tree)
                if tree is not None:
                    self.gather(tree, fact_of, subject=subject_fact, condition=subject_tree is None)
            if not self.writing:
                continue
            subject = write(subject_tree, resolve) if subject_tree is not None else None
            native = subject is not None and all(t is None or _native(t) is not None for t in trees)
            if native:
                columns.append({"name": _column_name(subject_path, f"in{k + 1}", columns), "expr": subject})
                for row, t in zip(cells, trees, strict=True):
                    row.append("-" if t is None else _native(t) or "-")
                continue
            # Cells zhidu's unary tests cannot say become boolean columns of their own.
            for i, t in enumerate(trees):
                if t is None:
                    continue
                columns.append({"name": f"in{k + 1}_r{i + 1}", "expr": write(t, resolve, subject=subject)})
                for j, row in enumerate(cells):
                    row.append("true" if j == i else "-")
        if not self.writing:
            for o in outputs:
                for r in rules:
                    raw = (r.get(o["id"]) or "").strip()
                    if raw:
                        self.gather(parse_expression(raw), fact_of)
            for o in outputs:
                produced[self.out(o["field"])] = o["field"]
            return
        if not columns:
            columns.append({"name": "always", "expr": "true"})
            for row in cells:
                row.append("-")
        if hit == "collect":
            self._collect(node, rules, outputs, columns, cells, resolve, produced)
            return
        out_names = []
        finding_map = {}
        out_types: dict[str, Type | None] = {}
        for j, o in enumerate(outputs):
            path = o.get("field")
            if not isinstance(path, str) or not path:
                raise ZenError("an output without a field")
            fid = self.finding_id(self.out(path))
            name = _column_name(path, f"out{j + 1}", [{"name": n} for n in out_names])
            out_names.append(name)
            finding_map[name] = fid
            produced[self.out(path)] = fid
            out_types[name] = None
        rows = []
        for r, when in zip(rules, cells, strict=True):
            then: dict[str, Any] = {}
            for name, o in zip(out_names, outputs, strict=True):
                raw = (r.get(o["id"]) or "").strip()
                tree = parse_expression(raw) if raw else Z("lit", None)
                if tree.kind == "lit" and tree.value is None:
                    then[name] = None
                    continue
                text = write(tree, resolve)
                t = self.typed(text)
                prev = out_types[name]
                out_types[name] = t if prev is None else _unify(prev, t)
                then[name] = _yaml_literal(tree) if tree.kind == "lit" else "= " + text
            rows.append({"when": when, "then": then})
        for name, fid in finding_map.items():
            t = out_types[name] or STRING
            self.finding_types[fid] = t
            self.findings[fid] = _finding_spec(fid, t)
        tid = _table_id(node)
        self.add_table(
            {
                "id": tid,
                "ref": f"JDM {node.get('name') or node['id']}",
                "hit": "first",
                "inputs": columns,
                "outputs": out_names,
                "findings": finding_map,
                "rows": rows,
            }
        )

    def add_table(self, spec: dict[str, Any]) -> None:
        """Check the table as zhidu will (types of every cell) so a problem names this node."""
        from ..tables import check_table

        errors = check_table(spec, self.scope())
        if errors:
            raise ZenError(str(errors[0]))
        self.tables.append(spec)

    def _loop(self, node, content, ctx: _Context, act: str, produced: dict[str, str]) -> None:
        """executionMode loop: the table decides each item of the list `inputField`; the result is the list
        of the items with their outputs (passThrough) at `outputPath`, a rule computing it with map()."""
        if content.get("hitPolicy", "first") != "first" or not self.prefix or not self.out_prefix:
            raise ZenError("a loop table needs hitPolicy first, an inputField and an outputPath")
        prefix, self.prefix = self.prefix, ""
        resolve, fact_of = self.resolver(ctx)
        items_path = fact_of(prefix)
        if items_path is None:
            raise ZenError(f"the loop reads '{prefix}', which is not a field of the input")
        self.note(items_path, "list")
        item = items_path + "[]"

        def in_item(path: str) -> str:
            return "#." + path

        def item_fact(path: str) -> str:
            return f"{item}.{path}"

        rows: list[tuple[str, dict[str, Any]]] = []
        for r in content.get("rules") or []:
            conds, fields = [], {}
            for inp in content.get("inputs") or []:
                field_text = (inp.get("field") or "").strip()
                raw = r.get(inp["id"], "")
                subject_tree = parse_expression(field_text) if field_text else None
                tree = (
                    parse_unary(raw) if subject_tree is not None else (parse_expression(raw) if raw.strip() else None)
                )
                if tree is None:
                    continue
                subject_path = dotted(subject_tree) if subject_tree is not None else None
                self.gather(tree, item_fact, subject=item_fact(subject_path) if subject_path else None, condition=True)
                if self.writing:
                    subject = write(subject_tree, in_item) if subject_tree is not None else None
                    conds.append(write(tree, in_item, subject=subject))
            for o in content.get("outputs") or []:
                raw = (r.get(o["id"]) or "").strip()
                if raw:
                    tree = parse_expression(raw)
                    self.gather(tree, item_fact)
                    if self.writing and not (tree.kind == "lit" and tree.value is None):
                        fields[str(o["field"])] = write(tree, in_item)
            rows.append((_and(*conds), nest_paths(fields)))
        fid = self.finding_id(self.out_prefix)
        produced[self.out_prefix] = fid
        if not self.writing:
            return
        item_type = self.fact_types.get(items_path)
        kept: dict[str, Any] = {}
        if content.get("passThrough") is True and item_type is not None and item_type.item is not None:
            kept = {name: "#." + name for name, _ in item_type.item.fields}  # the item passes through
        value = _object_text(kept)
        for cond, fields in reversed(rows):
            value = f"({cond} ? {_object_text({**kept, **fields})} : {value})"
        text = f"map({resolve(prefix)}, {value})"
        t = self.typed(text)
        self.finding_types[fid] = t
        self.findings[fid] = _finding_spec(fid, t)
        self.rules.append(
            {
                "id": _rule_id(node, 0),
                "ref": f"JDM {node.get('name') or node['id']}",
                "when": act,
                "then": {"set": {fid: "= " + text}},
            }
        )

    def _collect(self, node, rules, outputs, columns, cells, resolve, produced: dict[str, str]) -> None:
        """hit: collect gives the list of the matching rows' outputs, each row one object."""
        target = self.out_prefix
        fid = self.finding_id(target) if target else self.finding_id(_table_id(node).replace("-", "_"))
        rows = []
        item: Type | None = None
        for r, when in zip(rules, cells, strict=True):
            fields: dict[str, Any] = {}
            for o in outputs:
                raw = (r.get(o["id"]) or "").strip()
                tree = parse_expression(raw) if raw else Z("lit", None)
                if tree.kind == "lit" and tree.value is None:
                    continue
                node_ = fields
                parts = str(o["field"]).split(".")
                for part in parts[:-1]:
                    node_ = node_.setdefault(part, {})
                node_[parts[-1]] = write(tree, resolve)
            text = _object_text(fields)
            t = self.typed(text)
            item = t if item is None else _merge_objects(item, t)
            rows.append({"when": when, "then": {"row": "= " + text}})
        t = item or Type("object")
        self.finding_types[fid] = list_of(t)
        # no matching row: zen gives an empty list
        self.findings[fid] = {**_spec_of(t), "label": fid, "conflict": "collect", "default": []}
        self.add_table(
            {
                "id": _table_id(node),
                "ref": f"JDM {node.get('name') or node['id']}",
                "hit": "collect",
                "inputs": columns,
                "outputs": ["row"],
                "findings": {"row": fid},
                "rows": rows,
            }
        )
        produced[target] = fid  # "" : the node's whole result is the list

    def _settle_types(self) -> None:
        types: dict[str, Type] = {}
        for path, kinds in self.evidence.items():
            if path.endswith("[]") or "[]." in path:
                continue
            if path in self.schema_types:
                types[path] = self.schema_types[path]
                continue
            kind = max(kinds, key=lambda k: (kinds[k], _PREFER.index(k))) if kinds else "string"
            if kind == "list":
                item_fields = {p[len(path) + 3 :]: k for p, k in self.evidence.items() if p.startswith(path + "[].")}
                if item_fields:
                    fields = tuple(
                        (name, _SCALARS_EV[max(ks, key=lambda k: (ks[k], _PREFER.index(k)))])
                        for name, ks in sorted(item_fields.items())
                        if "." not in name
                    )
                    types[path] = list_of(Type("object", fields=fields))
                else:
                    ks = self.evidence.get(path + "[]", {"string": 1})
                    types[path] = list_of(_SCALARS_EV[max(ks, key=lambda k: (ks[k], _PREFER.index(k)))])
            else:
                types[path] = _SCALARS_EV[kind]
        for path, t in self.schema_types.items():
            types.setdefault(path, t)
        # a path that is also the parent of other paths is an object
        for path in list(types):
            if any(p.startswith(path + ".") for p in types):
                del types[path]
        self.fact_types = types


_PREFER = ["string", "number", "boolean", "date", "list"]
_SCALARS = {"string": STRING, "number": NUMBER, "integer": INTEGER, "boolean": BOOLEAN}
_SCALARS_EV = {"string": STRING, "number": NUMBER, "boolean": BOOLEAN, "date": DATE, "list": list_of(STRING)}


def _dollar_members(tree: Z) -> Z:
    """`$.a.b` (the node's own earlier key `a.b`) as one member of `$`."""
    if tree.kind == "member":
        base = tree.args[0]
        names = [str(tree.value)]
        while base.kind == "member":
            names.insert(0, str(base.value))
            base = base.args[0]
        if base.kind == "dollar":
            return Z("member", ".".join(names), (Z("dollar"),))
    return Z(tree.kind, tree.value, tuple(_dollar_members(a) if isinstance(a, Z) else a for a in tree.args))


def _native(t: Z) -> str | None:
    """A zhidu unary-test cell for a ZEN test over `$`, when there is one."""
    if t.kind == "binary" and t.value == "or":
        a, b = _native(t.args[0]), _native(t.args[1])
        return f"{a}, {b}" if a and b else None
    if t.kind == "binary" and t.value == "in" and t.args[0].kind == "dollar" and t.args[1].kind == "list":
        items = [_cell_literal(i) for i in t.args[1].args]
        return ", ".join(items) if items and all(items) else None  # type: ignore[arg-type]
    if t.kind == "binary" and t.value in ("==", "!=", "<", "<=", ">", ">=") and t.args[0].kind == "dollar":
        lit = _cell_literal(t.args[1])
        if lit is None:
            return None
        if t.value == "==":
            return lit
        return f"{t.value} {lit}"
    if t.kind == "binary" and t.value == "and":
        a, b = t.args
        if all(x.kind == "binary" and x.args[0].kind == "dollar" for x in (a, b)):
            lo, hi = a, b
            if lo.value in (">", ">=") and hi.value in ("<", "<="):
                low, high = _cell_literal(lo.args[1]), _cell_literal(hi.args[1])
                if low and high and _is_number(lo.args[1]) and _is_number(hi.args[1]):
                    return f"{'[' if lo.value == '>=' else '('}{low}..{high}{']' if hi.value == '<=' else ')'}"
    return None


def _column_name(path: str | None, fallback: str, taken: list[dict[str, Any]]) -> str:
    """A table column named after its field (`sellerPolicy.returnsAllowed` → returnsAllowed) when it can be."""
    name = (path or "").rsplit(".", 1)[-1]
    used = {c["name"] for c in taken}
    return name if _IDENT.match(name) and name not in used and name not in _RESERVED else fallback


def _is_number(n: Z) -> bool:
    return n.kind == "lit" and isinstance(n.value, int | Decimal) and not isinstance(n.value, bool)


def _cell_literal(n: Z) -> str | None:
    if n.kind == "unary" and n.value == "-" and _is_number(n.args[0]):
        return f"-{n.args[0].value}"
    if n.kind != "lit" or n.value is None:
        return None
    v = n.value
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def _yaml_literal(tree: Z) -> Any:
    v = tree.value
    return v


def _read(fids: tuple[str, ...], rest: list[str] | None = None) -> str:
    """The value of an output path: the latest of the findings that may hold it."""
    reads = [".".join(["findings." + fid, *(rest or [])]) for fid in reversed(fids)]
    return reads[0] if len(reads) == 1 else "(" + " ?? ".join(reads) + ")"


def _object_text(fields: dict[str, Any]) -> str:
    return "{" + ", ".join(f'"{k}": {_object_text(v) if isinstance(v, dict) else v}' for k, v in fields.items()) + "}"


def _merge_objects(a: Type, b: Type) -> Type:
    """The type of rows whose objects may each leave out fields (empty cells)."""
    if a.kind == b.kind == "object":
        fa, fb = dict(a.fields), dict(b.fields)
        return Type(
            "object",
            fields=tuple(
                (k, _merge_objects(fa[k], fb[k]) if k in fa and k in fb else fa.get(k) or fb[k]) for k in {**fa, **fb}
            ),
        )
    return _unify(a, b)


def _unify(a: Type, b: Type) -> Type:
    from ..expr.check import unify

    t = unify(a, b)
    if t is None:
        raise ZenError(f"the rows give the output values of different types ({a} and {b})")
    return t


def _and(*parts: str) -> str:
    real = [p for p in parts if p and p != "true"]
    if not real:
        return "true"
    return " and ".join(f"({p})" for p in real) if len(real) > 1 else real[0]


def _or(parts: list[str]) -> str:
    if not parts or "true" in parts:
        return "true"
    unique = list(dict.fromkeys(parts))
    return " or ".join(f"({p})" for p in unique) if len(unique) > 1 else unique[0]


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "node"


def _table_id(node: dict[str, Any]) -> str:
    return slug(str(node.get("name") or node["id"]))[:60] + "-" + slug(str(node["id"]))[:8]


def _rule_id(node: dict[str, Any], i: int) -> str:
    return f"{_table_id(node)}-{i + 1}"


def _roots(types: dict[str, Type]) -> dict[str, Type]:
    """Fact paths `a.b.c` as nested object types under their root names."""
    tree: dict[str, Any] = {}
    for path, t in types.items():
        parts = path.split(".")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[parts[-1]] = t

    def build(value: Any) -> Type:
        if isinstance(value, Type):
            return value
        return Type("object", fields=tuple((k, build(v)) for k, v in value.items()))

    return {k: build(v) for k, v in tree.items()}


def _spec_of(t: Type) -> dict[str, Any]:
    if t.kind == "list":
        return {"type": "list", "items": _spec_of(t.item or STRING)}
    if t.kind == "object":
        return {"type": "object", "properties": {k: _spec_of(v) for k, v in t.fields}}
    if t.kind in ("number", "money"):
        return {"type": "number"}
    if t.values is not None:
        return {"type": "enum", "values": list(t.values)}
    return {"type": t.kind}


def _fact_specs(types: dict[str, Type]) -> dict[str, Any]:
    return {k: _spec_of(v) for k, v in _roots(types).items()}


def _finding_spec(fid: str, t: Type) -> dict[str, Any]:
    spec = _spec_of(t)
    if t.kind == "integer":
        spec = {"type": "integer"}
    if t.kind == "any":
        spec = {"type": "string"}
    return {**spec, "label": fid, "conflict": "error"}


# -- public API ----------------------------------------------------------------------------------


def convert(graph: dict[str, Any], pack_id: str) -> Imported:
    """Convert a JDM graph (parsed JSON) into pack data; raises JdmError naming the node it cannot convert."""
    return _Converter(graph, pack_id).run()


def nest_paths(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in flat.items():
        parts = path.split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out
