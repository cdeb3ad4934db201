"""Independent oracles for the capture reader tests: what Scapy and dpkt make of a
frame, a tiny pcapng writer (so tests can build sections, interfaces and options
that Scapy's writer cannot: big-endian, several IDBs, if_tsresol, if_tsoffset), and
our reader's rows as plain dicts."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import dpkt
from scapy.config import conf
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, TCPerror, UDPerror
from scapy.layers.inet6 import (
    IPerror6,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
    IPv46,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from analyzer.capture import read_batches
from analyzer.capture.stats import CaptureStats

EXT_HEADERS = (IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, AH)


@dataclass(frozen=True)
class Seen:
    """What one decoder reports for a frame (None where it has no opinion)."""

    family: int
    src: str | None
    dst: str | None
    proto: int | None
    sport: int | None
    dport: int | None
    tunnel: bool
    q_src: str | None = None
    q_dst: str | None = None
    q_sport: int | None = None
    q_dport: int | None = None


# ---------------------------------------------------------------- Scapy


def eth(**fields: int) -> Ether:
    """Fixed MACs: without a destination Scapy would try to resolve it (ARP)."""
    return Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02", **fields)



def scapy_frame(frame: bytes, linktype: int) -> Packet:
    """Scapy's own dissection of a frame of this link type.

    Scapy's Loopback classes know only the running host's AF_INET6 value (10 on
    Linux), so for BSD NULL/LOOP Scapy dissects from the IP header on (dpkt checks
    the address family header).
    """
    if linktype in (0, 108):
        return IPv46(frame[4:])
    cls = conf.l2types.get(linktype) or (IPv46 if linktype == 14 else None)
    assert cls is not None, f"Scapy has no class for link type {linktype}"
    return cls(frame)


def _after_ext_headers(layer: Packet) -> Packet:
    payload = layer.payload
    while isinstance(payload, EXT_HEADERS) and not isinstance(payload, IPv6ExtHdrFragment):
        if isinstance(payload, AH) and isinstance(payload.payload, Raw):
            # Scapy leaves what follows AH undissected: dissect it by AH's next header
            upper = {6: TCP, 17: UDP}.get(payload.nh)
            return upper(bytes(payload.payload)) if upper else payload.payload
        payload = payload.payload
    if isinstance(payload, IPv6ExtHdrFragment):
        return payload.payload if payload.offset == 0 else payload
    return payload


def scapy_seen(pkt: Packet) -> Seen | None:
    ip = pkt
    while ip and not isinstance(ip, IP | IPv6):
        ip = ip.payload
    if not ip:
        return None
    upper = _after_ext_headers(ip)
    tunnel = isinstance(upper, IP | IPv6) and not isinstance(upper, IPerror | IPerror6)
    if tunnel:
        ip, upper = upper, _after_ext_headers(upper)
    family = 4 if isinstance(ip, IP) else 6
    proto = ip.proto if family == 4 else (upper.nh if isinstance(upper, IPv6ExtHdrFragment)
                                          else _last_next_header(ip))
    ports = (upper.sport, upper.dport) if isinstance(upper, TCP | UDP) else (None, None)
    seen = Seen(family, ip.src, ip.dst, proto, *ports, tunnel)
    quoted = upper.getlayer(IPerror) or upper.getlayer(IPerror6)
    if quoted is None:
        return seen
    q_l4 = quoted.getlayer(TCPerror) or quoted.getlayer(UDPerror)
    return Seen(*(getattr(seen, f) for f in ("family", "src", "dst", "proto", "sport", "dport",
                                            "tunnel")),
                q_src=quoted.src, q_dst=quoted.dst,
                q_sport=q_l4.sport if q_l4 else None, q_dport=q_l4.dport if q_l4 else None)


def _last_next_header(ip6: Packet) -> int:
    layer, nh = ip6, ip6.nh
    while isinstance(layer.payload, EXT_HEADERS):
        layer = layer.payload
        nh = layer.nh
    return nh


# ---------------------------------------------------------------- dpkt


def dpkt_network(frame: bytes, linktype: int) -> object:
    """dpkt's decode of the frame down to its network layer."""
    if linktype == 1:
        return dpkt.ethernet.Ethernet(frame).data
    if linktype == 113:
        return dpkt.sll.SLL(frame).data
    if linktype == 276:
        return dpkt.sll2.SLL2(frame).data
    if linktype in (0, 108):
        return dpkt.loopback.Loopback(frame).data
    return (dpkt.ip6.IP6 if frame[0] >> 4 == 6 else dpkt.ip.IP)(frame)


def dpkt_vlan(frame: bytes, linktype: int) -> int:
    if linktype != 1:
        return -1
    tags = getattr(dpkt.ethernet.Ethernet(frame), "vlan_tags", None) or []
    return tags[0].id if tags else -1


