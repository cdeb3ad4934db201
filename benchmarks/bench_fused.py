"""Reader + flow table against the C loop, quickly: the performance engineer's loop.

    .venv/bin/python -m benchmarks.bench_fused                 # mixed + small, 2 M packets
    .venv/bin/python -m benchmarks.bench_fused --scale 10 --runs 7
    .venv/bin/python -m benchmarks.bench_fused --callgrind     # instructions per packet

Wall clock: the C loop (compiled on the spot, its own timer), ``read_flows`` and the
reader alone (``read_batches``), alternated run by run on the same warm file, medians
and ratios to the C loop (same file, same minute: the machine is shared and noisy).
``--callgrind``: instructions per packet of the C loop and of ``read_flows``, start-up
cancelled out (benchmarks/profile.py); stable whatever else runs on the machine.
The full suite with every peer and the flow check is benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import datasets, profile
from benchmarks.measure import median, warm

HERE = Path(__file__).resolve().parent
C_SOURCE = HERE / "c_loop" / "flowloop.c"


def compile_c_loop(out_dir: Path) -> Path:
    binary = out_dir / "flowloop"
    subprocess.run(["cc", "-O2", "-o", str(binary), str(C_SOURCE)], check=True)
    return binary


def c_loop_seconds(binary: Path, path: Path) -> float:
    out = subprocess.run([str(binary), str(path)], capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout)["seconds"])


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def read_flows_once(path: Path) -> None:
    from analyzer.flows import read_flows

    read_flows(str(path))


def reader_once(path: Path) -> None:
    from analyzer.capture import read_batches

    for _batch in read_batches(str(path), reuse_buffers=True):
        pass


def wall_clock(binary: Path, ds: datasets.Dataset, runs: int) -> dict[str, float]:
    tools: dict[str, Callable[[], float]] = {
        "C loop": lambda: c_loop_seconds(binary, ds.path),
        "read_flows": lambda: timed(lambda: read_flows_once(ds.path)),
        "reader": lambda: timed(lambda: reader_once(ds.path)),
    }
    seconds: dict[str, list[float]] = {name: [] for name in tools}
    for _ in range(runs):
        for name, run in tools.items():
            warm([ds.path])
            seconds[name].append(run())
    return {name: median(values) for name, values in seconds.items()}


def report_wall(ds: datasets.Dataset, seconds: dict[str, float]) -> None:
    c = seconds["C loop"]
    print(f"\n{ds.name}: {ds.describe()}")
    for name, s in seconds.items():
        print(f"  {name:11} {ds.packets / s / 1e6:7.2f} M packets/s   {c / s:5.2f}x the C loop")


def callgrind(binary: Path, data: Path) -> None:
    cg = datasets.ensure(data, profile.CALLGRIND_SPECS, list(profile.CALLGRIND_SPECS))
    big, small = cg["callgrind_big"], cg["callgrind_small"]
    os.environ["DSBENCH_NO_CHECK"] = "1"
    for name, make_argv in (
        ("C loop", lambda p: [str(binary), str(p)]),
        ("read_flows", lambda p: [sys.executable, "-m", "benchmarks.child", "flows", str(p)]),
    ):
        lines = profile.callgrind_per_packet(make_argv, big, small)
        print(f"\ncallgrind, {name} ({big.describe()} minus {small.describe()}):")
        print("\n".join(lines[:15]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--scale", type=int, default=1, help="divide every count by K")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=["mixed", "small"])
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        binary = compile_c_loop(Path(tmp))
        if args.callgrind:
            callgrind(binary, args.data)
            return 0
        sets = datasets.ensure(args.data, datasets.specs(args.scale), args.only)
        for ds in sets.values():
            report_wall(ds, wall_clock(binary, ds, args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
