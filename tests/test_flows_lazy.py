"""Derived flow columns made on first read, and read_flows' compact store of finished flows.

A FlowFrame keeps the flow table's numbers as columns and derives the rest (names,
states, seconds, flags, address text, Community IDs) when first read, from the columns
and hidden per-direction state bits. Expected values are computed here from the flow
table's raw columns, row by row: names and numbers by plain Python, address text by
socket.inet_ntop, Community IDs by the `communityid` package, outcome and conn_state by
the rule functions applied to the raw dict (the eager computation the frame replaced).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer._flowtable import RAW_FLOW_COLUMNS
from analyzer.capture.columns import TUNNEL_NAMES
from analyzer.flows import ALL_COLUMNS, FlowFrame, iter_flow_batches, read_flows
from analyzer.flows.build import HIDDEN, build_columns, midstream
from analyzer.flows.columnset import FlowColumns
from analyzer.flows.conn_state import conn_states
from analyzer.flows.outcome import outcomes
from analyzer.flows.store import RawFlowStore, narrowest_type
from analyzer.flows.table import _merge_sorted, iter_raw_flow_batches

CORPUS = Path("/work/shared/corpus/captures")
CAPTURES = [CORPUS / "nfstream" / "synscan.pcap", CORPUS / "nfstream" / "http_ipv6.pcap",
            CORPUS / "nfstream" / "6in4tunnel.pcap", CORPUS / "nfstream" / "dns_fragmented.pcap"]
GUESSED, ICMP_UNREACH = 2, 8     # ext/flowtable_defs.pxi F_GUESSED, F_ICMP_UNREACH


def raw_flows(path: Path) -> dict[str, np.ndarray]:
    """Every flow of the capture as the flow table hands it out, in first-packet order."""
    batches = list(iter_raw_flow_batches(str(path)))
    raw = {name: np.concatenate([b[name] for b in batches]) for name in RAW_FLOW_COLUMNS}
    order = np.argsort(raw["first_ts_ns"], kind="stable")
    return {name: arr[order] for name, arr in raw.items()}


def text(addr: np.ndarray, family: int) -> str:
    if family == 4:
        return socket.inet_ntop(socket.AF_INET, bytes(addr[12:]))
    return socket.inet_ntop(socket.AF_INET6, bytes(addr))


def expected_columns(raw: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """Each FlowFrame column of the raw flows, computed row by row."""
    rows = range(len(raw["first_ts_ns"]))
    flags, syns = raw["flow_flags"].tolist(), raw["syn_count"].tolist()
    family = raw["wire_family"].tolist()
    same = {name: raw[name].tolist() for name in RAW_FLOW_COLUMNS
            if name not in HIDDEN and name not in ("proto", "tunnel")}
    return {
        **same,
        "proto": [{6: "tcp", 17: "udp"}[p] for p in raw["proto"].tolist()],
        "proto_num": raw["proto"].tolist(),
        "tunnel": [TUNNEL_NAMES[t] for t in raw["tunnel"].tolist()],
        "tunnel_kind": raw["tunnel"].tolist(),
        "client": [text(raw["client_addr"][i], family[i]) for i in rows],
        "server": [text(raw["server_addr"][i], family[i]) for i in rows],
        "first_ts": [t / 1e9 for t in raw["first_ts_ns"].tolist()],
        "last_ts": [t / 1e9 for t in raw["last_ts_ns"].tolist()],
        "client_guessed": [bool(f & GUESSED) for f in flags],
        "icmp_unreachable": [bool(f & ICMP_UNREACH) for f in flags],
        "syn_retransmissions": [max(s - 1, 0) for s in syns],
        "outcome": outcomes(raw).tolist(),
        "conn_state": conn_states(raw).tolist(),
        "midstream": midstream(raw).tolist(),
    }


def assert_columns(frame: FlowFrame, expected: dict[str, list[Any]], rows: np.ndarray) -> None:
    assert list(frame.columns) == list(ALL_COLUMNS)
    assert not any(name in frame.columns for name in HIDDEN)
    for name in ALL_COLUMNS:
        if name == "community_id":
            continue
        got = frame.columns[name]
        want = [expected[name][i] for i in rows.tolist()]
        assert got.tolist() == want, name
        assert got.dtype.kind != "O", name


@pytest.mark.parametrize("capture", CAPTURES, ids=lambda p: p.name)
def test_derived_columns_follow_rows_through_take_concat_and_merge(capture: Path) -> None:
    raw = raw_flows(capture)
    n = len(raw["first_ts_ns"])
    assert n > 1
    expected = expected_columns(raw)
    everything = np.arange(n)
    assert_columns(FlowFrame(build_columns(raw)), expected, everything)
    backwards = everything[::-1]
    assert_columns(FlowFrame(build_columns(raw)).take(backwards), expected, backwards)
    halves = [FlowFrame(build_columns({k: v[:n // 2] for k, v in raw.items()})),
              FlowFrame(build_columns({k: v[n // 2:] for k, v in raw.items()}))]
    halves[0].columns["outcome"]   # made in one part only: derived again after the join
    assert_columns(FlowFrame.concat(halves), expected, everything)
    assert_columns(_merge_sorted(halves[::-1]), expected,
                   np.concatenate([everything[n // 2:], everything[:n // 2]])[
                       np.argsort(np.concatenate([raw["first_ts_ns"][n // 2:],
                                                  raw["first_ts_ns"][:n // 2]]), kind="stable")])


def test_community_ids_of_a_taken_frame_equal_the_communityid_package() -> None:
    communityid = pytest.importorskip("communityid")
    raw = raw_flows(CAPTURES[1])
    frame = FlowFrame(build_columns(raw)).take(np.arange(len(raw["proto"]))[::-2])
    oracle = communityid.CommunityID()
    for rec in frame.to_records():
        assert rec["community_id"] == oracle.calc(communityid.FlowTuple(
            {"tcp": 6, "udp": 17}[rec["proto"]], rec["client"], rec["server"],
            rec["client_port"], rec["server_port"]))


def test_concat_with_a_plain_dict_frame_makes_every_column() -> None:
    raw = raw_flows(CAPTURES[0])
    n = len(raw["first_ts_ns"])
    lazy = FlowFrame(build_columns(raw))
    plain = FlowFrame({name: lazy.columns[name] for name in ALL_COLUMNS})
    joined = FlowFrame.concat([FlowFrame(build_columns(raw)), plain])
    assert set(joined.columns.made()) == set(ALL_COLUMNS)  # type: ignore[attr-defined]
    assert_columns(joined, expected_columns(raw), np.concatenate([np.arange(n)] * 2))


def test_rows_taken_while_another_thread_makes_a_column_keep_it() -> None:
    """A frame shared by threads (batch takes each Parquet file's rows on a thread of its
    own): a column being made on one must stay visible to another taking rows (it was in
    neither the made nor the pending columns: 'missing columns')."""
    raw = raw_flows(CAPTURES[1])
    frame = FlowFrame(build_columns(raw))
    columns = frame.columns
    assert isinstance(columns, FlowColumns)
    derive = columns.pending()["server"]
    started, proceed = threading.Event(), threading.Event()

    def slow_derive(made: FlowColumns) -> np.ndarray:
        started.set()
        proceed.wait(10)
        return derive(made)

    columns._derived["server"] = slow_derive
    maker = threading.Thread(target=lambda: columns["server"])
    maker.start()
    try:
        assert started.wait(10)
        taken = frame.take(np.arange(len(raw["proto"]))[::-1])
    finally:
        proceed.set()
        maker.join(10)
    expected = expected_columns(raw)["server"][::-1]
    assert taken.columns["server"].tolist() == expected
    assert columns["server"].tolist() == expected[::-1]


@pytest.mark.parametrize("capture", CAPTURES[:2], ids=lambda p: p.name)
def test_read_flows_equals_the_streamed_flows(capture: Path) -> None:
    whole = read_flows(str(capture))
    streamed = FlowFrame.concat(list(iter_flow_batches(str(capture), flush_every=3)))
    assert len(whole) == len(streamed)
    assert sorted(map(repr, whole.to_records(extras=True))) == sorted(
        map(repr, streamed.to_records(extras=True)))
    first = whole.columns["first_ts_ns"]
    assert np.all(first[1:] >= first[:-1])


def random_raw(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Raw flow columns with values across each type's whole range."""
    raw = {}
    for name, (dtype, shape) in RAW_FLOW_COLUMNS.items():
        info = np.iinfo(dtype)
        high = min([1, 255, 65536, int(info.max)][int(rng.integers(4))], int(info.max))
        raw[name] = rng.integers(info.min if rng.random() < 0.3 else 0, high, (n, *shape),
                                 dtype=dtype, endpoint=True)
    return raw


