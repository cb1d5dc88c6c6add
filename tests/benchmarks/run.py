"""Run the benchmarks: `python -m tests.benchmarks.run [name ...]` (what `make bench` does).

Every `tests/benchmarks/bench_<name>.py` runs in its own subprocess (clean settings and
environment), its output streamed as it comes. At the end the `BENCH ...` lines of all of
them are repeated together, each marked MISSED when its ratio is below its target. The exit
status is non-zero when a benchmark crashed or failed a correctness check (it exits non-zero
itself), never merely for missing a target. Names are given without the `bench_` prefix
(`python -m tests.benchmarks.run ingest`). BENCH_SCALE=0.1 runs everything smaller.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
PREFIX = "bench_"


def discover() -> list[str]:
    return sorted(path.stem[len(PREFIX) :] for path in HERE.glob(f"{PREFIX}*.py"))


def parse_bench_line(line: str) -> dict[str, str] | None:
    """`BENCH <name> <value> <unit> ratio=<r> target=<t> [k=v ...]` → its fields, or None."""
    parts = line.split()
    if len(parts) < 6 or parts[0] != "BENCH":
        return None
    fields = {"name": parts[1], "value": parts[2], "unit": parts[3]}
    for part in parts[4:]:
        key, _, value = part.partition("=")
        fields[key] = value
    if "ratio" not in fields or "target" not in fields:
        return None
    return fields


def missed(fields: dict[str, str]) -> bool:
    try:
        return float(fields["ratio"]) < float(fields["target"])
    except ValueError:
        return True


def run_one(name: str) -> tuple[int, list[str], float]:
    """Run bench_<name> in a subprocess, streaming its output; (exit code, BENCH lines, s)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", f"tests.benchmarks.{PREFIX}{name}"],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    bench_lines = []
    assert process.stdout is not None
    for line in process.stdout:
        print(f"[{name}] {line}", end="", flush=True)
        if line.startswith("BENCH "):
            bench_lines.append(line.strip())
    return process.wait(), bench_lines, time.monotonic() - started


def main(argv: list[str]) -> int:
    available = discover()
    wanted = [arg.removeprefix(PREFIX).removesuffix(".py") for arg in argv] or available
    unknown = [name for name in wanted if name not in available]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available)}")
        return 2
    print(f"benchmarks: {', '.join(wanted)}  BENCH_SCALE={os.environ.get('BENCH_SCALE', '1')}")
    summary: list[str] = []
    failed = []
    for name in wanted:
        print(f"=== {name}", flush=True)
        try:
            code, bench_lines, seconds = run_one(name)
        except KeyboardInterrupt:
            print(f"interrupted during {name}")
            return 130
        if code != 0 or not bench_lines:
            why = f"exit {code}" if code != 0 else "no BENCH line"
            failed.append(name)
            summary.append(f"FAILED {name} ({why}, {seconds:.0f} s)")
            summary += [f"  {line}" for line in bench_lines]
            continue
        for line in bench_lines:
            fields = parse_bench_line(line)
            summary.append(f"{line}  MISSED" if fields is None or missed(fields) else line)
    print("\n=== summary")
    for line in summary:
        print(line)
    if failed:
        print(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
