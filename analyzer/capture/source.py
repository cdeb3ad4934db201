"""Open a capture: a path or `-` (stdin); gzip, bzip2, xz and zstd recognised by
their magic bytes (never by name); pcap or pcapng recognised by theirs."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import sys
from contextlib import ExitStack
from typing import BinaryIO, cast

from analyzer._reader import FORMAT_PCAP, FORMAT_PCAPNG
from analyzer.capture import libzstd
from analyzer.capture.window import (
    ByteWindow,
    MappedWindow,
    RangeWindow,
    Readable,
    StreamWindow,
)
from analyzer.errors import InputError, NotACaptureError, UsageError

CAPTURE_MAGICS: dict[bytes, int] = {
    b"\xd4\xc3\xb2\xa1": FORMAT_PCAP,  # little-endian, microseconds
    b"\xa1\xb2\xc3\xd4": FORMAT_PCAP,  # big-endian, microseconds
    b"\x4d\x3c\xb2\xa1": FORMAT_PCAP,  # little-endian, nanoseconds
    b"\xa1\xb2\x3c\x4d": FORMAT_PCAP,  # big-endian, nanoseconds
    b"\x0a\x0d\x0d\x0a": FORMAT_PCAPNG,  # section header block
}
COMPRESSION_MAGICS: dict[bytes, str] = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
}
STDIN_NAME = "<stdin>"
PIPE_BYTES = 1 << 20
PCAP_HEADER_BYTES = 24


class PrefixedReader:
    """A stream whose first bytes were already read (to sniff them): replays them."""

    def __init__(self, prefix: bytes, stream: Readable) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if not self._prefix:
            return self._stream.read(size)
        if size is None or size < 0:
            data, self._prefix = self._prefix + self._stream.read(), b""
            return data
        data, self._prefix = self._prefix[:size], self._prefix[size:]
        return data

    def readinto(self, buffer: memoryview) -> int:
        if not self._prefix:
            return self._stream.readinto(buffer) or 0
        count = min(len(buffer), len(self._prefix))
        buffer[:count] = self._prefix[:count]
        self._prefix = self._prefix[count:]
        return count

    def readinto1(self, buffer: memoryview) -> int:
        if not self._prefix:
            read_once = getattr(self._stream, "readinto1", None)
            return (read_once(buffer) if read_once else self._stream.readinto(buffer)) or 0
        return self.readinto(buffer)

    def close(self) -> None:
        """The underlying stream belongs to the opener."""


def read_head(stream: Readable, size: int = 8) -> bytes:
    """Up to `size` first bytes (fewer only at end of input)."""
    head = b""
    while len(head) < size:
        more = stream.read(size - len(head))
        if not more:
            break
        head += more
    return head


def sniff_compression(head: bytes) -> str | None:
    for magic, name in COMPRESSION_MAGICS.items():
        if head.startswith(magic):
            return name
    return None


def sniff_format(head: bytes) -> int | None:
    return CAPTURE_MAGICS.get(head[:4])


def decompressor(kind: str, stream: Readable) -> Readable:
    """A stream of the decompressed bytes (multi-member/multi-frame aware); zstd by the
    system's libzstd when it can be loaded (`analyzer.capture.libzstd`)."""
    if kind == "gzip":
        return cast(Readable, gzip.GzipFile(fileobj=cast(BinaryIO, stream), mode="rb"))
    if kind == "bzip2":
        return cast(Readable, bz2.BZ2File(cast(BinaryIO, stream)))
    if kind == "xz":
        return cast(Readable, lzma.LZMAFile(cast(BinaryIO, stream)))
    if libzstd.available():
        return libzstd.StreamZstd(stream)
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(cast(BinaryIO, stream),
                                                             read_across_frames=True)
    return cast(Readable, reader)


class CaptureInput:
    """One opened capture: its name, format, compression and byte window; `header`:
    the file header to parse first when the window starts after it (a byte range);
    `mapped`: the file's own bytes, memory-mapped (the window itself, or the compressed
    bytes a zstd file is decoded from), or None (a stream)."""

    def __init__(self, name: str, fmt: int, compression: str | None, window: ByteWindow,
                 resources: ExitStack, mapped: MappedWindow | None = None) -> None:
        self.name = name
        self.format = fmt
        self.compression = compression
        self.window = window
        self.header: bytes | None = None
        self.mapped = mapped
        self._resources = resources

    def restrict(self, start: int, end: int) -> None:
        """Read only the records starting at byte offsets in [start, end) (`end` must be a
        record boundary or the end of the file, as `analyzer.capture.cuts` gives them).
        Only an uncompressed classic pcap file can be entered in the middle."""
        mapped = self.window
        if self.format != FORMAT_PCAP or not isinstance(mapped, MappedWindow):
            raise UsageError(f"{self.name}: a byte range can be read only from an "
                             "uncompressed classic pcap file")
        size = len(mapped.view())
        if not 0 <= start <= end:
            raise UsageError(f"{self.name}: byte range [{start}, {end}) is empty or negative")
        self.header = bytes(mapped.view()[:PCAP_HEADER_BYTES])
        self._resources.callback(mapped.close)  # after the range's view is released
        self.window = RangeWindow(mapped, max(start, PCAP_HEADER_BYTES), min(end, size))

    def close(self) -> None:
        self.window.close()
        self._resources.close()

    def __enter__(self) -> CaptureInput:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open_raw(path: str | os.PathLike[str], resources: ExitStack) -> tuple[str, Readable]:
    if os.fspath(path) == "-":
        # unbuffered: a buffered reader's readinto1 returns what it holds only after one
        # more read of the pipe, which waits for a live input's next packet
        return STDIN_NAME, cast(Readable, getattr(sys.stdin.buffer, "raw", sys.stdin.buffer))
    name = os.fspath(path)
    try:
        fileobj = open(name, "rb")  # noqa: SIM115 - closed by the ExitStack
    except OSError as exc:
        raise InputError(name, f"cannot open: {exc.strerror or exc}") from exc
    resources.callback(fileobj.close)
    return name, cast(Readable, fileobj)


