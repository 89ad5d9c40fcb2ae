"""What administrators and operators tripped over (issue #15): located errors, hints, facts that record
what really happened, consistent role ids, and lint for company packs that extend an enum."""

from __future__ import annotations

import collections
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
import engine
from engine.loader import bundled_packs
from tests.conftest import needs_durable

NOW = "2024-11-15T10:00:00+08:00"


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def case_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "case.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return str(path)


PEOPLE = """\
case_id: CP-9
facts:
  received_at: 2024-11-01T09:00:00+08:00
  upheld: true
  people:
    - {id: s1, name: 张三, department: 业务部, base_points: 4, monthly_bonus: "6000.00"}
  admin_penalties:
    - {person_id: s1, ground: wrong_shipment}
"""


@pytest.mark.parametrize(
    "record, message",
    [
        ("{person_id: s1, ground: rejects_mixed_in}", "小过: the number of bases (基数) is needed"),
        ('{person_id: s1, ground: wrong_shipment, rate: "300"}', "警告: rate 300.00 is below the minimum 400.00"),
        ("{person_id: s9, ground: wrong_shipment}", "unknown person 's9'"),
    ],
    ids=["minor-demerit-without-bases", "rate-below-minimum", "unknown-person"],
)
def test_penalty_record_errors_name_case_record_person_and_line(tmp_path, record, message):
    body = PEOPLE + f"    - {record}\n"
    result = run("evaluate", "pcb-manufacturer", case_file(tmp_path, body), "--now", NOW)
    assert result.exit_code == 4
    first = result.output.strip().splitlines()[0]
    assert first.startswith(f"{tmp_path / 'case.yaml'}:9:")  # the second record, line 9 of the case file
    assert "penalty-input: case CP-9, admin_penalties[1]" in first and message in first
    assert "(at $.facts.admin_penalties[1]" in first


def test_a_department_settling_on_its_own_is_recorded_and_flagged(tmp_path):
    body = """\
    case_id: CP-10
    facts:
      received_at: 2024-11-01T09:00:00+08:00
      upheld: true
      resolution: allowance
      loss_amount: "3000.00"
      approved_by: sales
    """
    result = run("evaluate", "pcb-manufacturer", case_file(tmp_path, body), "--now", NOW)
    assert result.exit_code == 0, result.output
    assert "beyond-authority" in result.output and '"within_authority": false' in result.output


@pytest.mark.parametrize(
    "value, hint",
    [
        ("2024-10-12", "write 2024-10-12T00:00:00 for the start of that day"),
        ("12 Oct 2024", "does not match the expected form"),
    ],
    ids=["date-only", "not-a-date"],
)
def test_date_for_a_datetime_fact_says_how_to_write_it(tmp_path, value, hint):
    body = f"case_id: x\nfacts:\n  received_at: 2024-10-01T09:00:00+08:00\n  closed_at: '{value}'\n"
    result = run("evaluate", "pcb-manufacturer", case_file(tmp_path, body), "--now", NOW)
    assert result.exit_code == 3 and hint in result.output
    assert ("T00:00:00" in result.output) == (value == "2024-10-12")


def test_unknown_role_value_gets_a_did_you_mean(tmp_path):
    body = "case_id: x\nfacts:\n  received_at: 2024-10-01T09:00:00+08:00\n  approved_by: salse\n"
    result = run("evaluate", "pcb-manufacturer", case_file(tmp_path, body), "--now", NOW)
    assert result.exit_code == 3 and "(did you mean 'sales'?)" in result.output


def test_same_department_has_the_same_role_id_in_every_bundled_pack():
    ids_by_name: dict[str, set[str]] = collections.defaultdict(set)
    for pack in bundled_packs():
        for rid, label in engine.load_policy(pack).roles.items():
            ids_by_name[label.zh].add(rid)
    assert ids_by_name["业务部"] == {"sales"} and ids_by_name["业务部经理"] == {"sales-manager"}
    assert {name: ids for name, ids in ids_by_name.items() if len(ids) > 1} == {}


