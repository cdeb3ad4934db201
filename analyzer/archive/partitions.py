"""The job's end in shares: the archive's flows split by flow key, each share stitched,
judged (`analyzer.verdict.shares`) and written by a process of its own.

Every piece of a connection has the same two endpoints, so a share made of the rows
whose endpoints hash to it (`share_of`, the same whichever side is the client) holds
every piece of its connections, and stitches alone exactly as one run over all rows
would. With N shares (one per local worker; for a Dask job, one per core of this
machine, where the pieces are) the driver keeps share 0 and forks N-1 processes once
every input is read: each takes its rows of the pieces it inherits (nothing is copied
to it), answers the phases of `analyzer.verdict.shares.correlate` over a pipe, then
writes its Parquet files. One share (one worker) is judged in the driver alone.

A share that fails sends its traceback; one that dies stops the job with its exit
code. The processes ignore Ctrl-C (the driver ends them) and end with the driver.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.archive.engine import end_with_driver
from analyzer.archive.output import write_share_flows
from analyzer.archive.stitch import FilePiece, RawFlows, stitch
from analyzer.errors import DualstackError
from analyzer.flows import FlowFrame, Timeouts
from analyzer.flows.build import build_columns
from analyzer.verdict.shares import FlowShare, LocalShares, Shares

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the high bits are well mixed


class ArchiveShare(FlowShare):
    """One share of an archive's flows: stitched, then judged and written."""

    def __init__(self, pieces: Sequence[FilePiece], timeouts: Timeouts, number: int = 0,
                 count: int = 1) -> None:
        if count > 1:
            pieces = [_rows_of_share(piece, number, count) for piece in pieces]
        stitched = stitch(pieces, timeouts)
        self.frame = FlowFrame(build_columns(stitched.raw))
        super().__init__(self.frame.columns)
        self.number, self.count = number, count
        self.joined, self.joined_near_close = stitched.joined, stitched.joined_near_close

    def stitched(self) -> tuple[np.ndarray, int, int]:
        """Its flows' first packet times (ascending), and its joins (all, near a close)."""
        first = np.asarray(self.frame.columns["first_ts_ns"], dtype=np.int64)
        return first, self.joined, self.joined_near_close

    def number_flows(self, first_times: Sequence[np.ndarray]) -> None:
        """Its flow ids: ranks in time order over all shares (`time_ranks`)."""
        if self.count > 1:
            self.ids = time_ranks(first_times, self.number)

    def write(self, directory: Path, hosts: list[dict[str, Any]], total: int) -> None:
        """Its flows into the dataset, on this thread, partitioned by the `hosts` of the
        whole answer (the first share writes the empty file when there are no flows)."""
        assert self.verdicts is not None
        prefix = "part" if self.count == 1 else f"part-{self.number}"
        write_share_flows(directory, self.frame, replace(self.verdicts, hosts=hosts),
                          ids=self.ids, prefix=prefix, empty_file=total == 0 and self.number == 0)


def share_of(raw: RawFlows, count: int) -> np.ndarray:
    """Per row, its share (0 .. count-1): a hash of its two endpoints (address and port)
    that is the same whichever of them is the client."""
    def endpoint(side: str) -> np.ndarray:
        address = np.ascontiguousarray(raw[f"{side}_addr"]).view(np.uint64)  # (n, 2)
        port = raw[f"{side}_port"].astype(np.uint64)
        return (address[:, 0] ^ (address[:, 1] * _GOLDEN) ^ port) * _GOLDEN
    mixed = (endpoint("client") + endpoint("server")) * _GOLDEN
    return ((mixed >> np.uint64(32)) % np.uint64(count)).astype(np.int64)


def _rows_of_share(piece: FilePiece, number: int, count: int) -> FilePiece:
    """The piece's flows of this share (taken as `stitch` joins the pieces: no copy of
    the share's flows piece by piece first)."""
    mine = np.flatnonzero(share_of(piece.raw, count) == number)
    return FilePiece(piece.name, piece.first_ts_ns, piece.last_ts_ns, piece.raw, mine)


