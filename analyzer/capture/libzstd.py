"""zstd input decoded by the system's libzstd without the GIL (`analyzer._zstd`).

- A regular file is memory-mapped (`MappedWindow`: guarded against truncation) and
  decoded in place: no read() copy of the compressed bytes.
- A pipe or stdin is read in chunks of CHUNK bytes and each is decoded as it comes.

Either way each refill of the stream window is one call into libzstd, where the
`zstandard` package's reader returned to Python for every 128 KiB block (~2,900 times
per 1.3 GB, benchmarks/README.md "Session 9"), and input that ends inside a frame is
reported (EOFError, after every byte decoded before it), where that reader ended
silently. Machines without libzstd keep that reader (`available`)."""

from __future__ import annotations

from typing import BinaryIO

from analyzer import _zstd
from analyzer.capture.window import MappedWindow, Readable

CHUNK = 1 << 20  # compressed bytes read from a pipe at a time
READ_ALL_CHUNK = 1 << 20
# Decoded per call: the parser then reads it from the L2 cache, where the decoder wrote
# it. read_flows on the 1.2 GB zstd capture, medians of 6-8 alternated runs: 0.42-0.44 s
# at 1 MiB, 0.53 s at 512 KiB, 0.55-0.59 s at 4 MiB (the window's whole buffer)
DECODE_AT_MOST = 1 << 20


def available() -> bool:
    return bool(_zstd.AVAILABLE)


class ZstdReader:
    """The decompressed bytes, as a stream (`readinto1`, `read`); subclasses give the
    compressed bytes (`_more`)."""

    def __init__(self) -> None:
        self._decoder = _zstd.Decoder()
        self._source: memoryview = memoryview(b"")
        self._pos = 0

    def _more(self) -> bool:
        """Make the next compressed bytes `_source` (from `_pos` = 0); False at the end."""
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def readinto1(self, buffer: memoryview) -> int:
        """Decode into `buffer` (at most DECODE_AT_MOST bytes, as far as the compressed
        bytes at hand allow, at least one unless at the end); 0 at the end of the input."""
        target = buffer[:DECODE_AT_MOST]
        while True:
            self._pos, count = self._decoder.decode(self._source, self._pos, target)
            if count:
                return count
            if self._pos == len(self._source) and not self._more():
                if self._decoder.frame_open:
                    raise EOFError("compressed data ended before the end of a zstd frame")
                return 0

    readinto = readinto1

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all that is left when negative)."""
        chunks = []
        while size != 0:
            chunk = bytearray(size if size > 0 else READ_ALL_CHUNK)
            count = self.readinto1(memoryview(chunk))
            if not count:
                break
            chunks.append(bytes(chunk[:count]))
            size = max(0, size - count) if size > 0 else size
        return b"".join(chunks)

    def close(self) -> None:
        self._source = memoryview(b"")


class MappedZstd(ZstdReader):
    """A regular file, mapped and decoded in place."""

    def __init__(self, fileobj: BinaryIO) -> None:
        super().__init__()
        self.mapped = MappedWindow(fileobj)  # told how far decoding went (`reached`)
        self._given = False

    def _more(self) -> bool:
        if self._given:
            return False
        self._source, self._pos, self._given = self.mapped.view(), 0, True
        return True

    def readinto1(self, buffer: memoryview) -> int:
        try:
            count = super().readinto1(buffer)
        except (OSError, EOFError):
            self._check_mapping()  # a file cut under its mapping reads as zeros: say so
            raise
        self._check_mapping()
        self.mapped.reached(self._decoder.consumed)  # its digest, its prefaulting
        return count

    readinto = readinto1

    def _check_mapping(self) -> None:
        lost = self.mapped.bytes_lost()
        if lost is not None:
            raise OSError(f"the compressed file could not be read whole: {lost}")

    def close(self) -> None:
        super().close()  # the view of the mapping goes first
        self.mapped.close()


class StreamZstd(ZstdReader):
    """A pipe, stdin or any stream: its bytes decoded chunk by chunk, as they come (one
    raw read each, so a live capture's packets are not held back)."""

    def __init__(self, stream: Readable) -> None:
        super().__init__()
        self._stream = stream
        self._chunk = bytearray(CHUNK)

    def _more(self) -> bool:
        count = self._stream.readinto(memoryview(self._chunk)) or 0
        self._source, self._pos = memoryview(self._chunk)[:count], 0
        return count > 0
