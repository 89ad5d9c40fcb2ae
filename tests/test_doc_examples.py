"""Every example line of docs/expressions.md (`doc-examples` blocks) evaluates to the result it shows."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml

import engine
from engine.decision import jsonable
from engine.evaluate import prepare_case
from engine.expr import Scope, check, parse
from engine.expr.pyeval import MISSING, Env, compile_expr

DOC = Path(__file__).resolve().parent.parent / "docs" / "expressions.md"
NOW = "2024-09-20T12:00:00+08:00"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def _examples() -> list[tuple[str, str]]:
    out = []
    for block in _blocks("doc-examples"):
        for line in block.splitlines():
            if line.strip():
                expr, _, want = line.partition("→")
                out.append((expr.strip(), want.strip()))
    return out


EXAMPLES = _examples()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    (case_block,) = _blocks("yaml doc-case")
    spec = yaml.safe_load(case_block)
    pack = {"id": "doc", "version": "1", "title": "doc", **spec}
    root = tmp_path_factory.mktemp("doc")
    (root / "policy.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True), encoding="utf-8")
    policy = engine.load_policy(root)
    example = {name: fact["example"] for name, fact in spec["facts"].items() if "example" in fact}
    facts, _, now = prepare_case(policy, {"case_id": "doc", "facts": example}, NOW)
    calendar = next(iter(policy.sla.calendars.values()))
    scope = Scope({f.name: f.type for f in policy.facts}, {}, policy.timezone, calendar)
    return scope, Env(facts, {}, now, policy.timezone)


def test_the_doc_has_examples():
    assert len(EXAMPLES) >= 30


@pytest.mark.parametrize(("expr", "want"), EXAMPLES, ids=[e for e, _ in EXAMPLES])
def test_doc_example(world, expr, want):
    scope, env = world
    value = compile_expr(check(parse(expr), scope, want_boolean=False))(env)
    assert value is not MISSING
    assert jsonable(value, env.tz) == json.loads(want)


def test_now_is_not_read_from_a_clock(world):
    _, env = world
    assert env.now == datetime.fromisoformat(NOW)
