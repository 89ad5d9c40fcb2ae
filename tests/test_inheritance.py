"""Pack inheritance (`extends`, `remove`), origins, `zhidu init` and JUnit output."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner

import cli
import engine
from engine.loader import load_pack, origins
from tests.conftest import NOW, ROOT, both

CASE = {"facts": {"received_at": "2024-09-03T09:30:00+08:00", "cause": "other", "involves_supplier": True}}


def child(tmp_path: Path, body: str, name: str = "co") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "policy.yaml").write_text(textwrap.dedent(body), encoding="utf-8")
    return folder


def test_override_remove_and_add_by_id(tmp_path):
    pack = child(
        tmp_path,
        """\
        id: co
        version: "1"
        extends: pcb-manufacturer
        remove:
          rules: [supplier-involved]
        rules:
          - id: cause-other
            label: 其他原因（本公司）
            ref: 本公司补充规定 1
            when: cause == "other"
            then: {set: {category: other}, warnings: [说明原因]}
        clauses:
          本公司补充规定 1: {title: 本公司补充规定, article: "1", text: 其他原因的投诉须说明原因。}
        """,
    )
    policy = engine.load_policy(pack)
    base = engine.load_policy("pcb-manufacturer")
    assert len(policy.rules) == len(base.rules) - 1
    d = both(policy, CASE)
    fired = [t["rule"] for t in d["trace"]]
    assert "cause-other" in fired and "supplier-involved" not in fired
    assert [w["message"] for w in d["warnings"] if w.get("rule") == "cause-other"] == ["说明原因"]
    assert d["policy"] == {"id": "co", "version": "1"}
    # the replaced rule keeps the base's place in file order
    assert [r.id for r in policy.rules].index("cause-other") == [r.id for r in base.rules].index("cause-other")


def test_origin_points_at_each_file(tmp_path):
    pack = child(
        tmp_path,
        'id: co\nversion: "1"\nextends: pcb-manufacturer\nfacts:\n  region: {type: enum, values: [north, south]}\n',
    )
    where = {f"{s}[{n}]": loc for s, n, loc in origins(load_pack(pack))}
    assert where["facts[region]"].file.endswith("co/policy.yaml") and where["facts[region]"].line == 5
    assert where["rules[cause-quality]"].file.endswith("pcb-manufacturer/rules.yaml")
    result = CliRunner().invoke(cli.main, ["validate", "--explain-origin", str(pack)])
    assert re.search(r"rules\[cause-quality\]\t\S*pcb-manufacturer/rules.yaml:\d+:5", result.output)


def test_errors_in_the_child_point_at_the_child(tmp_path):
    pack = child(
        tmp_path,
        'id: co\nversion: "1"\nextends: pcb-manufacturer\nrules:\n  - {id: x, ref: 客户投诉管理办法(三), when: los > 1, then: {warnings: [w]}}\n',
    )
    (error,) = engine.compile_pack(pack).errors
    assert (Path(error.location.file).name, error.location.line, error.code) == ("policy.yaml", 5, "unknown-fact")


BAD = [
    (
        "remove-unknown",
        'id: co\nversion: "1"\nextends: pcb-manufacturer\nremove: {rules: [no-such-rule]}\n',
        "dangling-ref",
        4,
    ),
    ("unknown-base", 'id: co\nversion: "1"\nextends: pcb-manufactuer\n', "pack-not-found", 3),
    (
        "remove-wrong-section",
        'id: co\nversion: "1"\nextends: pcb-manufacturer\nremove: {penalties: [x]}\n',
        "schema",
        4,
    ),
]


@pytest.mark.parametrize("body,code,line", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_inheritance_errors(tmp_path, body, code, line):
    errors = engine.compile_pack(child(tmp_path, body)).errors
    assert [(e.code, e.location.line) for e in errors] == [(code, line)]


def test_extends_cycle(tmp_path):
    child(tmp_path, 'id: a\nversion: "1"\nextends: ../b\n', "a")
    child(tmp_path, 'id: b\nversion: "1"\nextends: ../a\n', "b")
    assert [e.code for e in engine.compile_pack(tmp_path / "a").errors] == ["extends-cycle"]


def test_init_scaffolds_a_green_company_pack(tmp_path):
    runner = CliRunner()
    target = tmp_path / "acme-pcb"
    result = runner.invoke(cli.main, ["init", str(target), "--from", "pcb-manufacturer"])
    assert result.exit_code == 0, result.output
    assert "extends: pcb-manufacturer" in (target / "policy.yaml").read_text(encoding="utf-8")
    assert runner.invoke(cli.main, ["validate", str(target)]).exit_code == 0
    junit = tmp_path / "out" / "junit.xml"
    tested = runner.invoke(cli.main, ["test", str(target), "--engine", "python", "--junit", str(junit)])
    assert tested.exit_code == 0, tested.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and int(suite.get("tests", "0")) >= 15


def test_init_never_overwrites(tmp_path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "keep.txt").write_text("mine", encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["init", str(target), "--from", "pcb-manufacturer"])
    assert result.exit_code == 1 and "not empty" in result.output
    assert [p.name for p in target.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".zhidu-init-")]


def test_no_company_or_pack_named_in_the_engine():
    names = [*engine.bundled_packs(), "成都德诚", "德诚"]
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "engine").rglob("*.py")
        if not path.is_symlink()  # engine/cli.py is cli.py, the command line, which may name examples
        for name in names
        if name in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_evaluation_through_a_child_pack_matches_the_base_when_nothing_changes(tmp_path, pcb):
    pack = child(tmp_path, 'id: same\nversion: "1.0.0"\nextends: pcb-manufacturer\n')
    case = {"facts": {"received_at": "2024-09-03T09:30:00+08:00", "cause": "quality_abnormal", "upheld": True}}
    mine = engine.load_policy(pack).evaluate(case, NOW).to_dict()
    theirs = pcb.evaluate(case, NOW).to_dict()
    assert {k: v for k, v in mine.items() if k != "policy"} == {k: v for k, v in theirs.items() if k != "policy"}


def test_init_refuses_an_id_that_would_not_validate(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(cli.main, ["init", str(tmp_path / "x"), "--from", "pcb-manufacturer", "--id", "bad id!"])
    assert bad.exit_code == 1 and "cannot be a pack id" in bad.output and not (tmp_path / "x").exists()
    named = tmp_path / "Acme.Co 2"
    assert runner.invoke(cli.main, ["init", str(named), "--from", "pcb-manufacturer"]).exit_code == 0
    assert "id: acme-co-2" in (named / "policy.yaml").read_text(encoding="utf-8")
    assert runner.invoke(cli.main, ["validate", str(named)]).exit_code == 0
