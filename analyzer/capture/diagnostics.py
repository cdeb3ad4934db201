"""What the capture commands print to stderr after their data, and their exit code; and
how Ctrl-C ends their input."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

from analyzer.capture.stats import CaptureStats
from analyzer.errors import INTERRUPTED_EXIT

T = TypeVar("T")


def add_capture_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments every capture-reading command shares."""
    parser.add_argument("captures", nargs="+", metavar="FILE",
                        help="pcap/pcapng captures, gzip/bzip2/xz/zstd or not; '-' reads "
                             "stdin; several are merged in timestamp order")
    parser.add_argument("--resync", action="store_true",
                        help="after an impossible record length, skip to the next plausible "
                             "record instead of stopping (skipped bytes are counted)")


def report_warnings(command: str, stats: CaptureStats) -> int:
    """Print the reader's warnings to stderr: exit code 1 if there were any, else 0.

    A truncated last record, a resynchronisation or a compressed stream ending early
    all mean the input was damaged, even though every readable packet was used.
    """
    for warning in stats.warnings:
        print(f"dualstack {command}: warning: {warning}", file=sys.stderr)
    return 1 if stats.warnings else 0


@contextlib.contextmanager
def ctrl_c_ends_input(event: threading.Event) -> Iterator[None]:
    """Ctrl-C once sets `event`: the command stops reading there and still answers for
    what it read (as tcpdump and Zeek do: a live capture, ``tcpdump -w - | dualstack
    flows -``, ends with Ctrl-C); twice stops at once (KeyboardInterrupt). Left alone
    where Ctrl-C is ignored (a background job) or not ours to take (not the main thread)."""
    def first_sets(_signum: int, _frame: object) -> None:
        if event.is_set():
            raise KeyboardInterrupt
        event.set()

    previous = None
    with contextlib.suppress(ValueError):  # not the main thread
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            previous = signal.signal(signal.SIGINT, first_sets)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def until_stopped(batches: Iterable[T], stop: threading.Event | None) -> Iterator[T]:
    """`batches` until `stop` is set (`ctrl_c_ends_input`): the batch in hand then is the
    last, and the reader is closed at once."""
    iterator = iter(batches)
    try:
        for batch in iterator:
            yield batch
            if stop is not None and stop.is_set():
                return
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()


def report_interrupted(command: str, kept: str) -> int:
    """Say that Ctrl-C ended the input early and what was still done: exit code 130."""
    print(f"dualstack {command}: interrupted: the input was not read to its end; {kept}",
          file=sys.stderr)
    return INTERRUPTED_EXIT
