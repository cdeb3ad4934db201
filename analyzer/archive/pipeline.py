"""A batch job from start to end: find inputs, read them in parallel, join, judge, write.

1. Discover the captures and load the snapshots (bad arguments stop here, exit 2);
   take OUTDIR's lock (`lock`: another job on the same OUTDIR stops this one here).
2. With ``resume``, drop the inputs the manifest already holds unchanged.
3. Read the others on the engine, one task per file (or per chunk of a large
   uncompressed pcap file, `chunks`); as each input finishes, store its flows (`parts`)
   and append its manifest line. Progress goes to standard error.
4. Split the flows of all inputs by flow key into one share per local worker, or per
   core of this machine for a Dask job (`partitions`: share 0 in this process, the
   others forked); each share stitches its connections across files, is judged with the
   others (`analyzer.verdict.shares`) and writes its flows (one thread each); this
   process writes the rest of the outputs (`output`).

A resumed job whose inputs, snapshots and settings are all unchanged since the last
complete run does nothing at all.
"""

from __future__ import annotations

import filecmp
import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from analyzer.archive.chunks import DEFAULT_CHUNK_SIZE, ChunkCollector, bundle, plan_tasks
from analyzer.archive.engine import make_engine
from analyzer.archive.inputs import InputFile, discover
from analyzer.archive.jobs import FileResult, FileTask, read_files
from analyzer.archive.lock import outdir_locked
from analyzer.archive.manifest import Manifest, ManifestEntry, iso_mtime
from analyzer.archive.output import SUMMARY_NAME, write_outputs
from analyzer.archive.partitions import open_shares
from analyzer.archive.parts import PartLog, load_piece
from analyzer.archive.progress import Progress
from analyzer.archive.stitch import RawFlows
from analyzer.errors import UsageError
from analyzer.flows import Timeouts
from analyzer.snapshot import Snapshot
from analyzer.verdict import DEFAULT_TOLERANCE_S
from analyzer.verdict.shares import Shares, correlate


@dataclass
class BatchOptions:
    archives: Sequence[str]
    snapshot_files: Sequence[str]
    outdir: Path
    workers: int | None = None
    scheduler: str | None = None
    resume: bool = False
    os: str | None = None
    host_addrs: Sequence[str] = ()
    tolerance_s: float = DEFAULT_TOLERANCE_S
    timeouts: Timeouts = field(default_factory=Timeouts)
    chunk_size: int = DEFAULT_CHUNK_SIZE


@dataclass
class BatchResult:
    """What the command reports: inputs read now, skipped, failed; flows written."""

    inputs: int = 0
    read: int = 0
    resumed: int = 0
    failed: list[ManifestEntry] = field(default_factory=list)
    worker_errors: list[str] = field(default_factory=list)
    flows: int = 0
    joined: int = 0
    nothing_to_do: bool = False
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.worker_errors else 0


def run_batch(options: BatchOptions, stderr: TextIO | None = None) -> BatchResult:
    """Run the whole job (see the module docstring); diagnostics go to `stderr`."""
    stream = stderr if stderr is not None else sys.stderr
    files = _discover(options.archives, stream)
    snapshots = load_snapshots(options.snapshot_files, options.os)
    with outdir_locked(options.outdir):
        parts = PartLog(options.outdir, resume=options.resume)
        manifest = Manifest(options.outdir, resume=options.resume)
        try:
            return _run_locked(options, files, snapshots, _Store(manifest, parts), stream)
        finally:
            parts.close()
            manifest.close()


@dataclass(frozen=True)
class _Store:
    """Where finished inputs go: their flows to the part log, then their manifest line."""

    manifest: Manifest
    parts: PartLog


def _run_locked(options: BatchOptions, files: list[InputFile], snapshots: list[Snapshot],
                store: _Store, stream: TextIO) -> BatchResult:
    """The job, with OUTDIR to itself (see `lock`)."""
    manifest = store.manifest
    result = BatchResult(inputs=len(files))
    todo = [item for item in files if manifest.finished(item) is None]
    result.resumed = len(files) - len(todo)
    if options.resume and not todo and _outputs_current(options, files, manifest):
        result.nothing_to_do = True
        result.failed = _failures(manifest, files)
        return result
    started = time.perf_counter()
    fresh = _read_inputs(options, todo, store, result, stream)
    result.seconds["read"] = round(time.perf_counter() - started, 3)
    _finish(options, files, manifest, snapshots, fresh, result, stream)
    return result


