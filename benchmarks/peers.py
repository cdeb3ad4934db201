"""The peers: other ways to compute the same bidirectional flow table.

Each ``*_flows`` function reads an Ethernet pcap and returns a :class:`ToolResult`: the
packets it read and the per-direction packet counts of its TCP/UDP flows. Dictionaries
are keyed by the directed 5-tuple while reading and folded into bidirectional flows at
the end (inside the timed part); the fingerprint is computed by the caller, untimed.

- dpkt: ``dpkt.pcap.Reader`` + ``dpkt.ethernet.Ethernet`` + a dict.
- pure Python: ``mmap`` + ``struct.unpack_from``, the bar every packaged library misses.
- Scapy: ``RawPcapReader`` + ``Ether`` on the first packets only (timed rate extrapolated).
- nfstream (no DPI, one meter) when installed; tshark ``-z conv,tcp -z conv,udp``
  (run as its own process, so :func:`parse_tshark_conv` reads its output).
"""

from __future__ import annotations

import mmap
import re
import shutil
import struct
from dataclasses import dataclass
from pathlib import Path

from benchmarks.flowcheck import FlowKey, FlowSummary, summarize_counts, summarize_flows

TSHARK = shutil.which("tshark")
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD
VLAN_ETHERTYPES = (0x8100, 0x88A8, 0x9100)
IPV6_EXT_HEADERS = (0, 43, 60, 51, 44)


@dataclass
class ToolResult:
    """What a tool found: packets read and directed packet counts per 5-tuple."""

    packets: int
    counts: dict[FlowKey, int]

    def summary(self) -> FlowSummary:
        return summarize_counts(self.counts)


