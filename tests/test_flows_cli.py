"""`dualstack flows`: formats, columns, exit codes, stdin; flows checked against tshark."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import CORPUS
from floworacle import TSHARK, flow_directions, tshark_conversations

from analyzer.cli import main

CAPTURE = CORPUS / "captures" / "nfstream" / "http_ipv6.pcap"
SYNSCAN = CORPUS / "captures" / "nfstream" / "synscan.pcap"

# the columns issue 3 lists, in its order
ISSUE_COLUMNS = [
    "proto", "client", "client_port", "server", "server_port", "wire_family", "outcome",
    "conn_state", "packets_c2s", "packets_s2c", "ip_bytes_c2s", "ip_bytes_s2c",
    "payload_bytes_c2s", "payload_bytes_s2c", "first_ts", "last_ts", "first_ts_ns",
    "last_ts_ns", "community_id", "vlan", "tunnel", "midstream",
]

needs_tshark = pytest.mark.skipif(TSHARK is None, reason="needs tshark")


def run_flows(*args: str) -> int:
    return main(["flows", *args])


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_tshark
def test_jsonl_has_the_issue_columns_and_tshark_counts(tmp_path: Path) -> None:
    out = tmp_path / "flows.jsonl"
    assert run_flows(str(CAPTURE), "--format", "jsonl", "-o", str(out)) == 0
    records = read_jsonl(out)
    assert records and all(list(r) == ISSUE_COLUMNS for r in records)
    assert flow_directions(records) == tshark_conversations(CAPTURE)


def test_csv_header_and_rows_match_jsonl(tmp_path: Path) -> None:
    assert run_flows(str(CAPTURE), "--format", "csv", "-o", str(tmp_path / "f.csv")) == 0
    assert run_flows(str(CAPTURE), "--format", "jsonl", "-o", str(tmp_path / "f.jsonl")) == 0
    with (tmp_path / "f.csv").open() as f:
        rows = list(csv.DictReader(f))
    records = read_jsonl(tmp_path / "f.jsonl")
    assert list(rows[0]) == ISSUE_COLUMNS
    assert [(r["client"], int(r["client_port"]), r["community_id"]) for r in rows] == [
        (r["client"], r["client_port"], r["community_id"]) for r in records]


@needs_tshark
def test_parquet_read_by_duckdb(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    out = tmp_path / "flows.parquet"
    assert run_flows(str(CAPTURE), "--format", "parquet", "-o", str(out)) == 0
    con = duckdb.connect()
    names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM '{out}'").fetchall()]
    assert names == ISSUE_COLUMNS
    total = con.execute(f"SELECT sum(packets_c2s + packets_s2c) FROM '{out}'").fetchone()
    assert total is not None
    assert total[0] == sum(tshark_conversations(CAPTURE).values())


def test_table_has_a_header_and_a_line_per_flow(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_flows(str(CAPTURE)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["PROTO", "CLIENT", "CPORT", "SERVER", "SPORT"]
    assert len(lines) == 1 + len(tshark_lines(CAPTURE)) if TSHARK else len(lines) > 1


def tshark_lines(capture: Path) -> list:
    return [k for k in tshark_conversations(capture) if k[1] < k[2]]


@needs_tshark
def test_broken_capture_writes_what_was_read_then_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "broken.pcap"
    cut.write_bytes(with_broken_record(SYNSCAN.read_bytes(), 1000))
    out = tmp_path / "flows.jsonl"
    assert run_flows(str(cut), "--format", "jsonl", "-o", str(out)) == 1
    err = capsys.readouterr().err
    assert str(cut) in err and "offset" in err
    assert flow_directions(read_jsonl(out)) == tshark_conversations(cut)


def with_broken_record(pcap: bytes, index: int) -> bytes:
    """A copy of a little-endian pcap whose record `index` claims an impossible length."""
    data = bytearray(pcap)
    offset = 24
    for _ in range(index):
        offset += 16 + struct.unpack_from("<I", data, offset + 8)[0]
    struct.pack_into("<I", data, offset + 8, 0x7FFFFF00)
    return bytes(data)


def test_truncated_last_record_is_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(SYNSCAN.read_bytes()[:100_000])
    assert run_flows(str(cut), "--format", "jsonl", "-o", str(tmp_path / "f.jsonl")) == 0
    assert "truncated" in capsys.readouterr().err


def test_unreadable_inputs_exit_2_before_any_output(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n" * 10)
    out = tmp_path / "flows.csv"
    assert run_flows(str(tmp_path / "missing.pcap")) == 2
    assert run_flows(str(text)) == 2
    assert run_flows(str(CAPTURE), str(text), "--format", "csv", "-o", str(out)) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not out.exists()          # no header, no empty file
    assert "missing.pcap" in captured.err and str(text) in captured.err
    assert run_flows(str(CAPTURE), "--udp-timeout", "0") == 2


def test_parquet_row_groups_gather_small_batches(tmp_path: Path) -> None:
    """Flows from a live input come a few at a time; the Parquet file still has row
    groups of 8192 flows (the last one fewer), holding every flow once, in order."""
    import pyarrow.parquet as pq

    from analyzer.flows import read_flows
    from analyzer.flows.output import ParquetWriter

    frame = read_flows(str(SYNSCAN))
    assert len(frame) > 2 * ParquetWriter.ROW_GROUP_MIN_ROWS // 100
    path = tmp_path / "flows.parquet"
    repeats = -(-2 * ParquetWriter.ROW_GROUP_MIN_ROWS // len(frame)) + 1
    with path.open("wb") as stream:
        writer = ParquetWriter(stream)
        for start in range(0, repeats * len(frame), 100):  # batches of 100 flows
            rows = [row % len(frame) for row in range(start, start + 100)]
            writer.emit(writer.prepare(frame.take(rows)))
        writer.close()
    parquet = pq.ParquetFile(path)
    sizes = [parquet.metadata.row_group(i).num_rows for i in range(parquet.num_row_groups)]
    total = -(-repeats * len(frame) // 100) * 100
    assert sum(sizes) == total and len(sizes) >= 2
    assert all(size >= ParquetWriter.ROW_GROUP_MIN_ROWS for size in sizes[:-1])
    ports = parquet.read(columns=["client_port"]).column(0).to_pylist()
    expected = frame.columns["client_port"].tolist()
    assert ports == [expected[row % len(frame)] for row in range(total)]


def test_stdin(tmp_path: Path) -> None:
    with CAPTURE.open("rb") as stdin:
        piped = subprocess.run(
            [sys.executable, "-m", "analyzer", "flows", "-", "--format", "jsonl"],
            stdin=stdin, capture_output=True, text=True, timeout=60, check=True,
        ).stdout
    assert run_flows(str(CAPTURE), "--format", "jsonl", "-o", str(tmp_path / "f.jsonl")) == 0
    assert piped == (tmp_path / "f.jsonl").read_text()


def test_a_named_pipe_is_read_once(tmp_path: Path) -> None:
    """`dualstack flows <(zcat a.pcap.gz)`: a pipe is not opened ahead for the check
    (the bytes that check read would be gone for the reader)."""
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    flows = subprocess.Popen(
        [sys.executable, "-m", "analyzer", "flows", str(fifo), "--format", "jsonl"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    writer = threading.Thread(target=fifo.write_bytes, args=(CAPTURE.read_bytes(),))
    writer.start()
    try:
        out, err = flows.communicate(timeout=60)
    finally:
        flows.kill()
        flows.wait()
        with contextlib.suppress(OSError):   # a writer still waiting for a reader ends
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=10)
    assert flows.returncode == 0, err
    assert run_flows(str(CAPTURE), "--format", "jsonl", "-o", str(tmp_path / "f.jsonl")) == 0
    assert out == (tmp_path / "f.jsonl").read_text()


def test_progress_line_on_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from analyzer.commands.flows import Progress

    progress = Progress(enabled=True)
    progress.seen(1000)
    progress.flows = 12
    progress.done()
    err = capsys.readouterr().err
    assert "1,000 packets, 12 flows" in err and err.endswith("\n")
    quiet = Progress(enabled=False)
    quiet.seen(10)
    quiet.done()
    assert capsys.readouterr().err == ""


def test_parquet_without_pyarrow_is_a_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """pyarrow is the `arrow` extra: without it, one line naming the extra, exit 2,
    and no output file (not a traceback from inside the writer)."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)     # as if not installed
    out = tmp_path / "flows.parquet"
    assert run_flows(str(CAPTURE), "--format", "parquet", "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert "pip install 'dualstack-analyzer[arrow]'" in err and "Traceback" not in err
    assert not out.exists()
