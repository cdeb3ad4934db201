"""Reading ahead in a thread (analyzer.capture.readahead): the same batches in the same
order as reading in line, errors after the batches before them, and no thread left
behind when the consumer stops early."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_capture_records import frames, write

from analyzer.capture import CaptureStats
from analyzer.capture.readahead import read_ahead
from analyzer.capture.records import read_records
from analyzer.errors import CaptureError


def _threads() -> int:
    return sum(t.name == "dualstack-read-ahead" for t in threading.enumerate())


def test_records_read_ahead_equal_records_read_in_line(tmp_path: Path) -> None:
    path = write(tmp_path / "mix.pcap", frames() * 4)
    stats = [CaptureStats(), CaptureStats()]
    ahead = [b.tobytes() for b in read_records(path, batch_size=37, stats=stats[0],
                                               read_ahead=True)]
    in_line = [b.tobytes() for b in read_records(path, batch_size=37, stats=stats[1])]
    assert len(ahead) == len(in_line) > 3
    assert ahead == in_line
    assert stats[0] == stats[1]


def test_a_batch_stays_valid_until_the_next_is_requested(tmp_path: Path) -> None:
    """The reader runs ahead into other arrays, never into the batch in hand."""
    path = write(tmp_path / "mix.pcap", frames() * 4)
    expected = [b.tobytes() for b in read_records(path, batch_size=16)]
    for batch, want in zip(read_records(path, batch_size=16, read_ahead=True), expected,
                           strict=True):
        threading.Event().wait(0.001)       # let the reader thread run ahead
        assert batch.tobytes() == want


def test_an_error_arrives_after_the_batches_before_it(tmp_path: Path) -> None:
    data = frames()
    path = write(tmp_path / "mix.pcap", data)
    header = 24 + sum(16 + len(frame) for frame in data[:40])      # the 41st record's
    raw = path.read_bytes()
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(raw[:header + 8] + b"\xff" * 4 + raw[header + 12:])  # caplen 4 GiB
    in_line, ahead = [], []
    with pytest.raises(CaptureError) as first:
        in_line.extend(len(b) for b in read_records(broken, batch_size=8))
    with pytest.raises(CaptureError) as second:
        ahead.extend(len(b) for b in read_records(broken, batch_size=8, read_ahead=True))
    assert ahead == in_line and sum(ahead) > 0
    assert str(first.value) == str(second.value)


def test_stopping_early_ends_the_thread() -> None:
    produced: list[int] = []

    def numbers() -> Iterator[int]:
        for i in range(1000):
            produced.append(i)
            yield i

    ahead = read_ahead(numbers(), depth=2)
    assert [next(ahead) for _ in range(3)] == [0, 1, 2]
    ahead.close()
    assert _threads() == 0
    assert len(produced) < 10           # stopped a few items ahead, not at the end


def test_items_arrive_in_order_and_the_generator_is_closed() -> None:
    closed = threading.Event()

    def batches() -> Iterator[np.ndarray]:
        try:
            for i in range(50):
                yield np.full(3, i)
        finally:
            closed.set()

    assert [int(b[0]) for b in read_ahead(batches())] == list(range(50))
    assert closed.is_set() and _threads() == 0
