"""One test per trap in durable-rules-notes.md: raw durable-rules goes wrong, the adapter does not."""

from __future__ import annotations

import textwrap
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import pytest

import engine
from tests.conftest import DURABLE_MISSING, NOW

# Every test here exercises durable-rules itself: on Python 3.13+ the whole module skips, saying why.
durable_engine = pytest.importorskip("durable.engine", reason=DURABLE_MISSING)
durable_adapter = pytest.importorskip("engine.backends.durable_adapter", reason=DURABLE_MISSING)

_raw_serial = iter(range(10**9))


def raw_fire(rules: dict, fact: dict) -> list[str]:
    """Register `rules` under a fresh name on the adapter's Host and return the firings, in order."""
    fired: list[str] = []

    def action(rid):
        def run(_c):
            fired.append(rid)

        return run

    name = f"raw{next(_raw_serial)}"
    definition = {rid: {"all": [{"m": cond}], "run": action(rid)} for rid, cond in rules.items()}
    # Trap 16: delete_state after an unhandled assertion crashes; the sentinel handles every fact.
    definition["__sentinel"] = {"all": [{"m": {"__z": 1}}], "run": lambda _c: None}
    host = durable_adapter._host()
    with durable_adapter._LOCK:
        host.register_rulesets({name: definition})
        host.assert_fact(name, dict(fact, sid="1", __z=1))
        host.delete_state(name, "1")
    return fired


def make_pack(tmp_path: Path, facts: str, rules: str, extra: str = "") -> engine.Policy:
    folder = tmp_path / "pack"
    folder.mkdir(exist_ok=True)
    text = f'id: traps\nversion: "1"\nfacts:\n{textwrap.indent(facts, "  ")}\nrules:\n{textwrap.indent(rules, "  ")}\n{extra}'
    (folder / "policy.yaml").write_text(text, encoding="utf-8")
    return engine.load_policy(folder)


def fired(policy: engine.Policy, facts: dict, now: str = NOW, engine_name: str = "durable") -> list[str]:
    return [t["rule"] for t in policy.evaluate({"facts": facts}, now, engine=engine_name).to_dict()["trace"]]


def agree(policy: engine.Policy, facts: dict, now: str = NOW) -> list[str]:
    durable = fired(policy, facts, now, "durable")
    assert durable == fired(policy, facts, now, "python")
    return durable


def test_trap1_or_fires_once_per_rule(tmp_path):
    assert raw_fire({"r": {"$or": [{"a": 1}, {"b": 2}]}}, {"a": 1, "b": 2}) == ["r", "r"]
    policy = make_pack(
        tmp_path,
        "a: {type: integer}\nb: {type: integer}",
        "- {id: r, ref: x, when: a == 1 or b == 2, then: {warnings: [w]}}",
    )
    assert agree(policy, {"a": 1, "b": 2}) == ["r"]
    assert len(policy.evaluate({"facts": {"a": 1, "b": 2}}, NOW, engine="durable").warnings) == 1


def test_trap2_absence_only_condition_does_not_loop(tmp_path):
    # Raw, {"$nex": {"x": 1}} alone matches the session's own state fact and loops forever (not run here).
    policy = make_pack(
        tmp_path,
        "x: {type: string}\ny: {type: integer}",
        "- {id: r, ref: x, when: not exists(x), then: {warnings: [w]}}",
    )
    assert agree(policy, {"y": 1}) == ["r"]
    assert agree(policy, {"x": "set"}) == []


def test_trap3_regex_uses_python_syntax(tmp_path):
    assert raw_fire({"r": {"$mt": {"code": "\\d+"}}}, {"code": "123"}) == []
    policy = make_pack(
        tmp_path, "code: {type: string}", "- {id: r, ref: x, when: 'matches(code, \"\\\\d+\")', then: {warnings: [w]}}"
    )
    assert agree(policy, {"code": "123"}) == ["r"]
    assert agree(policy, {"code": "12a"}) == []


def test_trap4_missing_field_never_satisfies_a_comparison(tmp_path):
    with_discriminator = {
        "eq": {"$and": [{"__z": 1}, {"a": {"$m": "b"}}]},
        "neq": {"$and": [{"__z": 1}, {"$neq": {"a": {"$m": "b"}}}]},
    }
    raw = raw_fire(with_discriminator, {"a": -5})
    assert sorted(raw) == ["eq", "neq"]  # both a == b and a != b "hold" when b is missing
    policy = make_pack(
        tmp_path,
        "a: {type: integer}\nb: {type: integer}",
        "- {id: eq, ref: x, when: a == b, then: {warnings: [w]}}\n"
        "- {id: neq, ref: x, when: a != b, then: {warnings: [w]}}\n"
        "- {id: notgt, ref: x, when: not (a > b), then: {warnings: [w]}}",
    )
    assert agree(policy, {"a": -5}) == ["notgt"]
    assert agree(policy, {"a": -5, "b": -5}) == ["eq", "notgt"]


