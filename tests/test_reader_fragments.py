"""IPv4 and IPv6 fragments: the first fragment gives the ports (as Scapy decodes
them), later fragments of the same datagram (src, dst, id, protocol) get the same
ports from the reader's fragment table; other datagrams do not."""

from __future__ import annotations

from pathlib import Path

from reader_oracles import eth, our_rows
from scapy.layers.inet import IP, UDP, fragment
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, fragment6
from scapy.utils import RawPcapWriter


def write(path: Path, packets: list) -> Path:
    with RawPcapWriter(str(path), linktype=1, sync=True) as writer:
        writer.write_header(None)
        for i, pkt in enumerate(packets):
            writer.write_packet(bytes(eth() / pkt), sec=i, usec=0)
    return path


def test_ipv4_fragments_take_the_first_fragments_ports(tmp_path: Path) -> None:
    one = fragment(IP(src="192.0.2.1", dst="192.0.2.2", id=77) / UDP(sport=5000, dport=53)
                   / (b"a" * 3000), fragsize=1000)
    two = fragment(IP(src="192.0.2.1", dst="192.0.2.2", id=78) / UDP(sport=6000, dport=123)
                   / (b"b" * 2000), fragsize=1000)
    # interleaved datagrams, and a stray later fragment whose first one is missing
    stray = IP(src="192.0.2.9", dst="192.0.2.2", id=5, frag=100, proto=17) / (b"c" * 50)
    packets = [one[0], two[0], one[1], two[1], one[2], two[2], stray]
    rows, _ = our_rows(write(tmp_path / "frag4.pcap", packets))
    first_udp = {77: IP(bytes(one[0]))[UDP], 78: IP(bytes(two[0]))[UDP]}  # Scapy decodes
    first_ports = {k: (udp.sport, udp.dport) for k, udp in first_udp.items()}
    for row, pkt in zip(rows, packets, strict=True):
        assert row["frag"] == (1 if pkt.frag == 0 else 2)
        assert row["proto"] == 17 and row["status"] == 0
        assert (row["sport"], row["dport"]) == first_ports.get(pkt.id, (0, 0))
        assert row["payload_len"] == len(pkt) - 20 - (8 if pkt.frag == 0 else 0)


def test_ipv6_fragments_take_the_first_fragments_ports(tmp_path: Path) -> None:
    datagram = (IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=4242)
                / UDP(sport=7000, dport=443) / (b"q" * 2500))
    parts = fragment6(datagram, 1000)
    other = fragment6(IPv6(src="2001:db8::1", dst="2001:db8::2") / IPv6ExtHdrFragment(id=4243)
                      / UDP(sport=7001, dport=443) / (b"r" * 1500), 1000)
    packets = [parts[0], other[0], *parts[1:], *other[1:]]
    rows, _ = our_rows(write(tmp_path / "frag6.pcap", packets))
    for row, pkt in zip(rows, packets, strict=True):
        frag = pkt[IPv6ExtHdrFragment]
        first = IPv6(bytes(parts[0] if frag.id == 4242 else other[0]))[UDP]  # Scapy decodes
        assert row["frag"] == (1 if frag.offset == 0 else 2)
        assert (row["sport"], row["dport"]) == (first.sport, first.dport)
        assert row["proto"] == 17
