"""Editor support for every pack file (`zhidu schema --write`) and `zhidu init` packs that travel."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

import cli
import engine
from engine import pack_schemas
from engine.pack_schemas import MODELINE, pack_files, section_schema, with_modeline
from engine.source import read_document
from tests.conftest import ROOT

PACKS = engine.bundled_packs()


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


def modeline_target(path: Path) -> Path:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    assert first.startswith(MODELINE), f"{path}: no modeline"
    return (path.parent / first[len(MODELINE) :]).resolve()


def problems_against_modeline(pack: Path) -> list[str]:
    """Validate each YAML file of a pack against the schema its modeline names, as an editor would."""
    out = []
    for path, _ in pack_files(pack):
        schema = json.loads(modeline_target(path).read_text(encoding="utf-8"))
        data, _smap, _diags = read_document(path)
        for error in jsonschema.Draft202012Validator(schema).iter_errors(data):
            out.append(f"{path.relative_to(pack)}: {error.message[:120]} at {list(error.absolute_path)}")
    return out


def uncomment_example(policy_yaml: Path) -> None:
    """Turn on the commented example rule `zhidu init` writes."""
    head, marker, example = policy_yaml.read_text(encoding="utf-8").partition("# An example")
    first, _, rest = example.partition("\n")
    policy_yaml.write_text(head + marker + first + "\n" + re.sub(r"(?m)^# ", "", rest), encoding="utf-8")


@pytest.mark.parametrize("base", PACKS)
def test_init_from_every_bundled_pack_validates_tests_and_travels(tmp_path: Path, base: str) -> None:
    target = tmp_path / "made-here" / "acme"
    assert run("init", str(target), "--from", base).exit_code == 0
    assert run("validate", str(target)).exit_code == 0
    tested = run("test", str(target), "--engine", "python")
    assert tested.exit_code == 0, tested.output
    # No machine path anywhere in the new pack: it works after a move or a commit elsewhere.
    for path in target.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert str(tmp_path) not in text and str(ROOT) not in text and "site-packages" not in text, path
    assert (target / "policy.yaml").read_text(encoding="utf-8").startswith(MODELINE + "schemas/policy.schema.json\n")
    moved = tmp_path / "elsewhere" / "acme"
    moved.parent.mkdir()
    shutil.move(target, moved)
    assert problems_against_modeline(moved) == []
    # The commented example rule, switched on, validates against this base too.
    uncomment_example(moved / "policy.yaml")
    result = run("validate", str(moved))
    assert result.exit_code == 0, result.output
    assert "my-extra-rule" in {r.id for r in engine.load_policy(moved).rules}


@pytest.mark.parametrize("pack", PACKS)
def test_schema_write_covers_every_file_of_a_pack(tmp_path: Path, pack: str) -> None:
    copy = tmp_path / pack
    shutil.copytree(ROOT / "policies" / pack, copy)
    result = run("schema", "--write", str(copy))
    assert result.exit_code == 0, result.output
    yaml_files = {p for p in copy.rglob("*.y*ml")}
    assert yaml_files == {p for p, _ in pack_files(copy)}, "a YAML file of the pack has no schema"
    assert problems_against_modeline(copy) == []
    assert run("validate", str(copy)).exit_code == 0
    again = run("schema", "--write", str(copy))
    assert again.output.strip().endswith("0 files written or updated")


def test_schema_write_defaults_to_the_current_folder(tmp_path: Path, monkeypatch) -> None:
    shutil.copytree(ROOT / "policies" / "pharma-gsp", tmp_path / "p")
    monkeypatch.chdir(tmp_path / "p")
    assert run("schema", "--write").exit_code == 0
    assert (tmp_path / "p" / "schemas" / "tests.schema.json").is_file()


def test_schema_write_refuses_a_folder_without_a_pack(tmp_path: Path) -> None:
    result = run("schema", "--write", str(tmp_path))
    assert result.exit_code == 1 and "no policy.yaml here" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def pcb_tests_schema() -> dict:
    return pack_schemas.tests_schema(engine.load_policy("pcb-manufacturer").case_schema())


AT = "2024-09-03T09:30:00+08:00"
TEST_FILES = [
    pytest.param(
        {"cases": [{"name": "n", "case": {"facts": {"received_at": AT, "quantity": 5}}, "want": {}}]}, True, id="good"
    ),
    pytest.param(
        {"cases": [{"name": "n", "case": {"facts": {"received_at": AT, "quantity": "5"}}, "want": {}}]},
        False,
        id="wrong-type",
    ),
    pytest.param(
        {"cases": [{"name": "n", "case": {"facts": {"received_at": AT, "qty": 5}}, "want": {}}]},
        False,
        id="unknown-fact",
    ),
    pytest.param(
        {
            "cases": [
                {
                    "name": "n",
                    "case": {"facts": {"received_at": AT, "quantity": "5"}},
                    "want_error": {"code": "case-invalid"},
                }
            ]
        },
        True,
        id="wrong-on-purpose",
    ),
    pytest.param(
        {"cases": [{"name": "n", "case": {"facts": {"received_at": AT}}, "want": {}, "extra": 1}]},
        False,
        id="unknown-key",
    ),
    pytest.param({"cases": [{"name": "n", "case": {"facts": {"received_at": AT}}}]}, False, id="no-want"),
]


@pytest.mark.parametrize("document,valid", TEST_FILES)
def test_tests_schema_checks_cases_against_the_pack(pcb_tests_schema: dict, document: dict, valid: bool) -> None:
    assert jsonschema.Draft202012Validator(pcb_tests_schema).is_valid(document) is valid


SECTION_FILES = [
    pytest.param({"rules": [{"id": "r", "ref": "x", "when": "true", "then": {"warnings": ["w"]}}]}, True, id="rules"),
    pytest.param({"facts": {"amount": {"type": "money"}}}, True, id="facts"),
    pytest.param({"id": "p"}, False, id="id-belongs-in-policy-yaml"),
    pytest.param({"extends": "pcb-manufacturer"}, False, id="extends-belongs-in-policy-yaml"),
    pytest.param({"rules": [{"id": "r", "when": "true", "then": {}, "colour": 1}]}, False, id="bad-rule"),
]


@pytest.mark.parametrize("document,valid", SECTION_FILES)
def test_section_schema_is_policy_sections_only(document: dict, valid: bool) -> None:
    assert jsonschema.Draft202012Validator(section_schema()).is_valid(document) is valid


def test_section_schema_is_derived_from_the_policy_schema() -> None:
    from engine.compiler import policy_schema
    from engine.pack_schemas import editor_schema

    derived, policy = section_schema(), editor_schema(policy_schema())
    assert derived["$defs"] == policy["$defs"]
    assert all(derived["properties"][k] == policy["properties"][k] for k in derived["properties"])


def test_editor_schemas_accept_placeholders_and_acknowledgements() -> None:
    import jsonschema

    from engine.compiler import policy_schema
    from engine.pack_schemas import editor_schema

    table = {
        "id": "t",
        "ref": "r",
        "hit": "first",
        "inputs": [{"name": "amount", "expr": "loss_amount"}],
        "outputs": ["approver"],
        "rows": [{"when": {"placeholder": "band", "value": ["<= 5000"], "reason": "why"}, "then": {"approver": "gm"}}],
        "acknowledge": {"table-gap": "reviewed"},
    }
    pack = {"id": "p", "version": "1", "tables": [table]}
    assert list(jsonschema.Draft202012Validator(policy_schema()).iter_errors(pack))  # the engine's own: refused
    assert list(jsonschema.Draft202012Validator(editor_schema(policy_schema())).iter_errors(pack)) == []


@pytest.mark.parametrize(
    "text,expected",
    [
        pytest.param("id: x\n", MODELINE + "s.json\nid: x\n", id="added"),
        pytest.param(MODELINE + "/abs/old.json\nid: x\n", MODELINE + "s.json\nid: x\n", id="replaced"),
        pytest.param("# note\nid: x\n", MODELINE + "s.json\n# note\nid: x\n", id="comment-kept"),
    ],
)
def test_modeline(text: str, expected: str) -> None:
    assert with_modeline(text, "s.json") == expected


def test_schema_write_where_schemas_is_a_file_is_one_clear_error(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "policies" / "pharma-gsp", tmp_path / "p")
    (tmp_path / "p" / "schemas").write_text("not a folder", encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["schema", "--write", str(tmp_path / "p")])
    assert result.exit_code == 1
    assert "cannot write the editor schemas" in result.output and "Traceback" not in result.output
