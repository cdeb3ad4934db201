"""Summarise captures: packets, bytes, link types, families, protocols, malformed
packets by reason, time span, and the reader's warnings.

Exit codes: 0 success; 1 the input was damaged (the summary covers everything read
before it); 2 usage error or not a capture; 130 Ctrl-C: the summary covers the packets
read until then (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from datetime import datetime, timezone

from analyzer.capture import CaptureStats
from analyzer.capture.diagnostics import (
    add_capture_arguments,
    ctrl_c_ends_input,
    report_interrupted,
    report_warnings,
    until_stopped,
)
from analyzer.capture.prefault import may_use_several_cpus
from analyzer.capture.records import read_records
from analyzer.capture.text import linktype_name, protocol_name
from analyzer.errors import CaptureError

NAME = "stats"
HELP = "summarise captures (packets, link types, families, protocols, malformed packets)"
FAMILY_NAMES = {4: "IPv4", 6: "IPv6", 0: "not IP"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_capture_arguments(parser)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="output format (default: text)")


def _time(ts_ns: int | None) -> str:
    if ts_ns is None:
        return "-"
    moment = datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ts_ns % 1_000_000_000:09d}Z"


def _counts(counter: dict[int, int] | dict[str, int], name: object = str) -> str:
    if not counter:
        return "none"
    return ", ".join(f"{name(key)} {count}"  # type: ignore[operator]
                     for key, count in sorted(counter.items(), key=lambda kv: -kv[1]))


def text_report(stats: CaptureStats) -> str:
    span = ""
    if stats.first_ts_ns is not None and stats.last_ts_ns is not None:
        span = f" ({(stats.last_ts_ns - stats.first_ts_ns) / 1e9:.6f} s)"
    lines = [
        ("captures", ", ".join(stats.sources)),
        ("packets", str(stats.packets)),
        ("bytes", f"{stats.bytes} on the wire, {stats.captured_bytes} captured"),
        ("time span", f"{_time(stats.first_ts_ns)} .. {_time(stats.last_ts_ns)}{span}"),
        ("link types", _counts(stats.linktypes, lambda k: f"{linktype_name(k)}({k})")),
        ("skipped link types", _counts(stats.skipped_linktypes,
                                       lambda k: f"{linktype_name(k)}({k})")),
        ("families", _counts(stats.families, FAMILY_NAMES.get)),
        ("protocols", _counts(stats.protocols, protocol_name)),
        ("tunnels", _counts(stats.tunnels)),
        ("fragments", str(stats.fragments)),
        ("malformed", _counts(stats.malformed)),
        ("resync skips", f"{stats.resync_skips} ({stats.resync_skipped_bytes} bytes)"),
    ]
    return "\n".join(f"{label:<20}{value}" for label, value in lines)


def run(args: argparse.Namespace) -> int:
    stats = CaptureStats()
    error: CaptureError | None = None
    interrupted = threading.Event()
    try:
        with ctrl_c_ends_input(interrupted):
            count_packets(args.captures, args.resync, stats, stop=interrupted)
    except CaptureError as exc:
        error = exc  # the summary still covers everything before it
    if args.format == "json":
        report = stats.to_dict()
        report["error"] = str(error) if error else None
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        sys.stdout.write(text_report(stats) + "\n")
    sys.stdout.flush()
    code = report_warnings(NAME, stats)
    if error is not None:
        raise error
    if interrupted.is_set():
        return report_interrupted(NAME, "the counts are of the packets read until then")
    return code


def count_packets(sources: list[str], resync: bool, stats: CaptureStats,
                  stop: threading.Event | None = None) -> None:
    """Read the captures one after the other into `stats`: packet records, counted by
    the reader's own tally (the same statistics the column batches give, faster); no
    more once `stop` is set."""
    prefault = may_use_several_cpus()
    batches = (records for source in sources
               for records in read_records(source, resync=resync, stats=stats,
                                           prefault=prefault))
    for _records in until_stopped(batches, stop):
        pass
