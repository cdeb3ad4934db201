"""Which connections really reached an IPv6 listener over IPv4? Reads captures and
listener snapshots (our JSON/JSON Lines, or the raw text of netstat, ss, lsof,
sockstat, imported on the fly), matches every flow to the snapshot valid when it
started, and says per flow which socket took it (v4-via-v6, v4-native, v6-native,
refused, unanswered, unmatched) and per listener whether it takes IPv4, and how that
is known (snapshot, capture, os-default).

With no arguments it runs on the bundled demo (captures/demo: Apache httpd on :::80,
a real capture and real netstat text).

Exit codes: 0 success; 1 a capture broke or was truncated (the report covers
everything read before it); 2 usage error or unreadable input; 130 Ctrl-C while reading
(a live capture, ``tcpdump -w - | dualstack verify - --snapshot s.jsonl``, ends so): the
report covers the flows seen until then (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from analyzer.capture.diagnostics import ctrl_c_ends_input, report_interrupted, report_warnings
from analyzer.capture.stats import CaptureStats
from analyzer.errors import CaptureError, UsageError, writing
from analyzer.flows import FlowFrame, iter_flow_batches
from analyzer.snapshot.inputs import load_snapshot_file
from analyzer.verdict import verify
from analyzer.verdict.options import add_verdict_arguments, tolerance_of
from analyzer.verdict.report import FORMATS, render_chunks

NAME = "verify"
HELP = "which flows reached which listener, over IPv4 or IPv6 (captures + snapshots)"
DEMO_SUBDIR = Path("captures") / "demo"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("captures", nargs="*", metavar="CAPTURE",
                        help="pcap/pcapng files, compressed or not ('-' reads stdin); "
                             "none at all: the bundled demo")
    parser.add_argument("--snapshot", action="extend", nargs="+", default=[], metavar="FILE",
                        help="snapshot JSON/JSON Lines, or netstat/ss/lsof/sockstat text")
    add_verdict_arguments(parser, "an address of the snapshot host, for snapshots without "
                                  "addresses (default: the server side of the capture)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output format (default: table)")
    parser.add_argument("-o", "--output", default="-", metavar="PATH",
                        help="write here instead of stdout")


def demo_dir() -> Path:
    """captures/demo of the source tree (installed editable) or of the working directory."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (base / DEMO_SUBDIR / "demo.pcap").is_file():
            return base / DEMO_SUBDIR
    raise UsageError("the bundled demo (captures/demo) was not found; give CAPTURE and "
                     "--snapshot, or run from the source tree")


def demo_inputs() -> tuple[list[str], list[str]]:
    """The demo's capture and netstat texts."""
    folder = demo_dir()
    return [str(folder / "demo.pcap")], sorted(str(path) for path in folder.glob("*.txt"))


def read_capture_flows(
    captures: Sequence[str], stats: CaptureStats | None = None,
    stop: threading.Event | None = None,
) -> tuple[FlowFrame, CaptureError | None]:
    """Every flow of the captures in first-packet order (until `stop` is set); a capture
    error is returned (not raised) so the flows read before it are still judged."""
    frames: list[FlowFrame] = []
    error: CaptureError | None = None
    try:
        frames.extend(iter_flow_batches(list(captures), stats=stats, stop=stop))
    except CaptureError as exc:
        error = exc
    merged = FlowFrame.concat(frames)
    order = np.lexsort((merged.columns["last_ts_ns"], merged.columns["first_ts_ns"]))
    return merged.take(order), error


def write_output(pieces: Iterable[str], path: str) -> None:
    """The report's pieces to stdout or the file, each as it comes."""
    with writing("standard output" if path == "-" else path):
        if path == "-":
            sys.stdout.writelines(pieces)
            sys.stdout.flush()
        else:
            with Path(path).open("w", encoding="utf-8") as stream:
                stream.writelines(pieces)


def run(args: argparse.Namespace) -> int:
    captures, snapshot_files = list(args.captures), list(args.snapshot)
    if not captures and not snapshot_files:
        captures, snapshot_files = demo_inputs()
        print(f"dualstack verify: no input given, running the demo in {demo_dir()}",
              file=sys.stderr)
    if not captures:
        raise UsageError("no CAPTURE given")
    if not snapshot_files:
        raise UsageError("no --snapshot given (take one with 'dualstack collect', or pass "
                         "netstat/ss/lsof text)")
    if captures.count("-") + snapshot_files.count("-") > 1:
        raise UsageError("standard input ('-') can be read once only")
    tolerance = tolerance_of(args)
    snapshots = [item for path in snapshot_files for item in load_snapshot_file(path, args.os)]
    stats = CaptureStats()
    interrupted = threading.Event()
    with ctrl_c_ends_input(interrupted):
        flows, error = read_capture_flows(captures, stats, stop=interrupted)
    verdicts = verify(flows, snapshots, os=args.os, host_addrs=args.host_addr or None,
                      tolerance_s=tolerance)
    write_output(render_chunks(verdicts, args.format), args.output)
    damaged = report_warnings(NAME, stats)
    if error is not None:
        print(f"dualstack verify: {error}", file=sys.stderr)
        return error.exit_code
    if interrupted.is_set():
        return report_interrupted(NAME, "the answer is for the flows seen until then")
    return damaged
