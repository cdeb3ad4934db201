"""Differential tests against Scapy and dpkt on captures written in the test: every
capture format (pcap us/ns, LE/BE; pcapng LE/BE, several sections and interfaces,
if_tsresol decimal and binary, if_tsoffset, EPB/SPB/PB, unknown blocks) and every
link type the reader decodes. The expected values are Scapy's and dpkt's own
decodes of the frames they read back from the files."""

from __future__ import annotations

import struct
from pathlib import Path

import dpkt
import pytest
from reader_oracles import (
    block,
    dpkt_seen,
    dpkt_vlan,
    epb,
    eth,
    idb,
    obsolete_pb,
    our_rows,
    our_seen,
    scapy_frame,
    scapy_records,
    scapy_seen,
    shb,
    spb,
    ticks_for,
)
from scapy.contrib.mpls import MPLS
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import (
    ICMPv6DestUnreach,
    IPv6,
    IPv6ExtHdrDestOpt,
    IPv6ExtHdrHopByHop,
    IPv6ExtHdrRouting,
)
from scapy.layers.ipsec import AH
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q
from scapy.utils import RawPcapWriter

BASE_NS = 1_700_000_000_123_456_789

# Network-layer packets: IPv4 (with options), IPv6 (with extension headers), tunnels,
# ICMP errors quoting what they refused.
IP_PACKETS = [
    IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=40000, dport=80, flags="S", seq=7),
    IP(src="192.0.2.1", dst="192.0.2.2", options=b"\x94\x04\x00\x00") / UDP(sport=5353,
                                                                             dport=53) / b"q",
    IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=443, dport=50000, flags="SA"),
    IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting()
    / IPv6ExtHdrDestOpt() / UDP(sport=1, dport=2) / (b"x" * 10),
    IPv6(src="2001:db8::1", dst="2001:db8::2") / AH(nh=6, payloadlen=4, icv=b"\0" * 12)
    / TCP(sport=22, dport=60000, flags="A"),
    IP(src="198.51.100.1", dst="198.51.100.2") / IPv6(src="2001:db8::a", dst="2001:db8::b")
    / TCP(sport=1234, dport=80, flags="S"),
    IPv6(src="2001:db8::a", dst="2001:db8::b") / IP(src="192.0.2.9", dst="192.0.2.10")
    / UDP(sport=999, dport=53),
    IP(src="198.51.100.1", dst="198.51.100.2") / IP(src="192.0.2.9", dst="192.0.2.10")
    / TCP(sport=5, dport=6),
    IPv6(src="2001:db8::a", dst="2001:db8::b") / IPv6(src="2001:db8::c", dst="2001:db8::d")
    / UDP(sport=7, dport=8),
    IP(src="192.0.2.2", dst="192.0.2.1") / ICMP(type=3, code=3)
    / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=33000, dport=161),
    IPv6(src="2001:db8::2", dst="2001:db8::1") / ICMPv6DestUnreach(code=4)
    / IPv6(src="2001:db8::1", dst="2001:db8::2") / UDP(sport=33001, dport=162),
]


def _family_of(pkt: object) -> int:
    return 4 if isinstance(pkt, IP) else 6


def _null_header(af: int, big: bool) -> bytes:
    return struct.pack(">I" if big else "<I", af)


