"""`dualstack batch --chunk-size`: large pcap files read as several tasks give the same
flows and classes as reading every file whole, and as one `read_flows` + `verify` run.

The archive: the bundled demo (Apache on :::80 answering IPv4 and IPv6), nfstream's
synscan.pcap, and nfstream's http_ipv6.pcap with an impossible record length planted
past its third chunk. With a 4 KiB chunk size each is cut into many byte ranges, and
connections run across the cuts (checked here with dpkt's timestamps). The reference is
`read_flows` over the demo, synscan and the records of http_ipv6 before the break (the
file's bytes up to the broken record, a valid pcap by itself), then `verify`.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import dpkt
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from hashoracle import xxhsum

from analyzer.flows import OUTPUT_COLUMNS, read_flows
from analyzer.snapshot.inputs import load_snapshot_file
from analyzer.verdict import verify

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "captures" / "demo"
HOST_ADDRS = ("192.0.2.1", "2001:db8::1")
CHUNK = 4096
COMPARED = [*OUTPUT_COLUMNS, "class", "reason"]
ORDER = [(name, "ascending") for name in
         ("first_ts_ns", "last_ts_ns", "community_id", "client_port", "server_port")]


def dpkt_records(path: Path) -> list[tuple[int, int, float]]:
    """(byte offset, caplen, timestamp) of every record, from dpkt's lengths."""
    rows, offset = [], 24
    with open(path, "rb") as stream:
        for ts, buf in dpkt.pcap.Reader(stream):
            rows.append((offset, len(buf), float(ts)))
            offset += 16 + len(buf)
    return rows


class Archive:
    def __init__(self, base: Path, corpus: Path) -> None:
        self.directory = base / "archive"
        self.directory.mkdir(parents=True)
        self.snapshots = sorted(DEMO.glob("*.txt"))
        nfstream = corpus / "captures/nfstream"
        self.whole = [shutil.copy(DEMO / "demo.pcap", self.directory / "demo.pcap"),
                      shutil.copy(nfstream / "synscan.pcap", self.directory / "synscan.pcap")]
        self.broken = self.directory / "http_ipv6.pcap"
        data = bytearray((nfstream / "http_ipv6.pcap").read_bytes())
        records = dpkt_records(nfstream / "http_ipv6.pcap")
        self.bad = next(i for i, (offset, _, _) in enumerate(records) if offset > 3 * CHUNK)
        self.bad_offset = records[self.bad][0]
        self.prefix = base / "http_ipv6-prefix.pcap"
        self.prefix.write_bytes(bytes(data[: self.bad_offset]))
        struct.pack_into("<I", data, self.bad_offset + 8, 0x7FFF0000)  # impossible length
        self.broken.write_bytes(bytes(data))

    def inputs(self) -> list[Path]:
        return [*map(Path, self.whole), self.broken]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, corpus) -> Archive:
    return Archive(tmp_path_factory.mktemp("chunks"), corpus)


def classified(flows, snapshots_paths: list[Path]) -> pa.Table:
    snapshots = [s for path in snapshots_paths for s in load_snapshot_file(str(path), None)]
    verdicts = verify(flows, snapshots, host_addrs=list(HOST_ADDRS))
    table = flows.to_arrow(extras=False)
    for name, values in (("class", verdicts.flow_class), ("reason", verdicts.flow_reason)):
        table = table.append_column(name, pa.array([str(v) for v in values], pa.string()))
    return table.select(COMPARED).sort_by(ORDER)


@pytest.fixture(scope="module")
def reference(archive) -> pa.Table:
    flows = read_flows([str(p) for p in (*archive.whole, archive.prefix)])
    return classified(flows, archive.snapshots)


def run_batch(archive: Archive, outdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "analyzer", "batch", str(archive.directory),
            "--snapshots", *map(str, archive.snapshots), "-o", str(outdir), *extra]
    for address in HOST_ADDRS:
        argv += ["--host-addr", address]
    return subprocess.run(argv, capture_output=True, text=True, timeout=240, cwd=ROOT)


