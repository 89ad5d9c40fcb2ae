"""Named placeholders for values a regulation does not state; per-item acknowledgement of lint codes; --strict."""

from __future__ import annotations

import re
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
import engine
from tests.conftest import PACKS

TODAY = "2026-01-01"  # before the bundled holiday data ends: no calendar-ends-soon


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


@pytest.mark.parametrize(
    "pack, name, where",
    [
        ("supply-chain", "警告罚扣下限（元/次）", "penalties.yaml"),
        ("supply-chain", "每月罚扣上限（占当月奖金）", "penalties.yaml"),
        ("logistics-center", "小过罚扣下限（元/基数）", "penalties.yaml"),
        ("logistics-center", "核决权限·副总经理档", "authority.yaml"),
        ("pcb-manufacturer", "核决权限·业务部经理档", "authority.yaml"),
    ],
    ids=[
        "supply-chain-warning-200",
        "supply-chain-cap",
        "logistics-minor-demerit",
        "logistics-authority",
        "pcb-authority",
    ],
)
def test_validate_reports_each_placeholder_by_name(pack, name, where):
    result = run("validate", pack, "--today", TODAY)
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if f"'{name}'" in x)
    assert line.startswith(f"warning: policies/{pack}/{where}:") and "placeholder:" in line


def test_the_pack_runs_with_the_placeholder_value():
    policy = engine.load_policy("supply-chain")
    level = policy.penalties.scale.levels["warning"]
    assert level.minimum == Decimal("200")


def test_strict_fails_while_placeholders_are_unset_and_they_cannot_be_acknowledged(tmp_path):
    pack = tmp_path / "p"
    shutil.copytree(engine.loader.bundled_root() / "supply-chain", pack)
    text = (pack / "penalties.yaml").read_text(encoding="utf-8")
    assert run("validate", str(pack), "--strict", "--today", TODAY).exit_code == 1
    # Acknowledging a placeholder does not silence it (and the acknowledgement itself is then unused).
    acked = text.replace(
        "  when: findings.attitude_penalty", "  when: findings.attitude_penalty\n  acknowledge: {placeholder: later}"
    )
    (pack / "penalties.yaml").write_text(acked, encoding="utf-8")
    out = run("validate", str(pack), "--today", TODAY).output
    assert out.count("placeholder:") == 3 and "unused-acknowledgement" in out
    # The company sets its values: the warnings are gone and --strict passes.
    mine = re.sub(r"\{placeholder: [^,]+, value: (\S+), reason: \"[^\"]*\"\}", "\\1", text)
    assert mine.count("placeholder") == 0 and "minimum: 200" in mine
    (pack / "penalties.yaml").write_text(mine.replace("minimum: 200", "minimum: 300"), encoding="utf-8")
    result = run("validate", str(pack), "--strict", "--today", TODAY)
    assert result.exit_code == 0, result.output
    assert engine.load_policy(pack).penalties.scale.levels["warning"].minimum == Decimal("300")


def sla_pack(tmp_path: Path, ack: str | None) -> Path:
    pack = tmp_path / "sla"
    shutil.copytree(PACKS / "sla", pack)
    # The fixture's route counts working days under a calendar-day goal (route-units-differ): accepted here.
    text = (pack / "sla.yaml").read_text(encoding="utf-8")
    route = '    ref: "R-handling"\n'
    text = text.replace(route, route + "    acknowledge: {route-units-differ: the fixture tests both units}\n")
    (pack / "sla.yaml").write_text(text, encoding="utf-8")
    if ack is not None:
        text = (pack / "sla.yaml").read_text(encoding="utf-8")
        text = text.replace('    ref: "T-no-default"\n', f'    ref: "T-no-default"\n    acknowledge: {ack}\n')
        (pack / "sla.yaml").write_text(text, encoding="utf-8")
    return pack


@pytest.mark.parametrize(
    "ack, exit_code, expect",
    [
        (None, 1, "no-default-goal"),
        ("{no-default-goal: 国内投诉不适用此时限}", 0, "ok (3 acknowledged)"),
        ("{route-over-goal: wrong code}", 1, "unused-acknowledgement"),
        ("{no-default-goal: ''}", 1, "acknowledging 'no-default-goal' needs a reason"),
        ("[no-default-goal]", 1, "acknowledge is a mapping of warning code"),
    ],
    ids=["unacknowledged", "acknowledged-with-reason", "other-code-is-unused", "empty-reason", "not-a-mapping"],
)
def test_acknowledge_a_lint_code_on_one_item_and_strict(tmp_path, ack, exit_code, expect):
    pack = sla_pack(tmp_path, ack)
    result = run("validate", str(pack), "--strict", "--today", TODAY)
    assert result.exit_code == exit_code, result.output
    assert expect in result.output


def test_acknowledgement_covers_only_its_own_item(tmp_path):
    pack = sla_pack(tmp_path, "{no-default-goal: reason}")
    text = (pack / "sla.yaml").read_text(encoding="utf-8")
    # A second conditional timer without a default warns although the first is acknowledged.
    second = (
        "  - id: second\n    label: 第二\n    ref: T-no-default\n    start: accepted_at\n"
        '    goal:\n      - {when: region == "foreign", duration: 3d}\n\n'
    )
    text = text.replace("  - id: contract-notice\n", second + "  - id: contract-notice\n")
    (pack / "sla.yaml").write_text(text, encoding="utf-8")
    result = engine.compile_pack(pack)
    assert [d.location.path for d in result.warnings] == ["$.timers[5].goal"]
    assert [d.location.path for d in result.acknowledged if d.code == "no-default-goal"] == ["$.timers[4].goal"]


def test_strict_with_the_clock_dependent_calendar_warning(tmp_path):
    """calendar-ends-soon fires in December 2026 for the bundled data: --strict fails unless --today is pinned
    earlier or the pack acknowledges it on the calendar."""
    assert run("validate", "pharma-gsp", "--strict", "--today", "2026-12-20").exit_code == 1
    assert run("validate", "pharma-gsp", "--strict", "--today", TODAY).exit_code == 0
    pack = tmp_path / "p"
    shutil.copytree(engine.loader.bundled_root() / "pharma-gsp", pack)
    text = (pack / "sla.yaml").read_text(encoding="utf-8")
    ack = "  office:\n    acknowledge: {calendar-ends-soon: 2027 holidays not yet published}\n"
    (pack / "sla.yaml").write_text(text.replace("  office:\n", ack, 1), encoding="utf-8")
    result = run("validate", str(pack), "--strict", "--today", "2026-12-20")
    assert result.exit_code == 0, result.output
