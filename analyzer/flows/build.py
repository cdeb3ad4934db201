"""From the flow table's raw finished-flow columns to the FlowFrame columns."""

from __future__ import annotations

from collections.abc import Mapping

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


def build_columns(raw: dict[str, np.ndarray] | None) -> FlowColumns:
    """FlowFrame columns for raw flows (None: zero flows), rows sorted by first packet.
    The address text and Community ID columns are made when first read."""
    if raw is None:
        raw = {name: np.empty((0, *shape), dtype=dt) for name, (dt, shape) in
               RAW_FLOW_COLUMNS.items()}
    first = raw["first_ts_ns"]
    if not np.all(first[1:] >= first[:-1]):
        order = np.argsort(first, kind="stable")
        raw = {name: arr[order] for name, arr in raw.items()}
    family = raw["wire_family"]
    flags = raw["flow_flags"]
    arrays = {
        "proto": _names(raw["proto"], PROTO_NAMES, "<U3"),
        "client_port": raw["client_port"],
        "server_port": raw["server_port"],
        "wire_family": family,
        "outcome": outcomes(raw),
        "conn_state": conn_states(raw),
        "packets_c2s": raw["packets_c2s"],
        "packets_s2c": raw["packets_s2c"],
        "ip_bytes_c2s": raw["ip_bytes_c2s"],
        "ip_bytes_s2c": raw["ip_bytes_s2c"],
        "payload_bytes_c2s": raw["payload_bytes_c2s"],
        "payload_bytes_s2c": raw["payload_bytes_s2c"],
        "first_ts": raw["first_ts_ns"] / 1e9,
        "last_ts": raw["last_ts_ns"] / 1e9,
        "first_ts_ns": raw["first_ts_ns"],
        "last_ts_ns": raw["last_ts_ns"],
        "vlan": raw["vlan"],
        "tunnel": _names(raw["tunnel"], dict(enumerate(TUNNEL_NAMES)), "<U4"),
        "midstream": midstream(raw),
        "client_addr": raw["client_addr"],
        "server_addr": raw["server_addr"],
        "proto_num": raw["proto"],
        "client_guessed": fb.has(flags, fb.GUESSED),
        "vlan_inner": raw["vlan_inner"],
        "tunnel_kind": raw["tunnel"],
        "iface": raw["iface"],
        "tcp_flags_c2s": raw["tcp_flags_c2s"],
        "tcp_flags_s2c": raw["tcp_flags_s2c"],
        "syn_retransmissions": np.maximum(raw["syn_count"].astype(np.int64) - 1, 0).astype(
            np.uint32
        ),
        "icmp_unreachable": fb.has(flags, fb.ICMP_UNREACH),
    }
    return FlowColumns(arrays, DERIVED, ALL_COLUMNS)


def midstream(raw: dict[str, np.ndarray]) -> np.ndarray:
    """The client's SYN is not in the capture. A flow that began with the server's SYN-ACK
    (reordered handshake) and then shows the client's SYN is not midstream."""
    reordered = fb.has(raw["flow_flags"], fb.FIRST_SYNACK) & fb.has(raw["sent_c2s"], fb.SYN)
    return fb.has(raw["flow_flags"], fb.MIDSTREAM) & ~reordered


def _client_text(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    return address_text(cols["client_addr"], cols["wire_family"])


def _server_text(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    return address_text(cols["server_addr"], cols["wire_family"])


def _community_id(cols: Mapping[str, np.ndarray]) -> np.ndarray:
    return community_ids(cols["proto_num"], cols["client_addr"], cols["server_addr"],
                         cols["client_port"], cols["server_port"], cols["wire_family"])


DERIVED: dict[str, Derive] = {
    "client": _client_text,
    "server": _server_text,
    "community_id": _community_id,
}


def _names(codes: np.ndarray, names: dict[int, str], dtype: str) -> npt.NDArray[np.str_]:
    table = np.array([names.get(code, str(code)) for code in range(256)], dtype=dtype)
    return table[codes]


def address_text(addrs: npt.NDArray[np.uint8], family: npt.NDArray[np.uint8]) -> np.ndarray:
    """Addresses as text: dotted quad where IPv4 was on the wire, else IPv6 notation."""
    return format_addresses(np.ascontiguousarray(addrs), np.ascontiguousarray(family))
