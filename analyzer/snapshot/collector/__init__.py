"""Take a live snapshot: sock_diag on Linux (exact v6only), psutil elsewhere.

`collect(backend, netns)`: backend "auto" picks "sock_diag" on Linux and "psutil"
elsewhere; `netns` (Linux) collects inside /run/netns/NAME from a forked child.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial

from analyzer.errors import UsageError
from analyzer.snapshot.schema import Snapshot

BACKENDS = ("auto", "sock_diag", "psutil")


def collect(backend: str = "auto", netns: str | None = None) -> Snapshot:
    """One snapshot of this host (or of network namespace `netns`)."""
    if backend == "auto":
        backend = "sock_diag" if sys.platform.startswith("linux") else "psutil"
    if backend not in BACKENDS:
        raise UsageError(f"unknown collector backend {backend!r}")
    job: Callable[[], Snapshot]
    if backend == "sock_diag":
        if not sys.platform.startswith("linux"):
            raise UsageError("sock_diag exists on Linux only (use --backend psutil)")
        from analyzer.snapshot.collector.linux import collect_linux

        job = partial(collect_linux, netns)
    else:
        from analyzer.snapshot.collector.portable import collect_portable

        job = collect_portable
    if netns is None:
        return job()
    from analyzer.snapshot.collector.netns import collect_in_netns

    return collect_in_netns(netns, job)
