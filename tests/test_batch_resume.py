"""`zhidu batch -o`: crash-clean and resumable; kill -9 at random points, resume, same lines as a clean run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from engine.batch_file import partial_path
from tests.conftest import NOW, ROOT

ARGS = ["--now", NOW, "--engine", "python"]


def write_cases(path: Path, n: int) -> Path:
    causes = ["quality_abnormal", "human_error", "other"]
    rows = []
    for i in range(n):
        facts = {
            "received_at": "2024-09-03T09:30:00+08:00",
            "cause": causes[i % 3],
            "upheld": i % 2 == 0,
            "resolution": "allowance",
            "loss_amount": f"{i * 37}.50",
        }
        rows.append(json.dumps({"case_id": f"c{i}", "facts": facts}))
        if i % 97 == 5:
            rows.append("{not json")  # error records must resume alike too
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def zhidu(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import cli; cli.run()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.fixture
def clean(tmp_path: Path) -> tuple[Path, bytes]:
    cases = write_cases(tmp_path / "cases.jsonl", 120)
    out = tmp_path / "clean.jsonl"
    result = CliRunner().invoke(cli.main, ["batch", "pcb-manufacturer", str(cases), "-o", str(out), *ARGS])
    assert result.exit_code == 7, result.output  # the bad lines
    return cases, out.read_bytes()


@pytest.mark.parametrize("keep", [0, 1, 57, "all"], ids=["nothing", "one-line", "cut-mid-line", "every-line"])
def test_resume_continues_after_the_last_complete_line(tmp_path, clean, keep):
    cases, expected = clean
    lines = expected.splitlines(keepends=True)
    done = len(lines) if keep == "all" else int(keep)
    out = tmp_path / "out.jsonl"
    partial = partial_path(out)
    # What a crashed run leaves: complete lines, then half a line that was being written.
    partial.write_bytes(b"".join(lines[:done]) + (lines[done][:40] if done < len(lines) else b""))
    first = CliRunner().invoke(cli.main, ["batch", "pcb-manufacturer", str(cases), "-o", str(out), *ARGS])
    assert first.exit_code == 7 and out.read_bytes() == expected  # without --resume: found, removed, redone
    out.unlink()
    partial.write_bytes(b"".join(lines[:done]) + (lines[done][:40] if done < len(lines) else b""))
    meta = partial.with_name(partial.name + ".json")
    meta.write_text(
        json.dumps(
            {
                "pack": str(ROOT / "policies" / "pcb-manufacturer"),
                "cases": str(cases),
                "engine": "python",
                "now": NOW,
                "default_now": NOW,
            }
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.main, ["batch", "pcb-manufacturer", str(cases), "-o", str(out), "--resume", *ARGS])
    assert result.exit_code == 7, result.output
    assert out.read_bytes() == expected
    summary = json.loads(result.stderr.strip().splitlines()[-1])["summary"]
    assert summary["total"] == len(lines) and summary["errors"] == expected.count(b'"error"')
    assert leftovers(tmp_path) == []


def test_resume_refuses_other_settings(tmp_path, clean):
    cases, expected = clean
    out = tmp_path / "out.jsonl"
    partial = partial_path(out)
    partial.write_bytes(expected.splitlines(keepends=True)[0])
    settings = {"pack": "elsewhere", "cases": str(cases), "engine": "python", "now": NOW, "default_now": NOW}
    partial.with_name(partial.name + ".json").write_text(json.dumps(settings), encoding="utf-8")
    result = CliRunner().invoke(cli.main, ["batch", "pcb-manufacturer", str(cases), "-o", str(out), "--resume", *ARGS])
    assert result.exit_code == 2 and "cannot resume: pack differ" in result.output


def test_kill_9_at_random_points_then_resume_gives_the_clean_output(tmp_path):
    """The issue's proof: a bounded number of kills at random moments of a real run, each followed by
    --resume; the result is byte for byte the clean run's, and nothing is left beside it."""
    cases = write_cases(tmp_path / "cases.jsonl", 1500)
    clean_out = tmp_path / "clean.jsonl"
    started = time.monotonic()
    run = zhidu("batch", "pcb-manufacturer", str(cases), "-o", str(clean_out), *ARGS)
    assert run.wait(timeout=300) == 7, run.stderr.read() if run.stderr else ""
    took = time.monotonic() - started
    expected = clean_out.read_bytes()
    rng = random.Random(14)
    out = tmp_path / "out.jsonl"
    kills = 0
    for attempt in range(3):
        resume = ["--resume"] if attempt else []
        proc = zhidu("batch", "pcb-manufacturer", str(cases), "-o", str(out), *resume, *ARGS)
        try:
            proc.wait(timeout=rng.uniform(0.3, 0.95) * took)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            kills += 1
        if out.exists():
            break
    final = zhidu("batch", "pcb-manufacturer", str(cases), "-o", str(out), "--resume", *ARGS)
    assert final.wait(timeout=300) == 7
    assert out.read_bytes() == expected
    assert leftovers(tmp_path) == []
    assert kills >= 1  # the test killed at least one run mid-way (else it proved nothing)


def test_sigterm_removes_the_partial_output(tmp_path):
    cases = write_cases(tmp_path / "cases.jsonl", 4000)
    out = tmp_path / "out.jsonl"
    proc = zhidu("batch", "pcb-manufacturer", str(cases), "-o", str(out), *ARGS)
    deadline = time.monotonic() + 120
    while not partial_path(out).exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the batch finished before it could be interrupted")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    assert not out.exists() and leftovers(tmp_path) == []
