"""The job's answer in OUTDIR, queryable with DuckDB or pyarrow.

``flows/``         Parquet dataset of the classified flows, Hive-partitioned by
                   ``day=YYYY-MM-DD`` (UTC, of the first packet) and ``host=NAME`` (the
                   host of the snapshot the flow was judged against: its name, else its
                   first address, with characters other than ``A-Za-z0-9._-`` as ``_``;
                   ``unknown`` when no snapshot applies). Columns: every column of
                   `dualstack verify`'s flows (the flow columns of `dualstack flows`,
                   ``id``, ``class``, ``listener``, ``snapshot``, ``reason``). Files
                   ``part-N.parquet``, or ``part-S-N.parquet`` by share S of the flows
                   (`analyzer.archive.partitions`); ids are in time order over all.
``listeners/``     Parquet dataset, one row per listener verdict (as in verify's JSON).
``report.txt``     the `dualstack verify` table view of the whole archive.
``summary.json``   verify's summary, plus the job's own facts (inputs, failures, joins).

Everything is written beside the old outputs first and then swapped in, so a reader
never sees half of a run.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.json as pa_json  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from analyzer.flows import FlowFrame
from analyzer.flows.output import PARQUET_DICTIONARY_COLUMNS
from analyzer.verdict import Verdicts
from analyzer.verdict.factorize import first_seen
from analyzer.verdict.report import render
from analyzer.verdict.shares import Shares

FLOWS_DIR = "flows"
LISTENERS_DIR = "listeners"
REPORT_NAME = "report.txt"
SUMMARY_NAME = "summary.json"
UNKNOWN_HOST = "unknown"
MAX_FILE_ROWS = 262_144  # a partition is cut into files of at most this many (~10-20 MB)
NS_PER_DAY = 86_400 * 10**9
_RAW_ADDRESS_COLUMNS = ("client_addr", "server_addr")
_DICTIONARY_COLUMNS = [*PARQUET_DICTIONARY_COLUMNS, "class", "reason"]
_FLOW_LISTS = ("ipv4_accepted_flows", "ipv6_accepted_flows", "ipv4_refused_flows",
               "ipv6_refused_flows")  # listener columns
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# Arrow arrays are built from numpy buffers and listeners parsed from JSON lines: pa.array,
# Table.from_pylist and pyarrow.dataset import pandas, a quarter of a second of the job's
# serial end.


def write_outputs(outdir: Path, verdicts: Verdicts, job_facts: dict[str, Any],
                  shares: Shares) -> None:
    """Write flows/ (each share of the flows its own files, `write_share_flows`, while
    this process writes the rest), listeners/, report.txt and summary.json, replacing
    older ones."""
    staging = outdir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    (staging / FLOWS_DIR).mkdir()
    shares.send("write", staging / FLOWS_DIR, verdicts.hosts, len(verdicts))
    write_listeners(staging / LISTENERS_DIR, verdicts)
    (staging / REPORT_NAME).write_text(render(verdicts, "table"), encoding="utf-8")
    summary = {"batch": job_facts, **verdicts.summary()}
    text = json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n"
    (staging / SUMMARY_NAME).write_text(text, encoding="utf-8")
    shares.receive()
    for name in (FLOWS_DIR, LISTENERS_DIR, REPORT_NAME, SUMMARY_NAME):
        _swap_in(staging / name, outdir / name)
    shutil.rmtree(staging, ignore_errors=True)


def write_share_flows(directory: Path, frame: FlowFrame, verdicts: Verdicts, *,
                      ids: np.ndarray | None = None, prefix: str = "part",
                      empty_file: bool = True) -> None:
    """One share's flows (`analyzer.verdict.shares`) into the dataset at `directory`:
    its files are named ``<prefix>-N.parquet``, its flow ids are ``ids[row]`` (None: the
    rows), and with no flows it writes ``empty.parquet`` (the schema) when `empty_file`."""
    order, parts = sorted_flows(frame, verdicts)
    if len(order) == 0 and not empty_file:
        return
    write_flows(directory, parts, lambda lo, hi: flow_table(frame, verdicts, order[lo:hi], ids),
                prefix=prefix)


def _swap_in(new: Path, old: Path) -> None:
    if old.is_dir():
        shutil.rmtree(old)
    elif old.exists():
        old.unlink()
    new.rename(old)


@dataclass(frozen=True)
class Partitions:
    """Each flow's day and host: indices into the distinct names, sorted."""

    days: list[str]
    day_codes: np.ndarray
    hosts: list[str]
    host_codes: np.ndarray

    def take(self, rows: np.ndarray) -> Partitions:
        return Partitions(self.days, self.day_codes[rows], self.hosts, self.host_codes[rows])


