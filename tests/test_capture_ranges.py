"""A pcap file read in byte ranges cut by the record-header walk (`analyzer.capture.cuts`):
the ranges read one after the other give exactly the records dpkt reads from the whole
file (timestamps, lengths), in every byte order and time resolution; a broken record is
reported with its offset in the file; formats that cannot be entered mid-file are refused.
"""

from __future__ import annotations

import gzip
import itertools
import struct
import subprocess
from decimal import Decimal
from pathlib import Path

import dpkt
import pytest

from analyzer.capture import CaptureStats
from analyzer.capture.cuts import record_cuts
from analyzer.capture.records import read_records
from analyzer.errors import CaptureError, UsageError

MAGICS = {  # (big-endian, nanoseconds) -> magic as stored
    (False, False): b"\xd4\xc3\xb2\xa1",
    (True, False): b"\xa1\xb2\xc3\xd4",
    (False, True): b"\x4d\x3c\xb2\xa1",
    (True, True): b"\xa1\xb2\x3c\x4d",
}


def dpkt_records(path: Path) -> list[tuple[float | Decimal, int]]:
    with open(path, "rb") as stream:
        return [(ts, len(buf)) for ts, buf in dpkt.pcap.Reader(stream)]


def rewrite(source: Path, target: Path, *, big: bool, nanos: bool) -> Path:
    """The records dpkt reads from `source`, written in the given byte order and
    resolution (a fixture: what is checked is read back by dpkt too)."""
    order = ">" if big else "<"
    with open(source, "rb") as stream:
        reader = dpkt.pcap.Reader(stream)
        linktype, snaplen = reader.datalink(), reader.snaplen
        packets = [(ts, bytes(buf)) for ts, buf in reader]
    out = bytearray(MAGICS[big, nanos] + struct.pack(order + "HHiIII", 2, 4, 0, 0, snaplen,
                                                     linktype))
    for ts, buf in packets:
        seconds = int(ts)
        fraction = round((ts - seconds) * (1e9 if nanos else 1e6))
        out += struct.pack(order + "IIII", seconds, fraction, len(buf), len(buf)) + buf
    target.write_bytes(bytes(out))
    return target


def read_ranges(path: Path, ranges: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    rows: list[tuple[int, int, int]] = []
    for span in ranges:
        for batch in read_records(path, byte_range=span, batch_size=97):
            rows += zip(batch["ts_ns"].tolist(), batch["caplen"].tolist(),
                        batch["wirelen"].tolist(), strict=True)
    return rows


def same_records(got: list[tuple[int, int, int]],
                 oracle: list[tuple[float | Decimal, int]]) -> None:
    assert len(got) == len(oracle)
    for (ts_ns, caplen, wirelen), (ts, length) in zip(got, oracle, strict=True):
        assert (caplen, wirelen) == (length, length)
        if isinstance(ts, Decimal):  # dpkt's nanosecond timestamps: exact
            assert ts_ns == int(ts * 10**9)
        else:
            assert abs(ts_ns / 1e9 - ts) < 1e-6


@pytest.fixture
def synscan(corpus: Path) -> Path:
    return corpus / "captures/nfstream/synscan.pcap"


@pytest.mark.parametrize(("big", "nanos"), sorted(MAGICS))
@pytest.mark.parametrize("chunk_size", [1, 5000, 60000])
def test_ranges_read_in_turn_give_the_whole_file(synscan, tmp_path, big, nanos, chunk_size):
    path = rewrite(synscan, tmp_path / "scan.pcap", big=big, nanos=nanos)
    ranges = record_cuts(path, chunk_size)
    assert ranges is not None and len(ranges) > 1
    size = path.stat().st_size
    assert ranges[0][0] == 24 and ranges[-1][1] == size
    assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))  # no gap
    if chunk_size == 5000:
        assert len(ranges) == pytest.approx((size - 24) / 5000, abs=2)
    same_records(read_ranges(path, ranges), dpkt_records(path))


def test_microsecond_timestamps_are_exact(synscan):
    ranges = record_cuts(synscan, 20000)
    assert ranges is not None
    got = [ts for ts, _, _ in read_ranges(synscan, ranges)]
    with open(synscan, "rb") as stream:
        raw = stream.read()
    expected, pos = [], 24
    while pos < len(raw):  # the stored seconds and microseconds, as integers
        seconds, micros, caplen = struct.unpack_from("<III", raw, pos)
        expected.append(seconds * 10**9 + micros * 1000)
        pos += 16 + caplen
    assert got == expected


def test_broken_record_is_reported_at_its_offset_in_the_file(synscan, tmp_path):
    data = bytearray(synscan.read_bytes())
    whole = dpkt_records(synscan)
    ranges = record_cuts(synscan, 10000)
    assert ranges is not None
    offsets, pos = [], 24  # record offsets, from the lengths dpkt read
    for _ts, length in whole:
        offsets.append(pos)
        pos += 16 + length
    bad = next(i for i, offset in enumerate(offsets) if offset > 3 * 10000)
    struct.pack_into("<I", data, offsets[bad] + 8, 0x7FFF0000)  # impossible record length
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(bytes(data))
    cut = record_cuts(broken, 10000)
    assert cut is not None and cut[:-1] == ranges[: len(cut) - 1]
    assert cut[-1][0] < offsets[bad] and cut[-1][1] == len(data)  # the rest: the last range
    rows: list[tuple[int, int, int]] = []
    with pytest.raises(CaptureError) as raised:
        rows = []
        for span in cut:
            for batch in read_records(broken, byte_range=span):
                rows += zip(batch["ts_ns"].tolist(), batch["caplen"].tolist(),
                            batch["wirelen"].tolist(), strict=True)
    assert raised.value.offset == offsets[bad]
    assert f"byte offset {offsets[bad]}" in str(raised.value)
    same_records(rows, whole[:bad])


def test_truncated_file_warns_with_the_offset_of_the_cut_record(synscan, tmp_path):
    data = synscan.read_bytes()
    whole = dpkt_records(synscan)
    last = len(data) - 16 - whole[-1][1]
    cut_short = tmp_path / "short.pcap"
    cut_short.write_bytes(data[: last + 20])  # inside the last record
    ranges = record_cuts(cut_short, 30000)
    assert ranges is not None and ranges[-1][1] == last + 20
    stats = CaptureStats()
    rows = []
    for span in ranges:
        for batch in read_records(cut_short, byte_range=span, stats=stats):
            rows += [(int(t), int(c), int(w)) for t, c, w in
                     zip(batch["ts_ns"], batch["caplen"], batch["wirelen"], strict=True)]
    same_records(rows, whole[:-1])
    assert len(stats.warnings) == 1 and f"byte offset {last}" in stats.warnings[0]


def test_pcapng_and_compressed_files_are_not_cut(synscan, tmp_path):
    pcapng = tmp_path / "scan.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(synscan), str(pcapng)], check=True,
                   capture_output=True)
    packed = tmp_path / "scan.pcap.gz"
    packed.write_bytes(gzip.compress(synscan.read_bytes()))
    for path in (pcapng, packed):
        assert record_cuts(path, 1000) is None
        with pytest.raises(UsageError, match="uncompressed classic pcap"):
            next(read_records(path, byte_range=(0, 1000)))
    assert record_cuts(synscan, synscan.stat().st_size) is None  # not larger: whole
