"""The answer of `analyzer.verdict.verify`: per-flow classes, per-listener verdicts.

`Verdicts.to_dict()` is the JSON document of `dualstack verify --format json`:
``{"listeners": [...], "flows": [...], "connections": [...], "anomalies": [...],
"summary": {...}}``. Flows keep every column of `dualstack flows` and add ``id``
(the flow's index, used as the flow reference everywhere), ``class``, ``listener``
(a listener id or null) with ``listener_socket``, ``listener_process`` and
``listener_pid``, ``snapshot`` (the snapshot index or null) and ``reason``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from analyzer.verdict.anomalies import Anomaly
from analyzer.verdict.model import Knowledge

FLOW_CLASSES: Final[tuple[str, ...]] = (
    "v4-via-v6", "v4-native", "v6-native", "refused", "unanswered", "unmatched",
)
# Raw 16-byte address columns are not written to JSON (client/server say the same).
_HIDDEN_COLUMNS: Final[frozenset[str]] = frozenset({"client_addr", "server_addr"})
RECORD_CHUNK: Final[int] = 8192  # flows whose records are made at once (iter_flow_records)


def socket_label(proto: str, family: int, address: str, port: int | None) -> str:
    """netstat's spelling: ``tcp6 :::80``, ``tcp 0.0.0.0:22``, ``udp6 ::ffff:192.0.2.1:53``."""
    name = f"{proto}6" if family == 6 else proto
    return f"{name} {address}:{'*' if port is None else port}"


@dataclass
class ListenerVerdict:
    """One listening socket (the same socket across snapshots is one listener)."""

    id: int
    host: str | None
    proto: str
    family: int
    local_address: str
    local_port: int | None
    v6only: bool | None
    pid: int | None
    process: str | None
    user: str | None
    snapshots: list[int]
    knowledge: Knowledge
    ipv4_accepted: list[int] = field(default_factory=list)
    ipv6_accepted: list[int] = field(default_factory=list)
    ipv4_refused: list[int] = field(default_factory=list)
    ipv6_refused: list[int] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)
    finding: str = ""
    source_tool: str = "the snapshot"

    @property
    def label(self) -> str:
        return socket_label(self.proto, self.family, self.local_address, self.local_port)

    @property
    def owner(self) -> str:
        """``apache2, pid 123`` or ``unknown process``."""
        parts = [part for part in (self.process, f"pid {self.pid}" if self.pid else None) if part]
        return ", ".join(parts) if parts else "unknown process"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "host": self.host,
            "proto": self.proto,
            "family": self.family,
            "local_address": self.local_address,
            "local_port": self.local_port,
            "v6only": self.v6only,
            "pid": self.pid,
            "process": self.process,
            "user": self.user,
            "snapshots": list(self.snapshots),
            "accepts_ipv4": self.knowledge.accepts_ipv4,
            "known_from": self.knowledge.known_from,
            "rule": self.knowledge.rule,
            "why": self.knowledge.reason,
            "ipv4_accepted": len(self.ipv4_accepted),
            "ipv6_accepted": len(self.ipv6_accepted),
            "ipv4_refused": len(self.ipv4_refused),
            "ipv6_refused": len(self.ipv6_refused),
            "ipv4_accepted_flows": list(self.ipv4_accepted),
            "ipv6_accepted_flows": list(self.ipv6_accepted),
            "ipv4_refused_flows": list(self.ipv4_refused),
            "ipv6_refused_flows": list(self.ipv6_refused),
            "contradictions": list(self.contradictions),
            "finding": self.finding,
        }


@dataclass
class ConnectionMatch:
    """A connected socket row of a snapshot, explained and matched to capture flows."""

    snapshot: int
    socket: dict[str, Any]
    direction: str
    listener: int | None
    flows: list[int]
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "snapshot": self.snapshot,
            "socket": self.socket,
            "direction": self.direction,
            "listener": self.listener,
            "flows": list(self.flows),
            "explanation": self.explanation,
        }


