"""Large inputs as several tasks: plan the chunks of each file, join their results.

An uncompressed classic pcap file larger than the chunk size is cut on record
boundaries (`analyzer.capture.cuts`) and each byte range is a task of its own, so one
big file keeps every worker busy. Compressed files and pcapng stay one task each (a
compressed stream cannot be entered in the middle; a pcapng cut would need the
section's byte order and interface table at every cut).

The cuts are found in the driver, before the tasks are handed out: the walk reads only
the 16-byte record headers (the pages it touches are those the workers read next, from
the page cache), it needs the same file the driver has just found and sized, and a task
then is a plain byte range that any worker, local or on a cluster, can read alone.

The results of an input's chunks become one `FileResult`, as if the file had been read
whole: packets and durations summed, the time span joined, the first error in file order
kept (its byte offset is the file's), the hash the first chunk's (it hashes the whole
file), and the flows cut at the chunk boundaries joined by `stitch`, exactly as the
pieces of a rotated capture are (with the gaps its docstring names).

Small inputs go the other way: several make one task (`bundle`, up to BUNDLE_BYTES or
BUNDLE_FILES), because a task's round trip to a worker process (~0.5 ms) costs more than
reading a small rotated file (0.26 ms for 100 packets). A pipe or device is a task of
its own (a worker may wait on it; the others go on).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from analyzer.archive.inputs import InputFile
from analyzer.archive.jobs import FileResult, FileTask
from analyzer.archive.stitch import FilePiece, stitch
from analyzer.capture.cuts import record_cuts
from analyzer.capture.source import rereadable
from analyzer.flows import Timeouts

DEFAULT_CHUNK_SIZE = 256 << 20
BUNDLE_BYTES = 8 << 20
BUNDLE_FILES = 64


def plan_tasks(items: Sequence[InputFile], timeouts: Timeouts,
               chunk_size: int = DEFAULT_CHUNK_SIZE) -> list[FileTask]:
    """One task per input, or one per chunk of a large uncompressed pcap file; the
    largest first (equal ones in input order), so that no big task starts last while
    the other workers run out of work."""
    tasks: list[FileTask] = []
    for item in items:
        ranges = _ranges(item, chunk_size)
        if ranges is None:
            tasks.append(FileTask(item, timeouts))
            continue
        tasks.extend(FileTask(item, timeouts, byte_range=span, hashed=index == 0)
                     for index, span in enumerate(ranges))
    return sorted(tasks, key=_task_bytes, reverse=True)


def bundle(tasks: Sequence[FileTask], max_bytes: int = BUNDLE_BYTES,
           max_files: int = BUNDLE_FILES) -> list[tuple[FileTask, ...]]:
    """The tasks in the same order, consecutive small ones together: a bundle holds at
    most `max_files` tasks of `max_bytes` in all; a larger task, a chunk and a pipe or
    device go alone."""
    bundles: list[tuple[FileTask, ...]] = []
    open_bundle: list[FileTask] = []
    for task in tasks:
        alone = (task.byte_range is not None or _task_bytes(task) >= max_bytes
                 or not rereadable(task.item.path))
        fits = (len(open_bundle) < max_files
                and sum(map(_task_bytes, open_bundle)) + _task_bytes(task) <= max_bytes)
        if open_bundle and (alone or not fits):
            bundles.append(tuple(open_bundle))
            open_bundle = []
        if alone:
            bundles.append((task,))
        else:
            open_bundle.append(task)
    if open_bundle:
        bundles.append(tuple(open_bundle))
    return bundles


def _task_bytes(task: FileTask) -> int:
    span = task.byte_range
    return task.item.size if span is None else span[1] - span[0]


def _ranges(item: InputFile, chunk_size: int) -> list[tuple[int, int]] | None:
    if item.size <= chunk_size:
        return None
    try:
        ranges = record_cuts(item.path, chunk_size)
    except OSError:
        return None  # unreadable now: the whole-file task reports it
    return ranges if ranges is not None and len(ranges) > 1 else None


@dataclass
class ChunkCollector:
    """The results of each input's tasks, until the last one of the input is in."""

    expected: dict[str, int] = field(default_factory=dict)
    arrived: dict[str, list[tuple[FileTask, FileResult]]] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)

    @classmethod
    def for_tasks(cls, tasks: Sequence[FileTask]) -> ChunkCollector:
        collector = cls()
        for task in tasks:
            path = task.item.path
            collector.expected[path] = collector.expected.get(path, 0) + 1
        return collector

    def add(self, task: FileTask, result: FileResult) -> FileResult | None:
        """The input's whole result once all its tasks are in, else None."""
        path = task.item.path
        if path in self.failed:
            return None
        if self.expected[path] == 1:
            return result
        done = self.arrived.setdefault(path, [])
        done.append((task, result))
        if len(done) < self.expected[path]:
            return None
        del self.arrived[path]
        return join_chunks([chunk for _, chunk in sorted(done, key=_start)], task.timeouts)

    def forget(self, task: FileTask) -> None:
        """A task of this input failed in the worker: the input has no result this run."""
        self.arrived.pop(task.item.path, None)
        self.failed.add(task.item.path)  # its other chunks are dropped too


def _start(done: tuple[FileTask, FileResult]) -> int:
    span = done[0].byte_range
    return span[0] if span is not None else 0


def join_chunks(chunks: Sequence[FileResult], timeouts: Timeouts) -> FileResult:
    """One input's result from its chunks' results, in file order."""
    firsts = [c.first_ts_ns for c in chunks if c.first_ts_ns is not None]
    lasts = [c.last_ts_ns for c in chunks if c.last_ts_ns is not None]
    pieces = [FilePiece(f"{index:09d}", c.first_ts_ns, c.last_ts_ns, c.raw)
              for index, c in enumerate(chunks)
              if c.first_ts_ns is not None and c.last_ts_ns is not None]
    errors = [c.error for c in chunks if c.error is not None]
    return FileResult(
        item=chunks[0].item,
        hash=chunks[0].hash,
        packets=sum(c.packets for c in chunks),
        first_ts_ns=min(firsts) if firsts else None,
        last_ts_ns=max(lasts) if lasts else None,
        error=errors[0] if errors else None,
        duration_s=sum(c.duration_s for c in chunks),
        raw=stitch(pieces, timeouts).raw,
    )