def _dpkt_addr(raw: bytes) -> str:
    import ipaddress

    return str(ipaddress.ip_address(raw))


def dpkt_seen(frame: bytes, linktype: int) -> Seen | None:
    ip = dpkt_network(frame, linktype)
    if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
        return None
    tunnel = isinstance(ip.data, dpkt.ip.IP | dpkt.ip6.IP6)
    if tunnel:
        ip = ip.data
    family = 4 if isinstance(ip, dpkt.ip.IP) else 6
    l4 = ip.data
    ports = (l4.sport, l4.dport) if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP) else (None, None)
    return Seen(family, _dpkt_addr(ip.src), _dpkt_addr(ip.dst), ip.p, *ports, tunnel)


# ---------------------------------------------------------------- ours


def our_rows(path: Path | str, **kwargs: object) -> tuple[list[dict], CaptureStats]:
    stats = CaptureStats()
    rows: list[dict] = []
    for batch in read_batches(path, stats=stats, **kwargs):  # type: ignore[arg-type]
        texts = {c: batch.address_text(c) for c in ("src", "dst", "q_src", "q_dst")}
        plain = {n: a.tolist() for n, a in batch.columns.items() if a.ndim == 1}
        for i in range(len(batch)):
            row = {n: v[i] for n, v in plain.items()}
            row.update({c: t[i] for c, t in texts.items()})
            rows.append(row)
    return rows, stats


def our_seen(row: dict) -> Seen | None:
    if row["wire_family"] == 0:
        return None
    has_ports = row["proto"] in (6, 17)
    quoted = row["q_proto"] != 0
    return Seen(row["wire_family"], row["src"], row["dst"], row["proto"],
                row["sport"] if has_ports else None, row["dport"] if has_ports else None,
                row["tunnel"] != 0,
                q_src=row["q_src"] if quoted else None, q_dst=row["q_dst"] if quoted else None,
                q_sport=row["q_sport"] if quoted and row["q_proto"] in (6, 17) else None,
                q_dport=row["q_dport"] if quoted and row["q_proto"] in (6, 17) else None)


# ---------------------------------------------------------------- pcapng writer


def _options(endian: str, options: list[tuple[int, bytes]]) -> bytes:
    out = b""
    for code, value in options:
        out += struct.pack(endian + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)
    return out + struct.pack(endian + "HH", 0, 0) if options else out


def block(endian: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    length = len(body) + 12
    return struct.pack(endian + "II", btype, length) + body + struct.pack(endian + "I", length)


def shb(endian: str) -> bytes:
    return block(endian, 0x0A0D0D0A,
                 struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(endian: str, linktype: int, tsresol: int | None = None, tsoffset: int | None = None,
        snaplen: int = 0) -> bytes:
    options = []
    if tsresol is not None:
        options.append((9, bytes([tsresol])))
    if tsoffset is not None:
        options.append((14, struct.pack(endian + "q", tsoffset)))
    return block(endian, 1, struct.pack(endian + "HHI", linktype, 0, snaplen)
                 + _options(endian, options))


def epb(endian: str, iface: int, ticks: int, frame: bytes, wirelen: int | None = None) -> bytes:
    return block(endian, 6, struct.pack(endian + "IIIII", iface, ticks >> 32, ticks & 0xFFFFFFFF,
                                        len(frame), wirelen or len(frame)) + frame)


def obsolete_pb(endian: str, iface: int, ticks: int, frame: bytes) -> bytes:
    return block(endian, 2, struct.pack(endian + "HHIIII", iface, 0, ticks >> 32,
                                        ticks & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def spb(endian: str, frame: bytes) -> bytes:
    return block(endian, 3, struct.pack(endian + "I", len(frame)) + frame)


def ticks_for(ts_ns: int, tsresol: int | None) -> int:
    """A timestamp in an interface's units (decimal 10^-n or binary 2^-n)."""
    if tsresol is None:
        tsresol = 6
    if tsresol & 0x80:
        return (ts_ns << (tsresol & 0x7F)) // 1_000_000_000
    return ts_ns * 10 ** (tsresol & 0x7F) // 1_000_000_000


__all__ = [
    "ICMP",
    "Seen",
    "block",
    "dpkt_seen",
    "dpkt_vlan",
    "epb",
    "eth",
    "idb",
    "obsolete_pb",
    "our_rows",
    "our_seen",
    "scapy_frame",
    "scapy_seen",
    "shb",
    "spb",
    "ticks_for",
]


def scapy_records(path: Path) -> list[tuple[bytes, object]]:
    """(frame, metadata) of every record, read by Scapy's own pcap/pcapng reader."""
    from scapy.utils import RawPcapReader

    with RawPcapReader(str(path)) as reader:  # picks RawPcapNgReader for pcapng
        return [(bytes(data), meta) for data, meta in reader]
