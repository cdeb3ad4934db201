"""`dualstack flows` reads, prepares and writes on three threads (analyzer.flows.handoff):
order, errors and early stops of a background stage, and output equal to writing the
flows one frame after the other on one thread (Parquet byte for byte, read back by
DuckDB against tshark's conversation count)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CORPUS

from analyzer.cli import main
from analyzer.errors import CaptureError
from analyzer.flows import iter_flow_batches
from analyzer.flows.handoff import InBackground
from analyzer.flows.output import open_writer

CAPTURES = [CORPUS / "captures" / "nfstream" / "synscan.pcap",
            CORPUS / "captures" / "nfstream" / "http_ipv6.pcap"]


def numbers(n: int, fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise CaptureError("test.pcap", i, "broken item")
        yield i


def test_items_arrive_in_order_from_another_thread() -> None:
    threads = set()

    def tagged() -> Iterator[int]:
        for i in numbers(1000):
            threads.add(threading.get_ident())
            yield i

    assert list(InBackground(tagged(), depth=3)) == list(range(1000))
    assert threads and threading.get_ident() not in threads


def test_producer_error_comes_after_every_item_before_it() -> None:
    got = []
    with pytest.raises(CaptureError, match="offset 37: broken item"):
        for item in InBackground(numbers(100, fail_at=37), depth=2):
            got.append(item)
    assert got == list(range(37))


def test_stages_chain_and_the_error_crosses_both() -> None:
    first = InBackground(numbers(50, fail_at=20))
    second = InBackground(i * 10 for i in first)
    got = []
    with pytest.raises(CaptureError):
        for item in second:
            got.append(item)
    assert got == [i * 10 for i in range(20)]


def test_close_stops_the_producer_early() -> None:
    made = []

    def endless() -> Iterator[int]:
        i = 0
        while True:
            made.append(i)
            yield i
            i += 1

    stage = InBackground(endless(), depth=2)
    assert next(stage) == 0
    stage.close()
    time.sleep(0.2)
    count = len(made)
    time.sleep(0.2)
    assert len(made) == count < 10
    assert list(stage) == []


def single_thread_output(capture: Path, fmt: str, out: Path) -> None:
    with out.open("wb" if fmt == "parquet" else "w") as stream:
        writer = open_writer(fmt, stream)
        for frame in iter_flow_batches(str(capture)):
            writer.write(frame)
        writer.close()


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv", "table"])
@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_output_equals_writing_frame_after_frame_on_one_thread(
        tmp_path: Path, capture: Path, fmt: str) -> None:
    single_thread_output(capture, fmt, tmp_path / "one")
    assert main(["flows", str(capture), "--format", fmt, "-o", str(tmp_path / "three")]) == 0
    assert (tmp_path / "three").read_bytes() == (tmp_path / "one").read_bytes()


def test_parquet_read_back_by_duckdb_has_tshark_conversations(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    from floworacle import TSHARK, flow_directions, tshark_conversations

    if TSHARK is None:
        pytest.skip("needs tshark")
    capture = CAPTURES[0]
    out = tmp_path / "flows.parquet"
    assert main(["flows", str(capture), "--format", "parquet", "-o", str(out)]) == 0
    names = ["proto", "client", "client_port", "server", "server_port", "packets_c2s",
             "packets_s2c"]
    rows = duckdb.connect().execute(f"SELECT {', '.join(names)} FROM '{out}'").fetchall()
    records = [dict(zip(names, row, strict=True)) for row in rows]
    assert flow_directions(records) == tshark_conversations(capture)


def test_output_pipe_closed_early_ends_the_command_quietly() -> None:
    # like `dualstack flows CAPTURE | head -1`: the writer's broken pipe stops all stages
    with subprocess.Popen([sys.executable, "-m", "analyzer", "flows", str(CAPTURES[0]),
                           "--format", "jsonl"], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b'{"proto":')
        proc.stdout.close()
        assert proc.wait(timeout=60) == 0
        assert b"Traceback" not in proc.stderr.read()
