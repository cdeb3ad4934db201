"""Inputs: compression by magic, stdin, not-a-capture, truncated tails, broken records
(error with offset, or resynchronisation), several files merged by time, Arrow."""

from __future__ import annotations

import bz2
import gzip
import heapq
import lzma
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest
import zstandard
from reader_oracles import epb, eth, idb, our_rows, scapy_records, shb
from scapy.layers.inet import IP, TCP
from scapy.utils import RawPcapWriter

from analyzer.capture import CaptureStats, read_batches
from analyzer.errors import CaptureError, NotACaptureError

ROOT = Path(__file__).resolve().parents[1]


def frames(n: int, base_port: int = 1000) -> list[bytes]:
    return [bytes(eth() / IP(src="192.0.2.1", dst="192.0.2.2")
                  / TCP(sport=base_port + i, dport=80) / (b"p" * (i % 50)))
            for i in range(n)]


def write_pcap(path: Path, data: list[bytes], times_us: list[int] | None = None) -> Path:
    times_us = times_us or [1_000_000 * (i + 1) for i in range(len(data))]
    with RawPcapWriter(str(path), linktype=1, sync=True) as writer:
        writer.write_header(None)
        for frame, ts in zip(data, times_us, strict=True):
            writer.write_packet(frame, sec=ts // 10**6, usec=ts % 10**6)
    return path


def dpkt_ports(path: Path) -> list[int]:
    with path.open("rb") as handle:
        return [dpkt.ethernet.Ethernet(buf).data.data.sport
                for _ts, buf in dpkt.pcap.Reader(handle)]


def record_offsets(path: Path) -> list[int]:
    """Where each record starts, from the record lengths Scapy reads."""
    offsets, pos = [], 24
    for data, _meta in scapy_records(path):
        offsets.append(pos)
        pos += 16 + len(data)
    return offsets


COMPRESSORS = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda data: zstandard.ZstdCompressor().compress(data),
}


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compressed_input_recognised_by_magic(tmp_path: Path, kind: str) -> None:
    plain = write_pcap(tmp_path / "plain.pcap", frames(300))
    packed = tmp_path / "capture.bin"  # the name says nothing
    packed.write_bytes(COMPRESSORS[kind](plain.read_bytes()))
    rows, _ = our_rows(packed, batch_size=64)  # several batches and stream refills
    assert [r["sport"] for r in rows] == dpkt_ports(plain)
    assert [r["offset"] for r in rows] == record_offsets(plain)


def test_compressed_pcapng(tmp_path: Path) -> None:
    data = frames(5)
    path = tmp_path / "x.pcapng.zst"
    raw = shb("<") + idb("<", 1) + b"".join(epb("<", 0, i, f) for i, f in enumerate(data))
    path.write_bytes(zstandard.ZstdCompressor().compress(raw))
    rows, _ = our_rows(path)
    assert [r["sport"] for r in rows] == [1000, 1001, 1002, 1003, 1004]


def test_not_a_capture(tmp_path: Path) -> None:
    text = tmp_path / "notes.pcap"
    text.write_text("hello, this is not a capture\n")
    with pytest.raises(NotACaptureError, match="not a pcap or pcapng capture"):
        list(read_batches(text))
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    with pytest.raises(NotACaptureError):
        list(read_batches(empty))
    gz_text = tmp_path / "notes.gz"
    gz_text.write_bytes(gzip.compress(b"plain text inside gzip"))
    with pytest.raises(NotACaptureError, match="gzip-compressed"):
        list(read_batches(gz_text))


def test_header_only_truncated(tmp_path: Path) -> None:
    path = tmp_path / "short.pcap"
    path.write_bytes(write_pcap(tmp_path / "x.pcap", frames(1)).read_bytes()[:20])
    with pytest.raises(NotACaptureError, match="ends inside the capture header"):
        list(read_batches(path))


@pytest.mark.parametrize("compress", [False, True])
def test_truncated_last_record_keeps_every_complete_packet(tmp_path: Path, compress: bool
                                                           ) -> None:
    full = write_pcap(tmp_path / "full.pcap", frames(50))
    offsets = record_offsets(full)
    cut = full.read_bytes()[: offsets[-1] + 30]  # 30 bytes into the last record
    path = tmp_path / "cut.pcap"
    path.write_bytes(gzip.compress(cut) if compress else cut)
    stats = CaptureStats()
    rows = [r for b in read_batches(path, stats=stats, batch_size=7) for r in b["sport"].tolist()]
    assert rows == dpkt_ports(full)[:-1]
    assert len(stats.warnings) == 1
    assert f"byte offset {offsets[-1]}" in stats.warnings[0]


def _corrupt_caplen(path: Path, record: int) -> tuple[bytes, int]:
    offsets = record_offsets(path)
    data = bytearray(path.read_bytes())
    struct.pack_into("<I", data, offsets[record] + 8, 0x7FFF_FFF0)
    return bytes(data), offsets[record]


@pytest.mark.parametrize("stream", [False, True])
def test_impossible_record_length_error_after_delivering_the_rest(tmp_path: Path,
                                                                  stream: bool) -> None:
    clean = write_pcap(tmp_path / "clean.pcap", frames(20))
    broken, bad_offset = _corrupt_caplen(clean, 12)
    path = tmp_path / "broken.pcap"
    path.write_bytes(gzip.compress(broken) if stream else broken)
    delivered: list[int] = []
    with pytest.raises(CaptureError) as caught:
        for batch in read_batches(path, batch_size=5):
            delivered += batch["sport"].tolist()
    assert caught.value.offset == bad_offset
    assert str(path) in str(caught.value) and f"byte offset {bad_offset}" in str(caught.value)
    assert delivered == dpkt_ports(clean)[:12]


