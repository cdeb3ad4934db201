"""Our tools as the suite times them: the reader alone, reader + flow table, streaming flows.

The flow fingerprint of our flows is taken from the FlowFrame's raw columns
(``client_addr``/``server_addr`` as 16 bytes, ``proto_num``) after the timed part.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from benchmarks.flowcheck import FlowSummary, summarize_directed, text_addr16


def reader_packets(path: Path) -> tuple[int, int]:
    """Packets read and TCP/UDP packets with ports (the reader's share of the flow check)."""
    from analyzer.capture import read_batches

    packets = flow_packets = 0
    for batch in read_batches([str(path)]):
        cols = batch.columns
        proto = cols["proto"]
        packets += len(proto)
        flow_packets += int(
            np.count_nonzero(((proto == 6) | (proto == 17)) & (cols["status"] == 0))
        )
    return packets, flow_packets


def read_flow_columns(path: Path, read_ahead: bool | None = None) -> Mapping[str, np.ndarray]:
    """``analyzer.flows.read_flows``: every flow of the capture as columns (`read_ahead`:
    False keeps the reader on the calling thread)."""
    from analyzer.flows import read_flows

    return read_flows(str(path), read_ahead=read_ahead).columns


def stream_flow_count(path: Path) -> int:
    """``iter_flow_batches``: flows counted and dropped as they finish (memory case)."""
    from analyzer.flows import iter_flow_batches

    return sum(len(frame) for frame in iter_flow_batches(str(path)))


def summarize_flow_columns(cols: Mapping[str, np.ndarray]) -> FlowSummary:
    """The fingerprint of FlowFrame columns (client/server orientation)."""
    return summarize_directed(
        cols["proto_num"],
        cols["client_addr"],
        cols["client_port"],
        cols["server_addr"],
        cols["server_port"],
        cols["packets_c2s"],
        cols["packets_s2c"],
    )


def summarize_parquet(path: Path) -> FlowSummary:
    """The fingerprint of ``dualstack flows --format parquet`` output (text addresses)."""
    import pyarrow.parquet as pq

    table = pq.read_table(
        path,
        columns=["proto", "client", "client_port", "server", "server_port",
                 "packets_c2s", "packets_s2c"],
    )
    cols = {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}
    proto = np.where(cols["proto"] == "tcp", 6, np.where(cols["proto"] == "udp", 17, 0))
    return summarize_directed(
        proto,
        _text_addrs(cols["client"]),
        cols["client_port"],
        _text_addrs(cols["server"]),
        cols["server_port"],
        cols["packets_c2s"],
        cols["packets_s2c"],
    )


def _text_addrs(texts: np.ndarray) -> np.ndarray:
    uniq, inverse = np.unique(texts.astype(str), return_inverse=True)
    packed = np.frombuffer(b"".join(text_addr16(t) for t in uniq), dtype=np.uint8)
    return packed.reshape(-1, 16)[inverse.ravel()]
