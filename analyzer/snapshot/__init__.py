"""Listener snapshots: which sockets a host had, from our collector or imported text.

`schema` defines `Snapshot` and `Socket` (versioned, validated); `store` reads and
writes JSON documents and JSON Lines time series; `collector` takes a live snapshot;
`importers` read netstat/ss/lsof/sockstat and /proc/net text; `show` prints a table.
"""

from analyzer.snapshot.schema import SCHEMA_VERSION, InputIssue, Snapshot, Socket
from analyzer.snapshot.store import append_snapshot, dump_snapshots, load_snapshots

__all__ = [
    "SCHEMA_VERSION",
    "InputIssue",
    "Snapshot",
    "Socket",
    "append_snapshot",
    "dump_snapshots",
    "load_snapshots",
]
