"""JDM import conformance: zhidu on each imported graph agrees with zen-engine on the original graph."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.compiler import compile_pack
from engine.engines import ENGINES
from engine.evaluate import evaluate_case
from engine.importers.jdm import JdmError, convert
from engine.importers.jdm_pack import NOW
from engine.importers.jdm_samples import result_of, row_ids, same, sample_cases
from engine.importers.yamlout import dump_yaml

zen = pytest.importorskip("zen", reason="zen-engine (PyPI zen-engine, in the test extra) is not installed here")

GRAPHS = Path(__file__).resolve().parent / "fixtures" / "jdm" / "graphs"
ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "importing.md"
CASES = 120
DURABLE_CASES = 8
# At least this many of the 43 graphs must import and agree on every input (the goal is 40).
FLOOR = 33

if not GRAPHS.is_dir():
    pytest.skip(f"the conformance graphs are not at {GRAPHS}", allow_module_level=True)


def _documented() -> dict[str, str]:
    """Graph → exact reason, from the table of graphs that do not import in docs/importing.md."""
    rows = re.findall(r"^\| `([\w-]+)` \| (.+?) \|$", DOC.read_text(encoding="utf-8"), re.M)
    return {name: reason.strip().strip("`") for name, reason in rows}


DOCUMENTED = _documented()
NAMES = sorted(p.stem for p in GRAPHS.glob("*.json"))
RESULTS: dict[str, bool] = {}
ROWS: dict[str, tuple[int, int]] = {}  # graph → (table rows the inputs chose, table rows)
# Of the 435 table rows of the agreeing graphs the inputs choose at least this many (the others read
# results of earlier nodes that the inputs do not produce, or an earlier row shadows them).
ROWS_FLOOR = 414


def _convert(name: str):
    graph = json.loads((GRAPHS / f"{name}.json").read_text(encoding="utf-8"))
    return graph, convert(graph, name)


@pytest.mark.parametrize("name", NAMES)
def test_graph(name, tmp_path):
    if name in DOCUMENTED:
        with pytest.raises(JdmError) as info:
            graph, imported = _convert(name)
            (tmp_path / "policy.yaml").write_text(dump_yaml(imported.pack), encoding="utf-8")
            result = compile_pack(tmp_path)
            if result.policy is None:
                raise JdmError("; ".join(f"{d.code}: {d.message}" for d in result.errors[:1]))
        assert str(info.value) == DOCUMENTED[name]
        RESULTS[name] = False
        return
    graph, imported = _convert(name)
    (tmp_path / "policy.yaml").write_text(dump_yaml(imported.pack), encoding="utf-8")
    result = compile_pack(tmp_path)
    assert result.policy is not None, [str(d) for d in result.errors]
    policy = result.policy
    decision = zen.ZenEngine().create_decision(json.dumps(graph))
    compared, refused_by_zen, chosen = 0, 0, set()
    for i, case in enumerate(sample_cases(imported, CASES, policy=policy)):
        as_json = json.loads(json.dumps(case, default=float))
        try:
            want = decision.evaluate(as_json)["result"]
        except RuntimeError:
            refused_by_zen += 1  # e.g. a division by zero, which zen treats as an error
            continue
        got = evaluate_case(policy, {"case_id": "c", "facts": case}, NOW, engine="python").to_dict()
        chosen |= row_ids(got)
        assert same(want, result_of(imported, as_json, got)), (as_json, want, got["findings"])
        if i < DURABLE_CASES and "durable" in ENGINES:  # durable-rules where this Python has it
            durable = evaluate_case(policy, {"case_id": "c", "facts": case}, NOW, engine="durable").to_dict()
            assert durable == got
        compared += 1
    assert compared >= CASES // 2, f"zen-engine refused {refused_by_zen} of the generated inputs"
    RESULTS[name] = True
    ROWS[name] = (sum(1 for c in chosen if c.startswith("table:")), sum(imported.tables.values()))


def test_conformance_floor():
    """Runs after the graphs (pytest keeps file order): the agreeing count may not fall."""
    if len(RESULTS) < len(NAMES):
        pytest.skip("run the whole module to count")
    agreeing = sum(RESULTS.values())
    assert agreeing >= FLOOR
    assert agreeing + len(DOCUMENTED) == len(NAMES)
    assert sum(c for c, _ in ROWS.values()) >= ROWS_FLOOR
