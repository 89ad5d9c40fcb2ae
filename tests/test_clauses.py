"""The regulation's own words: declared clauses, refs that resolve, the words in decisions, `zhidu explain`."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
import engine
from engine.clauses import MAP_BEGIN, MAP_END, clause_map, split_ref
from engine.loader import bundled_packs, bundled_root, load_pack
from tests.conftest import NOW
from tests.conftest import PACKS as PACKS_DIR

PACKS = bundled_packs()
# The seeds live in the steering repo's shared/ folder, beside this checkout (as in CI and on the machines).
SEEDS = Path(os.environ.get("ZHIDU_SEEDS", Path(__file__).resolve().parents[2] / "shared" / "seeds"))


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("pack", PACKS)
def test_every_bundled_pack_declares_clauses_and_every_ref_resolves(pack):
    policy = engine.load_policy(pack)  # an unresolved ref is an error: this would raise
    assert policy.clauses, f"{pack} declares no clauses"
    for clause in policy.clauses.values():
        assert clause.title and clause.article and clause.text and clause.source


@pytest.mark.parametrize("pack", PACKS)
def test_every_declared_clause_is_encoded_by_something(pack):
    policy = engine.load_policy(pack)
    raw = load_pack(pack)
    assert "— (not encoded)" not in clause_map(policy.clauses, raw)


@pytest.mark.skipif(not SEEDS.is_dir(), reason=f"the seeds are not here ({SEEDS}; set ZHIDU_SEEDS)")
@pytest.mark.parametrize("pack", PACKS)
def test_clause_texts_are_the_seeds_words_verbatim(pack):
    for cid, clause in engine.load_policy(pack).clauses.items():
        if clause.source == "README.md":  # a sample regulation written for zhidu, quoted in the pack's README
            quoted = (bundled_root() / pack / "README.md").read_text(encoding="utf-8").replace("\n>", "\n")
            assert squash(clause.text) in squash(quoted).replace("**", ""), f"{pack} {cid}: not the README's words"
            continue
        name = clause.source.removeprefix("seed ")
        seed = squash((SEEDS / name).read_text(encoding="utf-8"))
        assert squash(clause.text) in seed, f"{pack} {cid}: not the words of {name}"


@pytest.mark.parametrize("pack", PACKS)
def test_readme_clause_map_is_current(pack):
    """Every clause a pack cites appears in its README's map and every row there is a clause of the pack."""
    readme = (bundled_root() / pack / "README.md").read_text(encoding="utf-8")
    assert MAP_BEGIN in readme and MAP_END in readme, f"{pack}/README.md has no generated clause map"
    block = readme[readme.index(MAP_BEGIN) : readme.index(MAP_END) + len(MAP_END)]
    policy = engine.load_policy(pack)
    want = clause_map(policy.clauses, load_pack(pack))
    assert block == want, f"regenerate it: zhidu explain {pack} --format md"


@pytest.mark.parametrize(
    "ref, ids",
    [
        ("办法(九)6", ("办法(九)6",)),
        ("通用规范 四1 / 服务质量投诉规程 3.3", ("通用规范 四1", "服务质量投诉规程 3.3")),
        ("a / a / b", ("a", "b")),
        ("a/b", ("a/b",)),  # only ' / ' separates
    ],
    ids=["one", "two", "repeated", "slash-without-spaces"],
)
def test_split_ref(ref, ids):
    assert split_ref(ref) == ids


def write_pack(root: Path, refs: list[str], clauses: str | None) -> Path:
    rules = "\n".join(
        f'  - {{id: r{i}, label: 规则{i}, ref: "{ref}", when: loss_amount > {i}, then: {{set: {{big: true}}}}}}'
        for i, ref in enumerate(refs)
    )
    text = textwrap.dedent(
        """\
        id: t
        version: "1"
        facts:
          loss_amount: {type: money}
        findings:
          big: {type: boolean, label: 大, conflict: collect}
        """
    )
    text += "rules:\n" + rules + "\n"
    if clauses is not None:
        text += "clauses:\n" + textwrap.indent(textwrap.dedent(clauses), "  ")
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(text, encoding="utf-8")
    return root


CLAUSES = """\
办法(九)6: {title: 办法, article: (九)6, text: 应于一日内作成综合意见}
办法(九)7: {title: 办法, article: (九)7, text: 判定发生单位}
"""


@pytest.mark.parametrize(
    "ref, message",
    [
        ("办法(九)6x", "'办法(九)6x' is not a declared clause (did you mean '办法(九)6'?)"),
        ("办法(九)6 / (九)7", "'(九)7' is not a declared clause"),
        ("办法(九)6 核决权限", "'办法(九)6 核决权限' is not a declared clause (did you mean '办法(九)6'?)"),
    ],
    ids=["typo", "abbreviated-second-part", "trailing-commentary"],
)
def test_unknown_clause_is_a_located_error(tmp_path, ref, message):
    pack = write_pack(tmp_path / "p", [ref], CLAUSES)
    result = engine.compile_pack(pack)
    errors = [d for d in result.errors if d.code == "unknown-clause"]
    assert len(errors) == 1 and message in errors[0].message
    assert errors[0].location.line == 8 and errors[0].location.path == "$.rules[0].ref"


