"""Every case of every bundled pack's tests/ folder, on both engines, with schema-valid decisions."""

from __future__ import annotations

from pathlib import Path

import pytest

import engine
from engine.testing import load_suite, run_case, run_pack_tests, suite_files

CASES = []
for pack_name in engine.bundled_packs():
    root = engine.load_policy(pack_name).root
    for path in suite_files(root):
        suite, problems = load_suite(path, str(path))
        assert not problems, problems
        for spec, smap, line, index in suite:
            CASES.append(
                pytest.param(
                    pack_name, path, spec, smap, line, index, id=f"{pack_name}/{path.stem}:{line}:{spec['name']}"
                )
            )


@pytest.fixture(scope="module")
def policies():
    return {name: engine.load_policy(name) for name in engine.bundled_packs()}


@pytest.mark.parametrize("pack,path,spec,smap,line,index", CASES)
def test_pack_case(policies, decision_validator, pack, path: Path, spec, smap, line, index):
    results = [run_case(policies[pack], spec, smap, str(path), line, index, e) for e in engine.ENGINES]
    for r in results:
        assert r.passed, "\n".join(r.failures)
        if r.decision is not None:
            decision_validator.validate(r.decision)
    for other in results[1:]:  # the engines this Python has must agree (only python on 3.13+)
        assert other.decision == results[0].decision
        assert other.error_code == results[0].error_code


@pytest.mark.parametrize("pack", engine.bundled_packs())
def test_every_rule_is_exercised_by_the_packs_own_tests(policies, pack):
    report = run_pack_tests(policies[pack])
    assert report.coverage["rules_never_fired"] == []
    assert report.coverage["timers_never_started"] == []
    assert report.coverage["table_rows_never_chosen"] == []
    assert report.coverage["amounts_never_computed"] == []
    assert len({r.name for r in report.results}) >= 15
