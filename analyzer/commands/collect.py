"""Take a live listener snapshot: on Linux from sock_diag netlink with each IPv6
socket's exact v6only (INET_DIAG_SKV6ONLY), owners from /proc/*/fd, addresses from
rtnetlink, net.ipv6.bindv6only from /proc/sys; elsewhere from psutil (v6only unknown,
the OS default recorded as a prior).

One snapshot is written as a JSON document; with --interval/--count each snapshot is
appended to the output as one JSON line (a time series). Without root the owners of
other users' sockets are missing, and the snapshot's `unseen` says so.
"""

from __future__ import annotations

import argparse
import time

from analyzer.errors import UsageError
from analyzer.snapshot.collector import BACKENDS, collect
from analyzer.snapshot.store import append_snapshot, dump_snapshots

NAME = "collect"
HELP = "take a live snapshot of listening sockets (sock_diag on Linux, psutil elsewhere)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", default="-", metavar="PATH",
                        help="write (with --interval/--count: append) here; default stdout")
    parser.add_argument("--interval", type=float, default=None, metavar="S",
                        help="seconds between snapshots of a time series")
    parser.add_argument("--count", type=int, default=None, metavar="N",
                        help="number of snapshots (default 1; with --interval alone: forever)")
    parser.add_argument("--netns", default=None, metavar="NAME",
                        help="collect inside network namespace /run/netns/NAME (Linux, root)")
    parser.add_argument("--backend", choices=BACKENDS, default="auto",
                        help="sock_diag (Linux) or psutil (any OS); default: auto")


def run(args: argparse.Namespace) -> int:
    if args.interval is not None and args.interval < 0:
        raise UsageError("--interval must not be negative")
    if args.count is not None and args.count < 1:
        raise UsageError("--count must be at least 1")
    if args.interval is None and args.count is None:
        dump_snapshots([collect(args.backend, args.netns)], args.output)
        return 0
    taken = 0
    while args.count is None or taken < args.count:
        if taken and args.interval:
            time.sleep(args.interval)
        append_snapshot(collect(args.backend, args.netns), args.output)
        taken += 1
    return 0
