"""The job's end in forked shares (`analyzer.archive.partitions`): a share that fails
or dies stops the end at once with its reason, and leaves no process behind.

That the shares give the answer one share gives is shown by test_verdict_shares (every
scenario, in process) and test_archive_batch (the whole job, one worker against two).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from analyzer import cli
from analyzer.archive.inputs import discover
from analyzer.archive.jobs import FileTask, read_file
from analyzer.archive.partitions import ArchiveShare, ShareFailed, open_shares
from analyzer.archive.stitch import FilePiece
from analyzer.flows import Timeouts

DEMO = Path(__file__).resolve().parents[1] / "captures" / "demo" / "demo.pcap"


def pieces_of(path: str) -> list[FilePiece]:
    (item,) = discover([path]).files
    done = read_file(FileTask(item, Timeouts()))
    assert done.first_ts_ns is not None and done.last_ts_ns is not None
    return [FilePiece(item.path, done.first_ts_ns, done.last_ts_ns, done.raw)]


@pytest.fixture(scope="module")
def pieces() -> list[FilePiece]:
    return pieces_of(str(DEMO))


def failing_servers(monkeypatch: pytest.MonkeyPatch, fail: object) -> None:
    """Share 1's `servers` phase runs `fail` (the processes are forked after this)."""
    original = ArchiveShare.servers

    def servers(self: ArchiveShare) -> set[str]:
        if self.number == 1:
            fail()  # type: ignore[operator]
        return original(self)

    monkeypatch.setattr(ArchiveShare, "servers", servers)


def run_phases(pieces: list[FilePiece]) -> list[set[str]]:
    with open_shares(list(pieces), Timeouts(), 2) as shares:
        stitched = shares.call("stitched")
        assert sum(len(first) for first, _, _ in stitched) > 0
        result: list[set[str]] = shares.call("servers")
        return result


def test_two_shares_hold_the_flows_of_one(pieces):
    with open_shares(list(pieces), Timeouts(), 1) as one:
        (whole,) = one.call("servers")
    assert set().union(*run_phases(pieces)) == whole
    assert not multiprocessing.active_children()


def test_a_share_that_raises_stops_the_end_with_its_traceback(pieces, monkeypatch):
    def boom() -> None:
        raise RuntimeError("boom in share one")

    failing_servers(monkeypatch, boom)
    with pytest.raises(ShareFailed, match=r"(?s)share 1 of the flows failed:\n"
                                          r"Traceback.*RuntimeError: boom in share one"):
        run_phases(pieces)
    assert not multiprocessing.active_children()


def test_a_share_that_dies_stops_the_end_with_its_exit_code(pieces, monkeypatch):
    failing_servers(monkeypatch, lambda: os._exit(7))
    with pytest.raises(ShareFailed, match=r"share 1 of the flows ended without an answer "
                                          r"\(exit code 7\)"):
        run_phases(pieces)
    assert not multiprocessing.active_children()


def test_ctrl_c_while_shares_work_ends_them_at_once(pieces, monkeypatch):
    """Ctrl-C reaches the driver (the shares ignore it): the driver ends its shares
    rather than wait for them."""
    failing_servers(monkeypatch, lambda: time.sleep(60))
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_phases(pieces)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.monotonic() - started < 10
    assert not multiprocessing.active_children()


DRIVER = """
import sys, time
from analyzer.archive.partitions import ArchiveShare, open_shares
from analyzer.flows import Timeouts
from test_archive_partitions import pieces_of
ArchiveShare.servers = lambda self: time.sleep(600)
with open_shares(pieces_of(sys.argv[1]), Timeouts(), 3) as shares:
    shares.call("stitched")
    print("working", flush=True)
    shares.call("servers")
"""


def test_shares_end_with_a_driver_killed_by_sigkill(tmp_path):
    """kill -9 of the driver: its share processes end too (PR_SET_PDEATHSIG)."""
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, str(DEMO)], cwd=Path(__file__).parent,
                              stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": os.pathsep.join(
                                  [str(Path(__file__).parent), *sys.path])})
    try:
        assert driver.stdout is not None and driver.stdout.readline() == "working\n"
        shares = psutil.Process(driver.pid).children()
        assert len(shares) == 2
    finally:
        driver.kill()
        driver.communicate()
    _gone, alive = psutil.wait_procs(shares, timeout=10)
    for orphan in alive:  # a failure here must not leave them behind
        orphan.kill()
    assert not alive


def test_a_job_whose_share_dies_says_so_and_resume_finishes_it(tmp_path, monkeypatch, capsys):
    """A share's process killed (say, by the OOM killer) stops the job with exit code 3
    and a line saying so, not a traceback; the inputs stay read, and --resume judges
    them without reading them again."""
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "demo.pcap").write_bytes(DEMO.read_bytes())
    argv = ["batch", str(archive), "--snapshots", *map(str, sorted(DEMO.parent.glob("*.txt"))),
            "-o", str(tmp_path / "out"), "--workers", "2"]
    failing_servers(monkeypatch, lambda: os._exit(9))
    assert cli.main(argv) == 3
    err = capsys.readouterr().err
    assert "share 1 of the flows ended without an answer (exit code 9)" in err
    assert "--resume finishes the job" in err and "Traceback" not in err
    assert not multiprocessing.active_children()
    monkeypatch.undo()
    assert cli.main([*argv, "--resume"]) == 0
    err = capsys.readouterr().err
    assert "reading" not in err and "written to" in err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["classes"]["v4-via-v6"] > 0


@pytest.mark.parametrize("workers", [2, 8])
def test_more_shares_than_some_need(tmp_path, workers):
    """8 shares for the demo's 7 flows (some shares empty): every flow once, ids 0..6
    as one worker gives them; an archive without flows: the schema alone, once."""
    import pyarrow.dataset as ds

    snapshots = [str(path) for path in sorted(DEMO.parent.glob("*.txt"))]
    demo, empty = tmp_path / "demo", tmp_path / "empty"
    demo.mkdir()
    empty.mkdir()
    (demo / "demo.pcap").write_bytes(DEMO.read_bytes())
    (empty / "empty.pcap").write_bytes(DEMO.read_bytes()[:24])  # the file header alone

    def job(archive: Path, outdir: Path, count: int) -> list[dict]:
        assert cli.main(["batch", str(archive), "--snapshots", *snapshots, "-o", str(outdir),
                         "--workers", str(count)]) == 0
        table = ds.dataset(outdir / "flows", format="parquet", partitioning="hive").to_table()
        return table.sort_by("id").to_pylist()

    one = job(demo, tmp_path / "one", 1)
    assert [row["id"] for row in one] == list(range(len(one))) and len(one) == 7
    assert job(demo, tmp_path / "many", workers) == one
    assert job(empty, tmp_path / "none", workers) == []
    assert [path.name for path in (tmp_path / "none" / "flows").rglob("*.parquet")] == [
        "empty.parquet"]