@pytest.mark.parametrize("narrow_from", [0, 3000, 1 << 30])  # always, from the middle, never
def test_store_gives_back_every_flow_in_its_type_sorted_by_first_packet(
        narrow_from: int) -> None:
    rng = np.random.default_rng(3)
    batches = [random_raw(rng, int(n)) for n in rng.integers(0, 300, 40)]
    store = RawFlowStore(narrow_from)
    for raw in batches:
        store.add({name: arr.copy() for name, arr in raw.items()})
    assert len(store) == sum(len(b["proto"]) for b in batches)
    got = store.take_all()
    assert got is not None and len(store) == 0
    order = np.argsort(np.concatenate([b["first_ts_ns"] for b in batches]), kind="stable")
    for name, (dtype, _) in RAW_FLOW_COLUMNS.items():
        want = np.concatenate([b[name] for b in batches])[order]
        assert got[name].dtype == dtype and np.array_equal(got[name], want), name
    assert RawFlowStore().take_all() is None


@given(st.sampled_from(["u1", "u2", "u4", "u8", "i1", "i2", "i4", "i8"]),
       st.lists(st.integers(), min_size=1, max_size=20))
def test_narrowed_keeps_every_value(dtype: str, values: list[int]) -> None:
    info = np.iinfo(dtype)
    arr = np.array([min(max(v, info.min), info.max) for v in values], dtype=dtype)
    small = arr.astype(narrowest_type(arr))
    assert small.itemsize <= arr.itemsize
    assert small.dtype.kind in "iu"
    assert small.tolist() == arr.tolist()
