"""A capture truncated by another process while it is memory-mapped (logrotate's
copytruncate, a capture tool restarted on the same file): the reader stops with an
error naming the file and the byte offset, instead of dying of SIGBUS (ext/map_guard.h).

Each case runs in a child process, so that a SIGBUS ends the child, not the test run.
"""

from __future__ import annotations

import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analyzer.synth.bulk import write_bulk

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000


def record_offsets(path: Path) -> list[int]:
    """Byte offset of every record of a little-endian classic pcap file (a walk over
    the 16-byte record headers, independent of the reader)."""
    data = path.read_bytes()
    assert data[:4] == b"\xd4\xc3\xb2\xa1"
    offsets, pos = [], 24
    while pos + 16 <= len(data):
        offsets.append(pos)
        (caplen,) = struct.unpack_from("<I", data, pos + 8)
        pos += 16 + caplen
    return offsets


def run_child(script: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *options, "-c", textwrap.dedent(script)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shrinking") / "bulk.pcap"
    write_bulk(path, 30_000, 1_500, small=False, seed=4, concurrency=400)
    return path


@pytest.fixture
def copy(capture: Path, tmp_path: Path) -> Path:
    target = tmp_path / "shrinking.pcap"
    target.write_bytes(capture.read_bytes())
    return target


def test_packet_batches_stop_with_an_error_at_the_batch_being_read(copy: Path) -> None:
    offsets = record_offsets(copy)
    half = copy.stat().st_size // 2
    result = run_child(f"""
        import os
        from analyzer.capture import read_batches
        from analyzer.errors import CaptureError
        delivered = 0
        try:
            for batch in read_batches([{str(copy)!r}], batch_size={BATCH}):
                delivered += len(batch)
                if delivered == {BATCH}:
                    os.truncate({str(copy)!r}, {half})
        except CaptureError as error:
            print(delivered, error.offset)
            print(error)
        """)
    assert result.returncode == 0, result.stderr
    delivered, offset = map(int, result.stdout.splitlines()[0].split())
    assert delivered == BATCH                       # the batch read before the cut
    assert offset == offsets[BATCH]                 # the first packet not delivered
    message = result.stdout.splitlines()[1]
    assert message.startswith(f"{copy}: at byte offset {offsets[BATCH]}: ")
    assert f"the file shrank to {half} bytes while being read" in message


def test_records_with_the_prefault_thread_stop_with_an_error(copy: Path) -> None:
    """Cut below the parser's position: every later page faults, the prefault
    thread's first (it reads ahead of the parser)."""
    result = run_child(f"""
        import os
        from analyzer.capture.records import read_records
        from analyzer.errors import CaptureError
        seen = 0
        try:
            for records in read_records({str(copy)!r}, batch_size={BATCH}, prefault=True):
                seen += len(records)
                if seen == {BATCH}:
                    os.truncate({str(copy)!r}, 4096)
        except CaptureError as error:
            print(seen, error)
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{BATCH} {copy}: at byte offset ")
    assert "the file shrank to 4096 bytes while being read" in result.stdout


def test_flows_of_a_file_cut_under_the_reader_end_with_the_error(copy: Path) -> None:
    result = run_child(f"""
        import os, threading
        from analyzer.flows import read_flows
        from analyzer.errors import CaptureError
        from analyzer.capture import records
        records.RECORD_BATCH = records.RECORD_BATCH_AHEAD = 8192  # the file: several batches
        original = records.SourceReader.batches

        def cut_after_first(self):
            for index, batch in enumerate(original(self)):
                yield batch
                if index == 0:
                    os.truncate({str(copy)!r}, 100_000)

        records.SourceReader.batches = cut_after_first
        try:
            read_flows([{str(copy)!r}])
        except CaptureError as error:
            print("error:", error)
        """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"error: {copy}: at byte offset ")
    assert "shrank to 100000 bytes" in result.stdout


@pytest.mark.parametrize("faulthandler", [False, True])
def test_a_fault_outside_the_guarded_captures_still_ends_the_process(
        copy: Path, tmp_path: Path, faulthandler: bool) -> None:
    """The guard answers faults in the mappings it guards only: any other SIGBUS goes
    to the handler installed before it (faulthandler), or takes the default action."""
    other = tmp_path / "other.bin"
    other.write_bytes(bytes(1 << 16))
    result = run_child(f"""
        import mmap, os
        from analyzer.capture import read_batches
        sum(len(batch) for batch in read_batches([{str(copy)!r}]))   # installs the guard
        with open({str(other)!r}, "rb") as stream:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        os.truncate({str(other)!r}, 0)
        print("read", mapped[40000], flush=True)
        """, *(["-X", "faulthandler"] if faulthandler else []))
    assert result.returncode == -signal.SIGBUS
    assert "read" not in result.stdout
    assert ("Fatal Python error: Bus error" in result.stderr) == faulthandler


def test_windows_free_their_guard_closed_or_dropped(capture: Path) -> None:
    """More windows over time than the guard has slots (256): a closed window, and one
    dropped without closing, give their slot back; a closed one never frees it twice."""
    from analyzer.capture.window import MappedWindow

    for _ in range(300):
        with capture.open("rb") as stream:
            dropped = MappedWindow(stream)
        assert dropped._guard >= 0
        del dropped
        with capture.open("rb") as stream:
            closed = MappedWindow(stream)
        assert closed._guard >= 0
        closed.close()
        closed.close()
        del closed
