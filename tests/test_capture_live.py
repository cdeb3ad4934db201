"""Live input through a pipe (``tcpdump -w - | dualstack packets -``): packets are shown
as they come, not when a batch is full or the input ends; Ctrl-C ends a flows run with
the flows seen written; and a pipe is read with a buffer wider than the kernel's default
64 KiB."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from reader_oracles import eth
from scapy.layers.inet import IP, TCP

from analyzer.capture import read_batches
from analyzer.capture.source import PIPE_BYTES, open_capture

ROOT = Path(__file__).resolve().parents[1]
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
WAIT_S = 10.0  # far above the reader's 0.1 s and a cold start of the command


def record(port: int, second: int) -> bytes:
    frame = bytes(eth() / IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=port, dport=80))
    return struct.pack("<IIII", second, 0, len(frame), len(frame)) + frame


def line_within(stream: object, seconds: float) -> str | None:
    """The next line the command writes, or None if none comes in time."""
    fd = stream.fileno()  # type: ignore[attr-defined]
    if not select.select([fd], [], [], seconds)[0]:
        return None
    return stream.readline()  # type: ignore[attr-defined, no-any-return]


def test_packets_from_a_live_pipe_show_while_the_input_stays_open() -> None:
    with subprocess.Popen([sys.executable, "-m", "analyzer", "packets", "-"], cwd=ROOT,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as command:
        assert command.stdin is not None and command.stdout is not None
        try:
            command.stdin.write(PCAP_HEADER + record(1111, 1))
            command.stdin.flush()
            first = line_within(command.stdout, WAIT_S)
            assert first is not None, "nothing shown while the pipe stayed open"
            assert b"192.0.2.1:1111 -> 192.0.2.2:80" in first
            assert command.poll() is None  # still reading: shown before the input ended
            command.stdin.write(record(2222, 2))
            command.stdin.flush()
            second = line_within(command.stdout, WAIT_S)
            assert second is not None and b"192.0.2.1:2222 -> 192.0.2.2:80" in second
            _, errors = command.communicate(timeout=30)  # closes the input: the end
            assert command.returncode == 0, errors
        finally:
            command.kill()


def test_flows_from_a_live_pipe_show_as_they_finish() -> None:
    """`tcpdump -w - | dualstack flows -`: a flow is written once a later packet has ended
    it (here by the TCP timeout), while the input stays open; before, finished flows
    waited for 8192 more or the end of the input."""
    with subprocess.Popen([sys.executable, "-m", "analyzer", "flows", "-", "--format",
                           "jsonl", "--tcp-timeout", "1"], cwd=ROOT, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE) as command:
        assert command.stdin is not None and command.stdout is not None
        try:
            command.stdin.write(PCAP_HEADER + record(1111, 1) + record(2222, 10))
            command.stdin.flush()
            first = line_within(command.stdout, WAIT_S)
            assert first is not None, "no finished flow shown while the pipe stayed open"
            assert json.loads(first)["client_port"] == 1111
            assert command.poll() is None
            rest, errors = command.communicate(timeout=30)  # the end: the other flow
            assert command.returncode == 0, errors
            assert [json.loads(line)["client_port"] for line in rest.splitlines()] == [2222]
        finally:
            command.kill()


def test_a_pipe_that_keeps_up_still_fills_whole_batches() -> None:
    """Only a quiet input cuts a batch short: 5000 packets written at once come as one."""
    read_fd, write_fd = os.pipe()
    data = PCAP_HEADER + b"".join(record(1000 + i % 5000, i) for i in range(5000))
    writer = threading.Thread(target=_write_all, args=(write_fd, data))
    writer.start()
    try:
        sizes = [len(batch) for batch in read_batches(f"/dev/fd/{read_fd}")]
    finally:
        writer.join()
        os.close(read_fd)
    assert sizes == [5000]


def _write_all(fd: int, data: bytes) -> None:
    with os.fdopen(fd, "wb") as pipe:
        pipe.write(data)


@pytest.mark.skipif(not hasattr(fcntl, "F_GETPIPE_SZ"), reason="Linux pipes only")
def test_a_pipe_is_read_with_a_wider_buffer() -> None:
    limit = int(Path("/proc/sys/fs/pipe-max-size").read_text())
    if limit < PIPE_BYTES:
        pytest.skip(f"fs.pipe-max-size is {limit}")
    read_fd, write_fd = os.pipe()
    try:
        os.write(write_fd, PCAP_HEADER + record(1111, 1))
        os.close(write_fd)
        assert fcntl.fcntl(read_fd, fcntl.F_GETPIPE_SZ) == 64 * 1024
        with open_capture(f"/dev/fd/{read_fd}"):
            assert fcntl.fcntl(read_fd, fcntl.F_GETPIPE_SZ) == PIPE_BYTES
    finally:
        os.close(read_fd)


def interrupted_while_reading(*arguments: str) -> tuple[int, bytes, str]:
    """The command reading a live pipe: two packets, then Ctrl-C while the input stays
    open and a third packet comes (as traffic goes on): exit code, stdout, stderr."""
    with subprocess.Popen([sys.executable, "-m", "analyzer", *arguments, "-"], cwd=ROOT,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE,
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)
                          ) as command:
        assert command.stdin is not None
        try:
            command.stdin.write(PCAP_HEADER + record(1111, 1) + record(2222, 2))
            command.stdin.flush()
            time.sleep(3)  # started and reading: Ctrl-C is its own by now
            command.send_signal(signal.SIGINT)
            command.stdin.write(record(3333, 3))
            command.stdin.flush()
            code = command.wait(timeout=30)
            return code, command.stdout.read(), command.stderr.read().decode()  # type: ignore[union-attr]
        finally:
            command.kill()


def test_ctrl_c_ends_a_live_flows_run_and_writes_the_flows_seen() -> None:
    """`tcpdump -w - | dualstack flows -` ends with Ctrl-C: reading stops at the next
    batch (the input stays open here), the flows seen are written, exit 130."""
    code, out, errors = interrupted_while_reading("flows", "--format", "jsonl")
    assert code == 130, errors
    flows = [json.loads(line) for line in out.splitlines()]
    assert {1111, 2222} <= {flow["client_port"] for flow in flows}, errors
    assert "interrupted: the input was not read to its end; the flows seen until then" in errors


def test_ctrl_c_ends_a_live_verify_run_with_the_answer_for_what_was_seen() -> None:
    """`tcpdump -w - | dualstack verify - --snapshot ...`: Ctrl-C, and the verdicts of
    the connections seen so far."""
    texts = sorted(str(path) for path in (ROOT / "captures" / "demo").glob("*.txt"))
    code, out, errors = interrupted_while_reading("verify", "--snapshot", *texts,
                                                  "--format", "json")
    assert code == 130, errors
    assert {1111, 2222} <= {flow["client_port"] for flow in json.loads(out)["flows"]}, errors
    assert "interrupted: the input was not read to its end; the answer is for" in errors


def test_ctrl_c_ends_a_live_stats_run_with_the_counts_so_far() -> None:
    code, out, errors = interrupted_while_reading("stats", "--format", "json")
    assert code == 130, errors
    assert json.loads(out)["packets"] >= 2, out
    assert "interrupted: the input was not read to its end; the counts are of" in errors