def link_frames(linktype_case: str) -> tuple[int, list[bytes]]:
    """(link type, frames) carrying every IP_PACKETS entry over that link layer."""
    ethertype = {4: 0x0800, 6: 0x86DD}
    cases = {
        "ethernet": (1, lambda p: eth() / p),
        "dot1q": (1, lambda p: eth() / Dot1Q(vlan=100) / p),
        "qinq_8021ad": (1, lambda p: eth() / Dot1AD(vlan=200) / Dot1Q(vlan=300) / p),
        "tag_9100": (1, lambda p: eth(type=0x9100) / Dot1Q(vlan=7) / p),
        "mpls": (1, lambda p: eth() / MPLS(label=16, s=0) / MPLS(label=17, s=1) / p),
        "sll": (113, lambda p: CookedLinux(proto=ethertype[_family_of(p)]) / p),
        "sll2": (276, lambda p: CookedLinuxV2(proto=ethertype[_family_of(p)]) / p),
    }
    if linktype_case in cases:
        linktype, wrap = cases[linktype_case]
        return linktype, [bytes(wrap(p)) for p in IP_PACKETS]
    if linktype_case in ("raw101", "raw12", "raw14"):
        return int(linktype_case[3:]), [bytes(p) for p in IP_PACKETS]
    if linktype_case in ("ipv4_228", "ipv6_229"):
        family = 4 if linktype_case == "ipv4_228" else 6
        return int(linktype_case[-3:]), [bytes(p) for p in IP_PACKETS if _family_of(p) == family]
    # BSD NULL (host order) and LOOP (network order), each AF_INET6 value BSDs use
    kind, af6, big = linktype_case.split("_")
    linktype = 0 if kind == "null" else 108
    return linktype, [
        _null_header(2 if _family_of(p) == 4 else int(af6), big == "be") + bytes(p)
        for p in IP_PACKETS
    ]


LINK_CASES = ["ethernet", "dot1q", "qinq_8021ad", "tag_9100", "mpls", "sll", "sll2",
              "raw101", "raw12", "raw14", "ipv4_228", "ipv6_229",
              *(f"null_{af}_{order}" for af in (24, 28, 30) for order in ("le", "be")),
              *(f"loop_{af}_{order}" for af in (24, 28, 30) for order in ("le", "be"))]


def write_pcap(path: Path, linktype: int, frames: list[bytes], *, nano: bool,
               endianness: str) -> list[int]:
    """Scapy writes the pcap; returns the timestamps (ns) it was given."""
    stamps = [BASE_NS + i * 1_000_001_001 for i in range(len(frames))]
    with RawPcapWriter(str(path), linktype=linktype, nano=nano, endianness=endianness,
                    sync=True) as writer:
        writer.linktype = linktype  # Scapy would take a falsy 0 (BSD NULL) for "guess"
        writer.write_header(None)
        for frame, ts in zip(frames, stamps, strict=True):
            writer.write_packet(frame, sec=ts // 10**9,
                                usec=(ts % 10**9) if nano else (ts % 10**9) // 1000,
                                caplen=len(frame), wirelen=len(frame))
    return stamps


def _dpkt_mpls_blind(frame: bytes, linktype: int) -> bool:
    """dpkt takes an MPLS payload for IPv4 only if its first byte is 0x45 (no options)."""
    decoded = dpkt.ethernet.Ethernet(frame) if linktype == 1 else None
    return bool(decoded is not None and getattr(decoded, "mpls_labels", None))


def assert_rows_match_oracles(rows: list[dict], frames: list[bytes], linktypes: list[int]) -> None:
    assert len(rows) == len(frames)
    for i, (row, frame, linktype) in enumerate(zip(rows, frames, linktypes, strict=True)):
        ours = our_seen(row)
        by_scapy = scapy_seen(scapy_frame(frame, linktype))
        by_dpkt = dpkt_seen(frame, linktype)
        assert row["status"] == 0, f"packet {i}: status {row['status']}"
        # Scapy binds no layer to EtherType 0x9100 (old QinQ): dpkt alone judges those
        if not (by_scapy is None and linktype == 1 and frame[12:14] == b"\x91\x00"):
            assert ours == by_scapy, f"packet {i}: ours {ours} != Scapy {by_scapy}"
        assert ours is not None
        if by_dpkt is None and _dpkt_mpls_blind(frame, linktype):
            continue
        # dpkt does not decode ICMP quotes into fields: compare the rest
        assert by_dpkt is not None, f"packet {i}: dpkt found no IP"
        assert (ours.family, ours.src, ours.dst, ours.proto, ours.sport, ours.dport,
                ours.tunnel) == (by_dpkt.family, by_dpkt.src, by_dpkt.dst, by_dpkt.proto,
                                 by_dpkt.sport, by_dpkt.dport, by_dpkt.tunnel), \
            f"packet {i}: ours {ours} != dpkt {by_dpkt}"
        assert row["vlan"] == dpkt_vlan(frame, linktype)


