"""The durable-rules backend: the only module importing `durable`; it neutralises every known trap.

Traps (numbers from durable-rules-notes.md) and how this adapter answers each:
 1 `$or` fires once per branch          → fired rule ids are collected into a set.
 2 conditions of only `$nex` self-match  → every rule starts with the discriminator `__z == 1`.
 3 Lua-dialect regex, silent misses      → regexes never reach durable: `matches()` is computed here.
 4 missing fields give order-dependent results → every compared field gets `$ex` (and `$nex` in negations).
 5 loose types, floats as 1e+16 fail     → values are normalised and encoded as exact integers.
 6 exceptions in actions are swallowed   → the returned state is checked for "exception" and raised.
 7/8 session ids leak and memory grows   → one sid per assertion, `delete_state` in `finally`.
 9 ruleset names cannot be re-registered → names carry a process-unique serial.
10 each Host starts threads forever      → one Host per process, and it starts none: those threads call
                                         the C extension without any lock and crashed the process here
                                         (SIGSEGV) while the main thread asserted; timers and queued
                                         events are never used, and actions run on the asserting thread.
11 the C extension is not thread-safe    → a process-wide lock serialises assertions.
12 wall-clock timers                     → never used: `now` is a fact like any other.
13 batch assertions misfire              → one case, one assertion at a time.
14 256-property facts fail (nested objects count too), and (found here) a ruleset testing more than 64
   distinct fields of one fact fails with error 303 → only the fields a ruleset reads are sent, and a
                                         layer is split so that no ruleset reads more than FIELD_LIMIT.
15 huge rulesets hang                    → a layer is split into rulesets of at most CHUNK rules.
16 (found here) `delete_state` after an assertion no rule handled crashes the process (SIGSEGV)
                                         → every ruleset holds a sentinel rule that matches every case.
Found here as well (tests/test_engines_differential.py keeps a case for each):
17 durable-rules owns the top-level `id` and `sid` (it creates `id`, turns both into strings; `id`
   compared as a string crashed the process) → pack facts go under `f`, findings under `g`.
18 a rule with more than about 15 nested $and/$or groups fails with error 113 → such a rule is one
   computed field (MAX_GROUPS).
19 string lengths are kept in 16 bits: a 64 KiB text equals any literal with the same first letter
   → texts longer than LONG_STRING bytes are sent as a digest that no literal equals.
20 `literal + literal` is evaluated wrongly → constants are folded by the checker and by `_combine`.
21 (found here) arithmetic is int64 and overflows silently: a sum of ten values near the 10^12 limit
   wraps and the rule does not fire → a sum sent to durable has at most MAX_TERMS terms, each below
   LIMIT, so it always fits; a longer one is a computed field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import durable.engine as durable_engine

from ..errors import EvaluationError
from ..expr import ir
from ..expr.pyeval import MISSING, Env, compile_expr
from ..types import Type

if TYPE_CHECKING:
    from ..policy import CompiledRule, Policy

CHUNK = 400
MAX_GROUPS = 12  # measured here: 15 nested $and/$or groups in a rule work, 16 fail with error 113
# durable-rules fails on a fact of 256 properties (nested ones count: error 302) and, measured here,
# when one ruleset tests more than 64 distinct fields present in the fact (error 303).
FIELD_LIMIT = 60
# Found here too: a ruleset in which more than 64 tests hold at once for one fact fails with the same
# error 303 (a 70-row decision table on one amount, asserted with an amount that passes 65 `>=` bounds).
# Chunks are cut so that a ruleset holds at most this many tests, whatever the fact.
TEST_LIMIT = 60
SCALE = 10**6  # numbers carry at most 6 decimal places (facts.NUMBER_PLACES)
LIMIT = 10**18  # every encoded value is below this
MAX_TERMS = (2**63 - 1) // LIMIT  # 9: a sum of this many encoded values cannot overflow int64
LONG_STRING = 16_000  # bytes; durable-rules wraps string lengths at 65,536
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = timedelta(microseconds=1)
ALWAYS: dict[str, Any] = {"__z": 1}
NEVER: dict[str, Any] = {"__z": 0}
NOW_FIELD = "__now"  # top level; pack facts are under `f`, so a fact named __now is f.__now
SENTINEL = "__sentinel"  # pack rule ids cannot start with "_", so this never clashes
_INVERSE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}

_LOCK = threading.Lock()
_HOST: durable_engine.Host | None = None
_SERIAL = itertools.count(1)


class _QuietHost(durable_engine.Host):
    """A Host without its background dispatch threads (trap 10)."""

    def _run(self) -> None:
        return None


def _host() -> durable_engine.Host:
    global _HOST
    if _HOST is None:
        _HOST = _QuietHost()
    return _HOST


def encode(value: Any) -> Any:
    """A normalised value as durable-rules sees it: exact integers, strings or booleans; None if it cannot."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value.encode("utf-8")) > LONG_STRING:
            # durable-rules keeps string lengths in 16 bits: a long text becomes a digest that equals
            # only the same text and no literal of a rule (literals are short).
            return "zhidu-long:" + hashlib.sha256(value.encode("utf-8")).hexdigest()
        return value
    if isinstance(value, int):
        scaled = value * SCALE
    elif isinstance(value, Decimal):
        if not value.is_finite() or abs(value) >= LIMIT or value != value.quantize(Decimal(1).scaleb(-6)):
            return None
        scaled = int(value * SCALE)
    elif isinstance(value, datetime):
        scaled = (value - EPOCH) // MICRO
    elif isinstance(value, date):
        scaled = value.toordinal()
    elif isinstance(value, timedelta):
        scaled = value // MICRO
    else:
        return None
    return scaled if -LIMIT < scaled < LIMIT else None


