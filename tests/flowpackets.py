"""Hand-built packet batches (the reader's column contract) for flow-table unit tests."""

from __future__ import annotations

import ipaddress
from typing import Any

import numpy as np

from analyzer.capture.columns import PACKET_COLUMNS

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def addr16(text: str) -> np.ndarray:
    ip = ipaddress.ip_address(text)
    packed = ip.packed if ip.version == 6 else b"\0" * 10 + b"\xff\xff" + ip.packed
    return np.frombuffer(packed, dtype=np.uint8)


def pkt(src: str, sport: int, dst: str, dport: int, t: float, *, proto: int = 6,
        flags: int = 0, payload: int = 0, **extra: Any) -> dict[str, Any]:
    """One packet as a dict of column values; `t` in seconds."""
    family = ipaddress.ip_address(src).version
    header = (20 if family == 4 else 40) + (20 if proto == 6 else 8)
    row: dict[str, Any] = {
        "ts_ns": round(t * 1e9), "wire_family": family, "src": addr16(src),
        "dst": addr16(dst), "sport": sport, "dport": dport, "proto": proto,
        "tcp_flags": flags, "ip_len": header + payload, "payload_len": payload,
        "vlan": -1, "vlan_inner": -1,
    }
    row.update(extra)
    return row


def batch(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Columns for `rows`; every column the reader fills, zeros where a row says nothing."""
    n = len(rows)
    cols = {name: np.zeros((n, *shape), dtype=dt) for name, (dt, shape, _) in
            PACKET_COLUMNS.items()}
    cols["vlan"][:] = -1
    cols["vlan_inner"][:] = -1
    for i, row in enumerate(rows):
        for name, value in row.items():
            cols[name][i] = value
    return cols