def test_actual_approver_values_must_be_roles(tmp_path):
    pack = tmp_path / "p"
    shutil.copytree(engine.loader.bundled_root() / "pcb-manufacturer", pack)
    facts = (pack / "facts.yaml").read_text(encoding="utf-8")
    (pack / "facts.yaml").write_text(
        facts.replace("sales: 业务部门, sales-manager", "salse: 业务部门, sales-manager", 1)
    )
    errors = [d for d in engine.compile_pack(pack).errors if d.code == "unknown-role"]
    assert len(errors) == 1 and "'salse', which is not a role (did you mean 'sales'?)" in errors[0].message


def test_comma_in_a_flow_mapping_gets_a_hint(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        'id: flow\nversion: "1"\nroles:\n  gm: {label: {zh: 总经理, en: Approval of a return, exchange or refund}}\n',
        encoding="utf-8",
    )
    (error,) = engine.compile_pack(tmp_path).errors
    assert error.code == "unknown-field" and (error.location.line, error.location.column) == (4, 51)
    assert "a comma inside {…} starts a new field" in error.message and "quotes" in error.message


def test_unknown_field_without_a_comma_gets_no_comma_hint(tmp_path):
    (tmp_path / "policy.yaml").write_text('id: x\nversion: "1"\nroles:\n  gm: {labl: 总经理}\n', encoding="utf-8")
    (error,) = [d for d in engine.compile_pack(tmp_path).errors if d.code == "unknown-field"]
    assert "did you mean 'label'" in error.message and "comma" not in error.message


def company_pack(tmp_path: Path, values: str) -> Path:
    pack = tmp_path / "co"
    assert run("init", str(pack), "--from", "after-sales-standard").exit_code == 0
    with (pack / "policy.yaml").open("a", encoding="utf-8") as f:
        f.write(f"facts:\n  service_kind:\n    type: enum\n    label: 服务类别\n    values: {values}\n")
    return pack


def test_extending_an_inherited_enum_names_the_inherited_readers(tmp_path):
    pack = company_pack(tmp_path, "{return: 退货, exchange: 换货, repair: 维修, refund: 退款}")
    (warning,) = [d for d in engine.compile_pack(pack).warnings if d.code == "enum-extended"]
    assert warning.location.path == "$.facts.service_kind" and "gains 'refund'" in warning.message
    for reader in ("rules[return-exchange-approval]", "rules[receipt-record-incomplete]", "authority[return-exchange]"):
        assert reader in warning.message


def test_redeclaring_an_enum_without_new_values_is_quiet(tmp_path):
    pack = company_pack(tmp_path, "{return: 退货, exchange: 换货, repair: 维修}")
    assert [d for d in engine.compile_pack(pack).warnings if d.code == "enum-extended"] == []


@needs_durable
def test_durable_limit_message_states_the_adapters_limit(tmp_path):
    from engine.backends.durable_adapter import FIELD_LIMIT

    facts = "\n".join(f"  f{i}: {{type: integer, label: f{i}}}" for i in range(FIELD_LIMIT + 1))
    when = " + ".join(f"f{i}" for i in range(FIELD_LIMIT + 1)) + " > 0"
    (tmp_path / "policy.yaml").write_text(
        f'id: wide\nversion: "1"\nfacts:\n{facts}\nfindings:\n  big: {{type: boolean, label: big, conflict: error}}\n'
        f'rules:\n  - {{id: wide, label: w, ref: r, when: "{when}", then: {{set: {{big: true}}}}}}\n',
        encoding="utf-8",
    )
    policy = engine.load_policy(tmp_path)
    case = {"case_id": "w", "facts": {f"f{i}": 1 for i in range(FIELD_LIMIT + 1)}}
    assert policy.evaluate(case, NOW, engine="python").finding("big") is True
    with pytest.raises(engine.EvaluationError) as info:
        policy.evaluate(case, NOW, engine="durable")
    assert f"at most {FIELD_LIMIT} per rule" in str(info.value) and "beyond 64 " not in str(info.value)
