"""The batch job's parts on their own: discovery, manifest, progress, engine, resume."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import zstandard
from hashoracle import xxhsum

from analyzer.archive import jobs
from analyzer.archive.chunks import plan_tasks
from analyzer.archive.engine import LocalEngine, make_engine
from analyzer.archive.inputs import (
    ContentHash,
    InputFile,
    content_hash,
    discover,
    looks_like_capture,
)
from analyzer.archive.jobs import FileTask, read_file
from analyzer.archive.manifest import MANIFEST_NAME, Manifest, load_entries
from analyzer.archive.pipeline import BatchOptions, run_batch
from analyzer.archive.progress import Progress
from analyzer.capture.cuts import record_cuts
from analyzer.capture.window import MappedWindow
from analyzer.errors import InputError, UsageError
from analyzer.flows import Timeouts
from analyzer.synth.bulk import write_bulk

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "captures" / "demo"


def _pieces(directory: Path, packets: int = 16) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(["editcap", "-F", "pcap", "-c", str(packets), str(DEMO / "demo.pcap"),
                    str(directory / "demo.pcap")], check=True, capture_output=True)
    return sorted(directory.glob("demo_*.pcap"))


# ----------------------------------------------------------------------- discovery


def test_discovery_walks_directories_expands_globs_and_sniffs(tmp_path):
    pieces = _pieces(tmp_path / "a" / "b")
    gz = tmp_path / "a" / "x.pcap.gz"
    gz.write_bytes(gzip.compress(pieces[0].read_bytes()))
    zst = tmp_path / "rot-0001"  # tcpdump -G names carry no extension
    zst.write_bytes(zstandard.ZstdCompressor().compress(pieces[1].read_bytes()))
    notes = tmp_path / "a" / "snapshot.json"
    notes.write_text('{"schema_version": 1}\n')
    empty = tmp_path / "a" / "empty.pcap"
    empty.write_bytes(b"")

    found = discover([str(tmp_path / "a"), str(tmp_path / "rot-*"), str(pieces[0])])
    paths = [Path(item.path) for item in found.files]
    assert sorted(paths) == sorted([*pieces, gz, zst])
    assert len(paths) == len(set(paths))  # the explicit file is also under the directory
    assert sorted(map(Path, found.skipped)) == sorted([notes, empty])
    for item in found.files:
        stat = Path(item.path).stat()
        assert (item.size, item.mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_an_explicit_file_is_taken_even_if_it_is_not_a_capture(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    assert not looks_like_capture(str(notes))
    assert [item.path for item in discover([str(notes)]).files] == [str(notes)]


def test_an_argument_matching_nothing_is_an_input_error(tmp_path):
    with pytest.raises(InputError) as caught:
        discover([str(tmp_path / "nothing-*.pcap")])
    assert "nothing-*.pcap" in str(caught.value)
    assert caught.value.exit_code == 2


def test_content_hash_is_xxh128_of_the_stored_bytes(tmp_path):
    piece = _pieces(tmp_path)[0]
    assert content_hash(str(piece)) == xxhsum(piece)
    empty = tmp_path / "empty.pcap"
    empty.write_bytes(b"")
    assert content_hash(str(empty)) == xxhsum(empty)


def _task(path: Path) -> FileTask:
    stat = path.stat()
    return FileTask(InputFile(str(path), stat.st_size, stat.st_mtime_ns), Timeouts())


def _hash_only_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hash read on its own fails the test: it must come from the reading."""
    def refused(path: str) -> str:
        raise AssertionError(f"{path} was hashed on its own")
    monkeypatch.setattr(jobs, "content_hash", refused)


