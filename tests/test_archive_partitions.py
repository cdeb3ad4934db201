"""The job's end in forked shares (`analyzer.archive.partitions`): a share that fails
or dies stops the end at once with its reason, and leaves no process behind.

That the shares give the answer one share gives is shown by test_verdict_shares (every
scenario, in process) and test_archive_batch (the whole job, one worker against two).
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from analyzer.archive.inputs import discover
from analyzer.archive.jobs import FileTask, read_file
from analyzer.archive.partitions import ArchiveShare, ShareFailed, open_shares
from analyzer.archive.stitch import FilePiece
from analyzer.flows import Timeouts

DEMO = Path(__file__).resolve().parents[1] / "captures" / "demo" / "demo.pcap"


@pytest.fixture(scope="module")
def pieces() -> list[FilePiece]:
    (item,) = discover([str(DEMO)]).files
    done = read_file(FileTask(item, Timeouts()))
    assert done.first_ts_ns is not None and done.last_ts_ns is not None
    return [FilePiece(item.path, done.first_ts_ns, done.last_ts_ns, done.raw)]


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
