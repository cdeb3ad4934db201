"""Cut a large classic pcap file into byte ranges that start and end on record boundaries.

A walk over the 16-byte record headers from the file header (each caplen gives the next
record's offset) finds the boundaries; it reads no packet bytes, so it is cheap next to
parsing (a nogil loop in ext/reader_pcap.pxi, `pcap_walk_starts`, sharing the reader's
record-length limit). Each range can then be read on its own
(`read_records(..., byte_range=...)`).

Only uncompressed classic pcap files are cut. A compressed stream cannot be entered in
the middle, and a pcapng cut would need the section's byte order and interface table at
every cut (they live in blocks before it), so those stay whole (one range, None here).

The walk stops where the reader would stop: at a record length the reader calls
impossible, or at a record running past the end of the file. Everything from the last
cut to the end of the file is the last range, so a broken record is read (and reported
with its byte offset) by that range's reader exactly as a whole-file read would.
"""

from __future__ import annotations

import os
import struct

from analyzer._reader import FORMAT_PCAP, pcap_record_starts
from analyzer.capture.source import CAPTURE_MAGICS
from analyzer.capture.window import MappedWindow

FILE_HEADER_BYTES = 24
_BIG_ENDIAN_MAGICS = (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d")

ByteRange = tuple[int, int]


def record_cuts(path: str | os.PathLike[str], chunk_size: int) -> list[ByteRange] | None:
    """Byte ranges [start, end) of about `chunk_size` bytes each, covering every record
    of an uncompressed classic pcap file; None when the file is not one (or is not
    larger than `chunk_size`): then it is read whole."""
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    with open(path, "rb") as stream:
        size = os.fstat(stream.fileno()).st_size
        head = stream.read(FILE_HEADER_BYTES)
        if size <= chunk_size or not _plain_pcap(head):
            return None
        window = MappedWindow(stream)  # guarded: a truncation under the walk is no SIGBUS
        try:
            starts = pcap_record_starts(window.view(), chunk_size).tolist()
            if window.bytes_lost() is not None:
                return None  # truncated while walked: read whole, its reader reports it
        finally:
            window.close()
    ends = [*starts[1:], size]
    return list(zip(starts, ends, strict=True))


def _plain_pcap(head: bytes) -> bool:
    """A whole classic pcap file header, version 2 (else the reader rejects it whole)."""
    if len(head) < FILE_HEADER_BYTES or CAPTURE_MAGICS.get(head[:4]) != FORMAT_PCAP:
        return False
    order = ">" if head[:4] in _BIG_ENDIAN_MAGICS else "<"
    major, _minor, _zone, _sigfigs, _snaplen, linktype = struct.unpack_from(
        order + "HHiIII", head, 4)
    return major == 2 and not linktype & 0x03FF0000