def test_a_mapped_input_is_hashed_while_it_is_read(tmp_path, monkeypatch):
    """Whole, cut mid-record, broken in the middle, pcapng, one packet short of a batch
    or many batches long: the hash fed by the reader is xxhsum's, and the flows are
    those of the reading without a hash."""
    big = tmp_path / "big.pcap"
    write_bulk(big, 40_000, 300, small=True, seed=2)  # three batches of records
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(big.read_bytes()[:-7])
    broken = tmp_path / "broken.pcap"
    data = bytearray(big.read_bytes())
    data[24 + 8:24 + 12] = (1 << 30).to_bytes(4, "little")  # first record's caplen
    broken.write_bytes(bytes(data))
    pcapng = tmp_path / "demo.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(DEMO / "demo.pcap"), str(pcapng)],
                   check=True, capture_output=True)
    compress = zstandard.ZstdCompressor(level=1).compress
    zst = tmp_path / "big.pcap.zst"  # mapped and decoded in place: hashed as decoded
    zst.write_bytes(compress(big.read_bytes()))
    zst_cut = tmp_path / "cut.pcap.zst"
    zst_cut.write_bytes(zst.read_bytes()[: zst.stat().st_size // 2])
    zst_broken = tmp_path / "broken.pcap.zst"  # garbage where a second frame should be
    zst_broken.write_bytes(compress(big.read_bytes()[:500_000]) + b"garbage" * 9
                           + compress(big.read_bytes()[500_000:]))
    inputs = [big, cut, broken, pcapng, DEMO / "demo.pcap", zst, zst_cut, zst_broken]
    plain = {path: read_file(FileTask(_task(path).item, Timeouts(), hashed=False))
             for path in inputs}
    _hash_only_while_reading(monkeypatch)
    for path in inputs:
        result = read_file(_task(path))
        assert result.hash == xxhsum(path), path
        assert result.packets == plain[path].packets
        assert result.error == plain[path].error
        for name, column in plain[path].raw.items():
            assert (result.raw[name] == column).all(), (path, name)
    assert plain[big].packets == plain[zst].packets == 40_000
    assert plain[broken].error is not None and plain[zst_broken].error is not None
    assert 0 < plain[zst_cut].packets < 40_000


def test_a_compressed_input_or_a_chunk_is_hashed_on_its_own(tmp_path):
    piece = tmp_path / "demo.pcap.gz"
    piece.write_bytes(gzip.compress((DEMO / "demo.pcap").read_bytes()))
    assert read_file(_task(piece)).hash == xxhsum(piece)
    whole = _task(DEMO / "demo.pcap")
    ranges = record_cuts(DEMO / "demo.pcap", 2000)
    assert ranges is not None and len(ranges) > 1
    first = read_file(FileTask(whole.item, Timeouts(), byte_range=ranges[0]))
    assert first.error is None and first.packets > 0
    assert first.hash == xxhsum(DEMO / "demo.pcap")


def test_a_file_that_shrinks_while_mapped_leaves_the_hash_unfinished(tmp_path):
    path = tmp_path / "shrinking.pcap"
    path.write_bytes(bytes(range(256)) * 64)  # four pages
    digest = ContentHash()
    with open(path, "rb") as raw:
        window = MappedWindow(raw)
        window.digest_into(digest)
        window.reached(100)
        os.truncate(path, 4096)
        window.close()
    assert digest.text is None  # so the job hashes the file again, as it is now


# ------------------------------------------------------------------------ manifest


def _entry_line(path: str, size: int = 10, mtime_ns: int = 5) -> str:
    entry = {"path": path, "size": size, "mtime_ns": mtime_ns, "mtime": "x", "hash": "h",
             "packets": 1, "flows": 1, "first_ts_ns": 1, "last_ts_ns": 2,
             "error": {"type": "CaptureError", "message": "m", "offset": 7},
             "duration_s": 0.1, "part": None}
    return json.dumps(entry)


def test_manifest_ignores_a_line_cut_short_by_a_crash(tmp_path):
    path = tmp_path / MANIFEST_NAME
    path.write_text(_entry_line("/a") + "\n" + _entry_line("/b")[:40])
    entries = load_entries(path)
    assert list(entries) == ["/a"]
    assert entries["/a"].error is not None and entries["/a"].error.offset == 7
    manifest = Manifest(tmp_path, resume=True)  # rewritten without the torn line
    assert [json.loads(line)["path"] for line in path.read_text().splitlines()] == ["/a"]
    assert list(manifest.entries) == ["/a"]


def test_manifest_names_the_line_of_a_broken_entry(tmp_path):
    path = tmp_path / MANIFEST_NAME
    path.write_text(_entry_line("/a") + "\nnot json\n" + _entry_line("/b") + "\n")
    with pytest.raises(InputError) as caught:
        load_entries(path)
    assert "line 2" in str(caught.value) and MANIFEST_NAME in str(caught.value)


def test_manifest_without_resume_starts_empty(tmp_path):
    (tmp_path / MANIFEST_NAME).write_text(_entry_line("/a") + "\n")
    assert Manifest(tmp_path, resume=False).entries == {}
    assert (tmp_path / MANIFEST_NAME).read_text() == ""


# ------------------------------------------------------------------------ progress


def test_progress_reports_files_packets_rate_and_eta():
    now = [100.0]
    out = io.StringIO()
    progress = Progress(4, 400, stream=out, interval=0.0, clock=lambda: now[0])
    now[0] = 110.0
    progress.done(packets=5000, size=100, failed=False)
    # 100 of 400 bytes in 10 s: 300 bytes left at 10 B/s is 30 s
    assert out.getvalue().splitlines()[-1] == (
        "batch: files 1/4, packets 5,000, 500 pkt/s, 0.0 MB/s, ETA 0:30")
    now[0] = 120.0
    progress.done(packets=5000, size=300, failed=True)
    progress.close()
    assert out.getvalue().splitlines()[-1] == (
        "batch: files 2/4, packets 10,000, 500 pkt/s, 0.0 MB/s, 1 failed")


# -------------------------------------------------------------------------- engine


def test_tasks_are_handed_out_largest_first(tmp_path):
    """A big input started last would keep one worker busy while the others idle: the
    largest tasks go first, chunks counted by their byte range, ties in path order."""
    big = tmp_path / "z-big.pcap"  # last in path order
    shutil.copy(DEMO / "demo.pcap", big)
    small = _pieces(tmp_path / "pieces", packets=8)
    items = discover([str(tmp_path)]).files
    tasks = plan_tasks(items, Timeouts(), chunk_size=big.stat().st_size // 3)
    spans = [(t.byte_range or (0, t.item.size)) for t in tasks]
    sizes = [end - start for start, end in spans]
    assert sizes == sorted(sizes, reverse=True)
    assert {t.item.path for t in tasks} == {str(big), *map(str, small)}
    assert sum(1 for t in tasks if t.item.path == str(big)) >= 3
    by_size: dict[int, list[str]] = {}
    for task, size in zip(tasks, sizes, strict=True):
        by_size.setdefault(size, []).append(task.item.path)
    assert all(paths == sorted(paths) for paths in by_size.values())


def test_small_inputs_are_bundled_and_large_ones_chunks_and_pipes_go_alone(tmp_path):
    from analyzer.archive.chunks import bundle
    from analyzer.archive.inputs import InputFile
    from analyzer.archive.jobs import FileTask

    def task(name: str, size: int, byte_range: tuple[int, int] | None = None) -> FileTask:
        path = tmp_path / name
        if not path.exists():
            path.write_bytes(b"")
        return FileTask(InputFile(str(path), size, 0), Timeouts(), byte_range=byte_range)

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    tasks = [task("big", 100), task("chunk", 50, (24, 74)), task("a", 4), task("b", 4),
             task("c", 3), FileTask(InputFile(str(fifo), 0, 0), Timeouts()),
             task("d", 2), task("e", 2), task("f", 1), task("g", 1), task("h", 1)]
    groups = bundle(tasks, max_bytes=10, max_files=3)
    names = [[Path(t.item.path).name for t in group] for group in groups]
    assert names == [["big"], ["chunk"], ["a", "b"], ["c"], ["pipe"], ["d", "e", "f"],
                     ["g", "h"]]
    assert [t for group in groups for t in group] == tasks     # order and tasks kept


def _square_or_fail(value: int) -> int:
    if value < 0:
        raise ValueError(f"negative: {value}")
    return value * value


def test_local_engine_returns_each_result_or_the_exception_of_its_task():
    with LocalEngine(2) as engine:
        results = dict(engine.run(_square_or_fail, [1, 2, -3, 4]))
    assert {k: v for k, v in results.items() if k != -3} == {1: 1, 2: 4, 4: 16}
    assert isinstance(results[-3], ValueError)


def test_engine_options_are_checked():
    with pytest.raises(UsageError):
        make_engine(0, None)
    with pytest.raises(UsageError):
        make_engine(2, "tcp://127.0.0.1:1")


# -------------------------------------------------------------------------- resume


def test_resume_reads_again_only_the_inputs_that_changed(tmp_path):
    pieces = _pieces(tmp_path / "archive")
    options = BatchOptions([str(tmp_path / "archive")], [str(p) for p in
                                                         sorted(DEMO.glob("*.txt"))],
                           tmp_path / "out", workers=1, host_addrs=["192.0.2.1"])
    first = run_batch(options, io.StringIO())
    assert (first.read, first.failed, first.exit_code) == (len(pieces), [], 0)
    before = {e["path"]: e for e in map(json.loads, (tmp_path / "out" / MANIFEST_NAME)
                                        .read_text().splitlines())}

    shutil.copy(pieces[0], pieces[1])  # one input replaced by other content
    options.resume = True
    log = io.StringIO()
    second = run_batch(options, log)
    assert (second.read, second.resumed) == (1, len(pieces) - 1)
    assert "reading 1 input(s)" in log.getvalue()
    after = [json.loads(line) for line in (tmp_path / "out" / MANIFEST_NAME)
             .read_text().splitlines()]
    assert sorted(e["path"] for e in after) == sorted(map(str, pieces))  # no duplicate
    changed = next(e for e in after if e["path"] == str(pieces[1]))
    assert changed["hash"] == before[str(pieces[0])]["hash"] != before[str(pieces[1])]["hash"]


def test_resume_reads_again_the_inputs_of_a_manifest_with_sha256_hashes(tmp_path):
    """Earlier versions hashed with sha256: such an entry cannot be compared with an
    xxh128 one (copies would go unnoticed), so its input is read again."""
    import hashlib

    pieces = _pieces(tmp_path / "archive")
    options = BatchOptions([str(tmp_path / "archive")], [str(p) for p in
                                                         sorted(DEMO.glob("*.txt"))],
                           tmp_path / "out", workers=1, host_addrs=["192.0.2.1"])
    run_batch(options, io.StringIO())
    manifest = tmp_path / "out" / MANIFEST_NAME
    old = [json.loads(line) for line in manifest.read_text().splitlines()]
    for entry in old[1:]:
        entry["hash"] = "sha256:" + hashlib.sha256(Path(entry["path"]).read_bytes()).hexdigest()
    manifest.write_text("".join(json.dumps(entry) + "\n" for entry in old))
    options.resume = True
    log = io.StringIO()
    again = run_batch(options, log)
    assert (again.read, again.resumed) == (len(pieces) - 1, 1)
    assert f"reading {len(pieces) - 1} input(s)" in log.getvalue()
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    assert sorted(e["path"] for e in entries) == sorted(map(str, pieces))
    assert all(e["hash"] == xxhsum(Path(e["path"])) for e in entries)


def test_resume_with_other_settings_judges_again_without_reading(tmp_path):
    _pieces(tmp_path / "archive")
    snapshots = [str(p) for p in sorted(DEMO.glob("*.txt"))]
    options = BatchOptions([str(tmp_path / "archive")], snapshots, tmp_path / "out", workers=1,
                           host_addrs=["192.0.2.1"])
    run_batch(options, io.StringIO())
    options.resume, options.host_addrs = True, ["192.0.2.1", "2001:db8::1"]
    again = run_batch(options, io.StringIO())
    assert (again.read, again.nothing_to_do) == (0, False)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["hosts"][0]["addresses"] == ["192.0.2.1", "2001:db8::1"]
    assert run_batch(options, io.StringIO()).nothing_to_do


def test_a_named_file_that_is_no_capture_fails_alone(tmp_path):
    pieces = _pieces(tmp_path / "archive")
    notes = tmp_path / "notes.pcap"
    notes.write_text("not a capture at all\n")
    options = BatchOptions([str(tmp_path / "archive"), str(notes)],
                           [str(p) for p in sorted(DEMO.glob("*.txt"))], tmp_path / "out",
                           workers=1, host_addrs=["192.0.2.1"])
    result = run_batch(options, io.StringIO())
    assert result.exit_code == 1 and result.read == len(pieces) + 1
    assert [entry.path for entry in result.failed] == [str(notes)]
    error = result.failed[0].error
    assert error is not None and error.type == "NotACaptureError" and str(notes) in error.message


def _flow_count(outdir: Path) -> int:
    import pyarrow.dataset as ds

    return ds.dataset(outdir / "flows", format="parquet", partitioning="hive").count_rows()


def test_a_copy_of_an_input_is_counted_once(tmp_path):
    pieces = _pieces(tmp_path / "archive")
    snapshots = [str(p) for p in sorted(DEMO.glob("*.txt"))]
    alone = run_batch(BatchOptions([str(tmp_path / "archive")], snapshots, tmp_path / "one",
                                   workers=1), io.StringIO())
    backup = tmp_path / "backup"
    backup.mkdir()
    shutil.copy(pieces[1], backup / "copy.pcap")
    log = io.StringIO()
    both = run_batch(BatchOptions([str(tmp_path / "archive"), str(backup)], snapshots,
                                  tmp_path / "two", workers=1), log)
    assert both.flows == alone.flows == _flow_count(tmp_path / "two")
    assert f"{backup / 'copy.pcap'} has the same content as {pieces[1]}" in log.getvalue()
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["batch"]["inputs_duplicate"] == {str(backup / "copy.pcap"): str(pieces[1])}


def test_equal_hashes_of_different_bytes_are_not_taken_for_a_copy(tmp_path):
    """A forged XXH128 collision (here: a manifest saying two different inputs hash
    alike) must not drop an input's connections: a hash match is confirmed by the bytes."""
    pieces = _pieces(tmp_path / "archive")
    options = BatchOptions([str(tmp_path / "archive")], [str(p) for p in
                                                         sorted(DEMO.glob("*.txt"))],
                           tmp_path / "out", workers=1)
    alone = run_batch(options, io.StringIO())
    manifest = tmp_path / "out" / MANIFEST_NAME
    entries = [json.loads(line) for line in manifest.read_text().splitlines()]
    by_path = {entry["path"]: entry for entry in entries}
    by_path[str(pieces[1])]["hash"] = by_path[str(pieces[0])]["hash"]
    manifest.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    options.resume = True
    log = io.StringIO()
    again = run_batch(options, log)
    assert (again.read, again.resumed) == (0, len(pieces))
    assert "same content" not in log.getvalue()
    assert again.flows == alone.flows == _flow_count(tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["batch"]["inputs_duplicate"] == {}


def test_resume_reads_again_an_input_whose_stored_flows_are_gone(tmp_path):
    _pieces(tmp_path / "archive")
    options = BatchOptions([str(tmp_path / "archive")], [str(p) for p in
                                                         sorted(DEMO.glob("*.txt"))],
                           tmp_path / "out", workers=1)
    first = run_batch(options, io.StringIO())
    entries = [json.loads(line) for line in
               (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    stored = [entry["part"] for entry in entries if entry["part"]]
    log, last = max((part.split("@")[0], int(part.split("@")[1].split("+")[0]))
                    for part in stored)
    os.truncate(tmp_path / "out" / log, last + 1)   # the last part cut short
    options.resume = True
    again = run_batch(options, io.StringIO())
    assert (again.read, again.flows) == (1, first.flows)
    assert (tmp_path / "out" / log).stat().st_size > last + 1   # stored again


def test_parts_round_trip_and_those_of_earlier_versions_still_load(tmp_path):
    import numpy as np

    from analyzer.archive.parts import PartLog, load_part, part_present
    from analyzer.archive.stitch import RawFlows
    from analyzer.flows import iter_raw_flow_batches

    batches = list(iter_raw_flow_batches(str(DEMO / "demo.pcap")))
    raw: RawFlows = {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}
    half = {name: column[: len(column) // 2] for name, column in raw.items()}
    log = PartLog(tmp_path, resume=False)
    refs = [log.store(raw), log.store(half), log.store({n: c[:0] for n, c in raw.items()})]
    log.close()
    assert refs[2] is None                                   # no flows, no part
    for ref, expected in zip(refs[:2], (raw, half), strict=True):
        assert ref is not None and part_present(tmp_path, ref)
        got = load_part(tmp_path, ref)
        assert sorted(got) == sorted(expected)
        for name, column in expected.items():
            assert got[name].flags.c_contiguous
            np.testing.assert_array_equal(got[name], column, err_msg=name)
    log_file = tmp_path / refs[1].split("@")[0]
    os.truncate(log_file, log_file.stat().st_size - 1)      # the second part cut short
    assert part_present(tmp_path, refs[0]) and not part_present(tmp_path, refs[1])
    np.savez(tmp_path / "parts" / "0123.npz", **half)        # as earlier versions stored
    old = load_part(tmp_path, "parts/0123.npz")
    assert part_present(tmp_path, "parts/0123.npz")
    for name, column in half.items():
        np.testing.assert_array_equal(old[name], column, err_msg=name)


def _worker_dies(tasks: tuple) -> list:
    raise RuntimeError("the worker died")


def test_a_failed_bundle_fails_each_of_its_inputs_and_records_none(tmp_path, monkeypatch):
    """Small inputs share a task (a bundle): when its worker fails, every input of it is
    reported, none is recorded as read, and --resume reads them all again."""
    from analyzer.archive import pipeline

    pieces = _pieces(tmp_path / "archive")
    options = BatchOptions([str(tmp_path / "archive")], [str(DEMO / "netstat-antp.txt")],
                           tmp_path / "out", workers=1)
    monkeypatch.setattr(pipeline, "read_files", _worker_dies)
    failed = run_batch(options, io.StringIO())
    assert failed.read == 0 and failed.exit_code == 1
    assert sorted(error.split(":")[0] for error in failed.worker_errors) == sorted(
        map(str, pieces))
    assert "the worker died" in failed.worker_errors[0]
    monkeypatch.undo()
    options.resume = True
    again = run_batch(options, io.StringIO())
    assert again.read == len(pieces) and again.exit_code == 0


def test_no_flows_file_holds_more_than_max_file_rows(tmp_path, monkeypatch):
    """The write's memory is bounded by a file's rows: a big partition is cut into files
    of at most MAX_FILE_ROWS, every row once and in order; a small one is one file."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from analyzer.archive import output

    monkeypatch.setattr(output, "MAX_FILE_ROWS", 1000)
    small = 10
    n = 2 * 1000 + 1 + small  # host a: one row more than two files hold; host b: small
    table = pa.table({"id": np.arange(n, dtype=np.int64)})
    made: list[int] = []

    def rows_table(lo: int, hi: int) -> pa.Table:
        made.append(hi - lo)
        return table.slice(lo, hi - lo)

    host_codes = np.r_[np.zeros(n - small, dtype=np.int64), np.ones(small, dtype=np.int64)]
    parts = output.Partitions(["2026-01-01"], np.zeros(n, dtype=np.int64), ["a", "b"],
                              host_codes)
    output.write_flows(tmp_path / "flows", parts, rows_table)
    day = tmp_path / "flows" / "day=2026-01-01"
    files = sorted((day / "host=a").glob("*.parquet"), key=lambda p: int(p.stem[5:]))
    assert [p.name for p in files] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert max(made) <= 1000
    ids = [i for path in files for i in pq.read_table(path).column("id").to_pylist()]
    assert ids == list(range(n - small))
    assert [p.name for p in (day / "host=b").glob("*.parquet")] == ["part-0.parquet"]
    assert pq.read_table(day / "host=b" / "part-0.parquet").column("id").to_pylist() == list(
        range(n - small, n))


def test_a_run_of_consecutive_rows_gives_the_table_scattered_rows_give():
    """flow_table reads a run of consecutive rows through views (the dataset's order of
    flows in one day and host); the rows in another order are gathered. Both give the
    same rows, ids included."""
    import numpy as np

    from analyzer.archive.output import flow_table
    from analyzer.archive.pipeline import load_snapshots
    from analyzer.flows import read_flows
    from analyzer.verdict import verify

    flows = read_flows(str(DEMO / "demo.pcap"))
    verdicts = verify(flows, load_snapshots([str(DEMO / "netstat-antp.txt")], "linux"))
    ids = np.arange(len(flows), dtype=np.int64) * 10 + 7
    run = np.arange(2, len(flows) - 1)
    assert len(run) >= 4
    backwards = flow_table(flows, verdicts, run[::-1], ids)
    forwards = flow_table(flows, verdicts, run, ids)
    assert forwards.to_pylist() == backwards.to_pylist()[::-1]
    assert forwards.column("id").to_pylist() == (ids[run]).tolist()
    assert flow_table(flows, verdicts, run).column("id").to_pylist() == run.tolist()
