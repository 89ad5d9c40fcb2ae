"""Peak memory and wall time of `zhidu batch` on a large generated file.

    python benchmarks/batch_rss.py                       # 1,000,000 cases, --jobs 2
    python benchmarks/batch_rss.py --count 50000 --jobs 1
    python benchmarks/batch_rss.py --cases big.jsonl     # reuse a file instead of generating one

Generates `--count` cases (benchmarks/generate_cases.py, streamed to a temporary file; `--keep` keeps it),
then runs the repository's `zhidu` command (cli.py, run with this Python)

    zhidu batch pcb-manufacturer FILE --jobs N [--now ISO] [--engine E]

with its decisions going to /dev/null, and samples the whole process tree every 50 ms (`--interval`): the
batch process and all its children (the worker processes), summing their RSS. Reported: wall time,
cases/s, peak RSS of the tree, peak RSS of the parent alone, the most processes seen at once, the exit
status and the summary line batch prints on stderr. RSS counts pages shared after fork once per process,
so the tree sum over-states the physical memory somewhat; `--pss` also samples PSS (shared pages divided
among their users), which is slower to read.

Output path: the decisions go to the batch's stdout, which this script connects to /dev/null. It does NOT
pass `-o /dev/null`: `-o PATH` (c14c774) writes a temporary file beside PATH and renames it over PATH at
the end, which for /dev/null would write the whole output into /dev and replace the device node (as root).
`--output PATH` passes `-o PATH` for a regular file instead.

Until `zhidu batch` exists the script prints "SKIP: ..." and exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import generate_cases  # noqa: E402

# Run the repository's cli.py, whatever (if anything) is installed as `zhidu`.
ZHIDU = [sys.executable, "-c", "import sys; sys.argv[0] = 'zhidu'; import cli; cli.run()"]

try:
    import psutil
except ImportError:  # pragma: no cover - /proc fallback below
    psutil = None


def batch_available() -> tuple[bool, str]:
    try:
        probe = subprocess.run(ZHIDU + ["batch", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"cannot run cli.py: {exc}"
    if probe.returncode != 0:
        last = (probe.stderr or probe.stdout).strip().splitlines()[-1:] or ["(no output)"]
        return False, f"`zhidu batch --help` exited {probe.returncode}: {last[0]}"
    return True, ""


# ── sampling the process tree ───────────────────────────────────────────────────────────────────────
def _proc_children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out.extend(int(c) for c in fh.read().split())
    except OSError:
        pass
    return out


def _proc_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def sample_tree(pid: int, with_pss: bool) -> tuple[int, int, int, int]:
    """(RSS of the tree, RSS of the root, processes, PSS of the tree or 0) in bytes."""
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            procs = [root] + root.children(recursive=True)
        except psutil.NoSuchProcess:
            return 0, 0, 0, 0
        total = root_rss = pss = 0
        for p in procs:
            try:
                if with_pss:
                    info = p.memory_full_info()
                    pss += info.pss
                else:
                    info = p.memory_info()
                total += info.rss
                if p.pid == pid:
                    root_rss = info.rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total, root_rss, len(procs), pss
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        todo.extend(_proc_children(current))
    sizes = {p: _proc_rss(p) for p in pids}
    return sum(sizes.values()), sizes.get(pid, 0), len(pids), 0


def measure(cmd: list[str], interval: float, with_pss: bool, stdout, stderr_path: Path) -> dict:
    with open(stderr_path, "w", encoding="utf-8") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=stdout, stderr=err, stdin=subprocess.DEVNULL)
        peak = peak_root = peak_procs = peak_pss = samples = 0
        while proc.poll() is None:
            total, root, count, pss = sample_tree(proc.pid, with_pss)
            peak, peak_root = max(peak, total), max(peak_root, root)
            peak_procs, peak_pss = max(peak_procs, count), max(peak_pss, pss)
            samples += 1
            time.sleep(interval)
        wall = time.perf_counter() - start
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "peak_rss_tree": peak,
        "peak_rss_parent": peak_root,
        "peak_processes": peak_procs,
        "peak_pss_tree": peak_pss,
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="peak RSS and wall time of zhidu batch on generated cases")
    ap.add_argument("--count", type=int, default=1_000_000, help="cases to generate (default 1,000,000)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", help="an existing JSON Lines file instead of generating one")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--engine", help="pass --engine to batch (default: batch's own default)")
    ap.add_argument("--now", help="pass --now ISO to batch (default: not passed)")
    ap.add_argument("--output", help="pass -o PATH (a regular file) instead of sending stdout to /dev/null")
    ap.add_argument("--interval", type=float, default=0.05, help="sampling interval in seconds (default 0.05)")
    ap.add_argument("--pss", action="store_true", help="also sample PSS (slower to read)")
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    args = ap.parse_args(argv)

    ok, why = batch_available()
    if not ok:
        print(f"SKIP: zhidu batch is not available yet ({why}); nothing measured.")
        return 0
    if args.output and Path(args.output).exists() and not Path(args.output).is_file():
        print(f"refusing -o {args.output}: not a regular file (batch renames its output over the target)")
        return 2

    tmpdir = tempfile.mkdtemp(prefix="zhidu-batch-rss-")
    cases = Path(args.cases) if args.cases else Path(tmpdir) / "cases.jsonl"
    try:
        if not args.cases:
            t0 = time.perf_counter()
            generate_cases.write_cases(cases, args.count, args.seed)
            print(
                f"generated {args.count:,} cases in {time.perf_counter() - t0:.1f} s → {cases} "
                f"({cases.stat().st_size / 2**20:,.0f} MiB)"
            )
        lines = args.count if not args.cases else sum(1 for _ in open(cases, encoding="utf-8"))
        cmd = ZHIDU + ["batch", "pcb-manufacturer", str(cases), "--jobs", str(args.jobs)]
        if args.engine:
            cmd += ["--engine", args.engine]
        if args.now:
            cmd += ["--now", args.now]
        if args.output:
            cmd += ["-o", args.output]
        shown = " ".join(["zhidu"] + cmd[len(ZHIDU) :]) + ("" if args.output else " > /dev/null")
        print(f"running: {shown}")
        stderr_path = Path(tmpdir) / "stderr.txt"
        with open(os.devnull, "w") as devnull:
            result = measure(cmd, args.interval, args.pss, devnull, stderr_path)
        summary = [
            ln
            for ln in stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()
            if ln.startswith('{"summary"')
        ]
        mib = 2**20
        print(f"exit status      {result['returncode']}")
        print(f"cases            {lines:,}")
        print(f"wall time        {result['wall_s']:.1f} s  ({lines / result['wall_s']:,.0f} cases/s)")
        print(
            f"peak RSS (tree)  {result['peak_rss_tree'] / mib:,.0f} MiB  "
            f"(parent alone {result['peak_rss_parent'] / mib:,.0f} MiB; up to {result['peak_processes']} "
            f"processes; {result['samples']} samples every {args.interval * 1000:.0f} ms)"
        )
        if args.pss:
            print(f"peak PSS (tree)  {result['peak_pss_tree'] / mib:,.0f} MiB")
        if summary:
            print(f"batch summary    {json.loads(summary[-1])['summary']}")
        elif result["returncode"]:
            tail = stderr_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
            print("batch stderr (last lines):\n  " + "\n  ".join(tail))
        return 0 if result["returncode"] in (0, 7) else 1
    finally:
        if args.keep:
            print(f"kept {tmpdir}")
        else:
            for leftover in Path(tmpdir).glob("*"):
                leftover.unlink(missing_ok=True)
            Path(tmpdir).rmdir()


if __name__ == "__main__":
    sys.exit(main())
