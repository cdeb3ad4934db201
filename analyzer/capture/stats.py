"""CaptureStats: what was read, per link type, family, protocol and malformed reason."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from analyzer.capture.batch import PacketBatch
from analyzer.capture.columns import TUNNEL_NAMES
from analyzer.capture.status import PacketStatus, status_label


def _count(values: np.ndarray) -> Counter[int]:
    """Occurrences of each value (bincount: no sort; the columns are small integers)."""
    if len(values) == 0:
        return Counter()
    low = int(values.min())
    if low == int(values.max()):
        return Counter({low: len(values)})
    counts = np.bincount(values.astype(np.intp, copy=False) - low)
    keys = np.flatnonzero(counts)
    return Counter(dict(zip((keys + low).tolist(), counts[keys].tolist(), strict=True)))


def tally_columns(c: Mapping[str, np.ndarray] | np.ndarray) -> dict[str, Any]:
    """The counts CaptureStats.add_tally takes, of packets given as columns."""
    status = c["status"]
    skipped = status == PacketStatus.LINKTYPE_SKIPPED
    return {
        "packets": len(status),
        "bytes": int(c["wirelen"].sum(dtype=np.int64)),
        "captured_bytes": int(c["caplen"].sum(dtype=np.int64)),
        "fragments": int((c["frag"] != 0).sum()),
        "first_ts_ns": int(c["ts_ns"].min()),
        "last_ts_ns": int(c["ts_ns"].max()),
        "status": _count(status),
        "families": _count(c["wire_family"]),
        "protocols": _count(c["proto"][c["wire_family"] != 0]),
        "tunnels": _count(c["tunnel"]),
        "linktypes": _count(c["linktype"]),
        "skipped_linktypes": _count(c["linktype"][skipped]) if skipped.any() else {},
    }


@dataclass
class CaptureStats:
    """Totals over every packet read so far (pass one to read_batches to fill it)."""

    sources: list[str] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0  # sum of the original (wire) lengths
    captured_bytes: int = 0  # sum of the captured lengths
    linktypes: Counter[int] = field(default_factory=Counter)
    skipped_linktypes: Counter[int] = field(default_factory=Counter)
    families: Counter[int] = field(default_factory=Counter)  # 4, 6; 0 = not IP
    protocols: Counter[int] = field(default_factory=Counter)  # IP protocol numbers
    malformed: Counter[str] = field(default_factory=Counter)
    not_ip: int = 0
    tunnels: Counter[str] = field(default_factory=Counter)
    fragments: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None
    warnings: list[str] = field(default_factory=list)
    resync_skips: int = 0
    resync_skipped_bytes: int = 0

    def add_batch(self, batch: PacketBatch) -> None:
        """Count the packets of one batch."""
        self.add_columns(batch.columns)

    def add_columns(self, c: Mapping[str, np.ndarray] | np.ndarray) -> None:
        """Count packets given as columns: a PacketBatch's, or packet records (a numpy
        structured array, analyzer/capture/records.py) whose fields are named alike."""
        if len(c["status"]):
            self.add_tally(tally_columns(c))

    def add_tally(self, t: Mapping[str, Any]) -> None:
        """Add counts made elsewhere: tally_columns(), or the reader's own
        (Parser.take_tally, counted in its loop)."""
        if not t["packets"]:
            return
        self.packets += t["packets"]
        self.bytes += t["bytes"]
        self.captured_bytes += t["captured_bytes"]
        self.fragments += t["fragments"]
        self.linktypes.update(t["linktypes"])
        self.skipped_linktypes.update(t["skipped_linktypes"])
        self.families.update(t["families"])
        self.protocols.update(t["protocols"])
        for code, count in t["status"].items():
            if code == PacketStatus.NOT_IP:
                self.not_ip += count
            elif PacketStatus(code).is_malformed:
                self.malformed[status_label(code)] += count
        for code, count in t["tunnels"].items():
            if code:
                self.tunnels[TUNNEL_NAMES[code]] += count
        low, high = t["first_ts_ns"], t["last_ts_ns"]
        self.first_ts_ns = low if self.first_ts_ns is None else min(self.first_ts_ns, low)
        self.last_ts_ns = high if self.last_ts_ns is None else max(self.last_ts_ns, high)

    def warn(self, message: str) -> None:
        self.warnings.append(message)

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (dict keys as strings, sorted)."""
        span = None
        if self.first_ts_ns is not None and self.last_ts_ns is not None:
            span = self.last_ts_ns - self.first_ts_ns
        return {
            "sources": list(self.sources),
            "packets": self.packets,
            "bytes": self.bytes,
            "captured_bytes": self.captured_bytes,
            "linktypes": _keyed(self.linktypes),
            "skipped_linktypes": _keyed(self.skipped_linktypes),
            "families": _keyed(self.families),
            "protocols": _keyed(self.protocols),
            "not_ip": self.not_ip,
            "malformed": dict(sorted(self.malformed.items())),
            "malformed_total": self.malformed_total,
            "tunnels": dict(sorted(self.tunnels.items())),
            "fragments": self.fragments,
            "first_ts_ns": self.first_ts_ns,
            "last_ts_ns": self.last_ts_ns,
            "span_ns": span,
            "warnings": list(self.warnings),
            "resync_skips": self.resync_skips,
            "resync_skipped_bytes": self.resync_skipped_bytes,
        }


def _keyed(counter: Counter[int]) -> dict[str, int]:
    return {str(key): counter[key] for key in sorted(counter)}