def _discover(archives: Sequence[str], stream: TextIO) -> list[InputFile]:
    found = discover(archives)
    if not found.files:
        raise UsageError("no capture found in " + " ".join(archives))
    if found.skipped:
        print(f"batch: {len(found.skipped)} file(s) that are not captures skipped "
              f"(first: {found.skipped[0]})", file=stream)
    return found.files


def _outputs_current(options: BatchOptions, files: list[InputFile], manifest: Manifest) -> bool:
    """The outputs were written by a complete run over exactly these inputs and settings."""
    return _last_signature(options.outdir) == job_signature(options, files, manifest)


def load_snapshots(paths: Sequence[str], os_name: str | None) -> list[Snapshot]:
    from analyzer.snapshot.inputs import load_snapshot_file

    return [item for path in paths for item in load_snapshot_file(path, os_name)]


def _read_inputs(
    options: BatchOptions,
    todo: list[InputFile],
    store: _Store,
    result: BatchResult,
    stream: TextIO,
) -> dict[str, RawFlows]:
    """Read the inputs, store and record each one; their flows by input path (kept for
    the job's end: a part written now need not be read back)."""
    if not todo:
        return {}
    progress = Progress(len(todo), sum(item.size for item in todo), stream=stream)
    tasks = plan_tasks(todo, options.timeouts, options.chunk_size)
    reading = _Reading(ChunkCollector.for_tasks(tasks), store, result, progress, stream)
    with make_engine(options.workers, options.scheduler) as engine:
        chunked = f" in {len(tasks)} tasks" if len(tasks) > len(todo) else ""
        print(f"batch: reading {len(todo)} input(s){chunked} on {engine.description}",
              file=stream)
        try:
            for bundled, outcome in engine.run(read_files, bundle(tasks)):
                results: list[FileResult | BaseException] = (
                    [outcome] * len(bundled) if isinstance(outcome, BaseException)  # all lost
                    else list(outcome))
                for task, done in zip(bundled, results, strict=True):
                    reading.take(task, done)
        finally:
            progress.close()
    return reading.fresh


@dataclass
class _Reading:
    """What `_read_inputs` does with each task's result as it comes in."""

    collector: ChunkCollector
    store: _Store
    result: BatchResult
    progress: Progress
    stream: TextIO
    fresh: dict[str, RawFlows] = field(default_factory=dict)

    def take(self, task: FileTask, done: FileResult | BaseException) -> None:
        """Report a failed worker; store and record an input once all its tasks are in."""
        if isinstance(done, BaseException):
            self.collector.forget(task)
            self.result.worker_errors.append(f"{task.item.path}: {done!r}")
            print(f"batch: {task.item.path}: the worker failed: {done!r}", file=self.stream)
            return
        whole = self.collector.add(task, done)
        if whole is None:
            return  # more chunks of this input to come
        entry = _record(self.store, whole)
        self.fresh[entry.path] = whole.raw
        self.result.read += 1
        self.progress.done(packets=entry.packets, size=entry.size, failed=bool(entry.error))


def _record(store: _Store, done: FileResult) -> ManifestEntry:
    """Store the input's flows, then append its manifest line (in that order)."""
    part = store.parts.store(done.raw)
    entry = ManifestEntry(
        path=done.item.path,
        size=done.item.size,
        mtime_ns=done.item.mtime_ns,
        mtime=iso_mtime(done.item.mtime_ns),
        hash=done.hash,
        packets=done.packets,
        flows=done.flows,
        first_ts_ns=done.first_ts_ns,
        last_ts_ns=done.last_ts_ns,
        error=done.error,
        duration_s=round(done.duration_s, 6),
        part=part,
    )
    store.manifest.append(entry)
    return entry