def batch_flows(outdir: Path) -> pa.Table:
    table = ds.dataset(outdir / "flows", format="parquet", partitioning="hive").to_table()
    return table.select(COMPARED).sort_by(ORDER)


def manifest(outdir: Path) -> dict[str, dict]:
    lines = (outdir / "manifest.jsonl").read_text().splitlines()
    return {Path(entry["path"]).name: entry for entry in map(json.loads, lines)}


def assert_same_rows(got: pa.Table, expected: pa.Table) -> None:
    assert got.num_rows == expected.num_rows, (got.num_rows, expected.num_rows)
    for index, (mine, theirs) in enumerate(zip(got.to_pylist(), expected.to_pylist(),
                                               strict=True)):
        assert mine == theirs, f"row {index} differs"


@pytest.fixture(scope="module")
def chunked(archive, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    outdir = tmp_path_factory.mktemp("out") / "chunked"
    return outdir, run_batch(archive, outdir, "--chunk-size", "4K", "--workers", "2")


def test_connections_cross_the_cuts(archive, reference):
    """The test means something: flows of the reference span 4 KiB record boundaries."""
    spanning = 0
    for path in archive.whole:
        records = dpkt_records(Path(path))
        cut_times, next_cut = [], 24 + CHUNK
        for offset, _length, ts in records:
            if offset >= next_cut:
                cut_times.append(int(ts * 1e9))
                next_cut = offset + CHUNK
        starts = reference.column("first_ts_ns").to_pylist()
        ends = reference.column("last_ts_ns").to_pylist()
        spanning += sum(1 for cut in cut_times for a, b in zip(starts, ends, strict=True)
                        if a < cut - 1000 and b > cut + 1000)
    assert spanning >= 5


def test_chunked_batch_equals_one_run_and_the_unchunked_batch(archive, reference, chunked,
                                                               tmp_path):
    outdir, done = chunked
    assert done.returncode == 1, done.stderr  # the broken input failed, the job completed
    assert "Traceback" not in done.stderr, done.stderr
    tasks = sum(-(-Path(p).stat().st_size // CHUNK) for p in archive.inputs())
    assert "reading 3 input(s) in " in done.stderr
    told = int(done.stderr.split("reading 3 input(s) in ")[1].split()[0])
    assert 3 < told <= tasks
    assert_same_rows(batch_flows(outdir), reference)
    whole = run_batch(archive, tmp_path / "whole", "--workers", "2")
    assert whole.returncode == 1, whole.stderr
    assert "reading 3 input(s) on" in whole.stderr  # one task per file
    assert_same_rows(batch_flows(tmp_path / "whole"), reference)
    summary = json.loads((outdir / "summary.json").read_text())
    assert summary["classes"]["v4-via-v6"] > 0


def test_manifest_has_one_line_per_input_with_the_broken_record_offset(archive, chunked):
    outdir, done = chunked
    entries = manifest(outdir)
    assert sorted(entries) == sorted(p.name for p in archive.inputs())
    for path in archive.whole:
        entry = entries[Path(path).name]
        records = dpkt_records(Path(path))
        assert entry["error"] is None
        assert entry["packets"] == len(records)
        assert entry["first_ts_ns"] == min(round(ts * 1e6) * 1000 for _, _, ts in records)
        assert entry["last_ts_ns"] == max(round(ts * 1e6) * 1000 for _, _, ts in records)
    broken = entries[archive.broken.name]
    assert broken["error"]["type"] == "CaptureError"
    assert broken["error"]["offset"] == archive.bad_offset > 3 * CHUNK
    assert f"byte offset {archive.bad_offset}" in broken["error"]["message"]
    assert broken["packets"] == archive.bad  # every record before the broken one
    assert broken["hash"] == xxhsum(archive.broken)
    assert f"byte offset {archive.bad_offset}" in done.stderr


def test_resume_of_a_chunked_job_does_nothing(archive, chunked):
    outdir, _done = chunked
    again = run_batch(archive, outdir, "--resume", "--chunk-size", "4K")
    assert again.returncode == 1, again.stderr
    assert "nothing to do" in again.stderr
