"""Malformed input: the corpus's broken captures give the right error or per-packet
status (tshark's expert messages name the same defects), and a fuzz test mutating
real captures never crashes, hangs or raises anything but our typed errors."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import dpkt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_oracles import our_rows

from analyzer.capture import SUPPORTED_LINKTYPES, PacketStatus, read_batches
from analyzer.capture.stats import CaptureStats
from analyzer.errors import CaptureError, NotACaptureError

CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "captures"

# path -> (our malformed counts, what tshark's expert info says about the same packet)
MALFORMED = {
    "zeek/trunc/ip4-trunc.pcap": ({"truncated_ip": 1}, None),
    "zeek/trunc/ip6-trunc.pcap": ({"truncated_ip": 1}, None),
    "zeek/trunc/ip6-ext-trunc.pcap": ({"bad_ip_length": 1},
                                      "IPv6 payload length exceeds framing length"),
    "zeek/trunc/trunc-hdr.pcap": ({"truncated_link": 1}, None),
    "tcpdump/ipv4_invalid_total_length.pcap": ({"bad_ip_length": 1},
                                               "IPv4 total length exceeds packet length"),
    "tcpdump/ipv4_invalid_hdr_length.pcap": ({"bad_ip_header_length": 1},
                                             "Bogus IP header length"),
    "tcpdump/ipv6_invalid_length.pcap": ({"truncated_ip": 1},
                                         "IPv6 header must be exactly 40 bytes"),
    "tcpdump/LINKTYPE_IPV4_invalid.pcap": ({"bad_ip_version": 1}, None),
    "tcpdump/ipv6-next-header-oobr-1.pcap": ({"truncated_ext_header": 1}, "Invalid Length"),
    # snaplen-cut packets are not malformed: the headers are whole
    "tcpdump/tcp_rst_data-trunc.pcap": ({}, None),
    "dpkt/truncated_dns.pcap": ({}, None),
    "zeek/tcp/truncated-header.pcap": ({}, None),
    "libpcap/pcap-invalid-version-2.pcap": ({}, None),
}
REJECTED = [
    "libpcap/pcap-invalid-version-1.pcap",
    "libpcap/pcapng-invalid-vers-1.pcapng",
    "libpcap/pcapng-invalid-vers-2.pcapng",
    "libpcap/shb-option-too-long.pcapng",
    "libpcap/linktype-reserved-field-not-zero.pcap",
]


def tshark_expert(path: Path) -> str:
    if shutil.which("tshark") is None:
        pytest.skip("needs tshark")
    return subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e",
                           "_ws.expert.message"], capture_output=True, text=True,
                          timeout=60).stdout


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_packets_counted_by_reason(name: str) -> None:
    expected, tshark_says = MALFORMED[name]
    _rows, stats = our_rows(CAPTURES / name)
    assert dict(stats.malformed) == expected
    if tshark_says:
        assert tshark_says in tshark_expert(CAPTURES / name)


@pytest.mark.parametrize("name", REJECTED)
def test_unreadable_headers_are_refused(name: str) -> None:
    """libpcap and tshark refuse these files too."""
    with pytest.raises(NotACaptureError) as caught:
        list(read_batches(CAPTURES / name))
    assert str(CAPTURES / name) in str(caught.value)
    assert "\n" not in str(caught.value)


def test_file_cut_inside_last_record_warns_with_offset() -> None:
    path = CAPTURES / "dpkt/truncated_dns_2.pcap"
    complete = []
    with path.open("rb") as handle:
        reader = dpkt.pcap.Reader(handle)
        with contextlib.suppress(dpkt.NeedData, ValueError):
            complete.extend(len(buf) for _ts, buf in reader)
    rows, stats = our_rows(path)
    assert len(rows) == len(complete)
    end_of_complete = 24 + sum(16 + n for n in complete)
    assert end_of_complete < path.stat().st_size
    assert len(stats.warnings) == 1 and f"offset {end_of_complete}" in stats.warnings[0]


# ---------------------------------------------------------------- fuzzing

SEEDS = [
    "nfstream/dns_fragmented.pcap",  # IPv4 and IPv6 fragments
    "zeek/ldap/modify-request.pcapng",  # many interfaces, VLAN, IPv6
    "pcapng-test-generator/output_be/difficult/test202.pcapng",  # mixed-endian sections
    "tcpdump/icmpv6-RFC2894-RR.pcap",  # BSD NULL, ICMPv6
    "libpcap/filter/ipv6_ext_headers.pcap",  # long extension chain
    "nfstream/6in4tunnel.pcap",
]
SEED_BYTES = {name: (CAPTURES / name).read_bytes()[:6000] for name in SEEDS
              if (CAPTURES / name).exists()}


def _read_everything(data: bytes, resync: bool, stream: bool = False) -> None:
    """Read it all; `stream` gzips it first, so the parser runs over heap buffers
    (where an AddressSanitizer build of the reader sees any overread)."""
    fd, name = tempfile.mkstemp(suffix=".cap")
    try:
        os.write(fd, gzip.compress(data) if stream else data)
        os.close(fd)
        stats = CaptureStats()
        try:
            for batch in read_batches(name, resync=resync, stats=stats, batch_size=16):
                c = batch.columns
                assert set(c["wire_family"].tolist()) <= {0, 4, 6}
                assert int(c["status"].max(initial=0)) < len(PacketStatus)
                assert (c["caplen"] <= len(data)).all()
        except (CaptureError, NotACaptureError) as exc:
            assert "\n" not in str(exc)
    finally:
        os.unlink(name)


@st.composite
def mutated_capture(draw: st.DrawFn) -> bytes:
    data = bytearray(SEED_BYTES[draw(st.sampled_from(sorted(SEED_BYTES)))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "byte", "cut", "insert", "word"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif kind == "word" and len(data) >= at + 4:
            data[at:at + 4] = struct.pack("<I", draw(st.sampled_from(
                [0, 1, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 24, 40, 65535])))
    return bytes(data)


@settings(max_examples=1500, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated_capture(), st.booleans(), st.booleans())
def test_fuzz_mutated_real_captures(data: bytes, resync: bool, stream: bool) -> None:
    _read_everything(data, resync, stream)


@settings(max_examples=800, derandomize=True, deadline=None)
@given(st.sampled_from(SUPPORTED_LINKTYPES), st.lists(st.binary(max_size=120), max_size=20))
def test_fuzz_random_frames_on_every_link_type(linktype: int, frames: list[bytes]) -> None:
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for frame in frames:
        data += struct.pack("<IIII", 1, 0, len(frame), len(frame)) + frame
    _read_everything(data, False, stream=True)
