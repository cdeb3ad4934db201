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


LINKTYPE_NAMES = {
    0: "NULL", 1: "ETHERNET", 12: "RAW", 14: "RAW", 101: "RAW", 108: "LOOP",
    113: "LINUX_SLL", 228: "IPV4", 229: "IPV6", 239: "NFLOG", 258: "PKTAP", 276: "LINUX_SLL2",
}
PROTOCOL_NAMES = {1: "ICMP", 2: "IGMP", 4: "IPIP", 6: "TCP", 17: "UDP", 41: "IPv6",
                  47: "GRE", 50: "ESP", 51: "AH", 58: "ICMPv6", 132: "SCTP"}
TCP_FLAG_NAMES = ("FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR")


def linktype_name(linktype: int) -> str:
    return LINKTYPE_NAMES.get(linktype, f"LINKTYPE_{linktype}")


def protocol_name(proto: int) -> str:
    return PROTOCOL_NAMES.get(proto, f"proto-{proto}")


def tcp_flags_text(flags: int) -> str:
    """`SYN,ACK` style (tshark's order)."""
    return ",".join(name for bit, name in enumerate(TCP_FLAG_NAMES) if flags >> bit & 1)


def timestamp_text(ts_ns: int) -> str:
    """Seconds since the epoch with all nine digits (no float rounding)."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    return f"{seconds}.{nanos:09d}"
