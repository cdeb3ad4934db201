"""What the capture commands print to stderr after their data, and their exit code."""

from __future__ import annotations

import argparse
import sys

from analyzer.capture.stats import CaptureStats


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