def _plain(value: Any) -> Any:
    """A numpy scalar or bytes as a JSON-able Python value."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _plain_list(column: np.ndarray) -> list[Any]:
    """A column as JSON-able Python values (NaN becomes None)."""
    values = column.tolist()
    if column.dtype.kind == "f":
        return [None if value != value else value for value in values]
    if column.dtype.kind == "O":
        return [_plain(value) for value in values]
    return list(values)


@dataclass
class Verdicts:
    """Everything `verify` found; columns per flow, objects per listener."""

    flow_columns: Mapping[str, np.ndarray]
    flow_class: np.ndarray
    flow_listener: np.ndarray
    flow_snapshot: np.ndarray
    flow_reason: np.ndarray
    listeners: list[ListenerVerdict]
    connections: list[ConnectionMatch]
    anomalies: list[Anomaly]
    snapshots: list[dict[str, Any]]
    hosts: list[dict[str, Any]]
    settings: dict[str, Any]
    # An archive's verdicts (`dualstack batch`) keep their flows in the shares that judged
    # them: the flow columns are then empty, and these say what the shares counted and
    # listed (`analyzer.verdict.shares`).
    class_totals: dict[str, int] | None = None
    listed: tuple[list[list[str]], int] | None = None

    def __len__(self) -> int:
        if self.class_totals is not None:
            return sum(self.class_totals.values())
        return len(self.flow_class)

    def class_counts(self) -> dict[str, int]:
        """Flows per class, every class present (zero when none). Counted by hashing (the
        column holds a few str objects over and over), not by sorting 100 k texts."""
        found = self.class_totals or Counter(self.flow_class.tolist())
        return {name: int(found.get(name, 0)) for name in FLOW_CLASSES}

    def _record_columns(self) -> list[str]:
        return [name for name, column in self.flow_columns.items()
                if name not in _HIDDEN_COLUMNS and getattr(column, "ndim", 1) == 1]

    def flow_record(self, index: int) -> dict[str, Any]:
        """One flow as a JSON object: its columns, then id, class, listener, reason."""
        record: dict[str, Any] = {"id": index}
        for name in self._record_columns():
            record[name] = _plain(self.flow_columns[name][index])
        return self._add_verdict(record, index)

    def _add_verdict(self, record: dict[str, Any], index: int) -> dict[str, Any]:
        listener = int(self.flow_listener[index])
        snapshot = int(self.flow_snapshot[index])
        taker = self.listeners[listener] if listener >= 0 else None
        record["class"] = str(self.flow_class[index])
        record["listener"] = listener if listener >= 0 else None
        record["listener_socket"] = taker.label if taker else None
        record["listener_process"] = taker.process if taker else None
        record["listener_pid"] = taker.pid if taker else None
        record["snapshot"] = snapshot if snapshot >= 0 else None
        record["reason"] = str(self.flow_reason[index])
        return record

    def flow_records(self) -> list[dict[str, Any]]:
        """Every flow as `flow_record` gives it."""
        return list(self.iter_flow_records())

    def iter_flow_records(self) -> Iterator[dict[str, Any]]:
        """Every flow as `flow_record` gives it, made as they are taken: the columns are
        converted a chunk of RECORD_CHUNK rows at a time (not per cell, and not all at
        once: a record of 40 fields takes ~2.5 KB, so 1 M flows would take GBs)."""
        names = self._record_columns()
        columns = [np.asarray(self.flow_columns[name]) for name in names]
        for start in range(0, len(self), RECORD_CHUNK):
            chunk = [_plain_list(column[start:start + RECORD_CHUNK]) for column in columns]
            for index, values in enumerate(zip(*chunk, strict=True), start):
                yield self._add_verdict({"id": index, **dict(zip(names, values, strict=True))},
                                        index)

    def summary(self) -> dict[str, Any]:
        return {
            "flows": len(self),
            "classes": self.class_counts(),
            "listeners": len(self.listeners),
            "listeners_taking_ipv4_over_ipv6": sum(
                1 for item in self.listeners
                if item.family == 6 and item.knowledge.accepts_ipv4 is True
            ),
            "findings": [item.finding for item in self.listeners if item.finding],
            "contradictions": [
                f"{item.label} ({item.owner}): {text}"
                for item in self.listeners for text in item.contradictions
            ],
            "anomalies": {item.kind: len(item.flows) for item in self.anomalies},
            "hosts": self.hosts,
            "snapshots": self.snapshots,
            **self.settings,
        }

    def to_dict(self) -> dict[str, Any]:
        return {name: list(value) if name == "flows" else value
                for name, value in self.sections().items()}

    def sections(self) -> dict[str, Any]:
        """`to_dict` with the flows as an iterator of records, made as they are read."""
        return {
            "listeners": [item.to_dict() for item in self.listeners],
            "flows": self.iter_flow_records(),
            "connections": [item.to_dict() for item in self.connections],
            "anomalies": [item.to_dict() for item in self.anomalies],
            "summary": self.summary(),
        }
