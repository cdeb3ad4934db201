"""Byte windows the parser runs over: a whole memory-mapped file, or a bounded
buffer refilled from a stream (stdin, a decompressor). Memory does not grow with
the input: a stream window holds at most one record more than its chunk size.

A stream from a pipe, socket or terminal may be live (``tcpdump -w - | dualstack
packets -``): its window returns from a refill with what has come once nothing more is
ready, and says when the input has gone quiet (`idle`), so that the reader hands over
the packets it has instead of waiting for a full batch."""

from __future__ import annotations

import lzma
import mmap
import select
import zlib
from typing import BinaryIO, Protocol

import numpy as np

from analyzer._reader import MAX_RECORD_BYTES, guard_faulted, guard_mapping, unguard_mapping
from analyzer.capture.prefault import Prefaulter
from analyzer.errors import CaptureError

STREAM_CHUNK = 4 << 20
REFILL_AT_LEAST = 1 << 20


def _decompression_errors() -> tuple[type[BaseException], ...]:
    """What gzip, bz2 (OSError), lzma and zstandard raise on corrupt data."""
    import zstandard

    return (OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError)


class Readable(Protocol):
    """What the reader needs of a stream: stdin, a file, a decompressor."""

    def read(self, size: int = -1, /) -> bytes: ...

    def readinto(self, buffer: memoryview, /) -> int | None: ...


class ByteWindow(Protocol):
    """The bytes currently available: view()[0] is input byte `base`."""

    base: int
    at_eof: bool

    def view(self) -> memoryview | np.ndarray: ...

    def consume(self, pos: int) -> None:
        """Forget the bytes before view()[pos]."""

    def refill(self) -> None:
        """Read more input after the bytes kept (sets at_eof when there is none)."""

    def reached(self, pos: int) -> None:
        """The parser is at view()[pos] (a prefaulting window touches pages ahead)."""

    def bytes_lost(self) -> str | None:
        """Why bytes of the window cannot be trusted (a mapped file truncated while being
        read: the bytes past its new end read as zeros), or None."""

    def idle(self, wait_s: float) -> bool:
        """A live input had nothing more to read for `wait_s` seconds (a file: never)."""

    def close(self) -> None: ...


class Digest(Protocol):
    """A content hash fed by a window (`MappedWindow.digest_into`)."""

    def update(self, data: memoryview, /) -> None: ...

    def done(self) -> None:
        """Every byte of the file has been passed to `update`."""


class MappedWindow:
    """A whole regular file, memory-mapped read-only (pages belong to the page cache).

    If another process truncates the file while it is mapped, reading the pages past its
    new end would raise SIGBUS and end the process; the mapping is guarded
    (`analyzer._reader.guard_mapping`, ext/map_guard.h): those pages read as zeros
    instead, and `bytes_lost` tells the reader, which stops with an error."""

    def __init__(self, fileobj: BinaryIO) -> None:
        self._map = mmap.mmap(fileobj.fileno(), 0, access=mmap.ACCESS_READ)
        if hasattr(self._map, "madvise"):
            self._map.madvise(mmap.MADV_SEQUENTIAL)
        self._view: memoryview | None = memoryview(self._map)
        self._guard = guard_mapping(self._view)
        self._prefaulter: Prefaulter | None = None
        self._digest: Digest | None = None
        self._digested = 0
        self.base = 0
        self.at_eof = True

    def view(self) -> memoryview:
        assert self._view is not None, "window is closed"
        return self._view

    def consume(self, pos: int) -> None:
        """A mapped file stays whole: nothing to forget."""

    def refill(self) -> None:
        """Everything is already there."""

    def prefault(self) -> None:
        """From now on, take the page faults ahead of the parser on a thread of their
        own (`analyzer.capture.prefault`)."""
        if self._prefaulter is None:
            self._prefaulter = Prefaulter(self.view())

    def digest_into(self, digest: Digest) -> None:
        """Pass every byte of the file to `digest`, in order: each batch's bytes once the
        parser has gone past them (still in the caches, so a content hash costs no
        second pass over the file), the bytes it never reached when the window closes,
        then `digest.done()`. Not done when the file changed while mapped (bytes_lost)."""
        self._digest = digest

    def reached(self, pos: int) -> None:
        if self._digest is not None:
            self._digest_to(pos)
        if self._prefaulter is not None:
            self._prefaulter.reached(pos)

    def _digest_to(self, pos: int) -> None:
        assert self._digest is not None
        if pos > self._digested:
            self._digest.update(self.view()[self._digested : pos])
            self._digested = pos

    def bytes_lost(self) -> str | None:
        size = self._map.size()  # fstat of the mapped file
        if size < len(self._map):
            return (f"the file shrank to {size} bytes while being read (another process "
                    "truncated it, as logrotate's copytruncate does)")
        if guard_faulted(self._guard):
            return ("a page of the file could not be read (SIGBUS: an I/O error, or the file "
                    "was truncated and grew again while being read)")
        return None

    def idle(self, wait_s: float) -> bool:
        """A file is read to its end at once."""
        return False

    def _release(self) -> bool:
        """Stop prefaulting and release the view; False when already closed."""
        if self._prefaulter is not None:
            self._prefaulter.stop()
            self._prefaulter = None
        if self._view is None:
            return False
        self._view.release()
        self._view = None
        return True

    def close(self) -> None:
        if self._digest is not None and self._view is not None:
            self._digest_to(len(self._view))
            if self.bytes_lost() is None:
                self._digest.done()
        if self._release():
            self._unguard()
            self._map.close()

    def _unguard(self) -> None:
        if self._guard >= 0:
            unguard_mapping(self._guard)
            self._guard = -1  # the slot may be another mapping's from now on

    def __del__(self) -> None:
        # a window dropped unclosed must not leave its guard on an address range that a
        # later mapping may reuse
        if getattr(self, "_guard", -1) >= 0:
            self._unguard()


