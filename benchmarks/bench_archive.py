"""`dualstack batch` throughput with 1 and 2 local workers, speed-up, peak memory per worker.

    .venv/bin/python -m benchmarks.bench_archive                 # 2 M packets, 16 files
    .venv/bin/python -m benchmarks.bench_archive --packets 200000 --files 8 --runs 1

The archive is a generated capture (benchmarks/datagen.py: realistic frame sizes, flows
spread over time) split into rotated files with `editcap -c`, so connections span files
and the stitching is part of the work. Each run is a fresh `python -m analyzer batch`
process on a fresh OUTDIR, with the files in page cache (read before each run and
locked there for the whole benchmark); runs alternate 1, 2, 1, 2 ...
workers and the medians are reported with their ranges. Timed runs sample only the
driver's CPU time (/proc/PID/stat, ~25 us a sample). Memory comes from one more run of
each kind, untimed, in which the parent samples RssAnon of the driver and of every worker
process separately (/proc, as benchmarks/measure.py does), and each worker's Pss_Anon
(RssAnon counts the pages a forked worker still shares with the driver in full, Pss_Anon
by share); the peak of each worker is reported, plus the driver's. Timed runs leave
memory alone because a sample costs ~4 ms of CPU a process (smaps_rollup walks the page
tables of the mapped capture under the process's mmap lock): every 10 ms, that took a
large share of one of the machine's two cores from the job it measured.

Where the speed-up goes: the job's own phase times (read, stitch, verify) come from its
summary.json, and the writing's from its last line on stderr; the CPU time of the whole
process tree (getrusage of the reaped children) and of the driver alone (its last
sample) split the work into the driver's, which is serial (start-up and imports,
stitching, verify, writing Parquet), and the workers', which splits across them.
`speedup_bound` is the ratio those CPU seconds allow, with the driver serial and the
workers' share halved perfectly: (D + W) / (D + W/2). Last, one worker's task is timed
in this process (wall, CPU, and the content hash alone): a worker is one thread, so its
CPU and wall time should agree.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from benchmarks import datasets
from benchmarks.datagen import CaptureSpec
from benchmarks.measure import CACHED_BYTECODE, PageCacheLock, median, proc_status_kib, warm

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
SNAPSHOTS = sorted((ROOT / "captures" / "demo").glob("*.txt"))
SAMPLE_S = 0.01
WRITTEN = re.compile(r"written to .* in (?P<seconds>[0-9.]+) s")  # the job's last line


@dataclass
class Run:
    workers: int
    wall_s: float
    phases: dict[str, float]
    driver_peak_kib: int
    cpu_s: float  # user + system time of the whole process tree
    driver_cpu_s: float  # user + system time of the driver alone
    worker_peaks_kib: list[int] = field(default_factory=list)
    worker_peaks_pss_anon_kib: list[int] = field(default_factory=list)


def split_archive(capture: Path, directory: Path, files: int, packets: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    per_file = -(-packets // files)
    subprocess.run(["editcap", "-F", "pcap", "-c", str(per_file), str(capture),
                    str(directory / "rotated.pcap")], check=True, capture_output=True)
    return sorted(directory.glob("rotated_*.pcap"))


def run_batch(archive: Path, outdir: Path, workers: int, *, sample_memory: bool = False) -> Run:
    """One batch process; the driver's CPU time sampled, and with `sample_memory` the
    RssAnon and Pss_Anon of every process of its tree."""
    warm(sorted(archive.iterdir()))
    shutil.rmtree(outdir, ignore_errors=True)
    argv = [sys.executable, "-m", "analyzer", "batch", str(archive), "--snapshots",
            *map(str, SNAPSHOTS), "-o", str(outdir), "--workers", str(workers)]
    peaks: dict[int, int] = {}
    private: dict[int, int] = {}
    driver_cpu = 0.0
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=err,
                                   env=CACHED_BYTECODE)
        root = psutil.Process(process.pid)
        while process.poll() is None:
            driver_cpu = _own_cpu(root, driver_cpu)
            for member in [root, *_children(root)] if sample_memory else []:
                rss = proc_status_kib(member.pid).get("RssAnon", 0)
                peaks[member.pid] = max(peaks.get(member.pid, 0), rss)
                private[member.pid] = max(private.get(member.pid, 0), _pss_anon_kib(member.pid))
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"batch failed ({process.returncode}):\n{stderr}")
    summary = json.loads((outdir / "summary.json").read_text())
    phases = dict(summary["batch"]["seconds"])
    written = WRITTEN.search(stderr)  # summary.json is written before the writing ends
    if written:
        phases["write"] = float(written["seconds"])
    driver = peaks.pop(process.pid, 0)
    private.pop(process.pid, None)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(workers, wall, phases, driver, cpu, driver_cpu,
               sorted(peaks.values()), sorted(private.values()))


def _own_cpu(process: psutil.Process, last: float) -> float:
    """User + system CPU seconds of the process itself (not its children), or `last`
    once it is gone."""
    try:
        times = process.cpu_times()
    except psutil.Error:
        return last
    return times.user + times.system


def _pss_anon_kib(pid: int) -> int:
    """Pss_Anon of /proc/PID/smaps_rollup: the process's anonymous memory, pages it still
    shares with the forked driver counted by share (RssAnon counts them whole)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss_Anon:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--packets", type=int, default=2_000_000)
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args(argv)

    spec = CaptureSpec(args.packets, args.flows, small=False, concurrency=10_000, seed=1)
    capture = datasets.ensure(DATA, {"mixed": spec}, ["mixed"])["mixed"].path
    with tempfile.TemporaryDirectory(prefix="bench-archive-") as temp:
        archive = Path(temp) / "archive"
        pieces = split_archive(capture, archive, args.files, args.packets)
        size = sum(piece.stat().st_size for piece in pieces)
        print(f"archive: {len(pieces)} files, {size / 1e6:,.0f} MB, {args.packets:,} packets, "
              f"{args.flows:,} flows (split from {capture.name})")
        results: dict[int, list[Run]] = {1: [], 2: []}
        with PageCacheLock(pieces):  # a page left idle ~30 s is reclaimed on this machine
            for _ in range(args.runs):
                for workers in (1, 2):
                    results[workers].append(run_batch(archive, Path(temp) / "out", workers))
            memory = {workers: run_batch(archive, Path(temp) / "out", workers,
                                         sample_memory=True) for workers in (1, 2)}
        report = summarize(results, memory, args.packets, size)
        report["one_worker_in_process"] = worker_profile(archive)
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


