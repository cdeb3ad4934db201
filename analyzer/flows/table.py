"""The flow-table driver: packet batches from the reader in, FlowFrames out.

Finished flows (closed and lingered, idle past their timeout, or replaced by a new SYN
on the same ports) leave the Cython table after every packet batch, so memory follows
the live flows, not the capture size.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from analyzer._flowtable import RAW_FLOW_COLUMNS, FlowTable
from analyzer.capture.diagnostics import until_stopped
from analyzer.errors import DualstackError
from analyzer.flows.build import DERIVED, build_columns
from analyzer.flows.columns import ALL_COLUMNS
from analyzer.flows.columnset import join_columns
from analyzer.flows.frame import FlowFrame
from analyzer.flows.handoff import InBackground
from analyzer.flows.store import RawFlowStore
from analyzer.hugepages import rows_per_huge_page

if TYPE_CHECKING:
    from analyzer.capture.stats import CaptureStats
    from analyzer.capture.window import Digest

NS = 1_000_000_000
Sources = str | Iterable[str]
Batch = TypeVar("Batch")


# Finished flows handed out per batch while reading. Small enough that the batch in hand
# stays a small part of memory (a 10x larger capture with the same live flows measured
# 40 vs 39 MiB RssAnon at 8192, 79 vs 67 MiB at 65536), large enough to amortise the
# per-batch work.
FLUSH_EVERY = 8192

# Packet-record batches the reader thread may run ahead of the flow table (_records).
READ_AHEAD = 2


@dataclass(frozen=True)
class Timeouts:
    """Seconds of inactivity after which a flow ends; the defaults are Zeek's
    (tcp_inactivity_timeout 5 min, udp_inactivity_timeout 1 min, tcp_close_delay and
    tcp_reset_delay 5 s)."""

    tcp: float = 300.0
    udp: float = 60.0
    closed_linger: float = 5.0

    def new_table(self, initial_capacity: int = 1 << 16) -> FlowTable:
        return FlowTable(
            int(self.tcp * NS), int(self.udp * NS), int(self.closed_linger * NS),
            initial_capacity,
        )


def flows_from_batches(
    batches: Iterable[dict[str, np.ndarray]],
    timeouts: Timeouts | None = None,
    flush_every: int = FLUSH_EVERY,
) -> Iterator[FlowFrame]:
    """Flow batches for a stream of packet column dicts (PacketBatch.columns).

    A FlowFrame is yielded whenever at least `flush_every` flows have finished, and once
    at the end with the rest (empty frames are skipped). If the batch source raises an
    input error (a broken capture), the flows read so far are yielded first."""
    return frames_from_raw(_raw_flows(batches, FlowTable.update, timeouts, flush_every))


def frames_from_raw(raw_batches: Iterable[dict[str, np.ndarray]]) -> Iterator[FlowFrame]:
    """A FlowFrame for each batch of raw finished-flow columns."""
    return (FlowFrame(build_columns(raw)) for raw in raw_batches)


def _raw_flows(batches: Iterable[Batch], feed: Callable[[FlowTable, Batch], None],
               timeouts: Timeouts | None, flush_every: int, *, live: bool = False
               ) -> Iterator[dict[str, np.ndarray]]:
    """The flow table's raw finished-flow columns (RAW_FLOW_COLUMNS), batch by batch;
    from a `live` input, every flow finished by a packet batch is handed out after it
    (`tcpdump -w - | dualstack flows -` shows each flow once it has finished, not when
    `flush_every` flows have)."""
    table = (timeouts or Timeouts()).new_table()
    try:
        for batch in batches:
            feed(table, batch)
            while table.pending_finished >= flush_every:
                yield table.take_finished(flush_every)
            if live and table.pending_finished:
                yield table.take_finished(flush_every)
    except DualstackError:
        yield from _drain(table, flush_every)
        raise
    yield from _drain(table, flush_every)


def _drain(table: FlowTable, chunk: int) -> Iterator[dict[str, np.ndarray]]:
    """Every flow still in the table, in batches of at most `chunk` flows."""
    while table.pending_finished or table.finish_all(chunk):
        yield table.take_finished(chunk)


def iter_flow_batches(
    sources: Sources,
    *,
    timeouts: Timeouts | None = None,
    stats: CaptureStats | None = None,
    batch_size: int | None = None,
    flush_every: int = FLUSH_EVERY,
    on_packets: Callable[[int], object] | None = None,
    stop: threading.Event | None = None,
) -> Iterator[FlowFrame]:
    """Flows of one or more captures (read as one stream in timestamp order), as they
    finish. A CaptureError is raised after every flow read before it was yielded.
    `on_packets` is called with the packet count of every batch read (progress); once
    `stop` is set, no more packets are read and the flows seen are finished.

    One capture is read as packet records straight into the flow table (the fast path);
    several are read as packet columns and merged by time first."""
    return frames_from_raw(iter_raw_flow_batches(sources, timeouts, stats, batch_size,
                                                 flush_every, on_packets, stop=stop))


def iter_raw_flow_batches(sources: Sources, timeouts: Timeouts | None = None,
                          stats: CaptureStats | None = None, batch_size: int | None = None,
                          flush_every: int = FLUSH_EVERY,
                          on_packets: Callable[[int], object] | None = None,
                          byte_range: tuple[int, int] | None = None,
                          read_ahead: bool | None = None,
                          stop: threading.Event | None = None,
                          digest: Digest | None = None,
                          ) -> Iterator[dict[str, np.ndarray]]:
    """The flow table's raw finished-flow columns (RAW_FLOW_COLUMNS: per-direction state
    bits included, as stitching across rotated files needs them), batch by batch. A
    capture error is raised after every flow read before it was yielded. `byte_range`:
    only that range of one pcap file (see `read_records`). `read_ahead`: see
    `_records` (None: when this process may run on more than one CPU). `stop`: once
    set, no more packets are read and the flows seen until then are finished. `digest`:
    the file's content hash, computed as it is read (see `read_records`)."""
    from analyzer.capture import read_batches
    from analyzer.capture.source import rereadable

    listed = _source_list(sources)
    if (byte_range is not None or digest is not None) and len(listed) != 1:
        raise ValueError("a byte range or a digest is read from one capture")
    live = not all(map(rereadable, listed))  # stdin, a pipe: maybe a capture in progress
    if len(listed) == 1:
        records = _records(listed[0], batch_size, stats, byte_range, read_ahead, digest)
        return _raw_flows(until_stopped(_counted(records, on_packets), stop),
                          FlowTable.update_records, timeouts, flush_every, live=live)
    columns = (batch.columns for batch in
               read_batches(listed, batch_size=batch_size or 65536, stats=stats))
    return _raw_flows(until_stopped(_counted(columns, on_packets), stop), FlowTable.update,
                      timeouts, flush_every, live=live)


