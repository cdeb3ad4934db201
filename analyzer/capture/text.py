"""Addresses as text: IPv4 dotted when IPv4 was on the wire, IPv6 otherwise."""

from __future__ import annotations

import socket

import numpy as np

from analyzer.capture.columns import TUNNEL_NAMES


def address_text(address: bytes, family: int) -> str:
    """One 16-byte address column value; `family` is the wire family (4, 6 or 0)."""
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, address[12:16])
    if family == 6:
        return socket.inet_ntop(socket.AF_INET6, address)
    return ""


def addresses_text(addresses: np.ndarray, families: np.ndarray) -> list[str]:
    """An (n, 16) address column as text, row by row; "" where the family is 0."""
    raw = np.ascontiguousarray(addresses, dtype=np.uint8).tobytes()
    return [
        address_text(raw[16 * i : 16 * i + 16], int(family))
        for i, family in enumerate(families.tolist())
    ]


def tunnel_name(code: int) -> str | None:
    """`6in4`, `4in6`, `4in4`, `6in6`, or None for no tunnel."""
    if 0 < code < len(TUNNEL_NAMES):
        return TUNNEL_NAMES[code]
    return None
