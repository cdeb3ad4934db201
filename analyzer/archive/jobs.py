"""The per-file task: one capture in, its raw flows and manifest facts out.

It runs in a worker process (local pool or Dask worker), so it takes and returns plain
picklable values. A broken input is not an exception here: the flows read before the
break are kept and the error (with its byte offset) is part of the result, so the job
goes on. Only a failure of the worker itself (out of memory, a bug) escapes.

The raw flow-table records are returned, not FlowFrames, because stitching pieces of a
connection across files needs the per-direction state bits (`analyzer.archive.stitch`).
"""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import dataclass

import numpy as np

from analyzer.archive.inputs import ContentHash, InputFile, content_hash
from analyzer.archive.manifest import InputErrorRecord
from analyzer.archive.stitch import RawFlows, empty_raw
from analyzer.capture import CaptureStats
from analyzer.capture.source import rereadable
from analyzer.errors import CaptureError, InputError
from analyzer.flows import Timeouts, iter_raw_flow_batches

_OFFSET = re.compile(r"byte offset (\d+)")


@dataclass(frozen=True)
class FileTask:
    """What a worker needs to read one input, or one chunk of it (`byte_range`, see
    `analyzer.archive.chunks`); `hashed`: this task hashes the whole file (the first
    chunk's does, the others leave the hash empty)."""

    item: InputFile
    timeouts: Timeouts
    byte_range: tuple[int, int] | None = None
    hashed: bool = True


@dataclass
class FileResult:
    """One input read: its flows and everything its manifest line says."""

    item: InputFile
    hash: str
    packets: int
    first_ts_ns: int | None
    last_ts_ns: int | None
    error: InputErrorRecord | None
    duration_s: float
    raw: RawFlows

    @property
    def flows(self) -> int:
        return len(self.raw["first_ts_ns"])


def read_files(tasks: tuple[FileTask, ...]) -> list[FileResult]:
    """Several tasks in one round trip to the worker (`analyzer.archive.chunks.bundle`)."""
    return [read_file(task) for task in tasks]


def read_file(task: FileTask) -> FileResult:
    """Read and hash one capture; never raises for a broken or unreadable input.

    One thread: a worker keeps one core busy and N workers scale to N cores. A mapped
    file is hashed as the reader goes (`ContentHash`), so its bytes are read once; the
    others (gzip, bzip2, xz, zstd where libzstd is missing, a chunk's range) are hashed
    after it, on their own; a zstd file is mapped, and its compressed bytes are hashed as
    they are decoded."""
    started = time.perf_counter()
    path = task.item.path
    if not _opens_rereadable(path):
        return _unread(task, f"{path}: a pipe or device: batch reads inputs that it can "
                       "read again (its content hash, copies, --resume); save it to a file "
                       "first")
    stats = CaptureStats()
    fused = ContentHash() if task.hashed and task.byte_range is None else None
    raw, error = _raw_flows(path, task, stats, fused)
    try:
        digest = _hash_text(path, task, fused)
    except OSError as exc:
        return _unread(task, f"{path}: cannot read: {exc.strerror or exc}")
    return FileResult(
        item=task.item,
        hash=digest,
        packets=stats.packets,
        first_ts_ns=stats.first_ts_ns,
        last_ts_ns=stats.last_ts_ns,
        error=error or _damage(stats),
        duration_s=time.perf_counter() - started,
        raw=raw,
    )


def _opens_rereadable(path: str) -> bool:
    """`rereadable`, asked of the opened file: a FIFO waits here for its writer, as any
    reader of one does, and is then refused unread."""
    try:
        with open(path, "rb", buffering=0) as opened:
            return stat.S_ISREG(os.fstat(opened.fileno()).st_mode)
    except OSError:
        return rereadable(path)  # the reader names the error


def _hash_text(path: str, task: FileTask, fused: ContentHash | None) -> str:
    """The input's content hash: from the reading when it fed the whole file, else read
    on its own; empty for a chunk that leaves the hash to the first chunk."""
    if not task.hashed:
        return ""
    if fused is not None and fused.text is not None:
        return fused.text
    return content_hash(path)


def _unread(task: FileTask, reason: str) -> FileResult:
    """The result of an input that could not be read at all."""
    return FileResult(task.item, "", 0, None, None,
                      InputErrorRecord("InputError", reason, None), 0.0, empty_raw())


def _raw_flows(
    path: str, task: FileTask, stats: CaptureStats, digest: ContentHash | None
) -> tuple[RawFlows, InputErrorRecord | None]:
    """Every flow of one capture (or of its byte range) as raw records; the error that
    stopped the read, if any."""
    chunks: list[RawFlows] = []
    error: InputErrorRecord | None = None
    try:
        # one thread: the job's parallelism is its worker processes
        chunks.extend(iter_raw_flow_batches(path, task.timeouts, stats,
                                            byte_range=task.byte_range, read_ahead=False,
                                            digest=digest))
    except CaptureError as exc:
        error = InputErrorRecord(type(exc).__name__, str(exc), exc.offset)
    except InputError as exc:  # not a capture, unreadable, header cut short
        error = InputErrorRecord(type(exc).__name__, str(exc), None)
    return _concat(chunks), error


def _concat(chunks: list[RawFlows]) -> RawFlows:
    if not chunks:
        return empty_raw()
    if len(chunks) == 1:
        return chunks[0]
    return {name: np.concatenate([chunk[name] for chunk in chunks]) for name in chunks[0]}


def _damage(stats: CaptureStats) -> InputErrorRecord | None:
    """The reader reports a capture cut short (or a compressed stream ending early) as
    warnings after keeping every readable packet; like `dualstack verify`, the batch
    counts any of them as a failed input, with the first byte offset named."""
    if not stats.warnings:
        return None
    message = "; ".join(stats.warnings)
    kind = "Truncated" if "truncated" in stats.warnings[0] else "Damaged"
    found = _OFFSET.search(message)
    return InputErrorRecord(kind, message, int(found.group(1)) if found else None)
