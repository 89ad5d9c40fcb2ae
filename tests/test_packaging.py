"""The installed distribution: only `zhidu` at the top of site-packages, and it runs from anywhere."""

from __future__ import annotations

import email
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.conftest import NOW, ROOT

SAMPLE = ROOT / "policies/pcb-manufacturer/examples/quality-complaint.yaml"
# What a wheel build needs from the source tree; copied so the build never writes into the checkout.
SOURCES = ("pyproject.toml", "README.md", "cli.py", "engine", "policies", "forms")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the source tree, offline (setuptools from the test dependencies)."""
    work = tmp_path_factory.mktemp("wheel")
    tree = work / "src"
    tree.mkdir()
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tree / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(work), str(tree)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)  # noqa: S603
    assert done.returncode == 0, done.stdout + done.stderr
    (built,) = work.glob("zhidu-*.whl")
    return built


@pytest.fixture(scope="module")
def unpacked(wheel: Path, tmp_path_factory) -> Path:
    """The wheel's contents as they lie in site-packages."""
    target = tmp_path_factory.mktemp("site")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
    return target


def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_installs_only_zhidu_at_the_top(wheel: Path) -> None:
    top = {name.split("/", 1)[0] for name in names(wheel)}
    assert top == {"zhidu", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}


@pytest.mark.parametrize(
    "source,installed",
    [
        pytest.param("engine", "zhidu", id="engine"),
        pytest.param("policies", "zhidu/policies", id="policies"),
        pytest.param("forms", "zhidu/form_definitions", id="forms"),
    ],
)
def test_every_source_file_is_in_the_wheel(wheel: Path, source: str, installed: str) -> None:
    # A new subpackage under engine/ that pyproject's package list misses fails here, by name.
    inside = set(names(wheel))
    wanted = {
        f"{installed}/{path.relative_to(ROOT / source).as_posix()}"
        for path in (ROOT / source).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert sorted(wanted - inside) == []


@pytest.mark.parametrize(
    "name",
    ["zhidu/cli.py", "zhidu/__main__.py", "zhidu/py.typed", "zhidu/schemas/policy.schema.json"],
)
def test_the_wheel_carries(wheel: Path, name: str) -> None:
    assert name in names(wheel)


def test_metadata_python_versions_and_durable_marker(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        meta = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        message = email.message_from_bytes(archive.read(meta))
        entry_points = archive.read(meta.replace("METADATA", "entry_points.txt")).decode()
    assert message["Requires-Python"] == ">=3.11"
    durable = [r for r in message.get_all("Requires-Dist") if r.startswith("durable-rules")]
    assert durable == ['durable-rules==2.0.28; python_version < "3.13"']
    assert re.search(r"^zhidu = zhidu\.cli:run$", entry_points, re.M)


def run_installed(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python with the unpacked wheel as the only zhidu, from a folder outside the repository.

    -S skips site-packages' .pth files, so an editable install of this checkout cannot fill in what the
    wheel lacks; the dependencies' folder is put back on the path by hand."""
    libraries = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *libraries])}
    cmd = [sys.executable, "-S", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603


@pytest.mark.parametrize(
    "args,expect",
    [
        pytest.param(("-m", "zhidu", "--version"), "engines:", id="version"),
        pytest.param(("-m", "zhidu", "validate", "pcb-manufacturer"), "pcb-manufacturer: ok", id="validate"),
        pytest.param(
            ("-m", "zhidu", "evaluate", "pcb-manufacturer", str(SAMPLE), "--now", NOW, "--format", "text"),
            "客户抱怨处理表",
            id="evaluate-with-forms",
        ),
        pytest.param(
            (
                "-m",
                "zhidu",
                "render",
                "pcb-manufacturer",
                str(SAMPLE),
                "--now",
                NOW,
                "--form",
                "complaint-handling-form",
            ),
            "<html",
            id="render-bundled-form",
        ),
    ],
)
def test_python_m_zhidu_runs_from_the_unpacked_wheel(unpacked: Path, tmp_path: Path, args, expect: str) -> None:
    done = run_installed(unpacked, tmp_path, *args)
    assert done.returncode == 0, done.stderr
    assert expect in done.stdout


def test_import_zhidu_is_the_public_api_and_nothing_generic_is_importable(unpacked: Path, tmp_path: Path) -> None:
    code = (
        "import importlib.util, zhidu\n"
        f"assert zhidu.__file__.startswith({str(unpacked)!r}), zhidu.__file__\n"
        "for name in ('load_policy', 'Policy', 'Decision', 'ZhiduError', 'PolicyError', 'CaseError',"
        " 'EvaluationError', 'EngineUnavailable', 'ENGINES', 'durable_unavailable'):\n"
        "    assert hasattr(zhidu, name), name\n"
        "print(sorted(n for n in ('engine', 'cli', 'policies', 'forms') if importlib.util.find_spec(n)))\n"
        "d = zhidu.load_policy('pcb-manufacturer').evaluate("
        f"{{'facts': {{'received_at': '2024-09-03T09:30:00+08:00'}}}}, {NOW!r})\n"
        "print(type(d).__name__)\n"
    )
    done = run_installed(unpacked, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "Decision"]


def console_script() -> Path | None:
    script = Path(sys.executable).parent / ("zhidu.exe" if os.name == "nt" else "zhidu")
    return script if script.exists() else None


@pytest.mark.skipif(console_script() is None, reason="zhidu is not installed in this environment (pip install .)")
@pytest.mark.parametrize(
    "args,expect",
    [
        pytest.param(("--version",), "holiday data:", id="version"),
        pytest.param(("validate", "pcb-manufacturer"), "pcb-manufacturer: ok", id="validate"),
    ],
)
def test_installed_console_script_runs_from_another_directory(tmp_path: Path, args, expect: str) -> None:
    done = subprocess.run(  # noqa: S603
        [str(console_script()), *args], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert expect in done.stdout


def test_cli_never_imports_engine_by_name() -> None:
    """cli.py is also zhidu/cli.py, where no `engine` package exists: it reaches the engine through _engine()."""
    text = (ROOT / "cli.py").read_text(encoding="utf-8")
    offenders = [line.strip() for line in text.splitlines() if re.match(r"\s*(import engine\b|from engine\b)", line)]
    assert offenders == [], 'write `y = _engine("x").y` instead of `from engine.x import y` in cli.py'


def test_engine_cli_is_the_top_level_cli() -> None:
    # The wheel's zhidu/cli.py comes from engine/cli.py, a link to cli.py: one file, two names.
    assert (ROOT / "engine" / "cli.py").resolve() == (ROOT / "cli.py").resolve()
