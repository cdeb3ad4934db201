"""Capture bytes -> packet batches.

    for batch in read_batches(["a.pcap", "b.pcapng.zst"], stats=stats):
        batch.columns["src"], batch.columns["dport"], ...

pcap (all four magics) and pcapng, gzip/bzip2/xz/zstd by magic bytes, `-` for
stdin. The columns are PACKET_COLUMNS (analyzer/capture/columns.py); the per-packet
`status` values are PacketStatus (analyzer/capture/status.py).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence

from analyzer._reader import SUPPORTED_LINKTYPES
from analyzer.capture.batch import PacketBatch
from analyzer.capture.columns import PACKET_COLUMNS, TUNNEL_NAMES
from analyzer.capture.merge import merge_by_time
from analyzer.capture.reader import read_source
from analyzer.capture.source import CaptureInput, open_capture
from analyzer.capture.stats import CaptureStats
from analyzer.capture.status import PacketStatus, status_label
from analyzer.capture.text import address_text, addresses_text, tunnel_name
from analyzer.errors import UsageError

__all__ = [
    "PACKET_COLUMNS",
    "SUPPORTED_LINKTYPES",
    "TUNNEL_NAMES",
    "CaptureStats",
    "PacketBatch",
    "PacketStatus",
    "address_text",
    "addresses_text",
    "read_batches",
    "status_label",
    "tunnel_name",
]

Source = str | os.PathLike[str]


def _as_list(sources: Source | Sequence[Source]) -> list[Source]:
    if isinstance(sources, str | os.PathLike):
        return [sources]
    listed = list(sources)
    if not listed:
        raise UsageError("no capture given")
    if sum(1 for s in listed if os.fspath(s) == "-") > 1:
        raise UsageError("standard input (-) can be read only once")
    return listed


def read_batches(
    sources: Source | Sequence[Source],
    *,
    batch_size: int = 65536,
    resync: bool = False,
    stats: CaptureStats | None = None,
    reuse_buffers: bool = False,
) -> Generator[PacketBatch, None, None]:
    """Packet batches of one capture, or of several merged in timestamp order.

    Every source is opened first (NotACaptureError / InputError before any batch).
    A broken record raises CaptureError after every packet before it was yielded;
    with resync=True the reader skips to the next plausible record instead and
    counts the skipped bytes in `stats`. A truncated last record is not an error:
    `stats.warnings` says where the input ended.

    reuse_buffers=True fills the same arrays for every batch (about 20 % faster on
    large captures): a batch is then valid only until the next one is requested.
    """
    stats = stats if stats is not None else CaptureStats()
    listed = _as_list(sources)
    captures = []
    try:
        for source in listed:
            captures.append(open_capture(source))
    except BaseException:
        for capture in captures:
            capture.close()
        raise
    stats.sources.extend(capture.name for capture in captures)
    streams = [
        read_source(capture, batch_size=batch_size, resync=resync, stats=stats,
                    reuse_buffers=reuse_buffers)
        for capture in captures
    ]
    batches = streams[0] if len(streams) == 1 else merge_by_time(
        streams, [c.name for c in captures], batch_size
    )
    return _counted(batches, stats, captures)


def _counted(batches: Iterator[PacketBatch], stats: CaptureStats,
             captures: list[CaptureInput]) -> Generator[PacketBatch, None, None]:
    try:
        for batch in batches:
            stats.add_batch(batch)
            yield batch
    finally:
        for capture in captures:
            capture.close()