def rereadable(path: str | os.PathLike[str]) -> bool:
    """Can the input be opened and read again from its start: a regular file, or a path
    that does not exist (opening it gives the error). Stdin, pipes (``<(zcat a.gz)``)
    and devices cannot: what a first reading took is gone for the second."""
    if os.fspath(path) == "-":
        return False
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return True


_Descriptor = tuple[int, os.stat_result]


def _descriptor(stream: Readable) -> _Descriptor | None:
    """The stream's file descriptor and what it is (None: no descriptor, as a decompressor
    or an in-memory stream has none); taken once, for the three questions below."""
    try:
        fd = stream.fileno()  # type: ignore[attr-defined]
        return fd, os.fstat(fd)
    except (OSError, ValueError, AttributeError):
        return None


def _is_mappable(described: _Descriptor | None) -> bool:
    return (described is not None and stat.S_ISREG(described[1].st_mode)
            and described[1].st_size > 0)


def _widen_pipe(described: _Descriptor | None) -> None:
    """A pipe's buffer grown to PIPE_BYTES (Linux, as far as fs/pipe-max-size allows): its
    default 64 KiB made reading 1.3 GB through ``cat |`` 3-5x slower than with 1 MiB."""
    if described is None or not stat.S_ISFIFO(described[1].st_mode):
        return
    try:
        import fcntl  # POSIX only; the reader itself runs anywhere

        fcntl.fcntl(described[0], fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, OSError, AttributeError):  # AttributeError: not Linux
        pass  # a smaller buffer only reads slower


def _live_fd(described: _Descriptor | None) -> int | None:
    """The descriptor of a stream that may be live (a pipe, socket, terminal or other
    device: more may come later), or None for a regular file."""
    if described is None or stat.S_ISREG(described[1].st_mode):
        return None
    return described[0]


def _decompressed(kind: str, raw: Readable, head: bytes, described: _Descriptor | None,
                  resources: ExitStack) -> Readable:
    """The decompressed stream: a zstd file mapped and decoded in place when it can be
    (`analyzer.capture.libzstd`), else the decompressor reading from the stream."""
    if kind == "zstd" and _is_mappable(described) and libzstd.available():
        decoded = libzstd.MappedZstd(cast(BinaryIO, raw))
        resources.callback(decoded.close)
        return decoded
    return decompressor(kind, PrefixedReader(head, raw))


def _sniff_decompressed(name: str, kind: str, inner: Readable) -> bytes:
    try:
        return read_head(inner)
    except Exception as exc:  # OSError, EOFError, lzma.LZMAError, zstandard.ZstdError
        raise NotACaptureError(name, f"cannot decompress {kind} data: {exc}") from exc


def open_capture(path: str | os.PathLike[str]) -> CaptureInput:
    """Open a capture file or `-`; raise NotACaptureError when it is neither format."""
    resources = ExitStack()
    try:
        name, raw = _open_raw(path, resources)
        described = _descriptor(raw)
        _widen_pipe(described)
        head = read_head(raw)
        compression = sniff_compression(head)
        stream: Readable = raw
        if compression is not None:
            stream = _decompressed(compression, raw, head, described, resources)
            head = _sniff_decompressed(name, compression, stream)
        fmt = sniff_format(head)
        if fmt is None:
            what = f"{compression}-compressed data" if compression else "input"
            shown = head[:4].hex(" ") or "nothing"
            raise NotACaptureError(
                name, f"not a pcap or pcapng capture ({what} starts with {shown})"
            )
        if compression is None and _is_mappable(described):
            window = MappedWindow(cast(BinaryIO, raw))
            return CaptureInput(name, fmt, None, window, resources, mapped=window)
        mapped = stream.mapped if isinstance(stream, libzstd.MappedZstd) else None
        return CaptureInput(name, fmt, compression,
                            StreamWindow(PrefixedReader(head, stream), name,
                                         live_fd=_live_fd(described)),
                            resources, mapped=mapped)
    except BaseException:
        resources.close()
        raise