def sorted_flows(frame: FlowFrame, verdicts: Verdicts) -> tuple[np.ndarray, Partitions]:
    """The flows' order in the dataset (by day, host and first packet) and, in that
    order, each one's partition."""
    snapshot_index = np.asarray(verdicts.flow_snapshot, dtype=np.int64)
    first_ts_ns = frame.columns["first_ts_ns"]
    parts = Partitions(*_days(first_ts_ns), *_hosts(snapshot_index, verdicts))
    order = np.lexsort((first_ts_ns, parts.host_codes, parts.day_codes))
    return order, parts.take(order)


def flow_table(frame: FlowFrame, verdicts: Verdicts, rows: np.ndarray,
               ids: np.ndarray | None = None) -> pa.Table:
    """verify's flow columns of the flows at `rows`; ``id`` is ``ids[row]`` (default: the
    row in `frame`), as the listeners name the flow."""
    ids = rows if ids is None else ids[rows]
    rows = _as_slice(rows)
    table = frame.take(rows).to_arrow(extras=True).drop_columns(list(_RAW_ADDRESS_COLUMNS))
    listener = np.asarray(verdicts.flow_listener, dtype=np.int64)[rows]
    snapshot_index = np.asarray(verdicts.flow_snapshot, dtype=np.int64)[rows]
    added = {
        "id": _int64s(ids),
        "class": _texts(np.asarray(verdicts.flow_class)[rows]),
        "listener": _int64s(listener, valid=listener >= 0),
        "snapshot": _int64s(snapshot_index, valid=snapshot_index >= 0),
        "reason": _texts(np.asarray(verdicts.flow_reason)[rows]),
    }
    for name, column in added.items():
        table = table.append_column(name, column)
    return table


