"""Page faults taken ahead of the parser (analyzer.capture.prefault): the bytes touched,
how far ahead the thread runs, and records that do not change with it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from analyzer._reader import fault_in
from analyzer.capture import prefault
from analyzer.capture.prefault import Prefaulter
from analyzer.capture.records import read_records

PAGE = 4096


def prefault_threads() -> int:
    return sum(t.name == "prefault" and t.is_alive() for t in threading.enumerate())


def wait_for(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


@pytest.mark.parametrize(("start", "end"), [(0, 100_000), (5_000, 100_000), (4_096, 4_097),
                                            (99_999, 200_000), (7, 7)])
def test_fault_in_reads_one_byte_per_page(start: int, end: int) -> None:
    data = np.random.default_rng(start).integers(0, 256, 100_000, dtype=np.uint8)
    expected = int(data[start:end:PAGE].astype(np.int64).sum())   # numpy: every 4096th byte
    assert fault_in(memoryview(data.tobytes()), start, end) == expected


def test_fault_in_refuses_a_range_backwards() -> None:
    with pytest.raises(ValueError, match="start"):
        fault_in(b"abc", 2, 1)


def test_the_thread_stays_within_its_lead_and_ends_on_stop() -> None:
    view = memoryview(bytes(64 * PAGE))
    faulter = Prefaulter(view, ahead=8 * PAGE, step=PAGE)
    try:
        assert wait_for(lambda: faulter.touched == 8 * PAGE)
        time.sleep(0.05)
        assert faulter.touched == 8 * PAGE          # waits for the parser
        faulter.reached(20 * PAGE)
        assert wait_for(lambda: faulter.touched == 28 * PAGE)
        faulter.reached(60 * PAGE)
        assert wait_for(lambda: faulter.touched == 64 * PAGE)   # not past the end
    finally:
        faulter.stop()
    assert prefault_threads() == 0
    view.release()                                  # no buffer export left behind


def test_records_are_the_same_with_pages_faulted_ahead(
        corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lead of two pages on a 148 kB capture: the thread waits on the parser many
    times (16-record batches) and the records stay those read without it."""
    monkeypatch.setattr(prefault, "AHEAD", 2 * PAGE)
    monkeypatch.setattr(prefault, "STEP", PAGE)
    path = corpus / "captures" / "nfstream" / "synscan.pcap"
    plain = [batch.tobytes() for batch in read_records(path, batch_size=16)]
    ahead = [batch.tobytes() for batch in read_records(path, batch_size=16, prefault=True)]
    assert ahead == plain and len(plain) > 50
    assert prefault_threads() == 0


def test_stopping_early_ends_the_thread(corpus: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lead of one page: the thread is still waiting on the parser after the first
    batch (with the default lead it would have touched the whole file and ended)."""
    monkeypatch.setattr(prefault, "AHEAD", PAGE)
    monkeypatch.setattr(prefault, "STEP", PAGE)
    records = read_records(corpus / "captures" / "nfstream" / "synscan.pcap", batch_size=16,
                           prefault=True)
    next(records)
    assert prefault_threads() == 1
    records.close()
    assert prefault_threads() == 0
