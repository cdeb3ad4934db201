"""Where the time goes: ``perf record`` (cpu-clock sampling; this VM has no hardware
counters) and ``valgrind --tool=callgrind`` (instruction counts, stable on a shared
machine) of our reader + flows and of the C loop, top symbols only.

perf samples only the timed part of a Python tool (benchmarks/child.py enables and
disables it through ``perf record --control`` fifos), so start-up and imports do not
show. callgrind counts the whole process; its per-packet functions dominate on the
300 k-packet capture, and the report gives their instructions per packet.
"""

from __future__ import annotations

import os
import re
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


def perf_top(argv: list[str], path: Path, *, controlled: bool) -> list[str]:
    """Top symbols by cpu-clock samples, as ``perf report`` prints them; ``controlled``:
    the tool enables sampling around its timed part only."""
    if shutil.which("perf") is None:
        return ["perf not installed"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        env = dict(os.environ)
        control: list[str] = []
        if controlled:
            ctl, ack = Path(tmp) / "ctl", Path(tmp) / "ack"
            os.mkfifo(ctl)
            os.mkfifo(ack)
            env |= {"DSBENCH_PERF_CTL": str(ctl), "DSBENCH_PERF_ACK": str(ack)}
            control = ["-D", "-1", f"--control=fifo:{ctl},{ack}"]
        warm([path])
        rec = subprocess.run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "1999",
                              *control, "-o", str(data), "--", *argv],
                             capture_output=True, text=True, env=env)
        if rec.returncode != 0:
            return [f"perf record failed: {rec.stderr.strip()[-200:]}"]
        rep = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--sort",
                              "dso,symbol", "--percent-limit", "0.7"],
                             capture_output=True, text=True)
    return [line.rstrip() for line in rep.stdout.splitlines()
            if line.strip() and not line.startswith("#")][:TOP]


def callgrind_top(argv: list[str], packets: int) -> list[str]:
    """Top functions by instructions executed (exclusive), as ``callgrind_annotate`` prints,
    each line prefixed with its instructions per packet."""
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
    return [_per_packet(line, packets) for line in lines[start:start + TOP + 4]]


def _per_packet(line: str, packets: int) -> str:
    m = re.match(r"\s*([\d,]+)", line)
    if not m:
        return line
    return f"{int(m.group(1).replace(',', '')) / packets:9.1f}/pkt {line.strip()}"


def run(data: Path, specs: dict[str, CaptureSpec], compiled_c: Path) -> dict[str, Any]:
    """perf on the timed captures, callgrind on a 300 k-packet one."""
    print("profiling ...", file=sys.stderr, flush=True)
    sets = datasets.ensure(data, specs, ["mixed", "small"])
    small = datasets.ensure(data, {"callgrind": CALLGRIND_SPEC}, ["callgrind"])["callgrind"]
    out: dict[str, Any] = {"perf": {}, "callgrind": {"capture": small.describe()}}
    for name, ds in sets.items():
        out["perf"][name] = {
            "ours: reader + flows": perf_top(_child("flows", ds.path), ds.path,
                                             controlled=True),
            "ours: reader": perf_top(_child("reader", ds.path), ds.path, controlled=True),
            "C loop": perf_top([str(compiled_c), str(ds.path)], ds.path, controlled=False),
        }
    n = small.packets
    out["callgrind"]["ours: reader + flows"] = callgrind_top(_child("flows", small.path), n)
    out["callgrind"]["ours: reader"] = callgrind_top(_child("reader", small.path), n)
    out["callgrind"]["C loop"] = callgrind_top([str(compiled_c), str(small.path)], n)
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