def test_trap5_types_are_normalised_before_durable_sees_them(tmp_path):
    assert raw_fire({"r": {"vip": True}}, {"vip": 1}) == ["r"]
    assert raw_fire({"r": {"$gte": {"a": -5}}}, {"a": "x"}) == ["r"]
    policy = make_pack(
        tmp_path,
        "vip: {type: boolean}\nratio: {type: number}\nbig: {type: integer}",
        "- {id: vip, ref: x, when: vip == true, then: {warnings: [w]}}\n"
        "- {id: tiny, ref: x, when: ratio > 0.000001, then: {warnings: [w]}}\n"
        "- {id: huge, ref: x, when: big > 99999999999, then: {warnings: [w]}}",
    )
    with pytest.raises(engine.CaseError):
        policy.evaluate({"facts": {"vip": 1}}, NOW, engine="durable")
    # 0.000002 prints as 2e-06 in JSON, which raw durable-rules rejects (error 204).
    with pytest.raises(Exception, match="204"):
        raw_fire({"r": {"$gt": {"ratio": 0}}}, {"ratio": 0.000002})
    assert agree(policy, {"ratio": Decimal("0.000002")}) == ["tiny"]
    assert agree(policy, {"big": 999999999999}) == ["huge"]


def test_trap6_action_failures_are_raised(tmp_path, monkeypatch):
    policy = make_pack(tmp_path, "a: {type: integer}", "- {id: r, ref: x, when: a == 1, then: {warnings: [w]}}")

    def broken(self, rid):
        def run(_c):
            raise RuntimeError("boom")

        return run

    monkeypatch.setattr(durable_adapter.DurableBackend, "_action", broken)
    with pytest.raises(engine.EvaluationError, match="boom"):
        policy.evaluate({"facts": {"a": 1}}, NOW, engine="durable")


def test_trap7_and_8_sessions_are_deleted(tmp_path):
    name = f"raw-sessions{next(_raw_serial)}"
    host = durable_adapter._host()
    with durable_adapter._LOCK:
        host.register_rulesets({name: {"r": {"all": [{"m": {"a": 1}}], "run": lambda c: None}}})
        with pytest.raises(MemoryError):
            for sid in range(1100):
                try:
                    host.assert_fact(name, {"sid": str(sid), "a": 2 + sid})
                except durable_engine.MessageNotHandledException:
                    pass
    policy = make_pack(tmp_path, "a: {type: integer}", "- {id: r, ref: x, when: a == 1, then: {warnings: [w]}}")
    for i in range(1500):
        assert fired(policy, {"a": i % 3}) == (["r"] if i % 3 == 1 else [])


def test_trap9_the_same_pack_loads_twice(tmp_path):
    first = make_pack(tmp_path, "a: {type: integer}", "- {id: r, ref: x, when: a == 1, then: {warnings: [w]}}")
    second = engine.load_policy(first.root)
    assert fired(first, {"a": 1}) == fired(second, {"a": 1}) == ["r"]


def test_trap10_one_host_per_process_and_no_background_threads(tmp_path):
    assert not hasattr(durable_adapter._host(), "_d_timer")
    make_pack(tmp_path, "a: {type: integer}", "- {id: r, ref: x, when: a == 1, then: {warnings: [w]}}").evaluate(
        {"facts": {}}, NOW, engine="durable"
    )
    before = threading.active_count()
    for i in range(3):
        policy = engine.load_policy(tmp_path / "pack")
        policy.evaluate({"facts": {"a": i}}, NOW, engine="durable")
    assert threading.active_count() == before


def test_trap11_concurrent_threads_get_serial_answers(pcb):
    cases = [
        {"facts": {"received_at": "2024-09-03T09:30:00+08:00", "cause": c, "upheld": u, "loss_occurred": lo}}
        for c in ("quality_abnormal", "human_error", "other")
        for u in (True, False)
        for lo in (True, False)
    ]
    expected = [pcb.evaluate(c, NOW, engine="python").to_dict() for c in cases]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda i: pcb.evaluate(cases[i % len(cases)], NOW, engine="durable").to_dict(), range(600))
        )
    assert all(r == expected[i % len(cases)] for i, r in enumerate(results))


def test_trap12_time_comes_from_now_not_the_clock(tmp_path):
    policy = make_pack(
        tmp_path,
        "received_at: {type: datetime}",
        "- {id: late, ref: x, when: now - received_at > 13d, then: {warnings: [w]}}",
    )
    facts = {"received_at": "2024-09-01T09:00:00+08:00"}
    assert agree(policy, facts, "2024-09-14T09:00:00+08:00") == []
    assert agree(policy, facts, "2024-09-14T09:00:01+08:00") == ["late"]


