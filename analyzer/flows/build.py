"""From the flow table's raw finished-flow columns to the FlowFrame columns."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import numpy.typing as npt

from analyzer._flowtable import RAW_FLOW_COLUMNS, format_addresses
from analyzer.capture.columns import TUNNEL_NAMES
from analyzer.flows import flowbits as fb
from analyzer.flows.columns import ALL_COLUMNS
from analyzer.flows.columnset import Derive, FlowColumns
from analyzer.flows.community_id import community_ids
from analyzer.flows.conn_state import conn_states
from analyzer.flows.outcome import outcomes

PROTO_NAMES = {fb.TCP: "tcp", fb.UDP: "udp"}

# raw flow-table column -> FlowFrame column of another name
RENAMED = {"proto": "proto_num", "tunnel": "tunnel_kind"}
# raw columns kept out of sight, as inputs of the derived columns
HIDDEN = ("sent_c2s", "sent_s2c", "flow_flags", "syn_count")


def build_columns(raw: dict[str, np.ndarray] | None) -> FlowColumns:
    """FlowFrame columns for raw flows (None: zero flows), rows sorted by first packet.
    The flow table's numbers are columns as they are (no copy); names, states, times in
    seconds, flags, address text and Community IDs are made when first read."""
    if raw is None:
        raw = {name: np.empty((0, *shape), dtype=dt) for name, (dt, shape) in
               RAW_FLOW_COLUMNS.items()}
    raw = _sorted_by_first(raw)
    arrays = {RENAMED.get(name, name): raw[name] for name in RAW_FLOW_COLUMNS
              if name not in HIDDEN}
    return FlowColumns(arrays, DERIVED, ALL_COLUMNS, {name: raw[name] for name in HIDDEN})


def _sorted_by_first(raw: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    first = raw["first_ts_ns"]
    if np.all(first[1:] >= first[:-1]):
        return raw
    order = np.argsort(first, kind="stable")
    return {name: arr[order] for name, arr in raw.items()}


class RawView(Mapping[str, np.ndarray]):
    """A FlowColumns seen under the raw flow-table names (RAW_FLOW_COLUMNS), hidden
    inputs included: what the outcome and state rules are written against."""

    def __init__(self, columns: FlowColumns) -> None:
        self.columns = columns

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns.source(RENAMED.get(name, name))

    def __iter__(self) -> Iterator[str]:
        return iter(RAW_FLOW_COLUMNS)

    def __len__(self) -> int:
        return len(RAW_FLOW_COLUMNS)


def midstream(raw: Mapping[str, np.ndarray]) -> np.ndarray:
    """The client's SYN is not in the capture. A flow that began with the server's SYN-ACK
    (reordered handshake) and then shows the client's SYN is not midstream."""
    reordered = fb.has(raw["flow_flags"], fb.FIRST_SYNACK) & fb.has(raw["sent_c2s"], fb.SYN)
    return fb.has(raw["flow_flags"], fb.MIDSTREAM) & ~reordered


def _syn_retransmissions(cols: FlowColumns) -> np.ndarray:
    syns = cols.source("syn_count").astype(np.int64)
    return np.maximum(syns - 1, 0).astype(np.uint32)


def _flag(bit: int) -> Derive:
    return lambda cols: fb.has(cols.source("flow_flags"), bit)


def _seconds(name: str) -> Derive:
    return lambda cols: cols[name] / 1e9


def _client_text(cols: FlowColumns) -> np.ndarray:
    return address_text(cols["client_addr"], cols["wire_family"])


def _server_text(cols: FlowColumns) -> np.ndarray:
    return address_text(cols["server_addr"], cols["wire_family"])


def _community_id(cols: FlowColumns) -> np.ndarray:
    return community_ids(cols["proto_num"], cols["client_addr"], cols["server_addr"],
                         cols["client_port"], cols["server_port"], cols["wire_family"])


DERIVED: dict[str, Derive] = {
    "proto": lambda cols: _names(cols["proto_num"], PROTO_NAMES, "<U3"),
    "client": _client_text,
    "server": _server_text,
    "outcome": lambda cols: outcomes(RawView(cols)),
    "conn_state": lambda cols: conn_states(RawView(cols)),
    "first_ts": _seconds("first_ts_ns"),
    "last_ts": _seconds("last_ts_ns"),
    "community_id": _community_id,
    "tunnel": lambda cols: _names(cols["tunnel_kind"], dict(enumerate(TUNNEL_NAMES)), "<U4"),
    "midstream": lambda cols: midstream(RawView(cols)),
    "client_guessed": _flag(fb.GUESSED),
    "syn_retransmissions": _syn_retransmissions,
    "icmp_unreachable": _flag(fb.ICMP_UNREACH),
}


def _names(codes: np.ndarray, names: dict[int, str], dtype: str) -> npt.NDArray[np.str_]:
    table = np.array([names.get(code, str(code)) for code in range(256)], dtype=dtype)
    return table[codes]


def address_text(addrs: npt.NDArray[np.uint8], family: npt.NDArray[np.uint8]) -> np.ndarray:
    """Addresses as text: dotted quad where IPv4 was on the wire, else IPv6 notation."""
    return format_addresses(np.ascontiguousarray(addrs), np.ascontiguousarray(family))