@pytest.mark.parametrize("case", LINK_CASES)
def test_link_types_against_scapy_and_dpkt(tmp_path: Path, case: str) -> None:
    linktype, frames = link_frames(case)
    path = tmp_path / f"{case}.pcap"
    write_pcap(path, linktype, frames, nano=False, endianness="<")
    # Scapy's own framing reads back the same frames
    read_back = [data for data, _meta in scapy_records(path)]
    assert read_back == frames
    rows, stats = our_rows(path)
    assert_rows_match_oracles(rows, frames, [linktype] * len(frames))
    assert stats.packets == len(frames) and not stats.malformed


def test_vlan_ids_of_stacked_tags(tmp_path: Path) -> None:
    linktype, frames = link_frames("qinq_8021ad")
    path = tmp_path / "qinq.pcap"
    write_pcap(path, linktype, frames, nano=False, endianness="<")
    rows, _ = our_rows(path)
    for row, frame in zip(rows, frames, strict=True):
        tags = dpkt.ethernet.Ethernet(frame).vlan_tags
        assert (row["vlan"], row["vlan_inner"]) == (tags[0].id, tags[1].id) == (200, 300)


@pytest.mark.parametrize("nano", [False, True])
@pytest.mark.parametrize("endianness", ["<", ">"])
def test_pcap_variants_against_scapy_and_dpkt(tmp_path: Path, nano: bool, endianness: str
                                              ) -> None:
    linktype, frames = link_frames("ethernet")
    path = tmp_path / "variant.pcap"
    write_pcap(path, linktype, frames, nano=nano, endianness=endianness)
    magic = path.read_bytes()[:4]
    assert magic == struct.pack(endianness + "I", 0xA1B23C4D if nano else 0xA1B2C3D4)
    rows, _ = our_rows(path)
    assert_rows_match_oracles(rows, frames, [linktype] * len(frames))
    scapy_times = [int(meta.sec) * 10**9 + int(meta.usec) * (1 if nano else 1000)
                   for _data, meta in scapy_records(path)]
    with path.open("rb") as handle:
        dpkt_times = [round(ts * 1e6) * 1000 if not nano else None
                      for ts, _buf in dpkt.pcap.Reader(handle)]
    assert [r["ts_ns"] for r in rows] == scapy_times
    if not nano:
        assert [r["ts_ns"] for r in rows] == dpkt_times


def test_snaplen_cut_packets_keep_headers(tmp_path: Path) -> None:
    _linktype, frames = link_frames("ethernet")
    path = tmp_path / "snap.pcap"
    with RawPcapWriter(str(path), linktype=1, sync=True) as writer:
        writer.write_header(None)
        for frame in frames:
            cut = frame[:54]
            writer.write_packet(cut, sec=1, usec=0, caplen=len(cut), wirelen=len(frame))
    rows, _ = our_rows(path)
    with path.open("rb") as handle:
        dpkt_lengths = [len(buf) for _ts, buf in dpkt.pcap.Reader(handle)]
    assert [r["caplen"] for r in rows] == dpkt_lengths == [min(54, len(f)) for f in frames]
    assert [r["wirelen"] for r in rows] == [len(f) for f in frames]
    first = rows[0]  # IPv4 TCP: the whole header fits in 54 bytes
    assert (first["sport"], first["dport"], first["status"]) == (40000, 80, 0)
    assert first["ip_len"] == len(IP_PACKETS[0])


# ---------------------------------------------------------------- pcapng