def _records(source: str, batch_size: int | None, stats: CaptureStats | None,
             byte_range: tuple[int, int] | None, read_ahead: bool | None,
             digest: Digest | None = None) -> Iterable[np.ndarray]:
    """Packet records of one capture. With `read_ahead` they are decoded on a thread of
    their own, up to READ_AHEAD batches ahead of the flow table, and a mapped file's
    page faults are taken on a third (`analyzer.capture.prefault`): the loops release
    the GIL, so they share the cores (batch jobs pass False: there each worker process
    has a core of its own)."""
    from analyzer.capture.prefault import may_use_several_cpus
    from analyzer.capture.records import RECORD_BATCH, RECORD_BATCH_AHEAD, read_records

    if read_ahead is None:
        read_ahead = may_use_several_cpus()   # a second CPU: for the reader and the faults
    arrays = READ_AHEAD + 2 if read_ahead else 1    # in the queue, in hand, being filled
    size = batch_size or (RECORD_BATCH_AHEAD if read_ahead else RECORD_BATCH)
    records = read_records(source, batch_size=size, stats=stats, byte_range=byte_range,
                           arrays=arrays, prefault=read_ahead, digest=digest)
    return _ahead(records) if read_ahead else records


def _ahead(records: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """`records` from a reader thread; closing this generator stops the thread."""
    with InBackground(records, depth=READ_AHEAD, name="reader") as ahead:
        yield from ahead


def _counted(batches: Iterable[Batch], on_packets: Callable[[int], object] | None
             ) -> Iterable[Batch]:
    if on_packets is None:
        return batches
    return (_tell(batch, on_packets) for batch in batches)


def _tell(batch: Batch, on_packets: Callable[[int], object]) -> Batch:
    on_packets(len(batch["ts_ns"]))  # type: ignore[index]
    return batch


def read_flows(
    sources: Sources, *, timeouts: Timeouts | None = None, stats: CaptureStats | None = None,
    read_ahead: bool | None = None,
) -> FlowFrame:
    """All flows of one or more captures, sorted by first packet. On a broken capture
    the CaptureError is raised (use iter_flow_batches to keep the flows read before).
    Finished flows are kept compactly (RawFlowStore) while the table holds the live ones;
    the frame is built once, from all of them, when the table is gone. `read_ahead`: as
    iter_raw_flow_batches."""
    store = RawFlowStore()
    # finished flows taken a huge page at a time: the store keeps them as they are
    for raw in iter_raw_flow_batches(sources, timeouts, stats, read_ahead=read_ahead,
                                     flush_every=rows_per_huge_page(RAW_FLOW_COLUMNS)):
        store.add(raw)
    return FlowFrame(build_columns(store.take_all()))


def _merge_sorted(frames: list[FlowFrame]) -> FlowFrame:
    """One frame in first-packet order (columns not made yet stay pending)."""
    order = np.argsort(np.concatenate([f.columns["first_ts_ns"] for f in frames]),
                       kind="stable")
    return FlowFrame(join_columns([f.columns for f in frames], DERIVED, ALL_COLUMNS, order))


def _source_list(sources: Sources) -> list[str]:
    return [sources] if isinstance(sources, str) else [str(s) for s in sources]