def _finish(
    options: BatchOptions,
    files: list[InputFile],
    manifest: Manifest,
    snapshots: list[Snapshot],
    fresh: dict[str, RawFlows],
    result: BatchResult,
    stream: TextIO,
) -> None:
    """Join, judge and write everything the manifest holds for this job's inputs (the
    flows read in this run are at hand in `fresh`), in shares of the flows
    (`partitions`): one per local worker (a Dask job: per core of this machine)."""
    entries = [entry for entry in map(manifest.finished, files) if entry is not None]
    unique, duplicates = _without_copies(entries)
    pieces = [piece for piece in (load_piece(options.outdir, e, fresh.get(e.path))
                                  for e in unique) if piece]
    fresh.clear()  # the pieces hold them now
    for path, original in duplicates.items():
        print(f"batch: {path} has the same content as {original}: its flows are counted once",
              file=stream)
    print(f"batch: joining the flows of {len(pieces)} input(s) across files", file=stream)
    count = options.workers or os.cpu_count() or 1  # a Dask job's end: this machine's cores
    clock = time.perf_counter()
    with open_shares(pieces, options.timeouts, count) as shares:
        near_close = _stitched(shares, result)
        result.seconds["stitch"] = round(time.perf_counter() - clock, 3)
        print(f"batch: {result.flows:,} flows ({result.joined:,} joined across files) in "
              f"{result.seconds['stitch']:.2f} s; judging them", file=stream)
        clock = time.perf_counter()
        verdicts = correlate(shares, snapshots, os=options.os,
                             host_addrs=list(options.host_addrs) or None,
                             tolerance_s=options.tolerance_s)
        result.seconds["verify"] = round(time.perf_counter() - clock, 3)
        print(f"batch: judged against {len(verdicts.listeners)} listener(s) in "
              f"{result.seconds['verify']:.2f} s; writing {options.outdir}", file=stream)
        clock = time.perf_counter()
        result.failed = _failures(manifest, files)
        missing = [item.path for item in files if manifest.finished(item) is None]
        facts = {
            "inputs": len(files),
            "inputs_failed": [asdict(entry) for entry in result.failed],
            "inputs_missing": missing,
            "inputs_duplicate": duplicates,
            "flows": result.flows,
            "pieces_joined_across_files": result.joined,
            "joins_around_a_close": near_close,
            "signature": None if missing else job_signature(options, files, manifest),
            "seconds": result.seconds,
        }
        write_outputs(options.outdir, verdicts, facts, shares)
    result.seconds["write"] = round(time.perf_counter() - clock, 3)
    print(f"batch: {result.flows:,} flows from {len(files)} input(s), {len(result.failed)} "
          f"failed; written to {options.outdir} in {result.seconds['write']:.2f} s", file=stream)


def _stitched(shares: Shares, result: BatchResult) -> int:
    """Each share stitched and its flows numbered in time order over all shares; the
    flow and join counts go to `result`; the joins near a close are returned."""
    stitched = shares.call("stitched")
    first_times = [first for first, _, _ in stitched]
    shares.call("number_flows", first_times)
    result.flows = sum(len(first) for first in first_times)
    result.joined = sum(joined for _, joined, _ in stitched)
    return sum(near for _, _, near in stitched)


def _without_copies(
    entries: list[ManifestEntry],
) -> tuple[list[ManifestEntry], dict[str, str]]:
    """The entries with distinct content (first by path), and {copy path: original path}:
    an archive with a backup copy of a file must not count its connections twice. Equal
    hashes are confirmed byte for byte (as fdupes does): XXH128 tells copies apart from
    distinct files, but a forged collision must not drop an input's connections."""
    first_of: dict[str, str] = {}
    unique: list[ManifestEntry] = []
    duplicates: dict[str, str] = {}
    for entry in entries:
        original = first_of.setdefault(entry.hash or entry.path, entry.path)
        if original != entry.path and _same_bytes(original, entry.path):
            duplicates[entry.path] = original
        else:
            unique.append(entry)
    return unique, duplicates


def _same_bytes(path: str, other: str) -> bool:
    """The two files hold the same bytes (False when either cannot be read now)."""
    try:
        return filecmp.cmp(path, other, shallow=False)
    except OSError:
        return False


def _failures(manifest: Manifest, files: list[InputFile]) -> list[ManifestEntry]:
    entries = (manifest.finished(item) for item in files)
    return [entry for entry in entries if entry is not None and entry.error is not None]


def job_signature(options: BatchOptions, files: list[InputFile], manifest: Manifest) -> str:
    """A digest of everything the outputs depend on: inputs, snapshots, settings."""
    entries = [manifest.finished(item) for item in files]
    described: dict[str, Any] = {
        "inputs": [[e.path, e.size, e.mtime_ns, e.hash] if e else None for e in entries],
        "snapshots": [_file_state(path) for path in options.snapshot_files],
        "os": options.os,
        "host_addrs": list(options.host_addrs),
        "tolerance_s": options.tolerance_s,
        "timeouts": asdict(options.timeouts),
    }
    text = json.dumps(described, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _file_state(path: str) -> list[Any]:
    try:
        info = os.stat(path)
    except OSError:
        return [path, None, None]
    return [os.path.abspath(path), info.st_size, info.st_mtime_ns]


def _last_signature(outdir: Path) -> str | None:
    try:
        summary = json.loads((outdir / SUMMARY_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    batch = summary.get("batch") if isinstance(summary, dict) else None
    return batch.get("signature") if isinstance(batch, dict) else None
