"""Drive the Cython parser over one capture: batches out, errors raised once.

The parser fills preallocated columns from a byte window with the GIL released and
returns why it stopped; this module refills the window, hands out full batches,
and turns the parser's error codes into CaptureError / NotACaptureError messages.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

import numpy as np

from analyzer import _reader
from analyzer.capture.batch import PacketBatch, allocate_columns
from analyzer.capture.source import CaptureInput
from analyzer.capture.stats import CaptureStats
from analyzer.errors import CaptureError, NotACaptureError

# _reader FrameError codes -> message templates (a and b are the parser's numbers).
ERROR_MESSAGES: dict[int, str] = {
    1: "unsupported pcap version {a}.{b}",
    2: "link-type field 0x{a:08x} has reserved bits set",
    3: "impossible record length {a} (at most {b})",
    4: "section header block without a valid byte-order magic (0x{a:08x})",
    5: "unsupported pcapng version {a}.{b}",
    6: "impossible block length {a}",
    7: "block length trailer {a} does not match the header's {b}",
    8: "an option runs past the end of its block (type {a})",
    9: "packet length {a} exceeds its block ({b} bytes of room)",
    10: "too many interfaces ({a})",
    11: "block of type {a} too short ({b} bytes)",
}
FILE_HEADER_ERRORS = frozenset({1, 2})
RESYNC_KEEP = 64  # bytes kept at the end of a stream window while resynchronising
# A batch from a live input (a pipe) is passed on once the input has been quiet this long
# after the batch began: `tcpdump -w - | dualstack packets -` shows packets as they come,
# while a pipe that keeps up (`zcat big.pcap.gz |`) still fills whole batches.
LIVE_LATENCY_S = 0.1


def frame_error(source: str, parser: _reader.Parser) -> CaptureError | NotACaptureError:
    """The typed error for the parser's last RESULT_ERROR."""
    code, offset, a, b = parser.error()
    message = ERROR_MESSAGES.get(code, "unreadable record {a} {b}").format(a=a, b=b)
    if code in FILE_HEADER_ERRORS or offset == 0:
        return NotACaptureError(source, f"unreadable capture header: {message}")
    return CaptureError(source, offset, message)


Batch = TypeVar("Batch", covariant=True)


class BatchSink(Protocol[Batch]):
    """Where the parser writes a batch, and what a full batch is handed out as."""

    def bind(self, parser: _reader.Parser) -> None:
        """Point the parser at fresh (or reused) storage for the next batch."""

    def batch(self, rows: int) -> Batch:
        """The first `rows` packets of the bound storage."""
        ...


class ColumnSink:
    """PacketBatch columns (analyzer/capture/columns.py), new arrays per batch unless
    `reuse` (then a batch is valid until the next one)."""

    def __init__(self, name: str, batch_size: int, reuse: bool) -> None:
        self.name = name
        self.batch_size = batch_size
        self.reused = allocate_columns(batch_size) if reuse else None
        self.columns: dict[str, np.ndarray] = {}

    def bind(self, parser: _reader.Parser) -> None:
        self.columns = self.reused if self.reused is not None else allocate_columns(
            self.batch_size)
        parser.bind(self.columns, self.batch_size)

    def batch(self, rows: int) -> PacketBatch:
        return PacketBatch(self.columns, [self.name]).head(rows)


