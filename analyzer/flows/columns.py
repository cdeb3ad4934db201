"""The flow columns: what `FlowFrame.columns` holds and what the writers emit.

`OUTPUT_COLUMNS` are the columns of issue 3 in their order (JSONL keys, CSV header,
Parquet schema). `EXTRA_COLUMNS` are raw values kept for downstream work (verdicts,
batch jobs); the writers leave them out unless asked.
"""

from __future__ import annotations

from typing import Final

OUTPUT_COLUMNS: Final[dict[str, str]] = {
    "proto": "'tcp' or 'udp'",
    "client": "client address as text (IPv4 dotted when IPv4 was on the wire)",
    "client_port": "client port",
    "server": "server address as text",
    "server_port": "server port",
    "wire_family": "4 or 6: the IP version on the wire",
    "outcome": "tcp: accepted/refused/unanswered/midstream; udp: answered/unanswered/refused",
    "conn_state": "Zeek conn_state: S0 S1 SF REJ S2 S3 RSTO RSTR RSTOS0 RSTRH SH SHR OTH",
    "packets_c2s": "packets client -> server",
    "packets_s2c": "packets server -> client",
    "ip_bytes_c2s": "IP bytes (IP header length fields) client -> server",
    "ip_bytes_s2c": "IP bytes server -> client",
    "payload_bytes_c2s": "transport payload bytes client -> server",
    "payload_bytes_s2c": "transport payload bytes server -> client",
    "first_ts": "first packet, float seconds since the epoch",
    "last_ts": "last packet, float seconds since the epoch",
    "first_ts_ns": "first packet, integer nanoseconds since the epoch",
    "last_ts_ns": "last packet, integer nanoseconds since the epoch",
    "community_id": "Community ID v1 (seed 0)",
    "vlan": "outer VLAN id, -1 when untagged",
    "tunnel": "'' or the IP-in-IP tunnel kind (6in4, 4in6, 4in4, 6in6)",
    "midstream": "the flow's start (the client's SYN) is not in the capture",
}

EXTRA_COLUMNS: Final[dict[str, str]] = {
    "client_addr": "client address, (n, 16) uint8, IPv4 as ::ffff:a.b.c.d",
    "server_addr": "server address, (n, 16) uint8",
    "proto_num": "IP protocol number (6 or 17)",
    "client_guessed": "midstream flow whose client was guessed from the ports",
    "vlan_inner": "inner VLAN id of stacked tags, -1 when none",
    "tunnel_kind": "tunnel as a number (analyzer.capture.columns.TUNNEL_NAMES index)",
    "iface": "interface id of the flow's first packet",
    "tcp_flags_c2s": "OR of the TCP flag bytes client -> server",
    "tcp_flags_s2c": "OR of the TCP flag bytes server -> client",
    "syn_retransmissions": "client SYNs beyond the first",
    "icmp_unreachable": "an ICMP/ICMPv6 port unreachable quoted a client datagram",
}

ALL_COLUMNS: Final[tuple[str, ...]] = (*OUTPUT_COLUMNS, *EXTRA_COLUMNS)
