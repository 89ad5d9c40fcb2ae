"""The pack cache: same decisions warm and cold, never stale, corrupt entries rebuilt, private folder only."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
import engine
from engine import pack_cache
from tests.conftest import NOW, ROOT

SAMPLE = ROOT / "policies" / "pcb-manufacturer" / "examples" / "quality-complaint.yaml"
TABLE_PACK = """\
id: t
version: "1"
facts:
  amount: {type: money}
tables:
  - id: band
    hit: unique
    inputs: [{name: amount}]
    outputs: [band]
    rows:
      - {when: ["< 100"], then: {band: low}}
      - {when: [">= 100"], then: {band: %s}}
"""


def entries(folder: Path) -> dict[str, list[Path]]:
    return {kind.name: sorted(kind.rglob("*.pickle")) for kind in folder.iterdir() if kind.is_dir()}


def decide(pack: Path | str, facts: dict) -> dict:
    policy = engine.load_policy(pack)
    return policy.evaluate({"case_id": "c", "facts": facts}, NOW, engine="python").to_dict()


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    return folder


def test_warm_and_cold_loads_give_the_same_policy(cache):
    import yaml

    facts = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))["facts"]
    plain = engine.load_policy("pcb-manufacturer").evaluate({"facts": facts}, NOW).to_dict()
    with pack_cache.active(cache):
        cold = engine.load_policy("pcb-manufacturer").evaluate({"facts": facts}, NOW).to_dict()
        stored = entries(cache)
        warm = engine.load_policy("pcb-manufacturer").evaluate({"facts": facts}, NOW).to_dict()
    assert plain == cold == warm
    assert stored["document"] and stored["lint"] and stored["table"]
    assert entries(cache) == stored  # the warm load wrote nothing new: every entry was a hit


def test_a_changed_file_is_a_miss_never_a_stale_hit(cache, tmp_path):
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "policy.yaml").write_text(TABLE_PACK % "high", encoding="utf-8")
    with pack_cache.active(cache):
        assert engine.load_policy(pack).authority.tables["band"].rows[1].outputs == {"band": "high"}
        (pack / "policy.yaml").write_text(TABLE_PACK % "top", encoding="utf-8")
        assert engine.load_policy(pack).authority.tables["band"].rows[1].outputs == {"band": "top"}


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped-byte", "empty"])
def test_a_corrupt_entry_is_ignored_and_rebuilt(cache, damage):
    with pack_cache.active(cache):
        engine.load_policy("pcb-manufacturer")
    victims = [p for paths in entries(cache).values() for p in paths]
    for path in victims:
        data = path.read_bytes()
        broken = {
            "garbage": b"not a cache entry",
            "truncated": data[: len(data) // 2],
            "flipped-byte": data[:-1] + bytes([data[-1] ^ 0xFF]),
            "empty": b"",
        }[damage]
        path.write_bytes(broken)
    with pack_cache.active(cache):
        policy = engine.load_policy("pcb-manufacturer")
    assert policy.id == "pcb-manufacturer"
    assert all(p.read_bytes() != b"" and p.read_bytes()[:12] == b"zhidu-cache\n" for p in victims)


def test_a_folder_others_can_write_is_not_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with pack_cache.active(shared) as used:
        engine.load_policy("pcb-manufacturer")
    assert used is None and list(shared.iterdir()) == []


def test_the_cli_uses_zhidu_cache_dir_and_no_cache_writes_nothing(tmp_path, monkeypatch):
    folder = tmp_path / "c"
    monkeypatch.setenv("ZHIDU_CACHE_DIR", str(folder))
    args = ["evaluate", "pcb-manufacturer", str(SAMPLE), "--now", NOW, "--engine", "python"]
    skipped = CliRunner().invoke(cli.main, [*args, "--no-cache"])
    assert skipped.exit_code == 0 and not folder.exists()
    cold = CliRunner().invoke(cli.main, args)
    warm = CliRunner().invoke(cli.main, args)
    assert cold.exit_code == warm.exit_code == 0 and cold.output == warm.output == skipped.output
    assert entries(folder)["document"]
    shutil.rmtree(folder)  # deleting the cache is always safe
    assert CliRunner().invoke(cli.main, args).output == skipped.output
