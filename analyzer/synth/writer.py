"""Write a scenario to a directory: capture (Scapy's pcap/pcapng writers), snapshots, truth.

``capture.pcap`` or ``capture.pcapng`` holds the frames in time order with the link
layer chosen by ``--link`` (and an 802.1Q tag with ``--vlan``); ``snapshots.jsonl``
is written by the snapshot package itself, one snapshot a line; ``truth.json`` is
`analyzer.synth.truth`; ``snapshot.txt`` (some scenarios) is `analyzer.synth.text`.
Timestamps are written from integers, never through floats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from scapy.utils import RawPcapNgWriter, RawPcapWriter

from analyzer.errors import UsageError
from analyzer.snapshot import Snapshot, append_snapshot
from analyzer.synth.packets import (
    LINKTYPES,
    Frame,
    link_frame,
    link_header_length,
    link_supports_vlan,
)
from analyzer.synth.text import render
from analyzer.synth.traffic import Traffic

CAPTURE_FORMATS: tuple[str, ...] = ("pcap", "pcapng")
SNAPLEN = 262144


@dataclass(frozen=True)
class CaptureOptions:
    """How the capture is written: file format, link type and an optional VLAN tag."""

    format: str = "pcap"
    link: str = "ethernet"
    vlan: int | None = None

    def __post_init__(self) -> None:
        if self.format not in CAPTURE_FORMATS:
            raise UsageError(f"--format must be one of {', '.join(CAPTURE_FORMATS)}")
        if self.link not in LINKTYPES:
            raise UsageError(f"--link must be one of {', '.join(sorted(LINKTYPES))}")
        if self.vlan is not None and not link_supports_vlan(self.link):
            raise UsageError(f"--vlan needs --link ethernet or sll2, not {self.link}")
        if self.vlan is not None and not 0 < self.vlan < 4095:
            raise UsageError(f"--vlan {self.vlan}: a VLAN id is 1 to 4094")

    @property
    def file_name(self) -> str:
        return f"capture.{self.format}"


@dataclass(frozen=True)
class ScenarioFiles:
    capture: Path
    snapshots: Path
    truth: Path
    packets: int
    text: Path | None = None


def write_scenario(traffic: Traffic, out_dir: Path, options: CaptureOptions) -> ScenarioFiles:
    """Write the files of a built scenario into ``out_dir`` (created if missing).

    A scenario whose snapshot came from a tool's text (one snapshot) also gets that
    text, as ``snapshot.txt``.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    capture = out_dir / options.file_name
    count = write_capture(capture, traffic.sorted_frames(), options, traffic.os)
    snapshots = out_dir / "snapshots.jsonl"
    write_snapshots(snapshots, traffic.snapshots)
    truth = out_dir / "truth.json"
    traffic.truth().write(truth)
    text = None
    if traffic.text_format is not None and len(traffic.snapshots) == 1:
        text = out_dir / "snapshot.txt"
        text.write_text(render(traffic.snapshots[0], traffic.text_format), encoding="utf-8")
    return ScenarioFiles(capture, snapshots, truth, count, text)


def write_snapshots(path: Path, snapshots: Iterable[Snapshot]) -> None:
    """A JSON Lines time series, one snapshot a line, through the snapshot store."""
    with open(path, "w", encoding="utf-8") as handle:
        for snap in snapshots:
            append_snapshot(snap, handle)


def write_capture(path: Path, frames: Iterable[Frame], options: CaptureOptions,
                  os_name: str) -> int:
    """Write ``frames`` (already in time order); returns the number of packets."""
    linktype = LINKTYPES[options.link]
    head = link_header_length(options.link, options.vlan)
    count = 0
    tear = 0
    writer = _open_writer(path, options.format, linktype)
    try:
        for frame in frames:
            if tear:
                raise ValueError("a torn frame must be the last one")
            data = link_frame(frame, options.link, options.vlan, os_name)
            kept = data if frame.snap is None else data[:head + frame.snap]
            _write_record(writer, kept, len(data), frame.ts_ns)
            count += 1
            tear = len(kept) // 2 if frame.torn else 0
        if count == 0:
            writer.write_header(None)
    finally:
        writer.close()
    if tear:
        # The capture tool died while writing the last record: its second half is missing.
        with open(path, "r+b") as handle:
            handle.truncate(path.stat().st_size - tear - _block_trailer(options.format))
    return count


def _block_trailer(fmt: str) -> int:
    """Bytes after the packet data in a record: pcapng's padding-free trailer length."""
    return 4 if fmt == "pcapng" else 0


def _open_writer(path: Path, fmt: str, linktype: int) -> RawPcapWriter | RawPcapNgWriter:
    writer: RawPcapWriter | RawPcapNgWriter
    if fmt == "pcapng":
        writer = RawPcapNgWriter(str(path))
    else:
        writer = RawPcapWriter(str(path), endianness="<", snaplen=SNAPLEN)
    # Set after construction: the writers treat linktype 0 (BSD null) as "not given".
    writer.linktype = linktype
    return writer


def _write_record(writer: RawPcapWriter | RawPcapNgWriter, data: bytes, wirelen: int,
                  ts_ns: int) -> None:
    if not writer.header_present:
        writer.write_header(data)
    seconds, rest = divmod(ts_ns, 1_000_000_000)
    if isinstance(writer, RawPcapNgWriter):
        # The pcapng writer multiplies by its tsresol (10^6): a Decimal keeps it exact.
        exact = Decimal(seconds) + Decimal(rest // 1000) / Decimal(1_000_000)
        writer.write_packet(data, sec=exact, wirelen=wirelen)  # type: ignore[arg-type]
    else:
        writer.write_packet(data, sec=seconds, usec=rest // 1000, wirelen=wirelen)