def _scalar(t: Type | None) -> bool:
    return t is not None and t.kind not in ("list", "object", "any")


class _Translator:
    """IR → durable condition JSON for one layer; what durable cannot express becomes a computed field."""

    def __init__(self) -> None:
        self.paths: dict[str, tuple[str, ...]] = {}
        self.computed: list[tuple[str, Callable[[Env], Any]]] = []

    def condition(self, node: ir.Node, positive: bool = True) -> dict[str, Any]:
        if isinstance(node, ir.And | ir.Or):
            conj = isinstance(node, ir.And) == positive
            return {"$and" if conj else "$or": [self.condition(i, positive) for i in node.items]}
        if isinstance(node, ir.Not):
            return self.condition(node.operand, not positive)
        if isinstance(node, ir.Literal) and isinstance(node.value, bool):
            return ALWAYS if node.value == positive else NEVER
        if isinstance(node, ir.Path) and _scalar(node.type):
            field = self._field(node)
            if positive:
                return {"$and": [{"$ex": {field: 1}}, {field: True}]}
            return {"$or": [{"$nex": {field: 1}}, {field: False}]}
        if (
            isinstance(node, ir.Call)
            and node.name == "exists"
            and isinstance(node.args[0], ir.Path)
            and _scalar(node.args[0].type)
        ):
            field = self._field(node.args[0])
            return {"$ex" if positive else "$nex": {field: 1}}
        if isinstance(node, ir.Compare):
            native = self._compare(node)
            if native is not None:
                field, op, rhs, fields = native
                present = [{"$ex": {f: 1}} for f in fields]
                if positive:
                    return {"$and": present + [self._test(field, op, rhs)]}
                absent = [{"$nex": {f: 1}} for f in fields]
                return {"$or": absent + [{"$and": present + [self._test(field, _INVERSE[op], rhs)]}]}
        if isinstance(node, ir.In):
            native_in = self._in(node, positive)
            if native_in is not None:
                return native_in
        return self._computed(node, positive)

    # -- pieces ------------------------------------------------------------------------------
    def _field(self, node: ir.Path | ir.Now) -> str:
        """The field's name in the asserted fact. Pack facts live under `f` and findings under `g`, so
        no pack name can meet durable-rules' own `id` and `sid` or the adapter's `__z`, `__now`, `__c…`."""
        if isinstance(node, ir.Now):
            self.paths[NOW_FIELD] = ()
            return NOW_FIELD
        if node.names[0] == "findings":
            name = "g." + ".".join(node.names[1:])
        else:
            name = "f." + node.dotted
        self.paths[name] = node.names
        return name

    @staticmethod
    def _test(field: str, op: str, rhs: Any) -> dict[str, Any]:
        return {field: rhs} if op == "==" else {_OPS[op]: {field: rhs}}

    def _operand(self, node: ir.Node, fields: list[str]) -> Any:
        """The right-hand side in durable's expression form, or None."""
        if isinstance(node, ir.Path | ir.Now) and (isinstance(node, ir.Now) or _scalar(node.type)):
            name = self._field(node)
            fields.append(name)
            return {"$m": name}
        if isinstance(node, ir.Literal):
            return encode(node.value)
        if isinstance(node, ir.Arith) and node.op in ("+", "-") and self._units_agree(node):
            left = self._operand(node.left, fields)
            right = self._operand(node.right, fields)
            if left is None or right is None:
                return None
            return _combine("$add" if node.op == "+" else "$sub", left, right)
        return None

    @staticmethod
    def _units_agree(node: ir.Arith) -> bool:
        # Integers, money, numbers, datetimes and durations share micro-units; dates count days.
        kinds = {node.left.type.kind, node.right.type.kind} if node.left.type and node.right.type else {"?"}
        return not kinds & {"date", "string", "?"}

    def _compare(self, node: ir.Compare) -> tuple[str, str, Any, list[str]] | None:
        if node.left.type is None or not _scalar(node.left.type) or not _scalar(node.right.type):
            return None
        if node.op not in ("==", "!=") and node.left.type.kind == "string":
            return None  # string ordering is left to Python's code-point order
        for lhs, op, rhs in ((node.left, node.op, node.right), (node.right, _FLIP[node.op], node.left)):
            fields: list[str] = []
            if isinstance(lhs, ir.Path | ir.Now):
                right = self._operand(rhs, fields)
                if right is not None and _terms(right) <= MAX_TERMS:
                    return self._field(lhs), op, right, [self._field(lhs), *fields]
            # p ± X  op  R   →   p  op  R ∓ X
            if isinstance(lhs, ir.Arith) and lhs.op in ("+", "-") and self._units_agree(lhs):
                candidates = [(lhs.left, lhs.right, "$add" if lhs.op == "-" else "$sub")]
                if lhs.op == "+":
                    candidates.append((lhs.right, lhs.left, "$sub"))
                for path, other, move in candidates:
                    if not isinstance(path, ir.Path | ir.Now):
                        continue
                    fields = []
                    r = self._operand(rhs, fields)
                    x = self._operand(other, fields)
                    combined = _combine(move, r, x) if r is not None and x is not None else None
                    if combined is not None and _terms(combined) <= MAX_TERMS:
                        return self._field(path), op, combined, [self._field(path), *fields]
        return None

    def _in(self, node: ir.In, positive: bool) -> dict[str, Any] | None:
        if (
            not isinstance(node.item, ir.Path)
            or not _scalar(node.item.type)
            or not isinstance(node.container, ir.ListLit)
        ):
            return None
        values = [encode(i.value) if isinstance(i, ir.Literal) else None for i in node.container.items]
        if any(v is None for v in values):
            return None
        field = self._field(node.item)
        member = positive != node.negated  # the condition wanted: "is a member" or "is not a member"
        present = {"$ex": {field: 1}}
        if positive:
            tests = [{field: v} for v in values] if member else [{"$neq": {field: v}} for v in values]
            if not tests:
                return NEVER if member else present
            return {"$and": [present, {"$or" if member else "$and": tests}]}
        # negative: the In expression is false — the field is absent, or membership is the opposite
        tests = [{field: v} for v in values] if member else [{"$neq": {field: v}} for v in values]
        if not tests:
            return {"$nex": {field: 1}} if member else ALWAYS
        return {"$or": [{"$nex": {field: 1}}, {"$and": [present, {"$or" if member else "$and": tests}]}]}

    def _computed(self, node: ir.Node, positive: bool) -> dict[str, Any]:
        name = f"__c{len(self.computed)}"
        test = compile_expr(node)
        self.computed.append((name, lambda env, test=test: test(env) is True))
        return {name: positive}

    def computed_whole(self, node: ir.Node) -> dict[str, Any]:
        """The whole condition as one computed field (for rules too large for durable-rules)."""
        return self._computed(node, True)

    def property_count(self) -> int:
        """Properties of the asserted fact, nested objects included, plus `__z` and `sid`."""
        prefixes = {tuple(name.split("."))[:i] for name in self.paths for i in range(1, name.count(".") + 2)}
        return len(prefixes) + len(self.computed) + 2


