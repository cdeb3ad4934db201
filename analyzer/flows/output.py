"""Flow writers: an aligned table for people, JSON Lines, CSV and Parquet for machines.

Every writer takes FlowFrames one at a time (`write`) and is closed once (`close`), so the
command streams flows as they finish instead of holding them all.
"""

from __future__ import annotations

import csv
import json
from typing import IO, Any, Protocol

import numpy as np

from analyzer.flows.columns import OUTPUT_COLUMNS
from analyzer.flows.frame import FlowFrame

FORMATS = ("table", "jsonl", "csv", "parquet")

# (header, column, width) of the human table; addresses are at most 39 characters
TABLE_LAYOUT: tuple[tuple[str, str, int], ...] = (
    ("PROTO", "proto", 5),
    ("CLIENT", "client", 39),
    ("CPORT", "client_port", 5),
    ("SERVER", "server", 39),
    ("SPORT", "server_port", 5),
    ("IP", "wire_family", 2),
    ("OUTCOME", "outcome", 10),
    ("STATE", "conn_state", 6),
    ("PKTS>", "packets_c2s", 8),
    ("PKTS<", "packets_s2c", 8),
    ("BYTES>", "ip_bytes_c2s", 11),
    ("BYTES<", "ip_bytes_s2c", 11),
    ("FIRST_TS", "first_ts", 17),
    ("DURATION", "duration", 10),
    ("MID", "midstream", 3),
    ("COMMUNITY_ID", "community_id", 30),
)


class FlowWriter(Protocol):
    def write(self, frame: FlowFrame) -> None: ...

    def close(self) -> None: ...


def open_writer(fmt: str, stream: IO[Any], header: bool = True) -> FlowWriter:
    """A writer of `fmt` on `stream` (text for table/jsonl/csv, binary for parquet)."""
    writers = {"table": TableWriter, "jsonl": JsonlWriter, "csv": CsvWriter,
               "parquet": ParquetWriter}
    if fmt not in writers:
        raise ValueError(f"unknown flow format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](stream, header)  # type: ignore[no-any-return]


class JsonlWriter:
    def __init__(self, stream: IO[str], header: bool = True) -> None:
        self.stream = stream

    def write(self, frame: FlowFrame) -> None:
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        self.stream.writelines(dumps(rec) + "\n" for rec in frame.to_records())

    def close(self) -> None:
        self.stream.flush()


class CsvWriter:
    def __init__(self, stream: IO[str], header: bool = True) -> None:
        self.writer = csv.writer(stream, lineterminator="\n")
        self.stream = stream
        if header:
            self.writer.writerow(OUTPUT_COLUMNS)

    def write(self, frame: FlowFrame) -> None:
        for rec in frame.to_records():
            self.writer.writerow(_csv_value(v) for v in rec.values())

    def close(self) -> None:
        self.stream.flush()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class TableWriter:
    def __init__(self, stream: IO[str], header: bool = True) -> None:
        self.stream = stream
        if header:
            self._line([title for title, _, _ in TABLE_LAYOUT])

    def _line(self, cells: list[str]) -> None:
        parts = [cell.rjust(width) if name not in ("client", "server", "community_id",
                 "proto", "outcome", "conn_state") else cell.ljust(width)
                 for cell, (_, name, width) in zip(cells, TABLE_LAYOUT, strict=True)]
        self.stream.write(" ".join(parts).rstrip() + "\n")

    def write(self, frame: FlowFrame) -> None:
        cols = frame.columns
        duration = (cols["last_ts_ns"] - cols["first_ts_ns"]) / 1e9
        cells = {name: cols[name] for _, name, _ in TABLE_LAYOUT if name in cols}
        cells["duration"] = np.char.mod("%.3f", duration)
        cells["first_ts"] = np.char.mod("%.6f", cols["first_ts"])
        cells["midstream"] = np.where(cols["midstream"], "yes", "")
        texts = [np.asarray(cells[name]).astype(str) for _, name, _ in TABLE_LAYOUT]
        for row in zip(*texts, strict=True):
            self._line(list(row))

    def close(self) -> None:
        self.stream.flush()


# Text columns of a few distinct values; a dictionary on the others (addresses, Community
# IDs, counters, timestamps) overflows and falls back: it halves the writer's speed and
# makes the file larger.
PARQUET_DICTIONARY_COLUMNS = ["proto", "outcome", "conn_state", "tunnel"]


class ParquetWriter:
    def __init__(self, stream: IO[bytes], header: bool = True) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self.stream = stream
        self.schema = FlowFrame.empty().to_arrow(extras=False).schema
        self.writer = pq.ParquetWriter(stream, self.schema, compression="zstd",
                                        use_dictionary=PARQUET_DICTIONARY_COLUMNS)

    def write(self, frame: FlowFrame) -> None:
        if len(frame):
            self.writer.write_table(frame.to_arrow(extras=False))

    def close(self) -> None:
        self.writer.close()
