"""CPU time of `zhidu evaluate`: cold and warm pack cache, and --no-cache: python benchmarks/pack_cache.py."""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
NOW = "2024-09-10T10:00:00+08:00"


def big_table_pack(folder: Path, rows: int, hit: str) -> tuple[Path, Path]:
    """A pack with one large table (the generator of table_lint.py) and a case for it."""
    from table_lint import unique_table

    spec = dict(unique_table(rows), hit=hit)
    spec["inputs"] = [{"name": "kind", "expr": "kind"}, {"name": "amount", "expr": "amount"}]
    policy = {
        "id": "big",
        "version": "1",
        "facts": {"kind": {"type": "enum", "values": [f"k{i}" for i in range(10)]}, "amount": {"type": "money"}},
        "tables": [spec],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text(yaml.safe_dump(policy), encoding="utf-8")
    case = folder / "case.yaml"
    case.write_text("facts: {kind: k3, amount: 1234.5}\n", encoding="utf-8")
    return folder, case


def run(pack: str, case: str, cache: Path, *extra: str) -> float:
    """CPU seconds (user + system) of one `zhidu evaluate`: steadier than wall time on a shared machine."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import cli; cli.run()",
            "evaluate",
            pack,
            case,
            "--now",
            NOW,
            "--engine",
            "python",
            *extra,
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "ZHIDU_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)},
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zhidu-cache-bench-"))
    sample = ("pcb-manufacturer", str(ROOT / "policies" / "pcb-manufacturer" / "examples" / "quality-complaint.yaml"))
    subjects = {"sample (pcb-manufacturer)": sample}
    for rows, hit in ((2000, "first"), (5000, "unique")):
        pack, case = big_table_pack(work / f"{hit}{rows}", rows, hit)
        subjects[f"{rows}-row {hit} table"] = (str(pack), str(case))
    for name, (pack, case) in subjects.items():
        cold, warm, none = [], [], []
        for i in range(args.repeat):
            cache = work / f"cache-{name[:6]}-{i}"
            cold.append(run(pack, case, cache))
            warm.append(run(pack, case, cache))
            none.append(run(pack, case, cache, "--no-cache"))
        print(
            f"{name:28} CPU s, median: cold {statistics.median(cold):6.2f} s   warm {statistics.median(warm):6.2f} s"
            f"   --no-cache {statistics.median(none):6.2f} s"
        )


if __name__ == "__main__":
    main()
