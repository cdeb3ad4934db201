"""List the bidirectional TCP/UDP flows of one or more captures (read as one stream in
timestamp order): client, server, handshake outcome, Zeek conn_state, packets and bytes per
direction, Community ID. Flows are written as they finish, each batch in first-packet order.

Exit codes: 0 success; 1 a capture broke after everything read before it was written;
2 usage error or unreadable input; 130 Ctrl-C: reading stopped there, and the flows seen
until then were finished and written (a second Ctrl-C stops at once).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

from analyzer.capture.diagnostics import ctrl_c_ends_input, report_interrupted
from analyzer.errors import UsageError, require_extra, writing
from analyzer.flows.frame import FlowFrame
from analyzer.flows.handoff import InBackground
from analyzer.flows.output import FORMATS, FlowWriter, open_writer
from analyzer.flows.table import Timeouts, frames_from_raw, iter_raw_flow_batches

NAME = "flows"
HELP = "bidirectional TCP/UDP flows of captures (table, jsonl, csv, parquet)"

PROGRESS_MIN_BYTES = 64 << 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("captures", nargs="+", metavar="CAPTURE",
                        help="pcap/pcapng files, compressed or not; '-' reads stdin")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output format (default: table)")
    parser.add_argument("-o", "--output", default="-", metavar="PATH",
                        help="write here instead of stdout")
    parser.add_argument("-H", "--no-header", action="store_true",
                        help="no header line (table, csv)")
    defaults = Timeouts()
    parser.add_argument("--tcp-timeout", type=float, default=defaults.tcp, metavar="S",
                        help=f"TCP inactivity timeout in seconds (default {defaults.tcp:g})")
    parser.add_argument("--udp-timeout", type=float, default=defaults.udp, metavar="S",
                        help=f"UDP inactivity timeout in seconds (default {defaults.udp:g})")


def run(args: argparse.Namespace) -> int:
    from analyzer.capture import CaptureStats

    if args.tcp_timeout <= 0 or args.udp_timeout <= 0:
        raise UsageError("timeouts must be positive")
    _check_inputs(args.captures)
    if args.format == "parquet":
        require_extra("pyarrow", "arrow", "--format parquet")
    timeouts = Timeouts(tcp=args.tcp_timeout, udp=args.udp_timeout)
    progress = Progress.for_inputs(args.captures)
    stats = CaptureStats()
    interrupted = threading.Event()
    raws = iter_raw_flow_batches(args.captures, timeouts, stats, on_packets=progress.seen,
                                 stop=interrupted)
    # three threads: reading, preparing the finished flows' output, writing it
    with _open_output(args.output, binary=args.format == "parquet") as stream, \
            InBackground(raws, name="read") as read, ctrl_c_ends_input(interrupted):
        writer = open_writer(args.format, stream, header=not args.no_header)
        try:
            with InBackground(_prepared(writer, frames_from_raw(read), progress),
                              name="prepare") as prepared:
                for output in prepared:
                    writer.emit(output)
        finally:
            writer.close()
            progress.done()
            for warning in stats.warnings:
                print(f"dualstack flows: warning: {warning}", file=sys.stderr)
    if interrupted.is_set():
        return report_interrupted(NAME, "the flows seen until then are written")
    return 0


def _check_inputs(sources: Iterable[str]) -> None:
    """Open every capture file once before any output: a missing, unreadable or
    non-capture input then stops the command (exit 2) with nothing written, not after
    a header or an empty output file. Stdin, pipes and devices cannot be checked ahead
    (what the check reads would be gone: ``dualstack flows <(zcat a.pcap.gz)``)."""
    from analyzer.capture.source import open_capture, rereadable

    for source in sources:
        if rereadable(source):
            open_capture(source).close()


def _prepared(writer: FlowWriter, frames: Iterable[FlowFrame], progress: Progress
              ) -> Iterator[Any]:
    for frame in frames:
        progress.flows += len(frame)
        yield writer.prepare(frame)


@contextlib.contextmanager
def _open_output(path: str, binary: bool) -> Iterator[IO[Any]]:
    if path == "-":
        with writing("standard output"):
            yield sys.stdout.buffer if binary else sys.stdout
        return
    try:
        # closed by the `with` below; opened here to report a bad path as a usage error
        stream = open(path, "wb" if binary else "w", encoding=None if binary else "utf-8")  # noqa: SIM115
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
    with writing(path), stream:
        yield stream


class Progress:
    """A one-line progress report on stderr, only when it is a terminal and input is big."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.packets = 0
        self.flows = 0
        self.start = time.monotonic()
        self.last = 0.0

    @classmethod
    def for_inputs(cls, sources: Iterable[str]) -> Progress:
        total = sum(os.path.getsize(s) for s in sources if s != "-" and os.path.isfile(s))
        return cls(sys.stderr.isatty() and total >= PROGRESS_MIN_BYTES)

    def seen(self, packets: int) -> None:
        self.packets += packets
        now = time.monotonic()
        if self.enabled and now - self.last >= 0.5:
            self.last = now
            self._show(now)

    def _show(self, now: float) -> None:
        rate = self.packets / max(now - self.start, 1e-9)
        sys.stderr.write(f"\r{self.packets:,} packets, {self.flows:,} flows, "
                         f"{rate / 1e6:.2f} M packets/s ")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            self._show(time.monotonic())
            sys.stderr.write("\n")
