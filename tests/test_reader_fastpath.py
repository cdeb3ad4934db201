"""The reader's fast path (ext/reader_fast.pxi) writes exactly the packet records the
general decoders write: byte for byte, on every corpus capture and on frames made to sit
on each edge of what the fast path takes (lengths, options, fragments, tags, snaplen
cuts). Which decoder wrote a record is invisible; what the general decoders write is
checked against dpkt, Scapy and tshark by the other reader tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reader_oracles import epb, eth, idb, shb, spb
from scapy.layers.inet import ICMP, IP, TCP, UDP, IPerror, UDPerror
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment
from scapy.layers.l2 import Dot1AD, Dot1Q
from scapy.packet import Raw
from scapy.utils import RawPcapWriter
from test_reader_tshark_corpus import CORPUS_CAPTURES, corpus_captures

from analyzer.capture import CaptureStats
from analyzer.capture.reader import SourceReader
from analyzer.capture.records import RecordSink
from analyzer.capture.source import open_capture
from analyzer.errors import DualstackError


def records(path: Path, fast_path: bool) -> tuple[np.ndarray, str | None, CaptureStats]:
    """Every record of the capture (resynchronising past broken records; the named
    fields: numpy copies leave out the pad bytes), the error that ended it, and the
    statistics."""
    stats = CaptureStats()
    sink = RecordSink(256)
    out, error = [], None
    with open_capture(str(path)) as capture:
        reader = SourceReader(capture, sink, True, stats)
        reader.parser.fast_path = fast_path
        try:
            for batch in reader.batches():
                stats.add_tally(sink.take_tally())
                out.append(batch.copy())
        except DualstackError as exc:
            error = str(exc)
    return (np.concatenate(out) if out else np.empty(0, sink.records.dtype)), error, stats


def assert_same_records(path: Path) -> int:
    fast, fast_error, fast_stats = records(path, True)
    general, general_error, general_stats = records(path, False)
    assert fast_error == general_error
    assert len(fast) == len(general)
    differ = [i for i in range(len(fast)) if fast[i].tobytes() != general[i].tobytes()]
    assert not differ, f"{path.name}: records {differ[:5]} differ"
    assert fast_stats == general_stats      # a dataclass: every count and warning
    return len(fast)


@pytest.mark.parametrize("name", corpus_captures())
def test_corpus_records_are_the_same_either_way(name: str) -> None:
    assert_same_records(CORPUS_CAPTURES / name)


def edge_frames() -> list[bytes]:
    """Frames on each side of every condition of the fast path."""
    a4, b4, a6, b6 = "192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"
    tcp = TCP(sport=40000, dport=80, flags="PA") / Raw(b"x" * 20)
    udp = UDP(sport=5353, dport=53) / Raw(b"q" * 12)
    frames = [
        eth() / IP(src=a4, dst=b4) / tcp,
        eth() / IP(src=a4, dst=b4, flags="DF") / tcp,
        eth() / IP(src=a4, dst=b4, flags="MF") / tcp,
        eth() / IP(src=a4, dst=b4, frag=3, proto=6) / Raw(b"y" * 30),
        eth() / IP(src=a4, dst=b4, options=b"\x01\x01\x01\x00") / tcp,
        eth() / Dot1Q(vlan=12) / IP(src=a4, dst=b4) / udp,
        eth() / Dot1Q(vlan=12) / Dot1Q(vlan=13) / IP(src=a4, dst=b4) / udp,
        eth() / Dot1AD(vlan=5) / Dot1Q(vlan=6) / IP(src=a4, dst=b4) / udp,
        eth() / IP(src=a4, dst=b4) / TCP(sport=1, dport=2, dataofs=15) / Raw(b"o" * 60),
        eth() / IP(src=a4, dst=b4) / ICMP(type=3, code=3) / IPerror(src=b4, dst=a4)
        / UDPerror(sport=53, dport=5353),
        eth() / IPv6(src=a6, dst=b6) / tcp,
        eth() / IPv6(src=a6, dst=b6) / udp,
        eth() / IPv6(src=a6, dst=b6) / IPv6ExtHdrDestOpt() / udp,
        eth() / IPv6(src=a6, dst=b6) / IPv6ExtHdrFragment(m=1) / udp,
        eth() / IP(src=a4, dst=b4) / IPv6(src=a6, dst=b6) / tcp,
    ]
    raw = [bytes(f) for f in frames]
    base = raw[0]
    ip = 14
    edges = [
        _set16(base, ip + 2, 0),                    # total length 0 (offloaded)
        _set16(base, ip + 2, len(base) - ip + 1),   # total length past the frame
        _set16(base, ip + 2, 20),                   # total = header: no transport bytes
        base[:ip] + bytes([0x44]) + base[ip + 1:],  # IHL 16 < 20
        base[:ip] + bytes([0x4F]) + base[ip + 1:],  # IHL 60 > total
        _set8(base, ip + 20 + 12, 0x40),            # TCP data offset 16 < 20
        _set8(base, ip + 20 + 12, 0xF0),            # TCP data offset 60 > segment
        base[:ip] + bytes([0x65]) + base[ip + 1:],  # version 6 in an IPv4 EtherType
        base[:13],                                  # shorter than an Ethernet header
        base[:17],                                  # 17 bytes: below the fast path's floor
    ]
    udp4 = bytes(eth() / IP(src=a4, dst=b4) / udp)
    udp6 = bytes(eth() / IPv6(src=a6, dst=b6) / udp)
    edges += [
        _set16(udp4, ip + 20 + 4, 0),               # UDP length 0
        _set16(udp4, ip + 20 + 4, 7),               # UDP length < 8
        _set16(udp4, ip + 20 + 4, 8),               # UDP length 8: no payload
        _set16(udp4, ip + 20 + 4, len(udp4) - ip - 20 + 1),  # UDP length past IP's
        _set16(udp6, ip + 4, 0),                    # IPv6 payload length 0
        _set16(udp6, ip + 4, len(udp6) - ip - 40 + 1),  # IPv6 payload past the frame
    ]
    return raw + edges


def _set16(frame: bytes, at: int, value: int) -> bytes:
    return frame[:at] + value.to_bytes(2, "big") + frame[at + 2:]


def _set8(frame: bytes, at: int, value: int) -> bytes:
    return frame[:at] + bytes([value]) + frame[at + 1:]


def write(path: Path, frames: list[bytes], snaplen: int) -> Path:
    """A pcap whose records are cut at `snaplen` (wire length kept), as tcpdump -s does."""
    with RawPcapWriter(str(path), linktype=1, snaplen=snaplen, sync=True) as writer:
        writer.write_header(None)
        for i, frame in enumerate(frames):
            writer.write_packet(frame[:snaplen], sec=1_700_000_000 + i, usec=i,
                                wirelen=len(frame))
    return path


@pytest.mark.parametrize("snaplen", [65535, 62, 54, 38, 34])
def test_edge_frames_are_the_same_either_way(tmp_path: Path, snaplen: int) -> None:
    frames = edge_frames()
    assert assert_same_records(write(tmp_path / "edges.pcap", frames, snaplen)) == len(frames)


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_edge_frames_are_the_same_either_way(tmp_path: Path, endian: str) -> None:
    """pcapng: Ethernet interfaces 0 and 2 around a raw-IP interface 1, enhanced and
    simple packet blocks, cut frames, a block naming an interface that does not exist."""
    frames = edge_frames()
    blocks = [shb(endian), idb(endian, 1), idb(endian, 101), idb(endian, 1, snaplen=54)]
    for i, frame in enumerate(frames):
        blocks.append(epb(endian, i % 3, 1_700_000_000_000_000 + i, frame[:40 + i % 30],
                          len(frame)))
        blocks.append(epb(endian, 0, 1_700_000_000_000_000 + i, frame))
        blocks.append(epb(endian, 1, 1_700_000_000_000_000 + i, frame[14:]))
        blocks.append(spb(endian, frame))
    blocks.append(epb(endian, 7, 1_700_000_000_000_999, frames[0]))
    path = tmp_path / "edges.pcapng"
    path.write_bytes(b"".join(blocks))
    assert assert_same_records(path) == 4 * len(frames) + 1
