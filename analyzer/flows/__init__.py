"""Packet batches -> bidirectional TCP/UDP flows (Cython core: analyzer._flowtable).

    read_flows(sources, timeouts=None, stats=None) -> FlowFrame
    iter_flow_batches(sources, ...) -> Iterator[FlowFrame]      (streaming, big inputs)
    iter_raw_flow_batches(sources, ...) -> raw flow-table columns (for stitching)
    flows_from_batches(packet_column_dicts, timeouts) -> Iterator[FlowFrame]
    FlowFrame: .columns (numpy), len(), to_arrow(), to_pandas(), to_records(), concat()
    Timeouts(tcp=300, udp=60, closed_linger=5) seconds, Zeek's defaults
"""

from analyzer.flows.columns import ALL_COLUMNS, EXTRA_COLUMNS, OUTPUT_COLUMNS
from analyzer.flows.frame import FlowFrame
from analyzer.flows.table import (
    Timeouts,
    flows_from_batches,
    iter_flow_batches,
    iter_raw_flow_batches,
    read_flows,
)

__all__ = [
    "ALL_COLUMNS",
    "EXTRA_COLUMNS",
    "OUTPUT_COLUMNS",
    "FlowFrame",
    "Timeouts",
    "flows_from_batches",
    "iter_flow_batches",
    "iter_raw_flow_batches",
    "read_flows",
]