class SourceReader(Generic[Batch]):
    """Packet batches of one opened capture."""

    def __init__(self, capture: CaptureInput, sink: BatchSink[Batch], resync: bool,
                 stats: CaptureStats) -> None:
        self.capture = capture
        self.sink = sink
        self.resync = resync
        self.stats = stats
        self.parser = _reader.Parser(capture.format)
        self.pos = 0

    def batches(self) -> Iterator[Batch]:
        window = self.capture.window
        self.sink.bind(self.parser)
        if self.capture.header is not None:
            self._read_header(self.capture.header)
        row = 0
        while True:
            if row == 0:
                batch_start = window.base + self.pos
                started = time.monotonic()
            result, self.pos, row = self.parser.run(window.view(), self.pos, window.base, row)
            self._check_bytes_whole(batch_start)
            if result == _reader.RESULT_BATCH_FULL:
                window.reached(self.pos)
                yield self.sink.batch(row)
                self.sink.bind(self.parser)
                row = 0
            elif result == _reader.RESULT_ERROR:
                error = frame_error(self.capture.name, self.parser)
                if not self.resync or isinstance(error, NotACaptureError):
                    if row:
                        yield self.sink.batch(row)
                    raise error
                self._resynchronise(error)
            elif not window.at_eof:
                if row and window.idle(LIVE_LATENCY_S - (time.monotonic() - started)):
                    yield self.sink.batch(row)  # a live input went quiet: pass on what came
                    self.sink.bind(self.parser)
                    row = 0
                window.consume(self.pos)
                self.pos = 0
                try:
                    window.refill()
                except CaptureError:  # undecodable compressed data
                    if row:
                        yield self.sink.batch(row)  # the packets decoded before it
                    raise
            else:
                self._finish(result)
                break
        if row:
            yield self.sink.batch(row)

    def _check_bytes_whole(self, batch_start: int) -> None:
        """Stop if the file was truncated under its mapping (the bytes past its new end
        read as zeros, see MappedWindow): the batch being parsed is not delivered."""
        why = self.capture.window.bytes_lost()
        if why is not None:
            raise CaptureError(self.capture.name, batch_start,
                               f"{why}; the packets from this offset on were not read")

    def _read_header(self, header: bytes) -> None:
        """The file header of a capture read from a byte range after it: byte order,
        resolution and link type for the records of the range (no rows written)."""
        result, _pos, _row = self.parser.run(header, 0, 0, 0)
        if result == _reader.RESULT_ERROR:
            raise frame_error(self.capture.name, self.parser)
        if result == _reader.RESULT_NEED_MORE:
            raise NotACaptureError(self.capture.name, "input ends inside the capture header")

    def _finish(self, result: int) -> None:
        """End of input: complain once if it cut a record (or the header) short."""
        window = self.capture.window
        offset = window.base + self.pos
        end = window.base + len(window.view())
        ended_early = getattr(window, "ended_early", None)
        why = f" ({self.capture.compression} stream ends early: {ended_early})" if ended_early \
            else ""
        if result == _reader.RESULT_NEED_MORE:
            if offset == 0:
                raise NotACaptureError(self.capture.name, "input ends inside the capture header")
            self.stats.warn(f"{self.capture.name}: truncated: input ends inside the record at "
                            f"byte offset {offset}; {end - offset} trailing bytes ignored{why}")
        elif ended_early:
            self.stats.warn(f"{self.capture.name}: truncated at byte offset {end}{why}")

    def _resynchronise(self, error: CaptureError) -> None:
        """Skip forward to the next plausible record, counting what was skipped."""
        window = self.capture.window
        start = error.offset
        while True:
            found = self.parser.resync(window.view(), self.pos + 1)
            if found >= 0 or window.at_eof:
                break
            keep_from = max(self.pos + 1, len(window.view()) - RESYNC_KEEP)
            window.consume(keep_from)
            self.pos = -1
            window.refill()
        self.pos = found if found >= 0 else len(window.view())
        skipped = window.base + self.pos - start
        self.stats.resync_skips += 1
        self.stats.resync_skipped_bytes += skipped
        self.stats.warn(f"{self.capture.name}: {error.message}; resynchronised, skipped "
                        f"{skipped} bytes")


def read_source(capture: CaptureInput, *, batch_size: int, resync: bool,
                stats: CaptureStats, reuse_buffers: bool = False) -> Iterator[PacketBatch]:
    """Batches of one opened capture (closes it when done)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    sink = ColumnSink(capture.name, batch_size, reuse_buffers)
    with capture:
        yield from SourceReader(capture, sink, resync, stats).batches()