@pytest.mark.parametrize("stream", [False, True])
def test_resync_skips_the_broken_record_and_counts_it(tmp_path: Path, stream: bool) -> None:
    clean = write_pcap(tmp_path / "clean.pcap", frames(20))
    broken, bad_offset = _corrupt_caplen(clean, 12)
    path = tmp_path / "broken.pcap"
    path.write_bytes(gzip.compress(broken) if stream else broken)
    stats = CaptureStats()
    rows, stats = our_rows(path, resync=True, batch_size=5)
    expected = dpkt_ports(clean)
    assert [r["sport"] for r in rows] == expected[:12] + expected[13:]
    assert stats.resync_skips == 1
    assert stats.resync_skipped_bytes == record_offsets(clean)[13] - bad_offset


def test_pcapng_bad_block_trailer_and_resync(tmp_path: Path) -> None:
    data = frames(6)
    blocks = [shb("<"), idb("<", 1)] + [epb("<", 0, i, f) for i, f in enumerate(data)]
    bad = bytearray(blocks[4])
    bad[-4:] = struct.pack("<I", 4)  # trailer disagrees with the header
    blocks[4] = bytes(bad)
    path = tmp_path / "broken.pcapng"
    path.write_bytes(b"".join(blocks))
    bad_offset = sum(len(b) for b in blocks[:4])
    with pytest.raises(CaptureError, match="trailer") as caught:
        list(read_batches(path))
    assert caught.value.offset == bad_offset
    rows, stats = our_rows(path, resync=True)
    assert [r["sport"] for r in rows] == [1000, 1001, 1003, 1004, 1005]
    assert stats.resync_skipped_bytes == len(blocks[4])


def test_merge_by_time_is_stable_across_files(tmp_path: Path) -> None:
    a_times = [1, 3, 3, 5, 9, 9, 12]
    b_times = [2, 3, 4, 9, 10]
    c_times = [0, 3, 9, 9, 30]
    paths = [write_pcap(tmp_path / f"{name}.pcap", frames(len(t), 100 * k), [x * 1000 for x in t])
             for k, (name, t) in enumerate((("a", a_times), ("b", b_times), ("c", c_times)))]
    expected = [port for _t, _k, port in heapq.merge(
        *[[(t * 1000, k, 100 * k + i) for i, t in enumerate(times)]
          for k, times in enumerate((a_times, b_times, c_times))])]
    got, index = [], []
    for batch in read_batches(paths, batch_size=4):
        got += batch["sport"].tolist()
        index += batch.source_index.tolist()
    assert got == expected
    assert index == [port // 100 for port in expected]


def test_sources_opened_before_any_batch(tmp_path: Path) -> None:
    good = write_pcap(tmp_path / "good.pcap", frames(3))
    with pytest.raises(NotACaptureError):
        read_batches([good, tmp_path / "good.pcap", Path(__file__)])


def test_arrow_and_pandas_without_copies(tmp_path: Path) -> None:
    import pyarrow as pa

    path = write_pcap(tmp_path / "x.pcap", frames(10))
    batch = next(iter(read_batches(path)))
    table = batch.to_arrow()
    assert table.schema.field("src").type == pa.binary(16)
    assert table.column("src").chunk(0).buffers()[1].address == batch["src"].ctypes.data
    assert table.column("ts_ns").to_pylist() == batch["ts_ns"].tolist()
    frame = batch.to_pandas()
    assert list(frame["sport"]) == list(range(1000, 1010))
    assert frame["src"][0] == bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 1])


@pytest.mark.skipif(shutil.which("tcpdump") is None, reason="needs tcpdump")
def test_stdin_pipe_from_tcpdump(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "x.pcap", frames(40))
    command = (f"tcpdump -r {path} -w - 2>/dev/null | {sys.executable} -m analyzer "
               f"packets --format jsonl -")
    out = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=ROOT,
                         timeout=60, check=True).stdout
    import json

    ports = [json.loads(line)["sport"] for line in out.splitlines()]
    assert ports == dpkt_ports(path)


def test_reused_buffers_give_the_same_packets(tmp_path: Path) -> None:
    path = write_pcap(tmp_path / "x.pcap", frames(100))
    fresh = [b["sport"].tolist() for b in read_batches(path, batch_size=16)]
    reused = [b["sport"].tolist() for b in read_batches(path, batch_size=16, reuse_buffers=True)]
    assert reused == fresh
    assert [port for ports in fresh for port in ports] == dpkt_ports(path)


def test_truncated_gzip_stream_gives_one_warning(tmp_path: Path) -> None:
    full = write_pcap(tmp_path / "full.pcap", frames(200))
    packed = gzip.compress(full.read_bytes())
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    rows, stats = our_rows(path)
    assert 0 < len(rows) < 200
    assert [r["sport"] for r in rows] == dpkt_ports(full)[: len(rows)]
    assert len(stats.warnings) == 1 and "gzip stream ends early" in stats.warnings[0]
