"""The captures of the suite: what they hold, where they live, generated when missing.

Written by the project's bulk writer (``analyzer.synth.bulk.write_bulk``: IPv4/IPv6,
TCP handshakes with data and FIN, refused and unanswered SYNs, UDP, some VLAN tags,
right checksums); ``benchmarks/datagen.py`` stands in where it is not installed, and
writes the capture of the zstd check: the bulk writer's payload is a 64 KiB pattern that
zstd shrinks 20-fold, where real (mostly encrypted) payload hardly compresses.

Timed on every tool:
- ``mixed``: ~1.3 GB, 2 M packets, 100 k flows, realistic size mix (avg ~650 B);
- ``small``: ~190 MB, 2 M packets, 100 k flows, avg ~80 B (per-packet cost dominates);
- ``manyflows``: 1 M flows all open at once across the middle of the capture, 4 M small
  packets (the 1 M+ flows case; also the "1 M concurrent flows" memory check).
Memory only: ``mem_base`` and ``mem_10x`` (datagen.py), the same flow rate and flow
life, the second 10x longer (10x the packets and flows). Both span far more than the
flow table's timeouts (2000 s and 20000 s; UDP 60 s, TCP 300 s), so the table holds the
same number of live flows (active, lingering after FIN/RST, idle before their timeout)
once the first 300 s are past. With the bulk writer's 5 us between packets a 10 M packet
capture lasts 50 s: every UDP flow would still be live at the end, and memory would grow
with the capture for that reason alone. ``--quick`` divides every count by 10.
Every flow has its own 5-tuple and no flow is idle for long, so a plain 5-tuple table,
tshark's conversations and our flow table (which also splits on reuse and timeouts)
must all find exactly the same flows.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks.datagen import RECORD_HEADER, CaptureSpec, compress_zstd, write_capture


def _bulk_writer() -> Callable[..., object] | None:
    try:
        from analyzer.synth.bulk import write_bulk
    except ImportError:  # not installed: our own numpy writer stands in
        return None
    return write_bulk


WRITE_BULK = _bulk_writer()
TIMED = ("mixed", "small", "manyflows")
PCAP_HEADER = 24


def specs(scale: int = 1) -> dict[str, CaptureSpec]:
    """The captures, every count divided by ``scale`` (--quick: 10; the tests: more)."""
    k = max(1, scale)
    return {
        "mixed": CaptureSpec(2_000_000 // k, 100_000 // k, small=False, concurrency=10_000 // k,
                             seed=1),
        "small": CaptureSpec(2_000_000 // k, 100_000 // k, small=True, concurrency=10_000 // k,
                             seed=2),
        "manyflows": CaptureSpec(4_000_000 // k, 1_000_000 // k, small=True,
                                 concurrency=1_000_000 // k, seed=3),
        # datagen.py: 50 new flows a second, over 2000 s and 20000 s
        "mem_base": CaptureSpec(1_000_000 // k, 100_000 // k, small=True, concurrency=25,
                                seed=4),
        "mem_10x": CaptureSpec(10_000_000 // k, 1_000_000 // k, small=True, concurrency=25,
                               seed=5),
    }


def scapy_limit(scale: int) -> int:
    return min(100_000, max(1000, 200_000 // max(1, scale)))


@dataclass(frozen=True)
class Dataset:
    """A generated capture on disk."""

    name: str
    path: Path
    spec: CaptureSpec

    @property
    def bytes(self) -> int:
        return self.path.stat().st_size

    @property
    def packets(self) -> int:
        return self.spec.packets

    @property
    def avg_frame(self) -> float:
        return (self.bytes - PCAP_HEADER) / self.packets - RECORD_HEADER

    def describe(self) -> str:
        return (f"{self.bytes / 1e6:,.0f} MB, {self.packets / 1e6:g} M packets, "
                f"{self.spec.flows / 1e3:g} k flows, avg {self.avg_frame:.0f} B"
                f", {self.spec.concurrency / 1e3:g} k concurrent")

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "bytes": self.bytes, "avg_frame": round(self.avg_frame, 1),
                **asdict(self.spec)}


def capture_path(data: Path, name: str, spec: CaptureSpec, writer: str) -> Path:
    """The file name carries the spec, so a changed spec never reuses a stale file."""
    size = "small" if spec.small else "mixed"
    return data / (f"{name}-{spec.packets}p-{spec.flows}f-{size}-c{spec.concurrency}"
                   f"-seed{spec.seed}-{writer}.pcap")


def ensure(data: Path, all_specs: dict[str, CaptureSpec], names: tuple[str, ...] | list[str],
           *, own_writer: bool = False) -> dict[str, Dataset]:
    """The named datasets, generated first when missing (``own_writer``: by datagen.py,
    whose payload bytes are random and whose capture spans flows / concurrency / 2 s)."""
    use_bulk = WRITE_BULK is not None and not own_writer
    out = {}
    for name in names:
        spec = all_specs[name]
        path = capture_path(data, name, spec, "bulk" if use_bulk else "datagen")
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr, flush=True)
            generate(path, spec, use_bulk=use_bulk)
        out[name] = Dataset(name, path, spec)
    return out


def generate(path: Path, spec: CaptureSpec, *, use_bulk: bool) -> None:
    """Write the capture (via a .part file, so an interrupted run leaves no stale file)."""
    part = path.with_name(path.name + ".part")
    path.parent.mkdir(parents=True, exist_ok=True)
    if use_bulk and WRITE_BULK is not None:
        WRITE_BULK(part, spec.packets, spec.flows, small=spec.small, seed=spec.seed,
                   concurrency=spec.concurrency)
    else:
        write_capture(part, spec)
    part.replace(path)


def ensure_zstd(ds: Dataset) -> Dataset:
    """A zstd-compressed copy of a dataset (same packets and flows)."""
    path = ds.path.with_name(ds.path.name + ".zst")
    if not path.exists():
        print(f"compressing {path} ...", file=sys.stderr, flush=True)
        compress_zstd(ds.path, path)
    return Dataset(ds.name + ".zst", path, ds.spec)