def time_ranks(first_times: Sequence[np.ndarray], number: int) -> np.ndarray:
    """The flows of share `number` numbered in time order over all shares (each share's
    times ascending; equal times in share order, then row order)."""
    own = first_times[number]
    ranks = np.arange(len(own), dtype=np.int64)
    for other, times in enumerate(first_times):
        if other != number:
            ranks += np.searchsorted(times, own, side="right" if other < number else "left")
    return ranks


class ShareFailed(DualstackError):
    """A share's process raised, or ended without an answer: the job's end did not
    finish, but every input read is in the manifest and its parts."""

    exit_code = 3

    def __init__(self, message: str) -> None:
        super().__init__(f"{message}\nthe inputs read so far are kept: --resume finishes "
                         "the job without reading them again")


class ForkedShares:
    """`count` shares of the given pieces: share 0 in this process, each of the others
    in a forked process of its own (this process would only wait for them otherwise:
    with all shares forked, the end of a 5 GB archive took 0.94 s against 0.74 s)."""

    def __init__(self, pieces: list[FilePiece], timeouts: Timeouts, count: int) -> None:
        context = multiprocessing.get_context("fork")
        self._pipes: dict[int, Connection] = {}
        self._processes: dict[int, Any] = {}
        driver = os.getpid()
        for number in range(1, count):
            mine, theirs = context.Pipe()
            process = context.Process(target=_serve, name=f"dualstack-share-{number}",
                                      args=(theirs, pieces, timeouts, number, count, driver),
                                      daemon=True)
            process.start()
            theirs.close()
            self._pipes[number] = mine
            self._processes[number] = process
        try:  # after the forks, while the other shares build theirs
            self._local = ArchiveShare(pieces, timeouts, 0, count)
        except BaseException:
            self.close(wait=False)
            raise
        self._local_answer: Any = None

    def send(self, method: str, *args: Any) -> None:
        for pipe in self._pipes.values():
            pipe.send((method, args))
        self._local_answer = getattr(self._local, method)(*args)

    def receive(self) -> list[Any]:
        answers = [self._answer(number, pipe) for number, pipe in self._pipes.items()]
        return [self._local_answer, *answers]

    def call(self, method: str, *args: Any) -> list[Any]:
        self.send(method, *args)
        return self.receive()

    def _answer(self, number: int, pipe: Connection) -> Any:
        try:
            status, value = pipe.recv()
        except EOFError:
            process = self._processes[number]
            process.join(timeout=5)
            raise ShareFailed(f"share {number} of the flows ended without an answer "
                              f"(exit code {process.exitcode})") from None
        if status != "ok":
            raise ShareFailed(f"share {number} of the flows failed:\n{value}")
        return value

    def close(self, *, wait: bool) -> None:
        for pipe in self._pipes.values():
            if wait:
                pipe.send(None)
            pipe.close()
        for process in self._processes.values():
            process.join(timeout=10 if wait else 0)
            if process.is_alive():
                process.kill()
                process.join()


def _serve(pipe: Connection, pieces: Sequence[FilePiece], timeouts: Timeouts, number: int,
           count: int, driver: int) -> None:
    """In a share's process: build the share at once, then run each phase asked for (a
    share that could not be built answers every request with why)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the driver ends us
    end_with_driver(driver)
    share: ArchiveShare | None = None
    try:
        share = ArchiveShare(pieces, timeouts, number, count)
    except Exception:
        failure = traceback.format_exc()
    while (request := pipe.recv()) is not None:
        method, args = request
        if share is None:
            pipe.send(("error", failure))
            continue
        try:
            pipe.send(("ok", getattr(share, method)(*args)))
        except Exception:
            pipe.send(("error", traceback.format_exc()))


@contextmanager
def open_shares(pieces: list[FilePiece], timeouts: Timeouts, count: int) -> Iterator[Shares]:
    """The archive's flows as `count` shares (forked processes), or as one in this
    process when `count` is 1; `pieces` is emptied (the shares hold the flows now)."""
    if count <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        local = LocalShares([ArchiveShare(pieces, timeouts)])
        pieces.clear()
        yield local
        return
    forked = ForkedShares(pieces, timeouts, count)
    pieces.clear()
    try:
        yield forked
    except BaseException:
        forked.close(wait=False)
        raise
    forked.close(wait=True)