def test_pack_without_clauses_cites_free_text(tmp_path):
    pack = write_pack(tmp_path / "p", ["anything at all"], None)
    assert engine.compile_pack(pack).errors == []


def test_company_pack_inherits_clauses_and_its_own_refs_must_resolve(tmp_path):
    write_pack(tmp_path / "base", ["办法(九)6"], CLAUSES)
    child = tmp_path / "child"
    child.mkdir()
    (child / "policy.yaml").write_text(
        "id: c\nversion: '1'\nextends: ../base\n"
        "rules:\n  - {id: extra, label: x, ref: '本公司补充 1', when: loss_amount > 9, then: {set: {big: true}}}\n",
        encoding="utf-8",
    )
    errors = engine.compile_pack(child).errors
    assert [d.code for d in errors] == ["unknown-clause"]
    (child / "policy.yaml").write_text(
        (child / "policy.yaml").read_text(encoding="utf-8")
        + "clauses:\n  本公司补充 1: {title: 本公司补充规定, article: '1', text: 大额损失须报总经理}\n",
        encoding="utf-8",
    )
    assert engine.compile_pack(child).errors == []


def test_decision_carries_the_words_once_in_a_clauses_map(decision_validator):
    example = str(bundled_root() / "pcb-manufacturer/examples/quality-complaint.yaml")
    decision = json.loads(run("evaluate", "pcb-manufacturer", example, "--now", "2024-09-20T10:00:00+08:00").output)
    decision_validator.validate(decision)
    cited = {cid for t in decision["trace"] for cid in t["clauses"]}
    cited |= {cid for f in decision["findings"] for ref in f["refs"] for cid in split_ref(ref)}
    assert cited and cited <= set(decision["clauses"])
    words = decision["clauses"]["客户投诉管理办法(九)6"] if "客户投诉管理办法(九)6" in decision["clauses"] else None
    first = next(iter(decision["clauses"].values()))
    assert set(first) == {"title", "article", "text", "source"}
    text = json.dumps(decision, ensure_ascii=False)
    some = first["text"]
    assert text.count(json.dumps(some, ensure_ascii=False)[1:-1]) == 1  # the words appear once
    assert words is None or "一日內" in words["text"]


def test_text_decision_quotes_the_words_under_a_finding(tmp_path):
    case = tmp_path / "case.yaml"
    case.write_text((bundled_root() / "pcb-manufacturer/examples/quality-complaint.yaml").read_text("utf-8"), "utf-8")
    result = run("evaluate", "pcb-manufacturer", str(case), "--now", "2024-09-20T10:00:00+08:00", "--format", "text")
    lines = result.output.splitlines()
    at = next(i for i, line in enumerate(lines) if "(track_improvement)" in line)
    assert lines[at + 1].strip() == "〔客户投诉管理办法 (九)7〕"
    assert lines[at + 2].strip().startswith("7.判定發")


def test_overridden_rules_appear_only_in_the_full_trace(tmp_path):
    """A rule whose every effect a higher priority overrode changed nothing: shown with --trace full only."""
    case = tmp_path / "case.yaml"
    case.write_text(
        "case_id: x\nfacts:\n  received_at: 2024-09-14T08:30:00+08:00\n  loss_amount: '5000'\n", encoding="utf-8"
    )
    minimal = str(PACKS_DIR / "minimal")
    brief = json.loads(run("evaluate", minimal, str(case), "--now", NOW).output)
    full = json.loads(run("evaluate", minimal, str(case), "--now", NOW, "--trace", "full").output)
    assert "minor-default" not in [t["rule"] for t in brief["trace"]]
    assert "minor-default" in [t["rule"] for t in full["trace"]]
    effect = next(t for t in full["trace"] if t["rule"] == "minor-default")["effects"][0]
    assert effect["outcome"] == "overridden"


def test_explain_lists_everything_that_encodes_a_clause():
    result = run("explain", "pcb-manufacturer", "客户投诉管理办法(九)6")
    assert result.exit_code == 0
    assert "〔客户投诉管理办法 (九)6〕" in result.output and "一日內" in result.output
    assert "tables[settlement-authority]" in result.output and "timers[combined-opinion]" in result.output
    assert "authority[settlement]" in result.output


def test_explain_unknown_clause_is_a_usage_error_with_a_hint():
    result = CliRunner().invoke(cli.main, ["explain", "pcb-manufacturer", "客户投诉管理办法(九)66"])
    assert result.exit_code == 2 and "did you mean '客户投诉管理办法(九)6'" in result.output