def _pcapng_sections(endians: list[str]) -> tuple[bytes, list[tuple[bytes, int, int, int]]]:
    """Sections in the given byte orders, each with three interfaces of different link
    types and time resolutions (decimal 10^-6 default, 10^-9, binary 2^-20) and every
    packet block type. Returns the bytes and (frame, linktype, iface, ts_ns) per packet."""
    eth_type, eth_frames = link_frames("ethernet")
    raw_type, raw_frames = link_frames("raw101")
    sll_type, sll_frames = link_frames("sll")
    data = b""
    packets = []
    for section, endian in enumerate(endians):
        interfaces = [(eth_type, None, eth_frames), (raw_type, 9, raw_frames),
                      (sll_type, 0x80 | 20, sll_frames)]
        data += shb(endian)
        data += block(endian, 0x0BAD, b"custom block, skipped")
        for linktype, tsresol, _frames in interfaces:
            data += idb(endian, linktype, tsresol)
        for i in range(len(eth_frames)):
            iface = i % 3
            linktype, tsresol, frames = interfaces[iface]
            ts_ns = BASE_NS + section * 10**12 + i * 1_000_000_000
            # exact in every resolution used: whole microseconds
            ts_ns -= ts_ns % 1000 if tsresol is None else 0
            ticks = ticks_for(ts_ns, tsresol)
            if iface == 2 and tsresol & 0x80:
                ts_ns = (ticks >> 20) * 10**9 + ((ticks & (2**20 - 1)) * 10**9 >> 20)
            writer = obsolete_pb if i == 4 else epb
            data += writer(endian, iface, ticks, frames[i])
            data += block(endian, 5, b"\0" * 8)  # interface statistics: skipped
            packets.append((frames[i], linktype, iface, ts_ns))
    return data, packets


@pytest.mark.parametrize("endians", [["<"], [">"], ["<", ">", "<"]])
def test_pcapng_sections_interfaces_resolutions(tmp_path: Path, endians: list[str]) -> None:
    data, packets = _pcapng_sections(endians)
    path = tmp_path / "multi.pcapng"
    path.write_bytes(data)
    records = scapy_records(path)
    assert [d for d, _m in records] == [p[0] for p in packets]
    rows, _stats = our_rows(path)
    assert_rows_match_oracles(rows, [p[0] for p in packets], [p[1] for p in packets])
    assert [r["iface"] for r in rows] == [p[2] for p in packets]
    assert [r["linktype"] for r in rows] == [p[1] for p in packets]
    # Scapy applies each interface's if_tsresol (as an exact Decimal)
    scapy_ns = []
    for _data, meta in records:
        ticks = (meta.tshigh << 32) + meta.tslow
        scapy_ns.append(int(ticks * 10**9 // meta.tsresol))
    assert [r["ts_ns"] for r in rows] == scapy_ns == [p[3] for p in packets]


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_tsoffset_and_simple_packet_blocks_against_dpkt(tmp_path: Path, endian: str
                                                                ) -> None:
    linktype, frames = link_frames("ethernet")
    offset_s = 1_000_000
    data = shb(endian) + idb(endian, linktype, tsresol=9, tsoffset=offset_s)
    stamps = [10**9 * (i + 1) + 17 for i in range(len(frames))]
    for frame, ts in zip(frames, stamps, strict=True):
        data += epb(endian, 0, ts, frame)
    data += spb(endian, frames[0])
    path = tmp_path / "offset.pcapng"
    path.write_bytes(data)
    with path.open("rb") as handle:
        dpkt_records = list(dpkt.pcapng.Reader(handle))
    rows, _ = our_rows(path)
    assert len(rows) == len(frames) + 1
    assert len(dpkt_records) == len(frames)  # dpkt skips simple packet blocks
    for row, (ts, buf) in zip(rows[:-1], dpkt_records, strict=True):
        assert row["ts_ns"] == round(ts * 10**9)  # dpkt adds if_tsoffset (float)
        assert our_seen(row) == scapy_seen(scapy_frame(buf, 1))
    spb_row = rows[-1]
    assert (spb_row["src"], spb_row["caplen"]) == ("192.0.2.1", len(frames[0]))
    assert spb_row["ts_ns"] == rows[-2]["ts_ns"]  # an SPB has no time: the previous one's


def test_pcapng_packet_on_undeclared_interface_is_counted(tmp_path: Path) -> None:
    _lt, frames = link_frames("ethernet")
    path = tmp_path / "bad_iface.pcapng"
    path.write_bytes(shb("<") + idb("<", 1) + epb("<", 0, 1, frames[0]) + epb("<", 5, 2, frames[1]))
    rows, stats = our_rows(path)
    assert [r["status"] for r in rows] == [0, 3]
    assert stats.malformed == {"bad_interface": 1}
