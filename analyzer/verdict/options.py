"""The command-line options of every command that judges flows (verify, batch)."""

from __future__ import annotations

import argparse

from analyzer.errors import UsageError
from analyzer.snapshot.schema import OS_NAMES
from analyzer.verdict.correlate import DEFAULT_TOLERANCE_S


def add_verdict_arguments(parser: argparse.ArgumentParser, host_addr_help: str) -> None:
    """--os, --host-addr and --tolerance, as verify() takes them."""
    parser.add_argument("--os", choices=OS_NAMES, default=None,
                        help="OS of snapshots that do not say (imported text)")
    parser.add_argument("--host-addr", action="append", default=[], metavar="ADDR",
                        help=host_addr_help)
    parser.add_argument("--tolerance", type=float, default=DEFAULT_TOLERANCE_S, metavar="S",
                        help="a snapshot taken up to S seconds after a flow started is "
                             f"still valid for it (default {DEFAULT_TOLERANCE_S:g})")


def tolerance_of(args: argparse.Namespace) -> float:
    """The --tolerance given, refused when negative."""
    if args.tolerance < 0:
        raise UsageError("--tolerance must not be negative")
    return float(args.tolerance)
