"""A zstd-compressed capture file decoded in place: the file memory-mapped
(`MappedWindow`: guarded against truncation, its pages faulted in ahead on a thread of
their own when asked) and decoded by libzstd without the GIL
(`analyzer._zstd.Decoder`), each refill of the stream window in one call.

Against the `zstandard` package's stream reader this saves the read() copy of the
compressed bytes and ~2,900 returns to Python per 1.3 GB (benchmarks/README.md,
"Session 10"), and it tells a truncated last frame from a whole one (EOFError), where
that reader ends silently. Pipes, stdin and machines without libzstd keep that reader."""

from __future__ import annotations

from typing import BinaryIO

from analyzer import _zstd
from analyzer.capture.window import MappedWindow

READ_ALL_CHUNK = 1 << 20


def available() -> bool:
    return bool(_zstd.AVAILABLE)


class MappedZstd:
    """The decompressed bytes of a regular file, as a stream (`readinto1`, `read`)."""

    def __init__(self, fileobj: BinaryIO, prefault: bool = False) -> None:
        self._mapped = MappedWindow(fileobj)
        try:
            if prefault:
                self._mapped.prefault()
            self._decoder: _zstd.Decoder | None = _zstd.Decoder(self._mapped.view())
        except BaseException:
            self._mapped.close()
            raise

    def readable(self) -> bool:
        return True

    def readinto1(self, buffer: memoryview) -> int:
        assert self._decoder is not None, "stream is closed"
        try:
            count = self._decoder.readinto1(buffer)
        except OSError:
            self._check_mapping()  # a truncated file reads as zeros: say why first
            raise
        self._mapped.reached(self._decoder.consumed)
        self._check_mapping()
        return count

    def _check_mapping(self) -> None:
        lost = self._mapped.bytes_lost()
        if lost is not None:
            raise OSError(f"the compressed file could not be read whole: {lost}")

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
        self._decoder = None  # it holds a view of the mapping
        self._mapped.close()
