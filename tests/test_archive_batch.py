"""`dualstack batch` on a test archive made from real captures, locally and on Dask.

The archive: three real captures split the way rotation splits them (`editcap -c N`):
the bundled demo (Apache httpd on :::80 answering IPv4 and IPv6, recorded with tcpdump
in network namespaces) in pcap files of 8 packets; nfstream's http_ipv6.pcap in pcap
files of 20 packets, some gzip'd and some zstd'd; nfstream's synscan.pcap in pcapng
files of 500 packets in a nested directory. One pcap piece gets an impossible record
length in the middle, another is cut inside a record; a text file sits beside them.

The reference is the same packets as one capture: `mergecap` of every piece as it was,
the broken pieces contributing only the records before the break (`editcap -r`; their
offsets found here by walking the pcap record headers, not by the reader under test).
The batch result must equal one `read_flows` + `verify` run over the reference (same
flows, same classes), and its per-direction packet counts must equal tshark's
conversations of the reference.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import psutil
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
import zstandard
from floworacle import flow_directions, tshark_conversations
from hashoracle import xxhsum

from analyzer.flows import OUTPUT_COLUMNS, read_flows
from analyzer.snapshot.inputs import load_snapshot_file
from analyzer.verdict import verify

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "captures" / "demo"
HOST_ADDRS = ("192.0.2.1", "2001:db8::1")  # the demo server's addresses


@dataclass
class Archive:
    directory: Path
    reference: Path
    snapshots: list[Path]
    captures: list[Path] = field(default_factory=list)
    broken: dict[Path, tuple[str, int]] = field(default_factory=dict)  # path -> (type, offset)
    not_captures: list[Path] = field(default_factory=list)
    extra_inputs: list[Path] = field(default_factory=list)  # named beside the directory


def record_offsets(data: bytes) -> list[int]:
    """Byte offsets of the records of a little-endian pcap file."""
    assert data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"), "not a little-endian pcap"
    offsets, offset = [], 24
    while offset + 16 <= len(data):
        offsets.append(offset)
        offset += 16 + struct.unpack_from("<I", data, offset + 8)[0]
    return offsets


def split(capture: Path, out: Path, packets: int, fmt: str) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = out / capture.name
    subprocess.run(["editcap", "-F", fmt, "-c", str(packets), str(capture), str(stem)],
                   check=True, capture_output=True)
    return sorted(out.glob(capture.stem + "_*"))


def first_records(piece: Path, count: int, out: Path) -> Path:
    subprocess.run(["editcap", "-F", "pcap", "-r", str(piece), str(out), f"1-{count}"],
                   check=True, capture_output=True)
    return out


def compress(piece: Path, kind: str) -> Path:
    data = piece.read_bytes()
    if kind == "gz":
        target = piece.with_name(piece.name + ".gz")
        target.write_bytes(gzip.compress(data))
    else:
        target = piece.with_name(piece.name + ".zst")
        target.write_bytes(zstandard.ZstdCompressor().compress(data))
    piece.unlink()
    return target


def make_archive(base: Path, corpus: Path) -> Archive:
    directory = base / "archive"
    kept = base / "reference-parts"
    kept.mkdir(parents=True)
    archive = Archive(directory, base / "reference.pcapng", sorted(DEMO.glob("*.txt")))
    reference_parts: list[Path] = []

    demo = split(DEMO / "demo.pcap", directory / "web1", 8, "pcap")
    http = split(corpus / "captures/nfstream/http_ipv6.pcap", directory / "web2", 20, "pcap")
    scan = split(corpus / "captures/nfstream/synscan.pcap", directory / "old/scan", 500,
                 "pcapng")
    reference_parts += demo + scan

    corrupt, truncated = http[4], http[6]
    for index, piece in enumerate(http):
        if piece in (corrupt, truncated):
            continue
        copy = kept / piece.name
        shutil.copy(piece, copy)
        reference_parts.append(copy)
        if index in (1, 7):
            archive.captures.append(compress(piece, "gz"))
        elif index in (2, 8):
            archive.captures.append(compress(piece, "zst"))
        else:
            archive.captures.append(piece)

    data = bytearray(corrupt.read_bytes())
    offsets = record_offsets(bytes(data))
    bad = len(offsets) // 2
    reference_parts.append(first_records(corrupt, bad, kept / "corrupt-prefix.pcap"))
    struct.pack_into("<I", data, offsets[bad] + 8, 0x7FFF0000)  # impossible record length
    corrupt.write_bytes(bytes(data))
    archive.broken[corrupt] = ("CaptureError", offsets[bad])

    data = bytearray(truncated.read_bytes())
    offsets = record_offsets(bytes(data))
    cut = len(offsets) - 3
    reference_parts.append(first_records(truncated, cut, kept / "truncated-prefix.pcap"))
    truncated.write_bytes(bytes(data[: offsets[cut] + 16 + 7]))  # inside record `cut`
    archive.broken[truncated] = ("Truncated", offsets[cut])

    archive.captures += demo + scan + [corrupt, truncated]
    notes = directory / "web1" / "README.txt"
    notes.write_text("rotated with tcpdump -C 1; snapshots in ../snapshots\n")
    archive.not_captures.append(notes)
    subprocess.run(["mergecap", "-w", str(archive.reference), *map(str, reference_parts)],
                   check=True, capture_output=True)
    return archive


# ----------------------------------------------------------------------------- helpers

ENV = dict(os.environ)
ENV["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), ENV.get("PYTHONPATH")]))
COMPARED = [*OUTPUT_COLUMNS, "class", "reason"]
ORDER = [(name, "ascending") for name in
         ("first_ts_ns", "last_ts_ns", "community_id", "client_port", "server_port")]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, corpus) -> Archive:
    return make_archive(tmp_path_factory.mktemp("batch"), corpus)


@pytest.fixture(scope="module")
def reference(archive) -> pa.Table:
    """One `read_flows` + `verify` run over the whole reference capture."""
    flows = read_flows([str(archive.reference)])
    snapshots = [item for path in archive.snapshots for item in load_snapshot_file(str(path), None)]
    verdicts = verify(flows, snapshots, host_addrs=list(HOST_ADDRS))
    table = flows.to_arrow(extras=False)
    for name, values in (("class", verdicts.flow_class), ("reason", verdicts.flow_reason)):
        table = table.append_column(name, pa.array([str(v) for v in values], pa.string()))
    return table.select(COMPARED).sort_by(ORDER)


def batch_argv(archive: Archive, outdir: Path, *extra: str) -> list[str]:
    argv = [sys.executable, "-m", "analyzer", "batch", str(archive.directory),
            *map(str, archive.extra_inputs),
            "--snapshots", *map(str, archive.snapshots), "-o", str(outdir)]
    for address in HOST_ADDRS:
        argv += ["--host-addr", address]
    return [*argv, *extra]


def batch(archive: Archive, outdir: Path, *extra: str, env: dict | None = None,
          timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(batch_argv(archive, outdir, *extra), capture_output=True, text=True,
                          timeout=timeout, env={**ENV, **(env or {})}, cwd=ROOT)


def batch_flows(outdir: Path) -> pa.Table:
    table = ds.dataset(outdir / "flows", format="parquet", partitioning="hive").to_table()
    return table.select(COMPARED).sort_by(ORDER)


def manifest_lines(outdir: Path) -> list[dict]:
    return [json.loads(line) for line in (outdir / "manifest.jsonl").read_text().splitlines()]


def assert_same_rows(got: pa.Table, expected: pa.Table) -> None:
    assert got.num_rows == expected.num_rows, (got.num_rows, expected.num_rows)
    for index, (mine, theirs) in enumerate(zip(got.to_pylist(), expected.to_pylist(),
                                               strict=True)):
        assert mine == theirs, f"row {index} differs"


def check_complete(archive: Archive, outdir: Path, reference: pa.Table) -> None:
    """The outputs of a finished job over the whole archive."""
    flows = batch_flows(outdir)
    assert_same_rows(flows, reference)
    assert tshark_conversations(archive.reference) == flow_directions(flows.to_pylist())
    entries = manifest_lines(outdir)
    assert sorted(e["path"] for e in entries) == sorted(str(p) for p in archive.captures)
    for entry in entries:
        path = Path(entry["path"])
        assert entry["size"] == path.stat().st_size
        assert entry["hash"] == xxhsum(path)
        if path in archive.broken:
            kind, offset = archive.broken[path]
            assert (entry["error"]["type"], entry["error"]["offset"]) == (kind, offset)
            assert f"byte offset {offset}" in entry["error"]["message"]
        else:
            assert entry["error"] is None, entry
            assert entry["packets"] > 0
    summary = json.loads((outdir / "summary.json").read_text())
    assert summary["batch"]["pieces_joined_across_files"] > 0
    assert summary["classes"]["v4-via-v6"] > 0
    listeners = ds.dataset(outdir / "listeners", format="parquet").to_table().to_pylist()
    assert any(row["local_port"] == 80 and row["accepts_ipv4"] for row in listeners)


def file_states(outdir: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(outdir)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in outdir.rglob("*") if p.is_file()}


# ------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def finished(archive, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    outdir = tmp_path_factory.mktemp("out") / "job"
    return outdir, batch(archive, outdir, "--workers", "2")


def test_batch_equals_one_run_over_the_whole_capture(archive, reference, finished):
    outdir, done = finished
    assert done.returncode == 1, done.stderr  # some inputs failed, the job completed
    assert "Traceback" not in done.stderr, done.stderr
    check_complete(archive, outdir, reference)
    for path, (_kind, offset) in archive.broken.items():
        assert f"{path}" in done.stderr and f"byte offset {offset}" in done.stderr
    assert "1 file(s) that are not captures skipped" in done.stderr
    total = len(archive.captures)
    assert f"batch: files {total}/{total}, packets " in done.stderr  # progress, to the end
    assert "pkt/s" in done.stderr
    summary = json.loads((outdir / "summary.json").read_text())
    flows = summary["batch"]["flows"]
    phases = [re.search(pattern, done.stderr) for pattern in (
        r"batch: joining the flows of \d+ input\(s\) across files\n",
        rf"batch: {flows:,} flows \(\d[\d,]* joined across files\) in [\d.]+ s; judging them\n",
        r"batch: judged against \d+ listener\(s\) in [\d.]+ s; writing ",
        rf"batch: {flows:,} flows from \d+ input\(s\), \d+ failed; written to .* in [\d.]+ s\n")]
    assert all(phases), done.stderr  # a line as each phase of the end starts, in order
    assert [found.start() for found in phases] == sorted(found.start() for found in phases)


def test_flows_are_partitioned_by_day_and_host_and_queryable(reference, finished):
    import duckdb

    outdir, _done = finished
    days = {p.name for p in (outdir / "flows").iterdir()}
    expected = {
        "day=" + datetime.fromtimestamp(ns // 10**9, tz=timezone.utc).strftime("%Y-%m-%d")
        for ns in reference.column("first_ts_ns").to_pylist()
    }
    assert days == expected
    hosts = {p.name for p in (outdir / "flows").glob("day=*/host=*")}
    assert "host=192.0.2.1" in hosts
    glob = str(outdir / "flows" / "**" / "*.parquet")
    rows = duckdb.sql(
        f"SELECT class, count(*) FROM read_parquet('{glob}', hive_partitioning = true) "
        "WHERE host = '192.0.2.1' GROUP BY class ORDER BY class").fetchall()
    counted = dict(rows)
    summary = json.loads((outdir / "summary.json").read_text())
    assert counted["v4-via-v6"] == summary["classes"]["v4-via-v6"]


def test_resume_after_a_complete_run_does_nothing(archive, finished):
    outdir, _done = finished
    before = file_states(outdir)
    again = batch(archive, outdir, "--resume")
    assert again.returncode == 1, again.stderr  # the broken inputs are still broken
    assert "nothing to do" in again.stderr
    assert "reading" not in again.stderr
    assert file_states(outdir) == before


@pytest.fixture
def stalling(archive, tmp_path) -> tuple[Archive, Path, bytes]:
    """A copy of the archive whose last input is a FIFO nobody writes: the worker that
    opens it waits there, after every other input is done (one worker, path order).
    Returns the copy, the FIFO and the capture bytes that belong at its path."""
    directory = tmp_path / "archive"
    shutil.copytree(archive.directory, directory)
    moved = {path: directory / path.relative_to(archive.directory) for path in archive.captures}
    last_demo = max(path for path in archive.captures if path.parent.name == "web1")
    content = moved[last_demo].read_bytes()
    moved[last_demo].unlink()
    fifo = tmp_path / "zz-arriving.pcap"
    os.mkfifo(fifo)
    copy = Archive(
        directory, archive.reference, archive.snapshots,
        captures=[moved[path] for path in archive.captures if path != last_demo] + [fifo],
        broken={moved[path]: value for path, value in archive.broken.items()},
        extra_inputs=[fifo],
    )
    return copy, fifo, content


def _start_until_stalled(copy: Archive, outdir: Path, tmp_path: Path) -> subprocess.Popen:
    with open(tmp_path / "batch.log", "w") as log:
        process = subprocess.Popen(batch_argv(copy, outdir, "--workers", "1"), env=ENV, cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    manifest = outdir / "manifest.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        done = manifest.read_text().count("\n") if manifest.exists() else 0
        if done == len(copy.captures) - 1:
            return process
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    pytest.fail(f"the job did not reach the FIFO: {(tmp_path / 'batch.log').read_text()}")


def _arrive_and_resume(copy: Archive, fifo: Path, content: bytes, outdir: Path,
                       reference: pa.Table) -> None:
    """The stalled input arrives; --resume reads it alone and the result is complete."""
    fifo.unlink()
    fifo.write_bytes(content)
    resumed = batch(copy, outdir, "--resume", "--workers", "2")
    assert resumed.returncode == 1, resumed.stderr
    assert "reading 1 input(s)" in resumed.stderr
    check_complete(copy, outdir, reference)


def test_job_killed_mid_way_resumes_to_the_same_result(stalling, reference, tmp_path):
    copy, fifo, content = stalling
    outdir = tmp_path / "job"
    process = _start_until_stalled(copy, outdir, tmp_path)
    os.killpg(process.pid, signal.SIGKILL)  # the driver and its worker, mid-job
    process.wait(timeout=30)
    assert not (outdir / "flows").exists()
    _arrive_and_resume(copy, fifo, content, outdir, reference)


def test_ctrl_c_stops_the_job_at_once_and_resume_finishes_it(stalling, reference, tmp_path):
    copy, fifo, content = stalling
    outdir = tmp_path / "job"
    process = _start_until_stalled(copy, outdir, tmp_path)
    workers = psutil.Process(process.pid).children()
    os.kill(process.pid, signal.SIGINT)  # the driver only: its worker is stuck on the FIFO
    assert process.wait(timeout=30) == 130
    assert "interrupted" in (tmp_path / "batch.log").read_text()
    assert not any(worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE
                   for worker in workers)
    assert len(manifest_lines(outdir)) == len(copy.captures) - 1
    assert not (outdir / "flows").exists()
    _arrive_and_resume(copy, fifo, content, outdir, reference)
    paths = [entry["path"] for entry in manifest_lines(outdir)]
    assert len(paths) == len(set(paths)) == len(copy.captures)


def test_killed_worker_is_reported_and_resume_finishes_the_job(stalling, reference, tmp_path):
    copy, fifo, content = stalling
    outdir = tmp_path / "job"
    process = _start_until_stalled(copy, outdir, tmp_path)
    workers = psutil.Process(process.pid).children()
    assert len(workers) == 1
    workers[0].kill()
    assert process.wait(timeout=60) == 1
    log = (tmp_path / "batch.log").read_text()
    assert f"{fifo}: the worker failed" in log
    summary = json.loads((outdir / "summary.json").read_text())
    assert summary["batch"]["inputs_missing"] == [str(fifo)]
    assert summary["batch"]["signature"] is None  # incomplete: --resume must not skip it
    _arrive_and_resume(copy, fifo, content, outdir, reference)


def test_driver_killed_alone_takes_its_workers_with_it(stalling, reference, tmp_path):
    """kill -9 of the driver only: its worker (stuck on the FIFO) ends too, and the
    OUTDIR is free for --resume (no orphan left holding anything)."""
    copy, fifo, content = stalling
    outdir = tmp_path / "job"
    process = _start_until_stalled(copy, outdir, tmp_path)
    workers = psutil.Process(process.pid).children()
    assert workers
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    _gone, alive = psutil.wait_procs(workers, timeout=10)
    for orphan in alive:   # a failure here must not leave them behind
        orphan.kill()
    assert not alive, alive
    _arrive_and_resume(copy, fifo, content, outdir, reference)


def test_a_pipe_given_as_input_is_a_failed_input_that_says_why(tmp_path):
    """`batch <(zcat a.pcap.gz)`: the pipe cannot be read again (for its content hash,
    copies, --resume); the input fails with the reason, unread."""
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)

    def write() -> None:
        with contextlib.suppress(BrokenPipeError):   # the job closes it unread
            fifo.write_bytes((DEMO / "demo.pcap").read_bytes())

    writer = threading.Thread(target=write)
    writer.start()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "analyzer", "batch", str(fifo), "--snapshots",
             str(DEMO / "netstat-antp.txt"), "-o", str(tmp_path / "out"), "--workers", "1"],
            capture_output=True, text=True, timeout=120, env=ENV, cwd=ROOT)
    finally:
        with contextlib.suppress(OSError):   # a writer still waiting for a reader ends
            os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
        writer.join(timeout=10)
    assert done.returncode == 1, done.stderr
    assert (f"failed input: {fifo}: a pipe or device: batch reads inputs that it can read "
            "again" in done.stderr)


def test_a_second_job_on_the_same_outdir_stops_at_once(archive, tmp_path):
    from analyzer.archive.lock import outdir_locked

    outdir = tmp_path / "out"
    with outdir_locked(outdir):   # as a running job holds it
        second = batch(archive, outdir)
    assert second.returncode == 2
    assert f"{outdir} is in use by another dualstack batch" in second.stderr
    assert sorted(path.name for path in outdir.iterdir()) == [".lock"]   # nothing touched
    assert batch(archive, outdir).returncode == 1   # once free (broken inputs: exit 1)
    assert (outdir / "summary.json").exists()


def test_unreadable_snapshot_is_a_usage_error(archive, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "analyzer", "batch", str(archive.directory), "--snapshots",
         str(tmp_path / "missing.json"), "-o", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=60, env=ENV, cwd=ROOT)
    assert done.returncode == 2
    assert "missing.json" in done.stderr
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_without_pyarrow_the_job_stops_before_it_starts(archive, tmp_path, monkeypatch,
                                                         capsys):
    """Its outputs are Parquet (the `arrow` extra): one line naming the extra, exit 2,
    no output directory."""
    from analyzer.cli import main

    monkeypatch.setitem(sys.modules, "pyarrow", None)     # as if not installed
    out = tmp_path / "out"
    assert main(["batch", str(archive.directory), "--snapshots", *map(str, archive.snapshots),
                 "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pip install 'dualstack-analyzer[arrow]'" in err and "Traceback" not in err
    assert not out.exists()


# --------------------------------------------------------------------------- Dask


def test_scheduler_without_distributed_is_a_usage_error(archive, tmp_path, monkeypatch,
                                                       capsys):
    """--scheduler needs the `dask` extra: one line naming it, exit 2, nothing written."""
    from analyzer.cli import main

    monkeypatch.setitem(sys.modules, "distributed", None)     # as if not installed
    out = tmp_path / "out"
    assert main(["batch", str(archive.directory), "--snapshots", *map(str, archive.snapshots),
                 "-o", str(out), "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'dualstack-analyzer[dask]'" in err and "Traceback" not in err
    assert not out.exists()


def _session_processes(sessions: set[int]) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) in sessions:
                found.append(process)
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return found


@pytest.fixture
def dask_cluster(tmp_path):
    """`dask scheduler` on a free port of 127.0.0.1 and two `dask worker` processes."""
    dask = str(Path(sys.executable).with_name("dask"))
    scheduler_file = tmp_path / "scheduler.json"
    processes: list[subprocess.Popen] = []

    def start(*argv: str) -> None:
        with open(tmp_path / f"dask{len(processes)}.log", "w") as log:
            processes.append(subprocess.Popen(
                [dask, *argv], env=ENV, cwd=tmp_path, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=log))

    try:
        start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
              "--scheduler-file", str(scheduler_file))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        for number in range(2):
            start("worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
                  "--local-directory", str(tmp_path / f"worker{number}"))
        waited = subprocess.run(
            [sys.executable, "-c", "import sys; from distributed import Client; "
             "c = Client(sys.argv[1], timeout=60); c.wait_for_workers(2, timeout=60); "
             "c.close()", address],
            capture_output=True, text=True, timeout=120, env=ENV)
        assert waited.returncode == 0, waited.stderr
        yield address
    finally:
        sessions = {process.pid for process in processes}
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        deadline = time.monotonic() + 20
        while _session_processes(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftovers = _session_processes(sessions)
        for process in leftovers:
            process.kill()
        assert not leftovers, f"stray Dask processes: {leftovers}"


@pytest.mark.slow
def test_same_job_on_a_dask_cluster(archive, reference, dask_cluster, tmp_path):
    outdir = tmp_path / "job"
    done = batch(archive, outdir, "--scheduler", dask_cluster)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert f"Dask cluster at {dask_cluster} (2 worker(s))" in done.stderr
    check_complete(archive, outdir, reference)
    again = batch(archive, outdir, "--resume", "--scheduler", dask_cluster)
    assert again.returncode == 1 and "nothing to do" in again.stderr


def test_one_worker_and_two_write_the_same_outputs(archive, finished, tmp_path):
    """Two workers judge and write the flows in two forked shares (file names say
    which); one worker as one share in the driver. Every output is the same, flow ids
    and the listeners' flow lists included."""
    two, _done = finished
    one = tmp_path / "one"
    done = batch(archive, one, "--workers", "1")
    assert done.returncode == 1, done.stderr
    names = {path.name.rsplit("-", 1)[0] for path in (two / "flows").rglob("*.parquet")}
    assert names == {"part-0", "part-1"}
    assert {path.name.rsplit("-", 1)[0] for path in (one / "flows").rglob("*.parquet")} == {
        "part"}

    def rows(outdir: Path, name: str) -> list[dict]:
        table = ds.dataset(outdir / name, format="parquet", partitioning="hive").to_table()
        return table.sort_by("id").to_pylist()

    for name in ("flows", "listeners"):
        assert rows(one, name) == rows(two, name), name
    assert (one / "report.txt").read_text() == (two / "report.txt").read_text()
    summaries = [json.loads((outdir / "summary.json").read_text()) for outdir in (one, two)]
    joins = ("flows", "pieces_joined_across_files", "joins_around_a_close")
    assert [[summary["batch"][name] for name in joins] for summary in summaries] == [
        [summaries[1]["batch"][name] for name in joins]] * 2
    for summary in summaries:
        del summary["batch"]  # the inputs' reading times differ
    assert summaries[0] == summaries[1]
