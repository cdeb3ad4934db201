"""Flow writers: an aligned table for people, JSON Lines, CSV and Parquet for machines.

Every writer takes FlowFrames one at a time (`write`) and is closed once (`close`), so the
command streams flows as they finish instead of holding them all.
"""

from __future__ import annotations

import csv
import io
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import IO, Any

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


class FlowWriter(ABC):
    """Writes FlowFrames one at a time to a stream. `prepare` makes a frame's output
    without touching the stream and `emit` writes it, so that the two can run on
    different threads; `write` does both."""

    @abstractmethod
    def prepare(self, frame: FlowFrame) -> Any: ...

    @abstractmethod
    def emit(self, prepared: Any) -> None: ...

    def write(self, frame: FlowFrame) -> None:
        self.emit(self.prepare(frame))

    @abstractmethod
    def close(self) -> None: ...


def open_writer(fmt: str, stream: IO[Any], header: bool = True) -> FlowWriter:
    """A writer of `fmt` on `stream` (text for table/jsonl/csv, binary for parquet)."""
    writers: dict[str, Callable[[Any, bool], FlowWriter]] = {
        "table": TableWriter, "jsonl": JsonlWriter, "csv": CsvWriter, "parquet": ParquetWriter}
    if fmt not in writers:
        raise ValueError(f"unknown flow format {fmt!r}; choose one of {', '.join(FORMATS)}")
    return writers[fmt](stream, header)


class TextWriter(FlowWriter):
    """A writer of text lines; `prepare` gives a frame's lines as one string."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def emit(self, prepared: str) -> None:
        self.stream.write(prepared)

    def close(self) -> None:
        self.stream.flush()


class JsonlWriter(TextWriter):
    def __init__(self, stream: IO[str], header: bool = True) -> None:
        super().__init__(stream)

    def prepare(self, frame: FlowFrame) -> str:
        dumps = json.JSONEncoder(separators=(",", ":")).encode
        return "".join(dumps(rec) + "\n" for rec in frame.to_records())


class CsvWriter(TextWriter):
    def __init__(self, stream: IO[str], header: bool = True) -> None:
        super().__init__(stream)
        if header:
            csv.writer(stream, lineterminator="\n").writerow(OUTPUT_COLUMNS)

    def prepare(self, frame: FlowFrame) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        for rec in frame.to_records():
            writer.writerow(_csv_value(v) for v in rec.values())
        return out.getvalue()


def _csv_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


class TableWriter(TextWriter):
    def __init__(self, stream: IO[str], header: bool = True) -> None:
        super().__init__(stream)
        if header:
            self.emit(_line([title for title, _, _ in TABLE_LAYOUT]))

    def prepare(self, frame: FlowFrame) -> str:
        cols = frame.columns
        duration = (cols["last_ts_ns"] - cols["first_ts_ns"]) / 1e9
        cells = {name: cols[name] for _, name, _ in TABLE_LAYOUT if name in cols}
        cells["duration"] = np.char.mod("%.3f", duration)
        cells["first_ts"] = np.char.mod("%.6f", cols["first_ts"])
        cells["midstream"] = np.where(cols["midstream"], "yes", "")
        texts = [np.asarray(cells[name]).astype(str) for _, name, _ in TABLE_LAYOUT]
        return "".join(_line(list(row)) for row in zip(*texts, strict=True))


LEFT_ALIGNED = ("client", "server", "community_id", "proto", "outcome", "conn_state")


def _line(cells: list[str]) -> str:
    parts = [cell.ljust(width) if name in LEFT_ALIGNED else cell.rjust(width)
             for cell, (_, name, width) in zip(cells, TABLE_LAYOUT, strict=True)]
    return " ".join(parts).rstrip() + "\n"


# Text columns of a few distinct values; a dictionary on the others (addresses, Community
# IDs, counters, timestamps) overflows and falls back: it halves the writer's speed and
# makes the file larger.
PARQUET_DICTIONARY_COLUMNS = ["proto", "outcome", "conn_state", "tunnel"]


class ParquetWriter(FlowWriter):
    """Row groups of at least ROW_GROUP_MIN_ROWS flows (but the last): flows from a live
    input come a few at a time, and a row group each would make a file of thousands of
    tiny ones. Nothing is lost by waiting: a Parquet file is readable once closed."""

    ROW_GROUP_MIN_ROWS = 8192

    def __init__(self, stream: IO[bytes], header: bool = True) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        self.stream = stream
        self.schema = FlowFrame.empty().to_arrow(extras=False).schema
        self.writer = pq.ParquetWriter(stream, self.schema, compression="zstd",
                                        use_dictionary=PARQUET_DICTIONARY_COLUMNS)
        self.waiting: list[Any] = []  # tables not written yet
        self.waiting_rows = 0

    def prepare(self, frame: FlowFrame) -> Any:
        """The frame as an Arrow table (None when it has no flows)."""
        return frame.to_arrow(extras=False) if len(frame) else None

    def emit(self, prepared: Any) -> None:
        if prepared is None:
            return
        self.waiting.append(prepared)
        self.waiting_rows += prepared.num_rows
        if self.waiting_rows >= self.ROW_GROUP_MIN_ROWS:
            self._write_waiting()

    def _write_waiting(self) -> None:
        import pyarrow as pa  # type: ignore[import-untyped]

        if self.waiting:
            self.writer.write_table(pa.concat_tables(self.waiting))
            self.waiting, self.waiting_rows = [], 0

    def close(self) -> None:
        self._write_waiting()
        self.writer.close()
