"""Packet records (the reader's fast path for flows), checked against dpkt: endpoints,
ports and protocols of every packet (the quoted packet's for an ICMP error) and the
capture statistics the reader counts in its loop."""

from __future__ import annotations

import ipaddress
from collections import Counter
from pathlib import Path

import dpkt
import numpy as np
import pytest
from reader_oracles import eth
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, IPerror6, IPv6
from scapy.layers.l2 import ARP, Dot1Q
from scapy.utils import RawPcapWriter
from test_reader_tshark_corpus import CORPUS_CAPTURES, corpus_captures

from analyzer.capture import CaptureStats, read_batches
from analyzer.capture.records import PACKET_RECORD_DTYPE, read_records
from analyzer.errors import DualstackError


def frames() -> list[bytes]:
    v4, v6 = ("192.0.2.1", "198.51.100.7"), ("2001:db8::1", "2001:db8::2")
    out = [
        eth() / IP(src=v4[0], dst=v4[1]) / TCP(sport=40000, dport=80, flags="S"),
        eth() / Dot1Q(vlan=7) / IP(src=v4[1], dst=v4[0]) / TCP(sport=80, dport=40000) / b"x",
        eth() / IPv6(src=v6[0], dst=v6[1]) / UDP(sport=5353, dport=53) / b"query",
        eth() / IP(src=v4[1], dst=v4[0]) / ICMP(type=3, code=3)
        / IPerror(src=v4[0], dst=v4[1]) / UDPerror(sport=41000, dport=9999),
        eth() / IPv6(src=v6[1], dst=v6[0]) / ICMPv6DestUnreach(code=4)
        / IPerror6(src=v6[0], dst=v6[1]) / UDPerror(sport=41001, dport=9998),
        eth() / ARP(psrc=v4[0], pdst=v4[1]),
        eth() / IP(src=v4[0], dst=v4[1], flags=0, frag=100, proto=17) / (b"f" * 40),
    ]
    return [bytes(f) for f in out] * 50


def write(path: Path, data: list[bytes]) -> Path:
    with RawPcapWriter(str(path), linktype=1, sync=True) as writer:
        writer.write_header(None)
        for i, frame in enumerate(data):
            writer.write_packet(frame, sec=1_700_000_000 + i, usec=i)
    return path


def dpkt_key(frame: bytes) -> tuple[str, str, int, int, int] | None:
    """(src, dst, sport, dport, proto) a flow is keyed by: the quoted packet's for an
    ICMP error, ports 0 where there are none."""
    ip = dpkt.ethernet.Ethernet(frame).data
    if not isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
        return None
    l4 = ip.data
    if isinstance(l4, dpkt.icmp.ICMP | dpkt.icmp6.ICMP6) and l4.type in (3, 1):
        quoted = l4.data.data
        ip = quoted if isinstance(quoted, dpkt.ip.IP | dpkt.ip6.IP6) else \
            (dpkt.ip.IP if ip.v == 4 else dpkt.ip6.IP6)(bytes(quoted))
        l4 = ip.data
        l4 = dpkt.udp.UDP(l4) if isinstance(l4, bytes) else l4
    ports = (l4.sport, l4.dport) if isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP) else (0, 0)
    if isinstance(ip, dpkt.ip.IP) and ip.offset:
        ports = (0, 0)  # a later fragment: no transport header
    proto = ip.p if isinstance(ip, dpkt.ip.IP) else ip.nxt
    return (str(ipaddress.ip_address(ip.src)), str(ipaddress.ip_address(ip.dst)), *ports,
            proto)


def record_key(row: np.void) -> tuple[str, str, int, int, int] | None:
    if row["wire_family"] == 0:
        return None

    def text(raw: np.ndarray) -> str:
        addr = ipaddress.IPv6Address(bytes(raw))
        return str(addr.ipv4_mapped or addr)

    return (text(row["src"]), text(row["dst"]), int(row["sport"]), int(row["dport"]),
            int(row["key_proto"]))


def test_records_agree_with_dpkt(tmp_path: Path) -> None:
    data = frames()
    path = write(tmp_path / "mix.pcap", data)
    stats = CaptureStats()
    batches = [r.copy() for r in read_records(path, batch_size=64, stats=stats)]
    assert all(b.dtype == PACKET_RECORD_DTYPE for b in batches)
    records = np.concatenate(batches)
    assert len(records) == len(data) == stats.packets
    assert [record_key(r) for r in records] == [dpkt_key(f) for f in data]
    assert [int(v) for v in records["vlan"][:2]] == [-1, 7]
    assert records["quoted"].tolist() == [0, 0, 0, 1, 1, 0, 0] * 50


def test_statistics_counted_in_the_loop_agree_with_dpkt(tmp_path: Path) -> None:
    data = frames()
    path = write(tmp_path / "mix.pcap", data)
    stats = CaptureStats()
    for _ in read_records(path, batch_size=100, stats=stats):
        pass
    families: Counter[int] = Counter()
    protocols: Counter[int] = Counter()
    times = []
    with path.open("rb") as f:
        for ts, frame in dpkt.pcap.Reader(f):
            times.append(round(ts * 1e6))
            ip = dpkt.ethernet.Ethernet(frame).data
            family = 4 if isinstance(ip, dpkt.ip.IP) else 6 if isinstance(ip, dpkt.ip6.IP6) else 0
            families[family] += 1
            if family:
                protocols[ip.p if family == 4 else ip.nxt] += 1
    assert stats.packets == len(data)
    assert stats.bytes == stats.captured_bytes == sum(len(f) for f in data)
    assert stats.families == families and stats.protocols == protocols
    assert stats.linktypes == Counter({1: len(data)})
    assert stats.not_ip == 50 and stats.fragments == 50 and not stats.malformed
    assert (stats.first_ts_ns, stats.last_ts_ns) == (min(times) * 1000, max(times) * 1000)


def statistics(path: Path, records: bool) -> tuple[CaptureStats, str | None]:
    """The capture statistics of one corpus capture read as packet records (the
    reader's C tally) or as column batches (CaptureStats.add_batch), and the error."""
    stats = CaptureStats()
    try:
        batches = read_records(path, resync=True, stats=stats) if records else \
            read_batches([str(path)], resync=True, stats=stats)
        for _ in batches:
            pass
    except DualstackError as exc:
        return stats, str(exc)
    return stats, None


@pytest.mark.parametrize("name", corpus_captures())
def test_records_count_the_statistics_column_batches_count(name: str) -> None:
    """`dualstack stats`, `flows` and `verify` count with the records' tally, `packets`
    with the column batches: every count, time and warning agrees on every corpus
    capture (the column path is the one checked against tshark)."""
    path = CORPUS_CAPTURES / name
    assert statistics(path, records=True) == statistics(path, records=False)