def test_trap13_cases_are_asserted_one_at_a_time(tmp_path, monkeypatch):
    policy = make_pack(tmp_path, "a: {type: integer}", "- {id: r, ref: x, when: a == 1, then: {warnings: [w]}}")

    def forbidden(*_args, **_kwargs):
        raise AssertionError("assert_facts must not be used")

    monkeypatch.setattr(durable_engine.Host, "assert_facts", forbidden)
    assert fired(policy, {"a": 1}) == ["r"]


def test_trap14_wide_cases_stay_under_the_property_limits(tmp_path):
    with pytest.raises(Exception, match="302"):
        raw_fire({"r": {"p0": 0}}, {f"p{i}": i for i in range(256)})
    with pytest.raises(Exception, match="303"):
        raw_fire({f"r{i}": {f"p{i}": i} for i in range(65)}, {f"p{i}": i for i in range(65)})
    facts = "\n".join(f"p{i}: {{type: integer}}" for i in range(300))
    # Each rule reads a different fact: one layer with 300 fields in all must be split.
    rules = "\n".join(f"- {{id: r{i}, ref: x, when: p{i} == {i}, then: {{warnings: [w]}}}}" for i in range(300))
    policy = make_pack(tmp_path, facts, rules)
    case = {f"p{i}": i for i in range(300)}
    assert len(agree(policy, case)) == 300
    assert len(policy.backend("durable").layers[0]) >= 300 // durable_adapter.FIELD_LIMIT


def test_trap16_unmatched_cases_do_not_crash(tmp_path):
    # Raw: assert a fact no rule matches, then delete_state → SIGSEGV (not run here: it kills pytest).
    policy = make_pack(
        tmp_path, "code: {type: string}", "- {id: r, ref: x, when: 'matches(code, \"%d+\")', then: {warnings: [w]}}"
    )
    for code in ("abc", "123", "", "x1"):
        assert agree(policy, {"code": code}) == []


def test_trap15_large_packs_are_split_into_rulesets(tmp_path):
    rules = "\n".join(f"- {{id: r{i}, ref: x, when: a == {i}, then: {{warnings: [w]}}}}" for i in range(1000))
    policy = make_pack(tmp_path, "a: {type: integer}", rules)
    assert agree(policy, {"a": 777}) == ["r777"]
    rulesets = policy.backend("durable").layers[0]
    assert len(rulesets) == 3
    # CHUNK pack rules at most, plus the sentinel of trap 16
    assert all(len(durable_adapter._host().get_ruleset(r.name)._actions) <= durable_adapter.CHUNK + 1 for r in rulesets)


def test_constant_arithmetic_is_folded_before_durable_sees_it(tmp_path):
    # Raw durable-rules evaluates literal ± literal wrongly: 3 + 2 here never equals 5.
    assert raw_fire({"r": {"$and": [{"__z": 1}, {"a": {"$add": {"$l": 3, "$r": 2}}}]}}, {"a": 5}) == []
    policy = make_pack(
        tmp_path,
        "a: {type: integer}\nt: {type: datetime}",
        "- {id: sum, ref: x, when: a == 3 + 2, then: {warnings: [w]}}\n"
        "- {id: moved, ref: x, when: a + 1 > 3, then: {warnings: [w]}}\n"
        "- {id: twice-moved, ref: x, when: (a + 1) + 2 == 8, then: {warnings: [w]}}\n"
        "- {id: durations, ref: x, when: now - t == 7d + 30min, then: {warnings: [w]}}",
    )
    assert agree(policy, {"a": 5, "t": "2024-09-03T09:30:00+08:00"}, "2024-09-10T10:00:00+08:00") == [
        "sum",
        "moved",
        "twice-moved",
        "durations",
    ]
    assert agree(policy, {"a": 2}) == []


def test_more_than_64_tests_holding_at_once_are_split_into_rulesets(tmp_path):
    # Found with a 70-row decision table: raw durable-rules fails (error 303) once 65 tests of one
    # ruleset hold for the asserted fact, even on a single field.
    with pytest.raises(Exception, match="303"):
        raw_fire({f"r{i}": {"$gte": {"a": i}} for i in range(65)}, {"a": 100})
    rules = "\n".join(
        f"- {{id: r{i}, ref: x, when: a >= {i} and a < {i + 1000}, then: {{warnings: [w]}}}}" for i in range(200)
    )
    policy = make_pack(tmp_path, "a: {type: integer}", rules)
    for value in (0, 64, 65, 150, 199, 5000):
        agree(policy, {"a": value})
    assert len(agree(policy, {"a": 199})) == 200
