"""Where the time goes: ``perf record`` (cpu-clock sampling; this VM has no hardware
counters) and ``valgrind --tool=callgrind`` (instruction counts, stable on a shared
machine) of our reader + flows and of the C loop, top symbols only.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import datasets
from benchmarks.datagen import CaptureSpec
from benchmarks.measure import warm

TOP = 25
CALLGRIND_SPEC = CaptureSpec(300_000, 15_000, small=True, concurrency=1500, seed=6)


def _child(tool: str, path: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.child", tool, str(path)]


def perf_top(argv: list[str], path: Path) -> list[str]:
    """Top symbols by cpu-clock samples, as ``perf report`` prints them."""
    if shutil.which("perf") is None:
        return ["perf not installed"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        warm([path])
        rec = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999", "-o",
                              str(data), "--", *argv], capture_output=True, text=True)
        if rec.returncode != 0:
            return [f"perf record failed: {rec.stderr.strip()[-200:]}"]
        rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--sort",
                              "dso,symbol", "--percent-limit", "0.7"],
                             capture_output=True, text=True)
    return [line.rstrip() for line in rep.stdout.splitlines()
            if line.strip() and not line.startswith("#")][:TOP]


def callgrind_top(argv: list[str]) -> list[str]:
    """Top functions by instructions executed (exclusive), as ``callgrind_annotate`` prints."""
    if shutil.which("valgrind") is None:
        return ["valgrind not installed"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              *argv], capture_output=True, text=True)
        if run.returncode != 0:
            return [f"callgrind failed: {run.stderr.strip()[-200:]}"]
        ann = subprocess.run(["callgrind_annotate", "--threshold=97", str(out)],
                             capture_output=True, text=True)
    lines = [line.rstrip() for line in ann.stdout.splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if "PROGRAM TOTALS" in line), 0)
    return lines[start:start + TOP + 4]


def run(data: Path, specs: dict[str, CaptureSpec], compiled_c: Path) -> dict[str, Any]:
    """perf on the timed captures, callgrind on a 300 k-packet one."""
    print("profiling ...", file=sys.stderr, flush=True)
    sets = datasets.ensure(data, specs, ["mixed", "small"])
    small = datasets.ensure(data, {"callgrind": CALLGRIND_SPEC}, ["callgrind"])["callgrind"]
    out: dict[str, Any] = {"perf": {}, "callgrind": {"capture": small.describe()}}
    for name, ds in sets.items():
        out["perf"][name] = {
            "ours: reader + flows": perf_top(_child("flows", ds.path), ds.path),
            "ours: reader": perf_top(_child("reader", ds.path), ds.path),
            "C loop": perf_top([str(compiled_c), str(ds.path)], ds.path),
        }
    out["callgrind"]["ours: reader + flows"] = callgrind_top(_child("flows", small.path))
    out["callgrind"]["ours: reader"] = callgrind_top(_child("reader", small.path))
    out["callgrind"]["C loop"] = callgrind_top([str(compiled_c), str(small.path)])
    return out


def format_report(prof: dict[str, Any]) -> str:
    parts = ["### Profile"]
    for name, tools in prof["perf"].items():
        for tool, lines in tools.items():
            parts.append(f"\nperf (cpu-clock) {name}, {tool}:\n" + "\n".join(lines))
    cg = prof["callgrind"]
    for tool, lines in cg.items():
        if tool != "capture":
            parts.append(f"\ncallgrind ({cg['capture']}), {tool}:\n" + "\n".join(lines))
    return "\n".join(parts)
