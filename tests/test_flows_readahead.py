"""Reading ahead (iter_raw_flow_batches(read_ahead=True)): the reader on a thread of its
own, a few record batches ahead of the flow table, gives the same flows, statistics and
errors as reading in line, and leaves no thread behind when its consumer stops early."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from reader_oracles import eth
from scapy.layers.inet import IP, UDP
from test_capture_records import frames, write

from analyzer.capture import CaptureStats
from analyzer.capture.records import read_records
from analyzer.errors import CaptureError
from analyzer.flows.table import iter_raw_flow_batches


def raw_flows(path: Path, read_ahead: bool) -> tuple[dict[str, np.ndarray], CaptureStats]:
    stats = CaptureStats()
    raws = list(iter_raw_flow_batches(str(path), stats=stats, batch_size=37,
                                      flush_every=5, read_ahead=read_ahead))
    return {name: np.concatenate([r[name] for r in raws]) for name in raws[0]}, stats


def reader_threads() -> int:
    """Threads of a read ahead still alive: the reader, and the prefaulter of its file."""
    return sum(t.name in ("reader", "prefault") and t.is_alive() for t in threading.enumerate())


def many_flows(tmp_path: Path) -> Path:
    """frames() (TCP, VLAN, UDP, ICMP errors quoting UDP, ARP, a fragment) followed by
    200 UDP datagrams of 100 flows, 1 s apart: flows go idle and finish while reading."""
    v4 = ("192.0.2.1", "198.51.100.7")
    data = frames() + [
        bytes(eth() / IP(src=v4[i % 2], dst=v4[1 - i % 2]) / UDP(sport=30000 + i // 2,
                                                                  dport=53) / b"q")
        for i in range(200)
    ]
    return write(tmp_path / "many.pcap", data)


def test_flows_and_statistics_are_the_same_either_way(tmp_path: Path) -> None:
    path = many_flows(tmp_path)
    ahead, ahead_stats = raw_flows(path, True)
    in_line, in_line_stats = raw_flows(path, False)
    assert len(ahead["client_port"]) == len(in_line["client_port"]) > 100
    for name, column in in_line.items():
        assert np.array_equal(ahead[name], column), name
    assert ahead_stats == in_line_stats and in_line_stats.packets == 550
    assert reader_threads() == 0


def test_an_error_arrives_after_the_flows_before_it(tmp_path: Path) -> None:
    data = frames()
    path = write(tmp_path / "mix.pcap", data)
    at = 24 + sum(16 + len(frame) for frame in data[:120])     # the 121st record header
    raw = path.read_bytes()
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(raw[:at + 8] + b"\xff" * 4 + raw[at + 12:])   # caplen 4 GiB
    seen: dict[bool, tuple[int, str]] = {}
    for read_ahead in (True, False):
        flows = 0
        with pytest.raises(CaptureError) as error:
            for batch in iter_raw_flow_batches(str(broken), batch_size=16,
                                               read_ahead=read_ahead):
                flows += len(batch["client_port"])
        seen[read_ahead] = (flows, str(error.value))
    assert seen[True] == seen[False] and seen[True][0] > 0
    assert f"offset {at}" in seen[True][1] or str(at) in seen[True][1]


def test_stopping_early_ends_the_reader_thread(tmp_path: Path) -> None:
    batches = iter_raw_flow_batches(str(many_flows(tmp_path)), batch_size=8, flush_every=1,
                                    read_ahead=True)
    next(batches)
    assert reader_threads() >= 1          # the reader (and the prefault thread, if not done)
    batches.close()                                     # type: ignore[attr-defined]
    deadline = time.monotonic() + 2
    while reader_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert reader_threads() == 0


def test_a_batch_stays_valid_while_fewer_than_arrays_follow(tmp_path: Path) -> None:
    """With 4 arrays, the last 3 batches held stay intact while the reader writes the
    next (what the reader thread relies on: in the queue, in hand, being filled)."""
    path = many_flows(tmp_path)
    expected = [b.tobytes() for b in read_records(path, batch_size=16)]
    held: list[np.ndarray] = []
    for i, batch in enumerate(read_records(path, batch_size=16, arrays=4)):
        held = [*held[-2:], batch]
        for back, kept in enumerate(reversed(held)):
            assert kept.tobytes() == expected[i - back]
