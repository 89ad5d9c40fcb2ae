"""`zhidu import jdm`: ZEN expressions and unary tests in zhidu's language, and the command itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import engine
from cli import main
from engine.importers.zen_expr import ZenError, parse_expression, parse_unary, write
from engine.testing import run_pack_tests

GRAPHS = Path(__file__).resolve().parent / "fixtures" / "jdm" / "graphs"


def _names(path: str) -> str:
    return "findings." + path if path.startswith("out.") else path


EXPRESSIONS = [
    ("ternary", "a > 5 ? 'big' : 'small'", '((a > 5) ? "big" : "small")'),
    ("coalesce", "x ?? 0", "(x ?? 0)"),
    ("not", "!flag", "not (flag)"),
    ("template", "`n=${n}`", '("n=" + string(n))'),
    ("some", "some(items, #.v > 2)", "any(items, (#.v > 2))"),
    ("min-list", "min([a, b, 3])", "min(a, b, 3)"),
    ("sum-list", "sum([a, b])", "(a + b)"),
    ("contains-list", "contains(['x', 'y'], k)", '(k in ["x", "y"])'),
    ("startsWith", "startsWith(code, 'J')", 'starts_with(code, "J")'),
    ("date-literal", "date('2023-01-01')", 'epoch_seconds(date("2023-01-01"))'),
    ("object", "{'a': 1, b: x}", '{"a": 1, "b": x}'),
    ("earlier-output", "out.score * 2", "(findings.out.score * 2)"),
    ("underscore-number", "x > 1_000", "(x > 1000)"),
]


@pytest.mark.parametrize(("zen", "zhidu"), [e[1:] for e in EXPRESSIONS], ids=[e[0] for e in EXPRESSIONS])
def test_expressions(zen, zhidu):
    assert write(parse_expression(zen), _names) == zhidu


UNARY = [
    ("any", "", None),
    ("less", "< 30", "($ < 30)"),
    ("range", "[1..5)", "(($ >= 1) and ($ < 5))"),
    ("comma-is-or", "> 30, <= 60", "(($ > 30) or ($ <= 60))"),
    ("list", "'a', 'b'", '(($ == "a") or ($ == "b"))'),
    ("and-of-tests", "> 7 and <= 21", "(($ > 7) and ($ <= 21))"),
    ("whole-condition", "isNew == true", "(isNew == true)"),
    ("dollar-call", "contains($, 'J')", 'contains($, "J")'),
]


@pytest.mark.parametrize(("cell", "want"), [u[1:] for u in UNARY], ids=[u[0] for u in UNARY])
def test_unary_tests(cell, want):
    tree = parse_unary(cell)
    assert (None if tree is None else write(tree, _names, subject="$")) == want


@pytest.mark.parametrize(
    ("zen", "message"),
    [
        ("a[0]", "indexing"),
        ("2 ^ 3", "power"),
        ("$nodes.x.y", "$nodes"),
        ("date('now')", "reads the clock"),
        ("time('10:00')", "time()"),
        ("x == null", "null"),
    ],
)
def test_refused_expressions(zen, message):
    with pytest.raises(ZenError, match=message.replace("$", r"\$").replace("(", r"\(").replace(")", r"\)")):
        write(parse_expression(zen), _names)


def test_import_writes_a_pack_whose_tests_pass(tmp_path):
    out = tmp_path / "refund"
    result = CliRunner().invoke(main, ["import", "jdm", str(GRAPHS / "returns-and-refund-policy.json"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 tables" in result.output and "of 13 table rows" in result.output
    policy = engine.load_policy(out)
    report = run_pack_tests(policy, engine.ENGINES)
    assert report.results and all(r.passed for r in report.results)
    assert "returnStatus.code" in (out / "README.md").read_text(encoding="utf-8")


def test_refusal_names_the_node_and_writes_nothing(tmp_path):
    out = tmp_path / "nested"
    result = CliRunner().invoke(main, ["import", "jdm", str(GRAPHS / "nested-request.json"), "-o", str(out)])
    assert result.exit_code == 1
    assert "expressionNode 'expression3'" in result.output and "$nodes" in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_never_overwrites(tmp_path):
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "jdm", str(GRAPHS / "merch-bags.json"), "-o", str(tmp_path)])
    assert result.exit_code == 1 and "never overwrites" in result.output


def test_not_a_graph(tmp_path):
    bad = tmp_path / "g.json"
    bad.write_text('{"nodes": 1', encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "jdm", str(bad), "-o", str(tmp_path / "o")])
    assert result.exit_code == 1 and "g.json:1:" in result.output and "not JSON" in result.output


MALFORMED = [
    ("node-without-id", {"nodes": [{"type": "inputNode"}], "edges": []}, "nodes[0]: a node needs a string id"),
    (
        "dangling-edge",
        {"nodes": [{"id": "a", "type": "inputNode"}], "edges": [{"sourceId": "a", "targetId": "b"}]},
        "edges[0]",
    ),
    (
        "rules-not-objects",
        {
            "nodes": [
                {"id": "i", "type": "inputNode"},
                {
                    "id": "t",
                    "type": "decisionTableNode",
                    "name": "T",
                    "content": {
                        "hitPolicy": "first",
                        "inputs": [],
                        "outputs": [{"id": "o", "field": "x"}],
                        "rules": [5],
                    },
                },
            ],
            "edges": [{"sourceId": "i", "targetId": "t"}],
        },
        "decisionTableNode 'T': malformed node content",
    ),
    (
        "function-node",
        {
            "nodes": [{"id": "i", "type": "inputNode"}, {"id": "f", "type": "functionNode", "name": "js"}],
            "edges": [{"sourceId": "i", "targetId": "f"}],
        },
        "functionNode 'js': functionNode nodes cannot be converted",
    ),
]


@pytest.mark.parametrize(("graph", "message"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_graphs_are_refused_not_crashed(tmp_path, graph, message):
    import json

    path = tmp_path / "g.json"
    path.write_text(json.dumps(graph), encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "jdm", str(path), "-o", str(tmp_path / "out")])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()
