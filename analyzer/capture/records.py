"""Packet records: one compact row per packet, for when only flows are wanted.

Instead of the 30 packet columns, the reader can write one 96-byte record per packet
(ext/packet_record.h) that holds what the flow table needs and what CaptureStats counts,
with the packet's flow key classified and hashed (`kind`, `key_hash`; ext/packet_key.pxi):
one write stream per packet instead of thirty, read back by the flow table as one
stream (FlowTable.update_records). For an ICMP/ICMPv6 error that quotes an IP header
(`quoted` = 1) the addresses and ports are the quoted packet's and `key_proto` its
protocol; otherwise `key_proto` = `proto`.

    for records in read_records("a.pcap", stats=stats):
        table.update_records(records)      # valid until the next batch is requested
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any, Final

import numpy as np

from analyzer import _reader
from analyzer.capture.reader import SourceReader
from analyzer.capture.source import open_capture
from analyzer.capture.stats import CaptureStats
from analyzer.capture.window import Digest
from analyzer.hugepages import huge_page_array

# name -> (numpy type, byte offset), as laid out in ext/packet_record.h
_FIELDS: Final[dict[str, tuple[str | tuple[str, tuple[int]], int]]] = {
    "ts_ns": ("<i8", 0),
    "src": (("u1", (16,)), 8),
    "dst": (("u1", (16,)), 24),
    "ip_len": ("<u4", 40),
    "payload_len": ("<u4", 44),
    "vlan": ("<i4", 48),
    "vlan_inner": ("<i4", 52),
    "iface": ("<u4", 56),
    "caplen": ("<u4", 60),
    "wirelen": ("<u4", 64),
    "sport": ("<u2", 68),
    "dport": ("<u2", 70),
    "linktype": ("<u2", 72),
    "proto": ("u1", 74),
    "key_proto": ("u1", 75),
    "tcp_flags": ("u1", 76),
    "wire_family": ("u1", 77),
    "tunnel": ("u1", 78),
    "frag": ("u1", 79),
    "status": ("u1", 80),
    "icmp_type": ("u1", 81),
    "icmp_code": ("u1", 82),
    "quoted": ("u1", 83),
    "kind": ("u1", 84),
    "key_hash": ("<u8", 88),
}
PACKET_RECORD_DTYPE: Final = np.dtype({
    "names": list(_FIELDS),
    "formats": [fmt for fmt, _ in _FIELDS.values()],
    "offsets": [offset for _, offset in _FIELDS.values()],
    "itemsize": _reader.PACKET_RECORD_SIZE,
})
if PACKET_RECORD_DTYPE.itemsize != 96 or not np.little_endian:
    raise ImportError("packet record layout does not match ext/packet_record.h")

# 1.5 MB of records; 4 k to 64 k measured alike (benchmarks/README.md): smaller batches
# fit the 1 MiB L2 cache but pay Python's per-batch work more often
RECORD_BATCH: Final = 16384
# Handed from a reader thread to the flow table: each batch's handoff wakes the other
# thread, so fewer, larger batches (6 MB): `read_flows` on 2 M small packets 0.12-0.13 ->
# 0.10-0.115 s (medians of 15 alternated runs, three times); on the mixed capture, whose
# pages crowd the caches, within noise (-11 % and +4 %)
RECORD_BATCH_AHEAD: Final = 65536


class RecordSink:
    """Arrays of packet records, reused in turn: batch i is written into array
    i mod `arrays`."""

    def __init__(self, batch_size: int, arrays: int = 1) -> None:
        if batch_size < 1 or arrays < 1:
            raise ValueError("batch_size and arrays must be at least 1")
        # in huge pages: the ring is most of the fresh memory the reader touches (each
        # array in a mapping of its own, freed when the last view of it is gone)
        self.ring = [huge_page_array(batch_size, PACKET_RECORD_DTYPE) for _ in range(arrays)]
        self.turn = 0
        self.records = self.ring[0]
        self.parser: _reader.Parser | None = None

    def bind(self, parser: _reader.Parser) -> None:
        self.records = self.ring[self.turn % len(self.ring)]
        self.turn += 1
        parser.bind_records(self.records)
        self.parser = parser

    def batch(self, rows: int) -> np.ndarray:
        return self.records[:rows]

    def take_tally(self) -> dict[str, Any]:
        """The statistics of the records written since the last call (counted by the
        parser in its loop: no numpy pass over the records)."""
        assert self.parser is not None, "bind() first"
        return self.parser.take_tally()


def read_records(
    source: str | os.PathLike[str],
    *,
    batch_size: int = RECORD_BATCH,
    resync: bool = False,
    stats: CaptureStats | None = None,
    byte_range: tuple[int, int] | None = None,
    arrays: int = 1,
    prefault: bool = False,
    digest: Digest | None = None,
) -> Generator[np.ndarray, None, None]:
    """Packet records of one capture (a path or `-`), batch by batch, counted in `stats`
    as read_batches counts them. Batches are written into `arrays` arrays in turn: a
    batch stays valid until `arrays` more are requested (with one array, until the
    next), so a consumer on another thread may hold a few. Errors and warnings as
    read_batches, with the file's byte offsets.

    `byte_range` (start, end): only the records starting at byte offsets in [start, end)
    of an uncompressed classic pcap file, read with its file header's byte order, time
    resolution and link type; `end` must be a record boundary or the end of the file
    (`analyzer.capture.cuts.record_cuts` gives such ranges). Else UsageError.

    `prefault`: a memory-mapped file's page faults (a zstd file's too) are taken ahead of
    the parser on a thread of their own (`analyzer.capture.prefault`); streams ignore it.

    `digest`: fed the whole file's bytes (as stored: a zstd file's compressed bytes) as
    the parser goes (`MappedWindow.digest_into`) when the file is memory-mapped and read
    whole; otherwise never fed nor done."""
    stats = stats if stats is not None else CaptureStats()
    capture = open_capture(source)
    if byte_range is not None:
        try:
            capture.restrict(*byte_range)
        except BaseException:
            capture.close()
            raise
    stats.sources.append(capture.name)
    sink = RecordSink(batch_size, arrays)
    with capture:
        mapped = capture.mapped
        if digest is not None and byte_range is None and mapped is not None:
            mapped.digest_into(digest)
        if prefault and mapped is not None:
            mapped.prefault()
        for records in SourceReader(capture, sink, resync, stats).batches():
            stats.add_tally(sink.take_tally())
            yield records
