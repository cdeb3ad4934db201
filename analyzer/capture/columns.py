"""The packet batch contract: the columns the Cython reader fills, one numpy array each.

Addresses are 16 bytes (an ``(n, 16)`` uint8 array); IPv4 is stored IPv4-mapped
(``::ffff:a.b.c.d``) and ``wire_family`` says which family was on the wire, so one
column serves both families. For an IP-in-IP tunnel the inner packet is reported
and ``tunnel`` says which kind carried it.
"""

from __future__ import annotations

from typing import Final

import numpy as np

# name -> (dtype, shape suffix, meaning)
PACKET_COLUMNS: Final[dict[str, tuple[type, tuple[int, ...], str]]] = {
    "ts_ns": (np.int64, (), "capture timestamp, integer nanoseconds since the epoch"),
    "offset": (np.int64, (), "byte offset of the packet's record in the (decompressed) input"),
    "iface": (np.uint32, (), "interface id (pcapng IDB index in its section; 0 for pcap)"),
    "linktype": (np.uint16, (), "link type of the interface"),
    "caplen": (np.uint32, (), "captured length"),
    "wirelen": (np.uint32, (), "original length on the wire"),
    "wire_family": (np.uint8, (), "4 or 6 for the reported IP header, 0 when not IP"),
    "src": (np.uint8, (16,), "source address, IPv4 as ::ffff:a.b.c.d"),
    "dst": (np.uint8, (16,), "destination address, IPv4 as ::ffff:a.b.c.d"),
    "sport": (np.uint16, (), "TCP/UDP source port (ICMP: 0)"),
    "dport": (np.uint16, (), "TCP/UDP destination port (ICMP: 0)"),
    "proto": (np.uint8, (), "IP protocol number of the transport (after extension headers)"),
    "tcp_flags": (np.uint8, (), "TCP flags byte (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32 ...)"),
    "seq": (np.uint32, (), "TCP sequence number"),
    "ack": (np.uint32, (), "TCP acknowledgment number"),
    "window": (np.uint16, (), "TCP window"),
    "ip_len": (np.uint32, (), "IP length from the header (IPv4 total, IPv6 40 + payload)"),
    "payload_len": (np.uint32, (), "transport payload length from the headers"),
    "vlan": (np.int32, (), "outermost 802.1Q/802.1ad VLAN id, -1 when untagged"),
    "vlan_inner": (np.int32, (), "second VLAN id of stacked tags, -1 when none"),
    "tunnel": (np.uint8, (), "0 none, 1 6in4, 2 4in6, 3 4in4, 4 6in6"),
    "frag": (np.uint8, (), "0 not a fragment, 1 first fragment, 2 later fragment"),
    "icmp_type": (np.uint8, (), "ICMP/ICMPv6 type"),
    "icmp_code": (np.uint8, (), "ICMP/ICMPv6 code"),
    "q_src": (np.uint8, (16,), "ICMP error: source address of the quoted packet"),
    "q_dst": (np.uint8, (16,), "ICMP error: destination address of the quoted packet"),
    "q_sport": (np.uint16, (), "ICMP error: quoted source port"),
    "q_dport": (np.uint16, (), "ICMP error: quoted destination port"),
    "q_proto": (np.uint8, (), "ICMP error: quoted IP protocol, 0 when not an ICMP error"),
    "status": (np.uint8, (), "0 ok, else a PacketStatus reason"),
}

TUNNEL_NAMES: Final[tuple[str, ...]] = ("", "6in4", "4in6", "4in4", "6in6")
