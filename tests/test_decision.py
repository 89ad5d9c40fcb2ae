"""The decision contract: schema, determinism, conflict policies, layering and the trace."""

from __future__ import annotations

import copy

import pytest

import engine
from tests.conftest import NOW, both

BASE = {"received_at": "2024-09-14T08:30:00+08:00"}


def facts(**extra):
    return {"case_id": "c1", "facts": {**BASE, **extra}}


def test_every_section_is_present_and_valid(minimal, decision_validator):
    d = both(minimal, facts())
    assert list(d) == [
        "policy",
        "case_id",
        "evaluated_at",
        "findings",
        "timers",
        "approvals",
        "penalties",
        "fines",
        "owed_to_customer",
        "forms",
        "actions",
        "trace",
        "warnings",
        "clauses",
    ]
    assert d["timers"] == d["approvals"] == d["penalties"] == d["fines"] == d["owed_to_customer"] == []
    decision_validator.validate(d)


def test_priority_policy_keeps_the_higher_rule_and_traces_the_loser_on_request(minimal, decision_validator):
    brief = both(minimal, facts(loss_amount="5000"))
    assert "minor-default" not in [t["rule"] for t in brief["trace"]]  # overridden: only in the full trace
    d = minimal.evaluate(facts(loss_amount="5000"), NOW, engine="python").with_full_trace().to_dict()
    for other in engine.ENGINES:  # durable-rules too where this Python has it
        assert d == minimal.evaluate(facts(loss_amount="5000"), NOW, engine=other).with_full_trace().to_dict()
    decision_validator.validate(d)
    assert {f["id"]: f["value"] for f in d["findings"]}["severity"] == "major"
    effects = {
        t["rule"]: t["effects"][0]["outcome"] for t in d["trace"] if t["effects"][0].get("finding") == "severity"
    }
    assert effects == {"major-big-loss": "applied", "minor-default": "overridden"}
    assert [t["rule"] for t in d["trace"]][:2] == ["major-big-loss", "minor-default"]  # priority order


def test_collect_policy_gathers_distinct_values(minimal):
    d = both(minimal, facts(loss_amount="9000", region="foreign"))
    labels = next(f for f in d["findings"] if f["id"] == "labels")
    assert labels["value"] == ["big-loss", "foreign"]


def test_error_policy_refuses_to_pick_a_winner(minimal):
    case = facts(vip=True, customer={"name": "x", "level": 5})
    for name in engine.ENGINES:
        with pytest.raises(engine.EvaluationError) as info:
            minimal.evaluate(case, NOW, engine=name)
        assert info.value.code == "finding-conflict"
        assert "owner-vip" in str(info.value) and "owner-level" in str(info.value)


def test_layered_rule_reads_findings_of_earlier_layers(minimal, decision_validator):
    d = both(minimal, facts(loss_amount="5000", region="foreign"))
    decision_validator.validate(d)
    escalate = next(t for t in d["trace"] if t["rule"] == "escalate-major")
    assert escalate["layer"] == 1
    assert {f["id"]: f["value"] for f in d["findings"]}["escalate"] is True
    assert d["actions"] == [
        {
            "id": "tell-gm",
            "label": "报总经理",
            "label_en": "报总经理",
            "rules": ["escalate-major"],
            "refs": ["A6"],
            "to": "gm",
            "to_label": "总经理",
        }
    ]
    assert d["warnings"] == [{"code": "rule-warning", "message": "重大国外投诉", "rule": "escalate-major", "ref": "A6"}]


def test_defaults_apply_when_no_rule_sets_a_finding(minimal):
    d = both(minimal, facts())
    escalate = next(f for f in d["findings"] if f["id"] == "escalate")
    assert escalate == {
        "id": "escalate",
        "label": "升级",
        "label_en": "升级",
        "value": False,
        "value_label": None,
        "source": "default",
        "rules": [],
        "refs": [],
    }


def test_same_inputs_same_bytes(pcb):
    case = {
        "case_id": "1",
        "facts": {"received_at": "2024-09-03T09:30:00+08:00", "cause": "quality_abnormal", "upheld": True},
    }
    outputs = {pcb.evaluate(copy.deepcopy(case), NOW, engine=e).to_json() for e in engine.ENGINES for _ in range(3)}
    assert len(outputs) == 1


def test_the_case_is_not_modified(pcb):
    case = {"case_id": "1", "facts": {"received_at": "2024-09-03T09:30:00+08:00", "loss_amount": "10.5"}}
    before = copy.deepcopy(case)
    pcb.evaluate(case, NOW)
    assert case == before


def test_trace_cites_clause_refs(pcb):
    d = pcb.evaluate({"facts": {"received_at": "2024-09-03T09:30:00+08:00", "cause": "human_error"}}, NOW).to_dict()
    assert all(t["ref"].startswith("客户投诉管理办法") for t in d["trace"])


def test_text_format_uses_chinese_labels(minimal):
    text = minimal.evaluate(facts(loss_amount="5000", region="foreign"), NOW).to_text()
    assert "严重程度 (severity): 重大 [major]" in text
    assert "报总经理 (tell-gm) → 总经理 (gm)" in text
    assert "依据 A2" in text


def test_policy_is_immutable(minimal):
    with pytest.raises(AttributeError):
        minimal.id = "other"  # type: ignore[misc]


def test_policy_tables_cannot_be_changed(minimal):
    with pytest.raises(TypeError):
        minimal.roles["ceo"] = None  # type: ignore[index]
    assert isinstance(minimal.rules, tuple) and isinstance(minimal.facts, tuple)
