"""Engines per Python: python everywhere (the default), durable-rules where it imports, a clear refusal elsewhere."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

import cli
import engine
from engine import engines
from engine.calendar import holiday_coverage
from tests.conftest import DURABLE_MISSING, NOW, ROOT

SAMPLE = str(ROOT / "policies/pcb-manufacturer/examples/quality-complaint.yaml")
CASE = {"facts": {"received_at": "2024-09-03T09:30:00+08:00"}}
MISSING = "durable-rules is not available on Python 3.13"


def run(*args: str):
    return CliRunner().invoke(cli.main, list(args), catch_exceptions=False)


@pytest.fixture
def without_durable(monkeypatch):
    """This Python as 3.13 sees it: durable-rules cannot run."""
    monkeypatch.setattr(engines, "durable_unavailable", lambda: MISSING)
    monkeypatch.setattr(engine, "durable_unavailable", lambda: MISSING)
    monkeypatch.setattr(engine, "ENGINES", ("python",))


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(("evaluate", "pcb-manufacturer", SAMPLE, "--now", NOW, "--engine", "durable"), id="evaluate"),
        pytest.param(("test", "pcb-manufacturer", "--engine", "durable"), id="test"),
        pytest.param(("batch", "pcb-manufacturer", "-", "--engine", "durable"), id="batch"),
        pytest.param(
            ("render", "pcb-manufacturer", SAMPLE, "--form", "complaint-handling-form", "--engine", "durable"),
            id="render",
        ),
    ],
)
def test_engine_durable_where_it_cannot_run_is_a_usage_error(without_durable, args) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert "durable-rules is not available on Python 3.13; use --engine python" in result.output
    assert "Traceback" not in result.output


@pytest.mark.skipif(DURABLE_MISSING is None, reason="durable-rules runs on this Python")
def test_engine_durable_is_refused_on_this_python() -> None:
    result = run("evaluate", "pcb-manufacturer", SAMPLE, "--now", NOW, "--engine", "durable")
    assert result.exit_code == 2
    assert f"Python {sys.version_info.major}.{sys.version_info.minor}" in result.output


def test_the_api_refuses_durable_with_a_zhidu_error(without_durable, pcb) -> None:
    with pytest.raises(engine.EngineUnavailable) as info:
        pcb.evaluate(CASE, NOW, engine="durable")
    assert isinstance(info.value, engine.ZhiduError) and info.value.exit_code == 2
    assert str(info.value) == f"{MISSING}: use engine 'python'"


def test_an_unknown_engine_is_named(pcb) -> None:
    with pytest.raises(engine.EvaluationError, match="unknown engine 'drools' \\(choose durable or python\\)"):
        pcb.evaluate(CASE, NOW, engine="drools")


def test_zhidu_test_says_when_only_the_python_engine_checked(without_durable) -> None:
    result = run("test", "pcb-manufacturer")
    assert result.exit_code == 0, result.output
    assert f"pcb-manufacturer: checked with the python engine only ({MISSING})" in result.output
    assert "[durable]" not in result.output


@pytest.mark.skipif(DURABLE_MISSING is not None, reason=DURABLE_MISSING or "")
def test_zhidu_test_cross_checks_both_engines_where_both_run() -> None:
    result = run("test", "pcb-manufacturer", "-v")
    assert result.exit_code == 0, result.output
    assert "[durable]" in result.output and "[python]" in result.output
    assert "checked with the python engine only" not in result.output


def test_the_default_engine_is_python(monkeypatch, pcb) -> None:
    from engine.backends import make_backend

    used: list[str] = []

    def recording(name, policy):
        used.append(name)
        return make_backend(name, policy)

    monkeypatch.setattr("engine.backends.make_backend", recording)
    assert run("evaluate", "pcb-manufacturer", SAMPLE, "--now", NOW).exit_code == 0
    fresh = engine.load_policy("pcb-manufacturer")  # a new Policy builds its backend again
    fresh.evaluate(CASE, NOW)
    assert used == ["python", "python"]


def test_version_names_engines_and_holiday_years() -> None:
    result = run("--version")
    assert result.exit_code == 0
    first, last = holiday_coverage()["cn"]
    assert result.output.startswith(f"zhidu {engine.__version__} (Python {sys.version.split()[0]})")
    assert "python: the pure-Python evaluator (default)" in result.output
    durable = next(line for line in result.output.splitlines() if line.strip().startswith("durable:"))
    if DURABLE_MISSING:
        assert durable.strip() == f"durable: unavailable: {DURABLE_MISSING}"
    else:
        assert durable.strip().startswith("durable: durable-rules 2.0.28")
    assert f"cn: {first}-{last}, mainland China" in result.output


def test_holiday_coverage_matches_the_calendar_data() -> None:
    from engine.calendar import CN_YEARS

    first, last = holiday_coverage()["cn"]
    assert (first, last) == (min(CN_YEARS), max(CN_YEARS)) and first <= 2024 <= last


def test_a_durable_rules_that_does_not_import_is_a_clear_error(monkeypatch) -> None:
    # Installed but broken (say, a C extension built for another Python): refused by name, not a crash.
    monkeypatch.setitem(sys.modules, "engine.backends.durable_adapter", None)
    monkeypatch.setattr(engines, "durable_unavailable", lambda: None)
    fresh = engine.load_policy("pcb-manufacturer")
    with pytest.raises(engine.EngineUnavailable, match="durable-rules does not import on this Python"):
        fresh.evaluate(CASE, NOW, engine="durable")
