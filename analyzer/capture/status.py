"""Per-packet status: why the reader stopped decoding a packet (the `status` column).

The values are those of the Cython core (`analyzer._reader.STATUS_NAMES`, same order).
`ok`, `not_ip` and `linktype_skipped` are normal outcomes; every other reason is a
malformed packet, counted per reason in CaptureStats.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final


class PacketStatus(IntEnum):
    OK = 0
    NOT_IP = 1  # the link layer carries something else (ARP, LLDP, ...)
    LINKTYPE_SKIPPED = 2  # a link type the reader does not decode
    BAD_INTERFACE = 3  # pcapng packet names an interface its section never described
    TRUNCATED_LINK = 4  # frame ends inside the link-layer header
    TOO_MANY_LINK_TAGS = 5  # more VLAN tags or MPLS labels than any real network stacks
    BAD_IP_VERSION = 6  # version nibble is not 4/6, or not what the link type promised
    TRUNCATED_IP = 7  # frame ends inside the IP header (options included)
    BAD_IP_HEADER_LENGTH = 8  # IPv4 IHL below 20 bytes or beyond the total length
    BAD_IP_LENGTH = 9  # IP length larger than the frame on the wire
    TRUNCATED_EXT_HEADER = 10  # frame ends inside an IPv6 extension header
    BAD_EXT_HEADER_LENGTH = 11  # an IPv6 extension header runs past the IPv6 payload
    EXT_HEADER_CHAIN_TOO_LONG = 12  # more than 16 extension headers
    TRUNCATED_L4 = 13  # frame ends inside the TCP/UDP/ICMP header
    BAD_TCP_HEADER_LENGTH = 14  # TCP data offset below 20 or beyond the segment
    BAD_UDP_LENGTH = 15  # UDP length below 8 or beyond the IP payload

    @property
    def label(self) -> str:
        """The reason name used in output and statistics (e.g. `truncated_ip`)."""
        return self.name.lower()

    @property
    def is_malformed(self) -> bool:
        return self not in NORMAL_STATUSES


NORMAL_STATUSES: Final[frozenset[PacketStatus]] = frozenset(
    {PacketStatus.OK, PacketStatus.NOT_IP, PacketStatus.LINKTYPE_SKIPPED}
)

STATUS_LABELS: Final[tuple[str, ...]] = tuple(status.label for status in PacketStatus)


def status_label(value: int) -> str:
    """`ok` or the reason name of a status column value."""
    return STATUS_LABELS[value] if value < len(STATUS_LABELS) else f"status_{value}"