class _Ruleset:
    """One registered durable ruleset and exactly the fields its rules read."""

    def __init__(self, name: str, translator: _Translator):
        self.name = name
        self.paths = dict(translator.paths)
        self.computed = list(translator.computed)
        # per field: where it sits in the asserted fact, and where its value is read (split once, here)
        self.reads = [
            (
                field_name,
                tuple(field_name.split(".")),
                names[:1] == ("findings",),
                names[1:] if names[:1] == ("findings",) else names,
            )
            for field_name, names in self.paths.items()
        ]


class DurableBackend:
    """Registers each layer of a policy as durable-rules rulesets and asserts one fact per case."""

    def __init__(self, policy: Policy):
        self.policy = policy
        self._fired: set[str] = set()
        self.layers: list[list[_Ruleset]] = []
        serial = next(_SERIAL)
        definitions: dict[str, dict[str, Any]] = {}
        for k, rules in enumerate(policy.layers):
            chunks: list[tuple[_Translator, dict[str, Any]]] = []
            counts: list[set[str]] = []  # per chunk: the tests that may hold together (TEST_LIMIT)
            for rule in rules:
                # Decide on a scratch translation first (native, or one computed field when the rule is
                # too large for durable-rules), so the chunk only counts fields the rule really reads.
                alone = _Translator()
                whole = _groups({"$and": [ALWAYS, alone.condition(rule.when)]}) > MAX_GROUPS
                if whole:
                    alone = _Translator()
                    alone.computed_whole(rule.when)
                if alone.property_count() > FIELD_LIMIT:
                    raise EvaluationError(
                        f"rule {rule.id} reads {alone.property_count()} fields; the durable engine allows at most "
                        f"{FIELD_LIMIT} per rule (durable-rules itself fails beyond 64): use --engine python",
                        code="durable-limit",
                    )
                tests = _tests(self._rule(rule, _Translator(), whole), set())
                if (
                    not chunks
                    or len(chunks[-1][1]) > CHUNK
                    or _merged_count(chunks[-1][0], alone) > FIELD_LIMIT
                    or len(counts[-1] | tests) > TEST_LIMIT
                ):
                    chunks.append((_Translator(), {SENTINEL: {"all": [{"m": ALWAYS}], "run": _ignore}}))
                    counts.append(set())
                translator, bucket = chunks[-1]
                bucket[rule.id] = self._rule(rule, translator, whole)
                counts[-1] |= tests
            layer = []
            for c, (translator, bucket) in enumerate(chunks):
                name = f"zhidu{serial}:{policy.id}@{policy.version}/L{k}/C{c}"
                definitions[name] = bucket
                layer.append(_Ruleset(name, translator))
            self.layers.append(layer)
        if definitions:
            with _LOCK:
                _host().register_rulesets(definitions)

    def _rule(self, rule: CompiledRule, translator: _Translator, whole: bool) -> dict[str, Any]:
        body = translator.computed_whole(rule.when) if whole else translator.condition(rule.when)
        return {"all": [{"m": {"$and": [ALWAYS, body]}}], "run": self._action(rule.id)}

    def _action(self, rid: str) -> Callable[[Any], None]:
        # One parameter exactly: durable-rules treats a two-parameter action as asynchronous.
        def run(_closure: Any) -> None:
            self._fired.add(rid)

        return run

    def encode_fact(
        self, ruleset: _Ruleset, facts: dict[str, Any], findings: dict[str, Any], now: datetime
    ) -> dict[str, Any]:
        """The fact asserted for one case: only the fields the ruleset reads, exactly encoded."""
        fact: dict[str, Any] = {"__z": 1}
        for field_name, target, from_findings, source in ruleset.reads:
            if field_name == NOW_FIELD:
                value: Any = now
            else:
                value = findings if from_findings else facts
                for name in source:
                    value = value.get(name, MISSING) if isinstance(value, dict) else MISSING
            if value is MISSING:
                continue
            encoded = encode(value)
            if encoded is None:
                raise EvaluationError(
                    f"value of '{'.'.join(source)}' cannot be given to durable-rules exactly: {value!r}"
                )
            _put(fact, target, encoded)
        if ruleset.computed:
            env = Env(facts, findings, now, self.policy.timezone)
            for name, fn in ruleset.computed:
                fact[name] = fn(env)
        return fact

    def fire(self, layer: int, facts: dict[str, Any], findings: dict[str, Any], now: datetime) -> set[str]:
        rulesets = self.layers[layer]
        asserted_facts = [(r.name, self.encode_fact(r, facts, findings, now)) for r in rulesets]
        host = _host()
        with _LOCK:
            self._fired = set()
            for name, fact in asserted_facts:
                sid = str(next(_SERIAL))
                created = False
                try:
                    state = host.assert_fact(name, dict(fact, sid=sid))
                    created = True
                except Exception as exc:
                    raise EvaluationError(f"durable-rules rejected the case in {name}: {exc}") from exc
                finally:
                    if created:
                        host.delete_state(name, sid)
                if isinstance(state, dict) and "exception" in state:
                    raise EvaluationError(f"a rule action failed inside durable-rules: {state['exception']}")
            return set(self._fired)