class RangeWindow(MappedWindow):
    """Bytes [start, end) of a mapped file: view()[0] is file byte `start` (so the
    parser's offsets stay the file's). The mapping is the caller's to close."""

    def __init__(self, mapped: MappedWindow, start: int, end: int) -> None:
        self._mapped = mapped
        self._view = mapped.view()[start:end]
        self._prefaulter = None
        self._digest = None
        self.base = start
        self.at_eof = True

    def bytes_lost(self) -> str | None:
        return self._mapped.bytes_lost()

    def close(self) -> None:
        self._release()


class StreamWindow:
    """A buffer refilled from a stream; grows only when a single record needs it."""

    def __init__(self, stream: Readable, name: str, chunk: int = STREAM_CHUNK,
                 live_fd: int | None = None) -> None:
        self._stream = stream
        self._name = name
        self._live_fd = live_fd  # the pipe, socket or terminal the bytes come from
        self._buffer = np.empty(chunk, dtype=np.uint8)
        self._fill = 0
        self.base = 0
        self.at_eof = False
        self.ended_early: str | None = None  # why a compressed stream stopped short
        self._undecodable: CaptureError | None = None  # raised at the next refill
        self.refill()

    def view(self) -> np.ndarray:
        return self._buffer[: self._fill]

    def reached(self, pos: int) -> None:
        """Nothing to prefault: the bytes were read into the buffer."""

    def bytes_lost(self) -> str | None:
        """Bytes read into the buffer stay whole."""
        return None

    def idle(self, wait_s: float) -> bool:
        return self._live_fd is not None and not _ready(self._live_fd, wait_s)

    def consume(self, pos: int) -> None:
        kept = self._fill - pos
        if kept > 0 and pos > 0:
            self._buffer[:kept] = self._buffer[pos : self._fill]
        self.base += pos
        self._fill = kept

    def refill(self) -> None:
        """Read at least REFILL_AT_LEAST bytes (or to the end; from a live input, what
        has come once nothing more is ready), in single raw reads (readinto1), so that
        bytes decompressed before a truncated stream's EOFError are kept. Bytes read
        before undecodable data are kept too: the CaptureError comes at the next refill,
        once the parser has had them."""
        if self._undecodable is not None:
            raise self._undecodable
        if self._fill == len(self._buffer):
            self._grow()
        filled = self._fill
        wanted = min(len(self._buffer), self._fill + REFILL_AT_LEAST)
        while self._fill < wanted and not self.at_eof:
            target = self._buffer.data[self._fill :]
            try:
                count = self._read_some(target)
            except EOFError as exc:
                self.at_eof = True
                self.ended_early = str(exc)
                return
            except _decompression_errors() as exc:
                self._undecodable = CaptureError(
                    self._name, self.base + self._fill, f"cannot decompress: {exc}")
                self._undecodable.__cause__ = exc
                if self._fill > filled:
                    return
                raise self._undecodable from exc
            if not count:
                self.at_eof = True
            else:
                self._fill += count
                if self._live_fd is not None and not _ready(self._live_fd, 0.0):
                    return

    def _read_some(self, target: memoryview) -> int:
        read_once = getattr(self._stream, "readinto1", None)
        return (read_once(target) if read_once else self._stream.readinto(target)) or 0

    def _grow(self) -> None:
        size = len(self._buffer) * 2
        if size > 2 * MAX_RECORD_BYTES + STREAM_CHUNK:
            raise CaptureError(self._name, self.base, "record larger than any capture allows")
        grown = np.empty(size, dtype=np.uint8)
        grown[: self._fill] = self._buffer[: self._fill]
        self._buffer = grown

    def close(self) -> None:
        """The stream belongs to whoever opened it."""


def _ready(fd: int, wait_s: float) -> bool:
    """Bytes (or the end) can be read from `fd` within `wait_s` seconds."""
    try:
        return bool(select.select([fd], [], [], max(0.0, wait_s))[0])
    except (OSError, ValueError):  # closed, or not a descriptor select takes
        return True