def worker_profile(archive: Path) -> dict[str, float]:
    """What one worker spends, measured in this process on every file in turn: the
    content hash read on its own (as a compressed input's is), and the whole task (the
    reader, hashing each mapped file as it parses it)."""
    from analyzer.archive.inputs import content_hash, discover
    from analyzer.archive.jobs import FileTask, read_file
    from analyzer.flows import Timeouts

    files = discover([str(archive)]).files
    warm([Path(item.path) for item in files])
    hash_wall, hash_cpu = _timed(lambda: [content_hash(item.path) for item in files])
    task_wall, task_cpu = _timed(lambda: [read_file(FileTask(item, Timeouts()))
                                          for item in files])
    return {"hash_wall_s": hash_wall, "hash_cpu_s": hash_cpu, "task_wall_s": task_wall,
            "task_cpu_s": task_cpu, "task_cores_busy": round(task_cpu / task_wall, 2)}


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    before, start = os.times(), time.perf_counter()
    work()
    wall, after = time.perf_counter() - start, os.times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return round(wall, 3), round(cpu, 3)


def summarize(results: dict[int, list[Run]], memory: dict[int, Run], packets: int,
              size: int) -> dict[str, object]:
    report: dict[str, object] = {"packets": packets, "bytes": size, "cpus": psutil.cpu_count(),
                                 "load_average_1m_at_end": round(os.getloadavg()[0], 2)}
    walls = {}
    for workers, runs in results.items():
        wall = median(run.wall_s for run in runs)
        read = median(run.phases.get("read", 0.0) for run in runs)
        walls[workers] = (wall, read)
        report[f"workers_{workers}"] = {
            "wall_s": round(wall, 3),
            "wall_s_range": [round(min(r.wall_s for r in runs), 3),
                             round(max(r.wall_s for r in runs), 3)],
            "read_phase_s": round(read, 3),
            "stitch_s": round(median(run.phases.get("stitch", 0.0) for run in runs), 3),
            "verify_s": round(median(run.phases.get("verify", 0.0) for run in runs), 3),
            "write_s": round(median(run.phases.get("write", 0.0) for run in runs), 3),
            "cpu_s": round(median(run.cpu_s for run in runs), 3),
            "driver_cpu_s": round(median(run.driver_cpu_s for run in runs), 3),
            "workers_cpu_s": round(median(run.cpu_s - run.driver_cpu_s for run in runs), 3),
            "cores_busy": round(median(run.cpu_s / run.wall_s for run in runs), 2),
            "packets_per_s": round(packets / wall),
            "mb_per_s": round(size / 1e6 / wall, 1),
            "read_phase_packets_per_s": round(packets / read) if read else None,
            "driver_peak_rss_anon_mib": round(memory[workers].driver_peak_kib / 1024, 1),
            "worker_peak_rss_anon_mib": [round(k / 1024, 1)
                                         for k in memory[workers].worker_peaks_kib],
            "worker_peak_pss_anon_mib": [round(k / 1024, 1)
                                         for k in memory[workers].worker_peaks_pss_anon_kib],
        }
    pairs = [one.wall_s / two.wall_s for one, two in zip(results[1], results[2], strict=True)]
    report["speedup_wall"] = round(walls[1][0] / walls[2][0], 2)
    report["speedup_wall_per_pair"] = {"median": round(median(pairs), 2),
                                       "range": [round(min(pairs), 2), round(max(pairs), 2)]}
    report["speedup_read_phase"] = round(walls[1][1] / walls[2][1], 2) if walls[2][1] else None
    report["speedup_bound"] = speedup_bound(results[1])
    return report


def speedup_bound(one_worker: list[Run]) -> float:
    """The 2-vs-1 ratio the CPU seconds of the 1-worker runs allow: the driver's (D) are
    serial, the workers' (W) split perfectly over two: (D + W) / (D + W/2)."""
    driver = median(run.driver_cpu_s for run in one_worker)
    workers = median(run.cpu_s - run.driver_cpu_s for run in one_worker)
    return round((driver + workers) / (driver + workers / 2), 2)


if __name__ == "__main__":
    main()