def dpkt_flows(path: Path, limit: int | None = None) -> ToolResult:
    """dpkt: the reader most Python capture scripts start from."""
    import dpkt

    counts: dict[FlowKey, int] = {}
    packets = 0
    ip4, ip6, tcp, udp = dpkt.ip.IP, dpkt.ip6.IP6, dpkt.tcp.TCP, dpkt.udp.UDP
    with path.open("rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            packets += 1
            ip = dpkt.ethernet.Ethernet(buf).data
            if isinstance(ip, ip4):
                if ip.offset:
                    continue
            elif not isinstance(ip, ip6):
                continue
            l4 = ip.data
            if isinstance(l4, (tcp, udp)):
                key = (ip.p, ip.src, l4.sport, ip.dst, l4.dport)
                counts[key] = counts.get(key, 0) + 1
            if packets == limit:
                break
    return ToolResult(packets, counts)


def pure_python_flows(path: Path, limit: int | None = None) -> ToolResult:
    """mmap + struct.unpack_from, no library: one record header and three loads a packet."""
    counts: dict[FlowKey, int] = {}
    packets = 0
    u16 = struct.Struct("!H").unpack_from
    ports = struct.Struct("!HH").unpack_from
    with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        caplen_of = _record_caplen_reader(mm[:4])
        end = len(mm)
        off = 24
        while off + 16 <= end:
            (caplen,) = caplen_of(mm, off)
            pkt = off + 16
            off = pkt + caplen
            if off > end:
                break
            packets += 1
            if packets == limit:
                end = off
            (et,) = u16(mm, pkt + 12)
            l3 = pkt + 14
            while et in VLAN_ETHERTYPES:
                (et,) = u16(mm, l3 + 2)
                l3 += 4
            if et == ETHERTYPE_IPV4:
                if u16(mm, l3 + 6)[0] & 0x1FFF:
                    continue
                proto = mm[l3 + 9]
                src = mm[l3 + 12 : l3 + 16]
                dst = mm[l3 + 16 : l3 + 20]
                l4 = l3 + (mm[l3] & 15) * 4
            elif et == ETHERTYPE_IPV6:
                proto = mm[l3 + 6]
                src = mm[l3 + 8 : l3 + 24]
                dst = mm[l3 + 24 : l3 + 40]
                l4 = l3 + 40
                if proto in IPV6_EXT_HEADERS:
                    proto, l4 = _skip_ipv6_ext(mm, proto, l4)
            else:
                continue
            if (proto == 6 or proto == 17) and l4 + 4 <= off:
                sport, dport = ports(mm, l4)
                key = (proto, src, sport, dst, dport)
                counts[key] = counts.get(key, 0) + 1
    return ToolResult(packets, counts)


def _record_caplen_reader(magic: bytes):
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        return struct.Struct("<8xI").unpack_from
    if magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        return struct.Struct(">8xI").unpack_from
    raise ValueError("not a classic pcap file")


def _skip_ipv6_ext(mm: mmap.mmap, proto: int, l4: int) -> tuple[int, int]:
    """Walk hop-by-hop, routing, destination options, AH and fragment headers."""
    for _ in range(8):
        if proto in (0, 43, 60):
            proto, l4 = mm[l4], l4 + (mm[l4 + 1] + 1) * 8
        elif proto == 51:
            proto, l4 = mm[l4], l4 + (mm[l4 + 1] + 2) * 4
        elif proto == 44:
            if struct.unpack_from("!H", mm, l4 + 2)[0] & 0xFFF8:
                return 0, l4
            proto, l4 = mm[l4], l4 + 8
        else:
            break
    return proto, l4


def scapy_flows(path: Path, limit: int) -> ToolResult:
    """Scapy: RawPcapReader + Ether on the first ``limit`` packets."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import RawPcapReader

    text_counts: dict[tuple[int, str, int, str, int], int] = {}
    packets = 0
    with RawPcapReader(str(path)) as reader:
        for raw, _meta in reader:
            packets += 1
            pkt = Ether(raw)
            ip = pkt.getlayer(IP) or pkt.getlayer(IPv6)
            l4 = pkt.getlayer(TCP) or pkt.getlayer(UDP)
            if ip is not None and l4 is not None and not (isinstance(ip, IP) and ip.frag):
                proto = 6 if isinstance(l4, TCP) else 17
                key = (proto, ip.src, l4.sport, ip.dst, l4.dport)
                text_counts[key] = text_counts.get(key, 0) + 1
            if packets >= limit:
                break
    counts = {
        (p, _packed(s), sp, _packed(d), dp): n for (p, s, sp, d, dp), n in text_counts.items()
    }
    return ToolResult(packets, counts)


def _packed(text: str) -> bytes:
    import ipaddress

    return ipaddress.ip_address(text).packed


def nfstream_available() -> bool:
    try:
        import nfstream  # noqa: F401
    except ImportError:
        return False
    return True


def nfstream_flows(path: Path) -> ToolResult:
    """nfstream, statistics and DPI off, one meter process (the C loop is one core too)."""
    from nfstream import NFStreamer

    streamer = NFStreamer(
        source=str(path),
        n_dissections=0,
        statistical_analysis=False,
        splt_analysis=0,
        n_meters=1,
        idle_timeout=3600,
        active_timeout=86400,
    )
    counts: dict[FlowKey, int] = {}
    packets = 0
    for fl in streamer:
        packets += fl.bidirectional_packets
        if fl.protocol not in (6, 17):
            continue
        src, dst = _packed(fl.src_ip), _packed(fl.dst_ip)
        fwd = (fl.protocol, src, fl.src_port, dst, fl.dst_port)
        rev = (fl.protocol, dst, fl.dst_port, src, fl.src_port)
        counts[fwd] = counts.get(fwd, 0) + fl.src2dst_packets
        counts[rev] = counts.get(rev, 0) + fl.dst2src_packets
    return ToolResult(packets, counts)


def tshark_command(path: Path) -> list[str]:
    """tshark's conversation statistics (its own flow table), nothing printed per packet."""
    if TSHARK is None:
        raise FileNotFoundError("tshark")
    return [TSHARK, "-n", "-r", str(path), "-q", "-z", "conv,tcp", "-z", "conv,udp"]


# "10.0.0.1:443  <-> 10.0.0.2:50000  5 1234 bytes 3 ..." (IPv6 addresses end in :port too)
_CONV_LINE = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\S+(?: \S+)?\s+(\d+)\s")


def parse_tshark_conv(text: str) -> FlowSummary:
    """Flows from ``-z conv,tcp -z conv,udp`` output.

    Columns after the endpoints: frames ``<-`` (B to A), bytes, frames ``->`` (A to B),
    bytes, totals. Each section's title says the protocol.
    """
    flows: list[tuple[FlowKey, list[int]]] = []
    proto = 0
    for line in text.splitlines():
        if line.startswith("TCP Conversations"):
            proto = 6
        elif line.startswith("UDP Conversations"):
            proto = 17
        m = _CONV_LINE.match(line)
        if m and proto:
            a, pa, b, pb, b_to_a, a_to_b = m.groups()
            key = (proto, _packed(a), int(pa), _packed(b), int(pb))
            flows.append((key, [int(a_to_b), int(b_to_a)]))
    return summarize_flows(flows)
