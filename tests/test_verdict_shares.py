"""verify over shares of the flows gives the answer verify gives over all of them.

`dualstack batch` judges an archive's flows in shares split by flow key
(`analyzer.archive.partitions`) and merges between the phases what needs every flow
(`analyzer.verdict.shares`). The oracle is `verify` over the whole capture, itself tested
against real kernels and against each scenario's ground truth: every scenario's flows,
split in 2 and 3 shares, must give the same listeners, flows, connection rows,
anomalies, summary and report.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analyzer.archive.partitions import share_of, time_ranks
from analyzer.flows import read_flows
from analyzer.snapshot import load_snapshots
from analyzer.synth.scenarios import SCENARIOS
from analyzer.synth.writer import CaptureOptions, write_scenario
from analyzer.verdict import Verdicts, verify
from analyzer.verdict.report import render
from analyzer.verdict.shares import FlowShare, LocalShares, correlate


def scenario(tmp_path: Path, name: str) -> tuple[object, list]:
    files = write_scenario(SCENARIOS[name].make(seed=3, scale=2), tmp_path,
                           CaptureOptions("pcap", "ethernet", None))
    return read_flows([str(files.capture)]), load_snapshots(files.snapshots)


def split(flows: object, count: int) -> list[np.ndarray]:
    share = share_of(flows.columns, count)
    return [np.flatnonzero(share == number) for number in range(count)]


@pytest.mark.parametrize("count", [2, 3])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_shares_together_give_the_whole_answer(tmp_path, name, count):
    flows, snapshots = scenario(tmp_path, name)
    whole = verify(flows, snapshots)
    rows = split(flows, count)
    shares = [FlowShare(flows.take(own).columns, ids=own) for own in rows]
    merged = correlate(LocalShares(shares), snapshots)

    assert [item.to_dict() for item in merged.listeners] == [
        item.to_dict() for item in whole.listeners]
    for share, own in zip(shares, rows, strict=True):
        mine: Verdicts = share.verdicts
        assert mine.flow_class.tolist() == whole.flow_class[own].tolist()
        assert mine.flow_reason.tolist() == whole.flow_reason[own].tolist()
        assert mine.flow_listener.tolist() == whole.flow_listener[own].tolist()
        assert mine.flow_snapshot.tolist() == whole.flow_snapshot[own].tolist()
    assert [item.to_dict() for item in merged.connections] == [
        item.to_dict() for item in whole.connections]
    assert [item.to_dict() for item in merged.anomalies] == [
        item.to_dict() for item in whole.anomalies]
    assert merged.summary() == whole.summary()
    for fmt in ("table", "markdown"):
        assert render(merged, fmt) == render(whole, fmt)


def test_the_scenarios_give_the_merge_something_to_do(tmp_path):
    """The comparison above is only worth as much as what the scenarios show: across
    them there are connection rows, anomalies, listed flows and listener evidence, and
    most of them split into 3 shares that all hold flows."""
    seen = {"connections": 0, "anomalies": 0, "listed": 0, "evidence": 0, "split": 0}
    for name in sorted(SCENARIOS):
        flows, snapshots = scenario(tmp_path / name, name)
        whole = verify(flows, snapshots)
        seen["connections"] += sum(bool(item.flows) for item in whole.connections)
        seen["anomalies"] += len(whole.anomalies)
        seen["listed"] += len(render(whole, "table").split("Flows that matter")) - 1
        seen["evidence"] += sum(item.knowledge.known_from == "capture" for item in whole.listeners)
        seen["split"] += all(len(own) for own in split(flows, 3))
    assert all(seen.values()), seen
    assert seen["split"] >= len(SCENARIOS) // 2, seen


def test_a_connection_lands_in_one_share_whichever_side_is_the_client():
    rng = np.random.default_rng(5)
    n = 20_000
    raw = {"client_addr": rng.integers(0, 256, (n, 16), dtype=np.uint8),
           "server_addr": rng.integers(0, 256, (n, 16), dtype=np.uint8),
           "client_port": rng.integers(0, 65536, n).astype(np.uint16),
           "server_port": rng.integers(0, 65536, n).astype(np.uint16)}
    raw["server_addr"][: n // 2, :12] = raw["client_addr"][: n // 2, :12]  # alike prefixes
    swapped = {"client_addr": raw["server_addr"], "server_addr": raw["client_addr"],
               "client_port": raw["server_port"], "server_port": raw["client_port"]}
    for count in (2, 3, 8):
        share = share_of(raw, count)
        assert share.tolist() == share_of(swapped, count).tolist()
        sizes = np.bincount(share, minlength=count)
        assert sizes.min() > 0.9 * n / count, sizes  # and the shares are about even


def test_flow_ids_are_ranks_in_time_order_over_all_shares():
    rng = np.random.default_rng(9)
    times = [np.sort(rng.integers(0, 50, size)) for size in (40, 0, 25, 60)]  # many ties
    ids = [time_ranks(times, number) for number in range(len(times))]
    # the oracle: a stable sort of all times, shares in order, rows in order
    order = np.argsort(np.concatenate(times), kind="stable")
    expected = np.empty(len(order), dtype=np.int64)
    expected[order] = np.arange(len(order))
    assert np.concatenate(ids).tolist() == expected.tolist()