def _groups(cond: Any) -> int:
    """How many $and/$or groups a condition holds: durable-rules fails (error 113) beyond about 15."""
    if isinstance(cond, dict) and len(cond) == 1:
        key, value = next(iter(cond.items()))
        if key in ("$and", "$or"):
            return 1 + sum(_groups(c) for c in value)
    return 0


def _tests(cond: Any, into: set[str]) -> set[str]:
    """The tests of a durable-rules rule definition that may hold together, as keys: identical tests count
    once (durable-rules shares them), and equality tests of one field against constants hold one at a time,
    so they count once per field."""
    if isinstance(cond, dict):
        if "all" in cond:
            for item in cond["all"]:
                _tests(item.get("m"), into)
            return into
        if len(cond) == 1:
            key, value = next(iter(cond.items()))
            if key in ("$and", "$or"):
                for c in value:
                    _tests(c, into)
                return into
            if not key.startswith("$") and not isinstance(value, dict):
                into.add("==" + key)
                return into
        into.add(json.dumps(cond, sort_keys=True, default=str))
    return into


def _ignore(_closure: Any) -> None:
    """The sentinel's action: it exists only so that no assertion is ever unhandled (trap 16)."""


def _combine(op: str, left: Any, right: Any) -> Any:
    """`left op right` for durable-rules; two constants are added here, since durable-rules mis-adds them."""
    if isinstance(left, int) and not isinstance(left, bool) and isinstance(right, int) and not isinstance(right, bool):
        value = left + right if op == "$add" else left - right
        return value if -LIMIT < value < LIMIT else None
    if isinstance(left, bool | str) or isinstance(right, bool | str):
        return None
    return {op: {"$l": left, "$r": right}}


def _terms(expr: Any) -> int:
    """How many encoded values a durable expression adds up (its intermediate sums must fit int64)."""
    if isinstance(expr, dict) and len(expr) == 1:
        (op, args), *_ = expr.items()
        if op in ("$add", "$sub") and isinstance(args, dict):
            return _terms(args.get("$l")) + _terms(args.get("$r"))
    return 1


def _merged_count(current: _Translator, extra: _Translator) -> int:
    merged = _Translator()
    merged.paths = {**current.paths, **extra.paths}
    merged.computed = current.computed + extra.computed
    return merged.property_count()


def _put(fact: dict[str, Any], names: tuple[str, ...], value: Any) -> None:
    target = fact
    for name in names[:-1]:
        target = target.setdefault(name, {})
    target[names[-1]] = value
