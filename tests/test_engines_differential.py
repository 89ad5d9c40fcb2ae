"""Differential test: the durable-rules adapter must agree exactly with the Python oracle.

Two tests:

* ``test_random_rules_agree``: a small pack whose vocabulary covers every fact type gets ``RULES_PER_PACK``
  random, well-typed conditions (one rule each, firing an action named after the rule). Random cases —
  random subsets of facts, values on and around the literals the conditions use, negative numbers, six
  decimal places for numbers and two for money, datetimes around the literal datetimes in several offsets —
  are evaluated on both engines and the decisions must be identical (or both engines must raise the same
  kind of error).
* ``test_pcb_manufacturer_agrees``: random cases against every rule of the bundled pcb-manufacturer pack.

Expressions come from a seeded ``random.Random`` (one pack per seed, registered once with durable-rules);
cases come from hypothesis, so a disagreement shrinks to a small case and the failure message names the
rules whose firing differs, with their conditions.
"""

from __future__ import annotations

import os
import random
import traceback
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import engine
from engine.errors import ZhiduError
from tests.conftest import needs_durable

TZ = ZoneInfo("Asia/Shanghai")
BASE_NOW = datetime(2024, 9, 14, 10, 0, tzinfo=TZ)
RULES_PER_PACK = 60
# More packs / cases for a deeper run: ZHIDU_DIFF_SEEDS=40 ZHIDU_DIFF_EXAMPLES=500 pytest ...
SEEDS = range(int(os.environ.get("ZHIDU_DIFF_SEEDS", "6")))
SETTINGS = settings(
    max_examples=int(os.environ.get("ZHIDU_DIFF_EXAMPLES", "200")),
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # no 'explain' phase: it re-runs a lot
    report_multiple_bugs=False,  # one shrunk disagreement per pack is enough, and much faster
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# --------------------------------------------------------------------------------------------------
# Shared pools: conditions use these literals and cases draw values on and around them.
# --------------------------------------------------------------------------------------------------
INT_LITS = [0, 1, -1, 3, 13, 100, 5000, -250, 999_999_999_999]
NUM_LITS = ["0.5", "1.05", "2.5", "5000.5", "12.345678", "0.000001", "3.25", "999999.999999", "123456789012.5"]
MONEY_LITS = ["0", "0.01", "1000", "5000.5", "12000", "20.75", "99999999999.99"]
STR_LITS = ["", "abc", "a", "ABC", "0", "1.0", "红色", 'a"b', "a\\b", "x y", "true", "abc123", "$gt", "a.b"]
ENUM_VALUES = ["red", "green", "blue", "红"]
DUR_LITS = ["13d", "1d", "2h", "30min", "1.5h", "90s", "2w", "0s"]
DATE_LITS = ["2024-09-14", "2024-09-01", "2024-01-01", "1969-12-31", "2024-02-29"]
DT_LITS = [
    "2024-09-14T10:00:00+08:00",
    "2024-09-01T00:00:00+08:00",
    "2024-09-13T16:00:00+00:00",
    "2024-08-31T23:59:59+08:00",
    "1969-12-31T23:59:59+00:00",
    "2024-09-14T10:00:00.000001+08:00",
]
REGEXES = [r"[a-c]+\d*", r"\d+(\.\d+)?", r"(?i)abc.*", r"红.*", r".*\s.*", r"a\.b"]
DURATION_VALUES = {
    "13d": timedelta(days=13),
    "1d": timedelta(days=1),
    "2h": timedelta(hours=2),
    "30min": timedelta(minutes=30),
    "1.5h": timedelta(hours=1, minutes=30),
    "90s": timedelta(seconds=90),
    "2w": timedelta(weeks=2),
    "0s": timedelta(0),
}

VOCABULARY: dict[str, Any] = {
    "s": {"type": "string", "label": "string s"},
    "s2": {"type": "string", "label": "string s2"},
    # Legal identifiers that durable-rules itself uses for facts and sessions.
    "id": {"type": "string", "label": "string named id"},
    "sid": {"type": "integer", "label": "integer named sid"},
    "e": {"type": "enum", "label": "enum e", "values": ENUM_VALUES},
    "i": {"type": "integer", "label": "integer i"},
    "j": {"type": "integer", "label": "integer j"},
    "x": {"type": "number", "label": "number x"},
    "y": {"type": "number", "label": "number y"},
    "m": {"type": "money", "label": "money m"},
    "fee": {"type": "money", "label": "money fee"},
    "b": {"type": "boolean", "label": "boolean b"},
    "c": {"type": "boolean", "label": "boolean c"},
    "d": {"type": "date", "label": "date d"},
    "d2": {"type": "date", "label": "date d2"},
    "t": {"type": "datetime", "label": "datetime t"},
    "t2": {"type": "datetime", "label": "datetime t2"},
    "tags": {"type": "list", "label": "list of strings", "items": {"type": "string"}},
    "o": {
        "type": "object",
        "label": "object o",
        "properties": {
            "k": {"type": "integer", "label": "o.k"},
            "n": {"type": "number", "label": "o.n"},
            "s": {"type": "string", "label": "o.s"},
            "at": {"type": "datetime", "label": "o.at"},
            "p": {"type": "object", "label": "o.p", "properties": {"q": {"type": "integer", "label": "o.p.q"}}},
        },
    },
}

# Atoms (fact paths) by expression kind; findings set by the fixed rules below are read too.
PATHS = {
    "int": ["i", "j", "o.k", "o.p.q", "sid"],
    "num": ["x", "y", "o.n"],
    "money": ["m", "fee", "findings.amount"],
    "str": ["s", "s2", "o.s", "id"],
    "enum": ["e", "findings.level"],
    "bool": ["b", "c", "findings.flagged"],
    "date": ["d", "d2"],
    "datetime": ["t", "t2", "o.at"],
}
EXISTABLE = [
    "s",
    "id",
    "sid",
    "e",
    "i",
    "x",
    "m",
    "b",
    "d",
    "t",
    "tags",
    "o",
    "o.k",
    "o.n",
    "o.s",
    "o.at",
    "o.p",
    "o.p.q",
]
EXISTABLE += ["findings.level", "findings.amount", "findings.flagged"]

FINDINGS = {
    "level": {"type": "enum", "label": "level", "values": ["low", "high"], "conflict": "priority"},
    "amount": {"type": "money", "label": "amount", "conflict": "priority", "default": 0},
    "flagged": {"type": "boolean", "label": "flagged", "conflict": "error"},
}
FIXED_RULES = [
    {
        "id": "f-high",
        "ref": "fixed",
        "priority": 5,
        "when": "m >= 5000.5 or i > 13",
        "then": {"set": {"level": "high", "amount": Decimal("5000.50")}},
    },
    {"id": "f-low", "ref": "fixed", "when": "exists(m) or exists(i)", "then": {"set": {"level": "low", "amount": 12}}},
    {"id": "f-flag", "ref": "fixed", "when": 'b or contains(tags, "abc")', "then": {"set": {"flagged": True}}},
]


# --------------------------------------------------------------------------------------------------
# Random well-typed expressions.
# --------------------------------------------------------------------------------------------------
def _q(text: str) -> str:
    """A string literal in the expression language."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class ExprGen:
    def __init__(self, rng: random.Random):
        self.r = rng

    def pick(self, seq):
        return self.r.choice(seq)

    # numeric kinds: int, num, money
    def numeric(self, kind: str, depth: int) -> str:
        r = self.r.random()
        if kind == "int":
            if r < 0.45 or depth <= 0:
                return self.pick(PATHS["int"])
            if r < 0.6:
                return str(self.pick(INT_LITS))
            if r < 0.75:
                return f"{self.numeric('int', depth - 1)} {self.pick(['+', '-', '*'])} {self.numeric('int', depth - 1)}"
            fn = self.pick(["len_s", "len_tags", "days", "abs", "minmax", "part", "neg", "mod", "round"])
            if fn == "len_s":
                return f"len({self.pick(PATHS['str'])})"
            if fn == "len_tags":
                return "len(tags)"
            if fn == "days":
                return f"days_between({self.dateish()}, {self.dateish()})"
            if fn == "abs":
                return f"abs({self.numeric('int', depth - 1)})"
            if fn == "minmax":
                return (
                    f"{self.pick(['min', 'max'])}({self.numeric('int', depth - 1)}, {self.numeric('int', depth - 1)})"
                )
            if fn == "part":
                return self.pick(
                    [
                        f"year({self.dateish()})",
                        f"month({self.dateish()})",
                        f"day({self.dateish()})",
                        f"weekday({self.dateish()})",
                        f"hour({self.datetime(0)})",
                    ]
                )
            if fn == "neg":
                return f"-{self.pick(PATHS['int'])}"
            if fn == "mod":
                return f"{self.pick(PATHS['int'])} % {self.pick([3, 7, 2])}"
            return f"round({self.pick(PATHS['int'])}, 0)"
        if kind == "num":
            if r < 0.4 or depth <= 0:
                return self.pick(PATHS["num"])
            if r < 0.55:
                return self.pick(NUM_LITS + ["-" + self.pick(NUM_LITS), "1.0000001"])
            if r < 0.75:
                op = self.pick(["+", "-", "*", "/"])
                return f"{self.numeric(self.pick(['num', 'int']), depth - 1)} {op} {self.numeric('num', depth - 1)}"
            fn = self.pick(["abs", "round", "minmax", "neg", "hours", "ratio"])
            if fn == "abs":
                return f"abs({self.pick(PATHS['num'])})"
            if fn == "round":
                return f"round({self.pick(PATHS['num'])}, {self.pick([0, 1, 2, 6])})"
            if fn == "minmax":
                return (
                    f"{self.pick(['min', 'max'])}({self.numeric('num', depth - 1)}, {self.numeric('num', depth - 1)})"
                )
            if fn == "neg":
                return f"-{self.pick(PATHS['num'])}"
            if fn == "hours":
                return f"hours_between({self.datetime(0)}, {self.datetime(0)})"
            return f"({self.duration(depth - 1)}) / {self.pick(['1d', '1h'])}"
        # money
        if r < 0.5 or depth <= 0:
            return self.pick(PATHS["money"])
        if r < 0.75:
            op = self.pick(["+", "-"])
            other = self.pick([self.pick(PATHS["money"]), self.pick(MONEY_LITS), self.pick(PATHS["num"])])
            return f"{self.numeric('money', depth - 1)} {op} {other}"
        fn = self.pick(["mul", "div", "abs", "round", "minmax", "neg"])
        if fn == "mul":
            return f"{self.pick(PATHS['money'])} * {self.pick(['2', '0.5', '1.05', 'x', 'i'])}"
        if fn == "div":
            return f"{self.pick(PATHS['money'])} / {self.pick(['3', '2', 'x'])}"
        if fn == "abs":
            return f"abs({self.pick(PATHS['money'])})"
        if fn == "round":
            return f"round({self.pick(PATHS['money'])}, {self.pick([0, 1])})"
        if fn == "minmax":
            return f"{self.pick(['min', 'max'])}({self.pick(PATHS['money'])}, {self.pick(PATHS['money'])})"
        return f"-{self.pick(PATHS['money'])}"

    def duration(self, depth: int) -> str:
        r = self.r.random()
        if r < 0.3:
            return self.pick(DUR_LITS + ['duration("3d")', "-1d"])
        if r < 0.6 or depth <= 0:
            a, b = self.pick([("now", "t"), ("now", "t2"), ("t", "t2"), ("t2", "t"), ("now", "o.at"), ("t", "now")])
            return f"{a} - {b}"
        if r < 0.7:
            other = self.pick(["d", "d2", 'date("2024-09-14")'])
            return f"{self.pick(['d', 'd2'])} - {other}"
        if r < 0.85:
            return f"({self.duration(depth - 1)}) {self.pick(['+', '-'])} {self.pick(DUR_LITS)}"
        fn = self.pick(["mul", "div", "abs", "minmax"])
        if fn == "mul":
            return f"({self.duration(depth - 1)}) * {self.pick(['2', '0.5', 'i'])}"
        if fn == "div":
            return f"({self.duration(depth - 1)}) / {self.pick(['2', '3'])}"
        if fn == "abs":
            return f"abs({self.duration(depth - 1)})"
        return f"{self.pick(['min', 'max'])}({self.duration(depth - 1)}, {self.pick(DUR_LITS)})"

    def datetime(self, depth: int) -> str:
        r = self.r.random()
        if r < 0.45 or depth <= 0:
            return self.pick(PATHS["datetime"] + ["now"])
        if r < 0.7:
            return f'datetime("{self.pick(DT_LITS)}")'
        if r < 0.9:
            return f"{self.pick(PATHS['datetime'] + ['now'])} {self.pick(['+', '-'])} {self.pick(DUR_LITS)}"
        return f"{self.pick(['min', 'max'])}({self.pick(PATHS['datetime'])}, {self.pick(PATHS['datetime'] + ['now'])})"

    def date(self, depth: int) -> str:
        r = self.r.random()
        if r < 0.45 or depth <= 0:
            return self.pick(PATHS["date"])
        if r < 0.7:
            return f'date("{self.pick(DATE_LITS)}")'
        if r < 0.85:
            return f"date_of({self.pick(PATHS['datetime'] + ['now'])})"
        return f"{self.pick(PATHS['date'])} {self.pick(['+', '-'])} {self.pick(['1d', '13d', '2w', '36h'])}"

    def dateish(self) -> str:
        return self.pick(PATHS["date"] + PATHS["datetime"] + ["now", 'date("2024-09-14")'])

    def string(self, depth: int) -> str:
        r = self.r.random()
        if r < 0.5 or depth <= 0:
            return self.pick(PATHS["str"])
        if r < 0.85:
            return _q(self.pick(STR_LITS))
        return f"{self.pick(PATHS['str'])} + {_q(self.pick(STR_LITS))}"

    def operand(self, kind: str, depth: int) -> str:
        if kind in ("int", "num", "money"):
            return self.numeric(kind, depth)
        return {"duration": self.duration, "datetime": self.datetime, "date": self.date, "str": self.string}[kind](
            depth
        )

    def compare(self, depth: int) -> str:
        kind = self.pick(["int", "num", "money", "duration", "datetime", "date", "str", "enum", "bool", "mixnum"])
        op = self.pick(["==", "!=", "<", "<=", ">", ">="])
        if kind == "bool":
            op = self.pick(["==", "!="])
            return f"{self.pick(PATHS['bool'])} {op} {self.pick(PATHS['bool'] + ['true', 'false'])}"
        if kind == "enum":
            op = self.pick(["==", "!=", "==", "<"])
            rhs = self.pick([_q(self.pick(ENUM_VALUES)), "e", "s"])
            lhs = "e"
            if self.r.random() < 0.3:
                lhs, rhs = "findings.level", _q(self.pick(["low", "high"]))
            return f"{lhs} {op} {rhs}"
        if kind == "mixnum":
            a = self.numeric(self.pick(["int", "num", "money"]), depth)
            b = self.numeric(self.pick(["int", "num", "money"]), depth)
            return f"{a} {op} {b}"
        # bias towards the shapes durable translates natively: path op literal, path op path, a ± b op c
        shape = self.r.random()
        if kind in ("int", "num", "money", "datetime", "date", "str") and shape < 0.35:
            lhs = self.pick(PATHS[kind] + (["now"] if kind == "datetime" else []))
            rhs = self.operand(kind, 0) if self.r.random() < 0.5 else self.literal(kind)
        elif kind in ("int", "num", "money", "datetime") and shape < 0.55:
            p = self.pick(PATHS[kind] + (["now"] if kind == "datetime" else []))
            if kind == "datetime":
                lhs = f"{p} {self.pick(['+', '-'])} {self.pick(DUR_LITS)}"
            else:
                lhs = f"{p} {self.pick(['+', '-'])} {self.operand(kind, 0)}"
            rhs = self.operand(kind, 0) if self.r.random() < 0.5 else self.literal(kind)
        elif kind == "duration" and shape < 0.6:
            lhs = self.pick(["now - t", "now - t2", "t - t2", "now - o.at", "t2 - t"])
            rhs = self.pick(DUR_LITS)
        else:
            lhs, rhs = self.operand(kind, depth), self.operand(kind, depth)
        if self.r.random() < 0.5:
            lhs, rhs = rhs, lhs
        return f"{lhs} {op} {rhs}"

    def literal(self, kind: str) -> str:
        if kind == "int":
            return str(self.pick(INT_LITS))
        if kind == "num":
            return self.pick(NUM_LITS + [str(v) for v in INT_LITS] + ["-2.5", "-0.000001"])
        if kind == "money":
            return self.pick(MONEY_LITS + ["-20.75", "0.005"])
        if kind == "datetime":
            return f'datetime("{self.pick(DT_LITS)}")'
        if kind == "date":
            return f'date("{self.pick(DATE_LITS)}")'
        if kind == "str":
            return _q(self.pick(STR_LITS))
        return self.pick(DUR_LITS)

    def membership(self) -> str:
        neg = self.pick(["in", "not in"])
        kind = self.pick(["str", "enum", "int", "num", "money", "date", "datetime", "bool", "tags", "substr", "dur"])
        if kind == "str":
            items = [_q(v) for v in self.r.sample(STR_LITS, self.r.randint(0, 3))]
            return f"{self.pick(PATHS['str'])} {neg} [{', '.join(items)}]"
        if kind == "enum":
            items = [_q(v) for v in self.r.sample(ENUM_VALUES, self.r.randint(1, 3))]
            return f"e {neg} [{', '.join(items)}]"
        if kind in ("int", "num", "money"):
            pool = [str(v) for v in INT_LITS] + (NUM_LITS if kind == "num" else MONEY_LITS if kind == "money" else [])
            items = self.r.sample(pool, self.r.randint(1, 3))
            if self.r.random() < 0.3:
                items.append("-" + self.pick(pool).lstrip("-"))
            return f"{self.pick(PATHS[kind])} {neg} [{', '.join(items)}]"
        if kind == "date":
            items = [f'date("{v}")' for v in self.r.sample(DATE_LITS, 2)]
            return f"{self.pick(PATHS['date'])} {neg} [{', '.join(items)}]"
        if kind == "datetime":
            items = [f'datetime("{v}")' for v in self.r.sample(DT_LITS, 2)]
            return f"{self.pick(PATHS['datetime'] + ['now'])} {neg} [{', '.join(items)}]"
        if kind == "bool":
            return f"{self.pick(PATHS['bool'])} {neg} [{self.pick(['true', 'false', 'true, false'])}]"
        if kind == "tags":
            return f"{self.pick([_q(self.pick(STR_LITS)), 's'])} {neg} tags"
        if kind == "substr":
            return f"{_q(self.pick(STR_LITS))} {neg} {self.pick(PATHS['str'])}"
        return f"now - t {neg} [{', '.join(self.r.sample(DUR_LITS, 2))}]"

    def call(self) -> str:
        fn = self.pick(["exists", "exists", "contains_list", "contains_str", "matches", "starts", "ends"])
        if fn == "exists":
            return f"exists({self.pick(EXISTABLE)})"
        if fn == "contains_list":
            return f"contains(tags, {self.pick([_q(self.pick(STR_LITS)), 's', 'o.s'])})"
        if fn == "contains_str":
            return f"contains({self.pick(PATHS['str'])}, {self.pick([_q(self.pick(STR_LITS)), 's2'])})"
        if fn == "matches":
            return f"matches({self.pick(PATHS['str'])}, {_q(self.pick(REGEXES))})"
        return (
            f"{'starts_with' if fn == 'starts' else 'ends_with'}({self.pick(PATHS['str'])}, {_q(self.pick(STR_LITS))})"
        )

    def boolean(self, depth: int) -> str:
        r = self.r.random()
        if depth <= 0 or r < 0.45:
            a = self.r.random()
            if a < 0.55:
                return self.compare(1)
            if a < 0.75:
                return self.membership()
            if a < 0.92:
                return self.call()
            return self.pick(PATHS["bool"] + ["true", "false"])
        if r < 0.65:
            op = self.pick(["and", "or"])
            parts = [self.boolean(depth - 1) for _ in range(self.r.randint(2, 3))]
            return "(" + f" {op} ".join(parts) + ")"
        if r < 0.85:
            return f"not ({self.boolean(depth - 1)})"
        return f"not {self.pick(PATHS['bool'])}"


def random_expressions(seed: int, count: int) -> list[str]:
    gen = ExprGen(random.Random(seed))
    return [gen.boolean(gen.r.randint(0, 3)) for _ in range(count)]


def arithmetic_expressions(seed: int, count: int) -> list[str]:
    """Long sums and differences of numeric facts and literals near the 10^12 limit, compared with a
    literal or a fact: the sums durable-rules computes in int64 (trap 21)."""
    r = random.Random(seed)
    literals = {
        "int": [str(v) for v in INT_LITS if v >= 0],
        "num": [v for v in NUM_LITS if not v.startswith("-")],
        "money": [v for v in MONEY_LITS if not v.startswith("-")],
    }
    out = []
    for _ in range(count):
        kind = r.choice(["int", "num", "money"])
        paths = [p for p in PATHS[kind] if not p.startswith("findings.")]
        # Mostly one or two facts repeated: values drawn near the limit then add up past int64.
        paths = r.sample(paths, min(len(paths), r.choice([1, 1, 2])))
        terms = [r.choice(paths) if r.random() < 0.85 else r.choice(literals[kind]) for _ in range(r.randint(2, 16))]
        signs = "+" if r.random() < 0.6 else "+-"
        text = terms[0] + "".join(f" {r.choice(signs)} {t}" for t in terms[1:])
        rhs = r.choice(literals[kind] + paths + ["-" + literals[kind][-1]])
        out.append(f"{text} {r.choice(['<', '<=', '>', '>=', '==', '!='])} {rhs}")
    return out


def write_pack(folder: Path, expressions: list[str]) -> Path:
    rules = list(FIXED_RULES)
    for n, text in enumerate(expressions):
        rules.append(
            {
                "id": f"r{n}",
                "ref": f"random {n}",
                "when": text,
                "then": {"actions": [{"id": f"a{n}", "label": f"action {n}"}]},
            }
        )
    pack = {
        "id": "differential",
        "version": "1",
        "timezone": "Asia/Shanghai",
        "facts": VOCABULARY,
        "findings": FINDINGS,
        "rules": rules,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(
        yaml.safe_dump(_plain(pack), allow_unicode=True, sort_keys=False), encoding="utf-8"
    )
    return folder


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --------------------------------------------------------------------------------------------------
# Random cases.
# --------------------------------------------------------------------------------------------------
OFFSETS = [timezone(timedelta(hours=8)), UTC, timezone(timedelta(hours=-5))]
NOWS = [BASE_NOW, datetime(2024, 9, 14, 0, 0, tzinfo=TZ), datetime(2024, 9, 1, 0, 0, tzinfo=TZ)]


def _dec(text: str) -> Decimal:
    return Decimal(text)


def _num_values(lits: list[str], places: int) -> st.SearchStrategy[Decimal]:
    step = Decimal(1).scaleb(-places)
    near = st.builds(
        lambda base, delta, neg: (-base if neg else base) + delta * step,
        st.sampled_from([_dec(v) for v in lits] + [Decimal(v) for v in INT_LITS if abs(v) < 10**11]),
        st.sampled_from([0, 0, 0, 1, -1, 10, -(10**places)]),
        st.booleans(),
    )
    rnd = st.integers(min_value=-(10 ** (12 + places)) + 1, max_value=10 ** (12 + places) - 1).map(
        lambda n: Decimal(n).scaleb(-places)
    )
    small = st.integers(min_value=-(10 ** (4 + places)), max_value=10 ** (4 + places)).map(
        lambda n: Decimal(n).scaleb(-places)
    )
    return st.one_of(near, near, small, rnd).filter(lambda v: abs(v) < Decimal(10) ** 12)


INTS = st.one_of(
    st.builds(lambda b, d: b + d, st.sampled_from(INT_LITS), st.sampled_from([0, 0, 1, -1])),
    st.integers(min_value=-20, max_value=200),
    st.integers(min_value=-(10**12) + 1, max_value=10**12 - 1),
).filter(lambda v: abs(v) < 10**12)
NUMBERS = _num_values(NUM_LITS, 6)
MONEYS = _num_values(MONEY_LITS, 2)


class LongStr(str):
    """A long string with a short repr, so failure reports stay readable."""

    def __repr__(self) -> str:
        return f"({self[:4]!r} + {len(self) - 5} more chars + {self[-1]!r})"


# Longer than 65,535 bytes: a literal's text followed by padding (durable-rules keeps string lengths in 16 bits).
LONG_STRINGS = [LongStr("abc" + "z" * 65536), LongStr("a" * 65535 + "b"), LongStr("红色" + " " * 65536)]
STRINGS = st.one_of(
    st.sampled_from(STR_LITS),
    st.sampled_from(LONG_STRINGS),
    st.builds(lambda a, b: a + b, st.sampled_from(STR_LITS), st.sampled_from(STR_LITS)),
    st.text(alphabet='abc1.红 "\\$', max_size=5),
)
DURATIONS = st.one_of(
    st.sampled_from(list(DURATION_VALUES.values())),
    st.sampled_from([timedelta(0), timedelta(seconds=1), timedelta(microseconds=1), timedelta(days=36500)]),
)
ANCHORS = [datetime.fromisoformat(v) for v in DT_LITS] + NOWS


@st.composite
def datetimes(draw) -> datetime:
    anchor = draw(st.sampled_from(ANCHORS))
    sign = draw(st.sampled_from([1, -1]))
    value = anchor + sign * draw(DURATIONS)
    if draw(st.booleans()):
        value = value + sign * draw(DURATIONS)
    return value.astimezone(draw(st.sampled_from(OFFSETS)))


@st.composite
def dates(draw) -> date:
    anchor = date.fromisoformat(draw(st.sampled_from(DATE_LITS)))
    return anchor + timedelta(days=draw(st.sampled_from([0, 0, 1, -1, 13, -13, 14, 365])))


def _dt_text(value: datetime) -> str:
    return value.isoformat()


def value_strategy(spec) -> st.SearchStrategy[Any]:
    """JSON-ish raw values (what a case file would hold) for a FactSpec."""
    t = spec.type
    kind = t.kind
    if t.values is not None:
        return st.sampled_from(list(t.values))
    if kind == "string":
        return STRINGS
    if kind == "integer":
        return INTS
    if kind == "number":
        return NUMBERS
    if kind == "money":
        return MONEYS.map(str)
    if kind == "boolean":
        return st.booleans()
    if kind == "date":
        return dates().map(lambda d: d.isoformat())
    if kind == "datetime":
        return datetimes().map(_dt_text)
    if kind == "list":
        return st.lists(value_strategy(spec.item), max_size=3).map(list)
    if kind == "object":
        return facts_strategy(spec.properties)
    raise AssertionError(kind)


def facts_strategy(specs, required: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """A random subset of the facts, each with a random value (absent shrinks first)."""
    parts = {
        spec.name: st.one_of(st.none(), value_strategy(spec), value_strategy(spec))
        if not (required and spec.required)
        else value_strategy(spec)
        for spec in specs
    }
    return st.fixed_dictionaries(parts).map(lambda d: {k: v for k, v in d.items() if v is not None})


NOW_STRATEGY = st.one_of(
    st.sampled_from(NOWS + [datetime.fromisoformat(v) for v in DT_LITS]),
    datetimes(),
)


# --------------------------------------------------------------------------------------------------
# Crash isolation: durable-rules is a C extension and some disagreements are a SIGSEGV, not a wrong
# answer. Each hypothesis run happens in a forked child, so a crash fails one test with the case that
# was being evaluated instead of killing the whole pytest process.
# --------------------------------------------------------------------------------------------------
_TRACE: Any = None  # in a forked child: the pipe to the parent


def _trace(text: str) -> None:
    if _TRACE is not None:
        _TRACE.write("\x00CASE " + text.replace("\n", " ") + "\n")
        _TRACE.flush()


def run_isolated(fn) -> None:
    """Run fn() in a forked child; re-raise its failure, or report the case that crashed it."""
    if not hasattr(os, "fork"):
        fn()
        return
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        global _TRACE
        os.close(read_fd)
        _TRACE = os.fdopen(write_fd, "w", encoding="utf-8")
        code = 0
        try:
            fn()
            _TRACE.write("\x00OK\n")
        except BaseException as exc:  # noqa: BLE001 — everything goes back to the parent
            _TRACE.write("\x00FAIL\n" + "".join(traceback.format_exception_only(exc)))
            code = 1
        _TRACE.flush()
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, encoding="utf-8", errors="replace") as pipe:
        output = pipe.read()
    _, status = os.waitpid(pid, 0)
    cases = [line[len("\x00CASE ") :] for line in output.split("\n") if line.startswith("\x00CASE ")]
    if "\x00FAIL\n" in output:
        raise AssertionError(output.split("\x00FAIL\n", 1)[1])
    if os.WIFSIGNALED(status) or "\x00OK\n" not in output:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        last = cases[-1] if cases else "(before the first case)"
        raise AssertionError(f"the evaluating process died ({how}) while evaluating: {last}")


# --------------------------------------------------------------------------------------------------
# Comparing the engines.
# --------------------------------------------------------------------------------------------------
def outcome(policy: engine.Policy, case: dict, now: datetime, engine_name: str) -> tuple[str, Any]:
    try:
        return "ok", policy.evaluate(case, now=now, engine=engine_name).to_dict()
    except ZhiduError as exc:
        return "error", f"{type(exc).__name__}: {getattr(exc, 'code', '')}"
    except Exception as exc:  # noqa: BLE001 — a crash must at least be the same crash on both engines
        return "error", f"{type(exc).__name__}: {exc}"


def fired(result: tuple[str, Any]) -> set[str]:
    return {t["rule"] for t in result[1]["trace"]} if result[0] == "ok" else set()


def assert_agree(policy: engine.Policy, case: dict, now: datetime) -> None:
    _trace(f"now={now.isoformat()} facts={case['facts']!r}")
    python = outcome(policy, case, now, "python")
    durable = outcome(policy, case, now, "durable")
    if python == durable:
        return
    lines = [f"engines disagree; now={now.isoformat()} facts={case['facts']!r}"]
    if python[0] == durable[0] == "ok":
        by_id = {r.id: r for r in policy.rules}
        for rid in sorted(fired(python) ^ fired(durable)):
            side = "python only" if rid in fired(python) else "durable only"
            lines.append(f"  {rid} fires on {side}: when: {by_id[rid].when_text}")
    else:
        lines.append(f"  python: {python if python[0] == 'error' else 'ok'}")
        lines.append(f"  durable: {durable if durable[0] == 'error' else 'ok'}")
    raise AssertionError("\n".join(lines))


_PACKS: dict[Any, engine.Policy] = {}


def random_pack(seed: int, root: Path) -> engine.Policy:
    if seed not in _PACKS:
        folder = write_pack(root / f"pack{seed}", random_expressions(seed, RULES_PER_PACK))
        _PACKS[seed] = engine.load_policy(folder)
    return _PACKS[seed]


@pytest.fixture(scope="module")
def pack_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("differential")


@needs_durable
@pytest.mark.parametrize("seed", SEEDS)
def test_random_rules_agree(seed: int, pack_root: Path) -> None:
    policy = random_pack(seed, pack_root)

    @SETTINGS
    @given(facts=facts_strategy(policy.facts), now=NOW_STRATEGY)
    def check(facts: dict[str, Any], now: datetime) -> None:
        assert_agree(policy, {"case_id": "diff", "facts": facts}, now)

    run_isolated(check)


@needs_durable
@pytest.mark.parametrize("seed", range(3))
def test_arithmetic_heavy_rules_agree(seed: int, pack_root: Path) -> None:
    """Sums long enough to overflow durable-rules' int64 arithmetic decide alike on both engines."""
    policy = engine.load_policy(write_pack(pack_root / f"arith{seed}", arithmetic_expressions(seed, RULES_PER_PACK)))

    @settings(SETTINGS, max_examples=min(SETTINGS.max_examples, 150))
    @given(facts=facts_strategy(policy.facts), now=NOW_STRATEGY)
    def check(facts: dict[str, Any], now: datetime) -> None:
        assert_agree(policy, {"case_id": "arith", "facts": facts}, now)

    run_isolated(check)


@needs_durable
def test_a_sum_past_int64_fires_on_both_engines(tmp_path: Path) -> None:
    """The reproduction of issue 14 (3): twelve terms of 999,999,999,999 are 1.2 × 10^13, which durable
    computes in micro-units (1.2 × 10^19, past int64) unless the adapter keeps it on the Python side."""
    policy = engine.load_policy(write_pack(tmp_path / "p", [" + ".join(["i"] * 12) + " > 0"]))
    case = {"case_id": "big", "facts": {"i": 999_999_999_999}}
    now = datetime(2024, 9, 10, 10, tzinfo=timezone(timedelta(hours=8)))
    fired_by = {e: fired(outcome(policy, case, now, e)) for e in ("python", "durable")}
    assert "r0" in fired_by["python"] and fired_by["durable"] == fired_by["python"]


@pytest.fixture(scope="module")
def pcb_policy() -> engine.Policy:
    return engine.load_policy("pcb-manufacturer")


@st.composite
def return_quantities(draw) -> dict[str, Any]:
    """approved/actual return quantities on and around the over-acceptance boundary of the pcb pack."""
    out: dict[str, Any] = {"approved_return_qty": draw(st.integers(min_value=0, max_value=400))}
    ratio = draw(st.sampled_from([None, "0", "0.05", "0.1", "0.333333", "0.000001"]))
    if ratio is not None:
        out["over_acceptance_ratio"] = Decimal(ratio)
    edge = out["approved_return_qty"] * (1 + Decimal(ratio or "0.05"))
    out["actual_return_qty"] = int(edge) + draw(st.sampled_from([0, 0, 1, -1]))
    return out


@needs_durable
def test_pcb_manufacturer_agrees(pcb_policy: engine.Policy) -> None:
    policy = pcb_policy

    @settings(SETTINGS, max_examples=max(SETTINGS.max_examples * 4, 400))
    @given(
        facts=facts_strategy(policy.facts, required=True),
        now=NOW_STRATEGY,
        quantities=st.one_of(st.none(), return_quantities()),
    )
    def check(facts: dict[str, Any], now: datetime, quantities: dict[str, Any] | None) -> None:
        if quantities is not None:
            facts = {k: v for k, v in facts.items() if k not in ("over_acceptance_ratio",)} | quantities
        assert_agree(policy, {"case_id": "pcb", "facts": facts}, now)

    run_isolated(check)


def test_every_expression_is_well_typed(pack_root: Path) -> None:
    """The generator only writes conditions the checker accepts (else the packs above would not load)."""
    for seed in SEEDS:
        assert len(random_pack(seed, pack_root).rules) == RULES_PER_PACK + len(FIXED_RULES)


# --------------------------------------------------------------------------------------------------
# Minimal disagreements found by the tests above, kept as plain regression cases.
# (vocabulary, conditions, facts): each is evaluated on both engines in a forked child.
# --------------------------------------------------------------------------------------------------
KNOWN = {
    # durable-rules allows 31 entries per rule in its expression sequence (rete.c MAX_SEQUENCE_EXPRESSIONS,
    # each $and/$or costs two): registration fails with "error code: 113" on the first durable evaluation.
    "expression-limit-113": (
        {"i": "integer", "j": "integer"},
        ["(i > 1 or j > 1) and (i > 2 or j > 2) and (i > 3 or j > 3) and (i > 4 or j > 4) and (i > 5 or j > 5)"],
        {"i": 3},
    ),
    # durable-rules keeps string lengths in 16 bits: 65,539 characters compare like 3.
    "long-string-equals-prefix": ({"s": "string"}, ['s == "abc"'], {"s": LongStr("abc" + "z" * 65536)}),
    "long-string-not-equal": ({"s": "string"}, ['s != "abc"'], {"s": LongStr("abc" + "z" * 65536)}),
    # `id` and `sid` are durable-rules' own fact properties; `__z`, `__now`, `__c<n>` are the adapter's.
    "fact-named-id-exists": ({"id": "string"}, ["exists(id)"], {}),
    "fact-named-id-absent-crash": ({"id": "string"}, ['id == "a"'], {}),
    "fact-named-id-integer": ({"id": "integer"}, ["id > 9"], {"id": 10}),
    "fact-named-sid": ({"sid": "integer"}, ["sid == 5"], {"sid": 5}),
    "fact-named-__z": ({"__z": "integer"}, ["__z == 5"], {"__z": 5}),
    "fact-named-__now": ({"__now": "datetime"}, ["__now > now"], {"__now": "2024-09-15T00:00:00+08:00"}),
    "fact-named-__c0": ({"__c0": "boolean", "s": "string"}, ["__c0", "len(s) > 1"], {"__c0": False, "s": "abc"}),
    # A decimal literal beyond the 28-digit decimal context: encode() lets quantize() raise InvalidOperation.
    "decimal-literal-beyond-precision": ({"x": "number"}, ["x < 99999999999999999999999.5"], {"x": 1}),
    # Datetime arithmetic near the edge of the allowed years (2999 + 13 days) stays exact on both.
    "datetime-near-the-year-limit": ({"t": "datetime"}, ["t + 13d > now"], {"t": "2999-12-30T00:00:00+00:00"}),
}


def test_datetimes_beyond_the_year_limit_are_refused_before_any_rule(tmp_path: Path) -> None:
    # Once a disagreement (year 9999 + 13d overflowed in Python, not in durable): now input is bounded.
    (tmp_path / "policy.yaml").write_text('id: k\nversion: "1"\nfacts: {t: {type: datetime}}\n', encoding="utf-8")
    policy = engine.load_policy(tmp_path)
    for name in engine.ENGINES:
        with pytest.raises(engine.CaseError, match="outside 1900-2999"):
            policy.evaluate({"facts": {"t": "9999-12-30T00:00:00+00:00"}}, BASE_NOW, engine=name)


def test_findings_beyond_the_exact_range_are_refused_at_validation(tmp_path: Path) -> None:
    # Once a disagreement (durable could not encode 10^13): now the compiler refuses the literal.
    pack = {
        "id": "known",
        "version": "1",
        "facts": {"i": {"type": "integer", "label": "i"}},
        "findings": {"amount": {"type": "integer", "label": "amount", "conflict": "error"}},
        "rules": [{"id": "setter", "ref": "known", "when": "exists(i)", "then": {"set": {"amount": 10**13}}}],
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert [d.code for d in engine.compile_pack(tmp_path).errors] == ["type-error"]


@needs_durable
@pytest.mark.parametrize("name", sorted(KNOWN))
def test_known_disagreement(name: str, tmp_path: Path) -> None:
    vocabulary, conditions, facts, *more = KNOWN[name]
    extra: dict[str, Any] = more[0] if more else {}
    pack = {
        "id": "known",
        "version": "1",
        "facts": {k: {"type": t, "label": k} for k, t in vocabulary.items()},
        "findings": extra.get("findings", {}),
        "rules": extra.get("rules", [])
        + [
            {"id": f"r{n}", "ref": "known", "when": text, "then": {"actions": [{"id": f"a{n}", "label": "a"}]}}
            for n, text in enumerate(conditions)
        ],
    }
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True, sort_keys=False), encoding="utf-8")
    policy = engine.load_policy(tmp_path)
    # Each known case must really evaluate (not merely fail the same way on both engines).
    assert outcome(policy, {"case_id": name, "facts": facts}, BASE_NOW, "python")[0] == "ok"
    run_isolated(lambda: assert_agree(policy, {"case_id": name, "facts": facts}, BASE_NOW))
