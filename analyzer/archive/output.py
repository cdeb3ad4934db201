"""The job's answer in OUTDIR, queryable with DuckDB or pyarrow.

``flows/``         Parquet dataset of the classified flows, Hive-partitioned by
                   ``day=YYYY-MM-DD`` (UTC, of the first packet) and ``host=NAME`` (the
                   host of the snapshot the flow was judged against: its name, else its
                   first address, with characters other than ``A-Za-z0-9._-`` as ``_``;
                   ``unknown`` when no snapshot applies). Columns: every column of
                   `dualstack verify`'s flows (the flow columns of `dualstack flows`,
                   ``id``, ``class``, ``listener``, ``snapshot``, ``reason``).
``listeners/``     Parquet dataset, one row per listener verdict (as in verify's JSON).
``report.txt``     the `dualstack verify` table view of the whole archive.
``summary.json``   verify's summary, plus the job's own facts (inputs, failures, joins).

Everything is written beside the old outputs first and then swapped in, so a reader
never sees half of a run.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.dataset as ds  # type: ignore[import-untyped]
import pyarrow.parquet as pq  # type: ignore[import-untyped]

from analyzer.flows import FlowFrame
from analyzer.verdict import Verdicts
from analyzer.verdict.report import render

FLOWS_DIR = "flows"
LISTENERS_DIR = "listeners"
REPORT_NAME = "report.txt"
SUMMARY_NAME = "summary.json"
UNKNOWN_HOST = "unknown"
_RAW_ADDRESS_COLUMNS = ("client_addr", "server_addr")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def write_outputs(
    outdir: Path,
    frame: FlowFrame,
    verdicts: Verdicts,
    job_facts: dict[str, Any],
) -> None:
    """Write flows/, listeners/, report.txt and summary.json (replacing older ones)."""
    staging = outdir / ".staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    write_flows(staging / FLOWS_DIR, flow_table(frame, verdicts))
    write_listeners(staging / LISTENERS_DIR, verdicts)
    (staging / REPORT_NAME).write_text(render(verdicts, "table"), encoding="utf-8")
    summary = {"batch": job_facts, **verdicts.summary()}
    text = json.dumps(summary, indent=2, sort_keys=False, default=str) + "\n"
    (staging / SUMMARY_NAME).write_text(text, encoding="utf-8")
    for name in (FLOWS_DIR, LISTENERS_DIR, REPORT_NAME, SUMMARY_NAME):
        _swap_in(staging / name, outdir / name)
    shutil.rmtree(staging, ignore_errors=True)


def _swap_in(new: Path, old: Path) -> None:
    if old.is_dir():
        shutil.rmtree(old)
    elif old.exists():
        old.unlink()
    new.rename(old)


def flow_table(frame: FlowFrame, verdicts: Verdicts) -> pa.Table:
    """verify's flow columns plus the partition columns ``day`` and ``host``."""
    table = frame.to_arrow(extras=True).drop_columns(list(_RAW_ADDRESS_COLUMNS))
    snapshot_index = np.asarray(verdicts.flow_snapshot, dtype=np.int64)
    listener = np.asarray(verdicts.flow_listener, dtype=np.int64)
    added = {
        "id": pa.array(np.arange(len(frame), dtype=np.int64)),
        "class": _strings(verdicts.flow_class),
        "listener": pa.array(listener, mask=listener < 0),
        "snapshot": pa.array(snapshot_index, mask=snapshot_index < 0),
        "reason": _strings(verdicts.flow_reason),
        "day": pa.array(_days(frame.columns["first_ts_ns"]), pa.string()),
        "host": pa.array(_hosts(snapshot_index, verdicts), pa.string()),
    }
    for name, column in added.items():
        table = table.append_column(name, column)
    return table


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), pa.string())


def _days(first_ts_ns: np.ndarray) -> list[str]:
    return np.datetime_as_string(first_ts_ns.astype("datetime64[ns]"), unit="D").tolist()


def _hosts(snapshot_index: np.ndarray, verdicts: Verdicts) -> list[str]:
    """Per flow, the host of its snapshot: its name, else its first address."""
    names: dict[int, str] = {}
    for host in verdicts.hosts:
        addresses = host.get("addresses") or []
        label = partition_value(host.get("host") or (addresses[0] if addresses else None))
        for index in host.get("snapshots", []):
            names[int(index)] = label
    return [names.get(index, UNKNOWN_HOST) for index in snapshot_index.tolist()]


def partition_value(name: str | None) -> str:
    """A host name as a directory name: unsafe characters become ``_``."""
    cleaned = _UNSAFE.sub("_", name or "").strip("._")
    return cleaned or UNKNOWN_HOST


def write_flows(directory: Path, table: pa.Table) -> None:
    table = table.sort_by([("day", "ascending"), ("host", "ascending"),
                           ("first_ts_ns", "ascending")])
    directory.mkdir(parents=True)
    if table.num_rows == 0:
        pq.write_table(table.drop_columns(["day", "host"]), directory / "empty.parquet")
        return
    ds.write_dataset(
        table,
        directory,
        format="parquet",
        partitioning=ds.partitioning(
            pa.schema([("day", pa.string()), ("host", pa.string())]), flavor="hive"
        ),
        basename_template="part-{i}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )


def write_listeners(directory: Path, verdicts: Verdicts) -> None:
    directory.mkdir(parents=True)
    rows = [item.to_dict() for item in verdicts.listeners]
    table = pa.Table.from_pylist(rows) if rows else pa.table({"id": pa.array([], pa.int64())})
    pq.write_table(table, directory / "part-0.parquet")
