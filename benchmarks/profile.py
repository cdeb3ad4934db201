"""Where the time goes: ``perf record`` (cpu-clock sampling; this VM has no hardware
counters) and ``valgrind --tool=callgrind`` (instruction counts, stable on a shared
machine) of our reader + flows and of the C loop, top symbols only.

perf samples only the timed part of a Python tool (benchmarks/child.py enables and
disables it through ``perf record --control`` fifos), so start-up and imports do not
show. callgrind counts the whole process; its per-packet functions dominate on the
difference between a 300 k-packet and a 60 k-packet run, divided by 240 k packets, gives
each function's instructions per packet with start-up cancelled out.
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
CALLGRIND_SPECS = {
    "callgrind_big": CaptureSpec(300_000, 15_000, small=True, concurrency=1500, seed=6),
    "callgrind_small": CaptureSpec(60_000, 3_000, small=True, concurrency=1500, seed=6),
}


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


def callgrind_counts(argv: list[str]) -> dict[str, int] | str:
    """Instructions executed per function (exclusive), or why callgrind could not run."""
    if shutil.which("valgrind") is None:
        return "valgrind not installed"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # a fixed string-hash seed: Python's start-up then executes the same instructions
        # every time (with random seeds it varies by ~20 M, ~80 per packet here)
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              *argv], capture_output=True, text=True,
                             env=dict(os.environ, PYTHONHASHSEED="0"))
        if run.returncode != 0:
            return f"callgrind failed: {run.stderr.strip()[-200:]}"
        ann = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no", str(out)],
                             capture_output=True, text=True)
    counts: dict[str, int] = {}
    for line in ann.stdout.splitlines():
        m = _ANNOTATE_LINE.match(line)
        if m:
            name = _short_name(m.group(3))
            counts[name] = counts.get(name, 0) + int(m.group(1).replace(",", ""))
    return counts


_ANNOTATE_LINE = re.compile(r"\s*([\d,]+) \(\s*([\d.]+)%\)\s+(.*)$")


def _short_name(text: str) -> str:
    """'file:function [object]' -> 'function [object file name]'."""
    where, _, obj = text.rpartition(" [") if text.endswith("]") else (text, "", "")
    function = where.split(":", 1)[1] if ":" in where else where
    return f"{function} [{Path(obj.rstrip(']')).name}]" if obj else function


def callgrind_per_packet(make_argv: Any, big: Any, small: Any) -> list[str]:
    """Instructions per packet by function: the difference between a run on ``big`` and
    one on ``small`` divided by the difference in packets, so start-up cancels out."""
    counts = [callgrind_counts(make_argv(ds.path)) for ds in (big, small)]
    if isinstance(counts[0], str) or isinstance(counts[1], str):
        return [c for c in counts if isinstance(c, str)]
    packets = big.packets - small.packets
    per = {name: (n - counts[1].get(name, 0)) / packets for name, n in counts[0].items()}
    total = per.pop("PROGRAM TOTALS", sum(per.values()))
    top = sorted(per.items(), key=lambda kv: -kv[1])[:TOP]
    return [f"{total:8.1f} instructions/packet in all"] + [
        f"{v:8.1f}  {name}" for name, v in top if v >= 0.5
    ]


def run(data: Path, specs: dict[str, CaptureSpec], compiled_c: Path) -> dict[str, Any]:
    """perf on the timed captures, callgrind on a 300 k-packet one."""
    print("profiling ...", file=sys.stderr, flush=True)
    # the children leave out the (untimed) flow fingerprint, which would blur the profile
    os.environ["DSBENCH_NO_CHECK"] = "1"
    try:
        return _profile_all(data, specs, compiled_c)
    finally:
        del os.environ["DSBENCH_NO_CHECK"]


def _profile_all(data: Path, specs: dict[str, CaptureSpec], compiled_c: Path
                 ) -> dict[str, Any]:
    sets = datasets.ensure(data, specs, ["mixed", "small", "manyflows"])
    cg = datasets.ensure(data, CALLGRIND_SPECS, list(CALLGRIND_SPECS))
    big, small = cg["callgrind_big"], cg["callgrind_small"]
    out: dict[str, Any] = {"perf": {}, "callgrind": {
        "capture": f"{big.describe()} minus {small.describe()}"}}
    for name, ds in sets.items():
        out["perf"][name] = {
            "ours: reader + flows": perf_top(_child("flows", ds.path), ds.path,
                                             controlled=True),
            "ours: reader": perf_top(_child("reader", ds.path), ds.path, controlled=True),
            "C loop": perf_top([str(compiled_c), str(ds.path)], ds.path, controlled=False),
        }
    for tool, make_argv in (("ours: reader + flows", lambda p: _child("flows", p)),
                            ("ours: reader", lambda p: _child("reader", p)),
                            ("C loop", lambda p: [str(compiled_c), str(p)])):
        out["callgrind"][tool] = callgrind_per_packet(make_argv, big, small)
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
