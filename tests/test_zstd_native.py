"""zstd input decoded by the system's libzstd (ext/zstd.pyx, analyzer.capture.libzstd):
files mapped and decoded in place, pipes chunk by chunk. Checked against the `zstandard`
package's decoder (its own copy of libzstd) as the oracle: every frame layout, input
given in pieces, truncated and corrupt input, a file cut while read, and `zstandard`
itself where libzstd cannot be loaded."""

from __future__ import annotations

import gzip
import io
import os
import random
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest
import zstandard

from analyzer import _zstd
from analyzer.capture import CaptureStats, libzstd, read_batches
from analyzer.capture.source import decompressor, open_capture
from analyzer.errors import CaptureError, NotACaptureError
from analyzer.synth.bulk import write_bulk

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not _zstd.AVAILABLE, reason="libzstd.so.1 not found")


def payload(size: int, seed: int = 1) -> bytes:
    """Half random (stored blocks), half repetitive (compressed blocks)."""
    rng = random.Random(seed)
    return b"".join(rng.randbytes(4096) + bytes([i % 251]) * 4096
                    for i in range(size // 8192))


def decode_all(data: bytes, chunk_sizes: list[int], piece: int | None = None) -> bytes:
    """Decode `data` given in pieces of `piece` bytes (all at once: None) into targets
    of the sizes `chunk_sizes` in turn."""
    decoder = _zstd.Decoder()
    out, turn = bytearray(), 0
    step = piece or max(1, len(data))
    for start in range(0, len(data), step):
        source, pos = data[start : start + step], 0
        while True:
            target = bytearray(chunk_sizes[turn % len(chunk_sizes)])
            turn += 1
            pos, count = decoder.decode(source, pos, target)
            out += target[:count]
            if not count and pos == len(source):
                break
    assert not decoder.frame_open and decoder.consumed == len(data)
    return bytes(out)


def oracle(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True).read()


@pytest.mark.parametrize(("chunks", "piece"), [([1 << 20], None), ([1], None),
                                               ([7, 65536, 3, 1 << 22], None),
                                               ([1 << 20], 1), ([5000, 1 << 20], 4093)])
def test_frames_in_sequence_as_the_oracle_decodes_them(chunks: list[int], piece: int | None
                                                       ) -> None:
    parts = [payload(300_000, 1), b"", payload(50_000, 2)]
    frames = [zstandard.ZstdCompressor(level=3).compress(p) for p in parts]
    skippable = b"\x50\x2a\x4d\x18" + (5).to_bytes(4, "little") + b"ignor"
    streamed = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    last = streamed.compress(payload(20_000, 3)) + streamed.flush()
    data = frames[0] + skippable + frames[1] + frames[2] + last
    expected = oracle(data)
    assert len(expected) == 300_000 - 300_000 % 8192 + 50_000 - 50_000 % 8192 \
        + 20_000 - 20_000 % 8192
    assert decode_all(data, chunks, piece) == expected


def test_truncated_frame_returns_what_was_decoded_and_stays_open() -> None:
    data = zstandard.ZstdCompressor().compress(payload(1 << 20))
    cut = data[: len(data) * 2 // 3]
    decodable = zstandard.ZstdDecompressor().decompressobj().decompress(cut)
    assert 0 < len(decodable) < 1 << 20
    decoder = _zstd.Decoder()
    target = bytearray(2 << 20)
    pos, count = decoder.decode(cut, 0, target)
    assert (pos, bytes(target[:count])) == (len(cut), decodable)
    assert decoder.decode(cut, pos, target) == (len(cut), 0)
    assert decoder.frame_open


def test_corrupt_block_names_libzstd_reason() -> None:
    data = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(payload(1 << 18)))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(zstandard.ZstdError):  # the oracle refuses it too
        oracle(bytes(data))
    with pytest.raises(OSError, match=r"zstd: .*\(compressed byte \d+\)"):
        decode_all(bytes(data), [1 << 20])
    with pytest.raises(OSError, match=r"zstd: .*\(compressed byte \d+\)"):
        decode_all(bytes(data), [1 << 20], 1000)


@pytest.fixture(scope="module")
def bulk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """6 MB of packets with random payload: more than one refill of the stream window."""
    path = tmp_path_factory.mktemp("zstd") / "bulk.pcap"
    write_bulk(path, 8000, 400, small=False, seed=7, concurrency=100)
    return path


def whole_records(data: bytes) -> bytes:
    """A classic pcap file's bytes up to its last complete record (a walk over the
    record headers: dpkt would yield the cut last record too)."""
    pos = 24
    while pos + 16 <= len(data):
        end = pos + 16 + int.from_bytes(data[pos + 8 : pos + 12], "little")
        if end > len(data):
            break
        pos = end
    return data[:pos]


def dpkt_ports(data: bytes) -> list[int]:
    return [dpkt.ethernet.Ethernet(buf).data.data.sport
            for _ts, buf in dpkt.pcap.Reader(io.BytesIO(whole_records(data)))]


def read_ports(path: Path, stats: CaptureStats | None = None) -> list[int]:
    return [port for batch in read_batches(path, batch_size=500, stats=stats)
            for port in batch["sport"].tolist()]


def test_capture_through_libzstd_and_through_zstandard_alike(
        bulk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    packed = tmp_path / "bulk.pcap.zst"
    packed.write_bytes(zstandard.ZstdCompressor(level=1).compress(bulk.read_bytes()))
    assert bulk.stat().st_size > 4 << 20  # several refills of the stream window
    native = read_ports(packed)
    assert native == dpkt_ports(bulk.read_bytes())
    with open_capture(packed) as capture:
        replayed = capture.window._stream  # type: ignore[attr-defined]
        assert isinstance(replayed._stream, libzstd.MappedZstd)  # the decoded head replayed
    assert isinstance(decompressor("zstd", io.BytesIO(b"")), libzstd.StreamZstd)
    monkeypatch.setattr(libzstd, "available", lambda: False)
    assert not isinstance(decompressor("zstd", io.BytesIO(b"")), libzstd.ZstdReader)
    assert read_ports(packed) == native


def test_truncated_zstd_capture_keeps_every_decodable_packet_and_warns(
        bulk: Path, tmp_path: Path) -> None:
    packed = zstandard.ZstdCompressor(level=1).compress(bulk.read_bytes())
    path = tmp_path / "cut.pcap.zst"
    path.write_bytes(packed[: len(packed) // 2])
    decodable = zstandard.ZstdDecompressor().decompressobj().decompress(path.read_bytes())
    expected = dpkt_ports(decodable)
    stats = CaptureStats()
    assert read_ports(path, stats) == expected and expected
    assert len(stats.warnings) == 1
    assert "zstd stream ends early" in stats.warnings[0]
    assert str(path) in stats.warnings[0]


@pytest.mark.parametrize("kind", ["zstd", "gzip"])
def test_undecodable_data_is_an_error_at_its_offset(bulk: Path, tmp_path: Path, kind: str
                                                    ) -> None:
    """Garbage where a second frame (member) should start: the decoder stops there
    (libzstd: "unknown frame descriptor"); the packets decoded before it, the batch in
    hand included, are delivered first."""
    data = bulk.read_bytes()
    first = data[: len(data) * 3 // 4]
    path = tmp_path / f"bad.pcap.{kind}"
    compress = zstandard.ZstdCompressor(level=1).compress if kind == "zstd" else gzip.compress
    path.write_bytes(compress(first) + b"\x00garbage" * 10 + compress(data[len(first):]))
    delivered: list[int] = []
    with pytest.raises(CaptureError, match="cannot decompress: ") as caught:
        for batch in read_batches(path, batch_size=500):
            delivered += batch["sport"].tolist()
    assert str(path) in str(caught.value)
    assert caught.value.offset == len(first)
    assert delivered == dpkt_ports(first)


def test_file_cut_while_read_is_an_error_not_sigbus(bulk: Path, tmp_path: Path) -> None:
    """In a child process: a SIGBUS would end it, not the test run."""
    path = tmp_path / "shrinking.pcap.zst"
    path.write_bytes(zstandard.ZstdCompressor(level=1).compress(bulk.read_bytes()))
    script = f"""
import os
from analyzer.capture import read_batches
from analyzer.capture.source import decompressor, open_capture
from analyzer.errors import CaptureError, NotACaptureError
try:
    for i, batch in enumerate(read_batches([{str(path)!r}], batch_size=500)):
        if i == 0:
            os.truncate({str(path)!r}, 4096)
except CaptureError as error:
    print(error)
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "cannot decompress: the compressed file could not be read whole" in result.stdout
    assert "shrank to 4096 bytes" in result.stdout


def test_truncated_zstd_from_stdin_warns_as_from_a_file(bulk: Path, tmp_path: Path) -> None:
    packed = zstandard.ZstdCompressor(level=1).compress(bulk.read_bytes())
    cut = packed[: len(packed) // 2]
    path = tmp_path / "cut.pcap.zst"
    path.write_bytes(cut)
    script = ("from analyzer.capture import CaptureStats, read_batches\n"
              "stats = CaptureStats()\n"
              "print(sum(len(b) for b in read_batches('-', stats=stats)))\n"
              "print(stats.warnings[0])")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, input=cut,
                            capture_output=True, timeout=120, env={**os.environ})
    assert result.returncode == 0, result.stderr
    count, warning = result.stdout.decode().splitlines()
    stats = CaptureStats()
    assert int(count) == len(read_ports(path, stats)) > 0
    assert "<stdin>" in warning and "zstd stream ends early" in warning
    assert warning.replace("<stdin>", str(path)) == stats.warnings[0]


def test_a_refill_decodes_at_most_one_cache_sized_piece(bulk: Path, tmp_path: Path) -> None:
    """The window's 4 MiB buffer is filled DECODE_AT_MOST bytes at a time (so the parser
    reads them from the cache they were written to), in order and whole."""
    path = tmp_path / "bulk.pcap.zst"
    path.write_bytes(zstandard.ZstdCompressor(level=1).compress(bulk.read_bytes()))
    target = bytearray(4 * libzstd.DECODE_AT_MOST)
    counts, decoded = [], bytearray()
    with open(path, "rb") as raw:
        reader = libzstd.MappedZstd(raw)
        while count := reader.readinto1(memoryview(target)):
            counts.append(count)
            decoded += target[:count]
        reader.close()
    assert bytes(decoded) == bulk.read_bytes()
    assert max(counts) == libzstd.DECODE_AT_MOST and len(counts) > 2


def test_a_window_over_128_mib_is_refused_with_the_way_around(tmp_path: Path) -> None:
    """As the zstd command without --long/--memory: libzstd's default limit, said
    plainly, with how to read the capture anyway."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=28,
                                                           write_content_size=False)
    packer = zstandard.ZstdCompressor(compression_params=params).compressobj()
    data = (ROOT / "captures" / "demo" / "demo.pcap").read_bytes()
    path = tmp_path / "long.pcap.zst"
    path.write_bytes(packer.compress(data) + packer.flush())
    assert zstandard.get_frame_parameters(path.read_bytes()).window_size == 1 << 28
    with pytest.raises(NotACaptureError, match=r"Frame requires too much memory.*"
                       r"zstd -dc --long=31"):
        list(read_batches(path))
    unpacked = zstandard.ZstdDecompressor(max_window_size=1 << 28).decompress(
        path.read_bytes(), max_output_size=len(data))
    assert unpacked == data  # the file itself is sound