def _as_slice(rows: np.ndarray) -> Any:
    """`rows` as a slice when they are a run of consecutive rows (the dataset's order is
    the flows' own when they fall in one day and host): views, not copies, of every
    column."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows) and (np.diff(rows) == 1).all():
        return slice(int(rows[0]), int(rows[-1]) + 1)
    return rows


def _int64s(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """An int64 Arrow array over `values`; null where `valid` is False."""
    data = np.ascontiguousarray(values, dtype=np.int64)
    bitmap = None if valid is None else pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(pa.int64(), len(data), [bitmap, pa.py_buffer(data)])


def _labels(names: Sequence[str], codes: np.ndarray) -> pa.Array:
    """``names[codes]`` as a dictionary-encoded Arrow string array (Parquet stores a
    dictionary column; Arrow readers get its dictionary type back, DuckDB a VARCHAR)."""
    encoded = [name.encode() for name in names]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum([len(text) for text in encoded], out=offsets[1:])
    dictionary = pa.StringArray.from_buffers(len(encoded), pa.py_buffer(offsets),
                                             pa.py_buffer(b"".join(encoded)))
    indices = np.ascontiguousarray(codes, dtype=np.int32)
    index_array = pa.Array.from_buffers(pa.int32(), len(indices), [None, pa.py_buffer(indices)])
    return pa.DictionaryArray.from_arrays(index_array, dictionary)


def _texts(values: np.ndarray) -> pa.Array:
    """A string Arrow array of an object column of few distinct texts (verify's class and
    reason: one str object per judged group, repeated over its flows), factorised by
    object identity in C, then only the distinct objects by their text."""
    identities = np.fromiter(map(id, values.tolist()), dtype=np.int64, count=len(values))
    first, inverse = first_seen(identities)
    code_of: dict[str, int] = {}
    codes = [code_of.setdefault(str(values[row]), len(code_of)) for row in first.tolist()]
    return _labels(list(code_of), np.asarray(codes, dtype=np.int64)[inverse])


def _days(first_ts_ns: np.ndarray) -> tuple[list[str], np.ndarray]:
    """The distinct UTC days (YYYY-MM-DD, ascending) and each flow's index among them."""
    numbers, codes = np.unique(first_ts_ns // NS_PER_DAY, return_inverse=True)
    moments = (numbers * NS_PER_DAY).astype("datetime64[ns]")
    return np.datetime_as_string(moments, unit="D").tolist(), codes.reshape(-1)


def _hosts(snapshot_index: np.ndarray, verdicts: Verdicts) -> tuple[list[str], np.ndarray]:
    """The distinct hosts (sorted) and each flow's index among them: the host of its
    snapshot (its name, else its first address), `UNKNOWN_HOST` without one."""
    label_of: dict[int, str] = {}
    for host in verdicts.hosts:
        addresses = host.get("addresses") or []
        label = partition_value(host.get("host") or (addresses[0] if addresses else None))
        for index in host.get("snapshots", []):
            label_of[int(index)] = label
    width = max([*label_of, int(snapshot_index.max(initial=-1))]) + 1
    labels = [label_of.get(index, UNKNOWN_HOST) for index in range(width)] + [UNKNOWN_HOST]
    names = sorted(set(labels))
    code_of = np.array([names.index(label) for label in labels], dtype=np.int64)
    return names, code_of[snapshot_index]  # index -1 (no snapshot): the last, unknown


def partition_value(name: str | None) -> str:
    """A host name as a directory name: unsafe characters become ``_``."""
    cleaned = _UNSAFE.sub("_", name or "").strip("._")
    return cleaned or UNKNOWN_HOST


def write_flows(directory: Path, parts: Partitions, rows_table: Callable[[int, int], pa.Table],
                prefix: str = "part") -> None:
    """Parquet files per day and host (Hive layout ``day=D/host=H/<prefix>-N.parquet``, the
    partition columns in the path only); `parts` are the rows' partitions, in row order,
    and ``rows_table(lo, hi)`` the table of rows lo to hi. A partition of more than
    MAX_FILE_ROWS rows is cut into several files, made one at a time: the memory this
    takes is bounded by MAX_FILE_ROWS, not by the size of the archive. (The job's
    parallelism is its shares of the flows, each writing its own files.)"""
    directory.mkdir(parents=True, exist_ok=True)  # shares write beside each other
    if len(parts.day_codes) == 0:
        pq.write_table(rows_table(0, 0), directory / "empty.parquet")
        return
    group = parts.day_codes * len(parts.hosts) + parts.host_codes
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(group)], strict=True):
        target = (directory / f"day={parts.days[parts.day_codes[start]]}"
                  / f"host={parts.hosts[parts.host_codes[start]]}")
        target.mkdir(parents=True, exist_ok=True)
        cuts = max(-(-(stop - start) // MAX_FILE_ROWS), 1)
        bounds = np.linspace(start, stop, cuts + 1).astype(int).tolist()
        for number, (lo, hi) in enumerate(itertools.pairwise(bounds)):
            pq.write_table(rows_table(lo, hi), target / f"{prefix}-{number}.parquet",
                           compression="zstd", use_dictionary=_DICTIONARY_COLUMNS)


def write_listeners(directory: Path, verdicts: Verdicts) -> None:
    """One row per listener, as verify's JSON has it. Its flow lists (every flow an
    archive's listener took can be hundreds of thousands) go to Arrow from numpy; the
    other fields through Arrow's JSON reader."""
    directory.mkdir(parents=True)
    rows = [item.to_dict() for item in verdicts.listeners]
    if not rows:
        table = pa.table({"id": pa.Array.from_buffers(pa.int64(), 0, [None, None])})
    else:
        names = list(rows[0])
        lists = {name: _int64_lists([row.pop(name) for row in rows]) for name in _FLOW_LISTS}
        lines = "".join(json.dumps(row, default=str) + "\n" for row in rows).encode()
        table = pa_json.read_json(io.BytesIO(lines))
        for name, column in lists.items():
            table = table.append_column(name, column)
        table = table.select(names)
    pq.write_table(table, directory / "part-0.parquet")


def _int64_lists(lists: list[list[int]]) -> pa.Array:
    """A list<int64> Arrow array of the given lists."""
    offsets = np.zeros(len(lists) + 1, dtype=np.int32)
    np.cumsum([len(items) for items in lists], out=offsets[1:])
    values = np.fromiter(itertools.chain.from_iterable(lists), dtype=np.int64,
                         count=int(offsets[-1]))
    return pa.ListArray.from_arrays(
        pa.Array.from_buffers(pa.int32(), len(offsets), [None, pa.py_buffer(offsets)]),
        pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)]))
