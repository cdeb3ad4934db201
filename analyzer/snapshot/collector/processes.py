"""Which process owns each socket inode: the links in /proc/PID/fd (as ss -p does)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Owners:
    """inode -> (pid, process name); `unreadable` counts processes we could not read."""

    by_inode: dict[int, tuple[int, str]] = field(default_factory=dict)
    unreadable: int = 0
    processes: int = 0


def socket_owners(proc: Path = Path("/proc")) -> Owners:
    """Scan /proc/*/fd; the lowest pid wins when several processes share a socket."""
    owners = Owners()
    pids = sorted(int(entry) for entry in os.listdir(proc) if entry.isdigit())
    for pid in pids:
        owners.processes += 1
        try:
            fds = os.listdir(proc / str(pid) / "fd")
        except PermissionError:
            owners.unreadable += 1
            continue
        except (FileNotFoundError, ProcessLookupError):
            continue  # the process ended meanwhile
        name = _name(proc, pid)
        for fd in fds:
            inode = _socket_inode(proc / str(pid) / "fd" / fd)
            if inode is not None and inode not in owners.by_inode:
                owners.by_inode[inode] = (pid, name)
    return owners


def _socket_inode(link: Path) -> int | None:
    try:
        target = os.readlink(link)
    except OSError:
        return None
    if target.startswith("socket:[") and target.endswith("]"):
        return int(target[8:-1])
    return None


def _name(proc: Path, pid: int) -> str:
    try:
        return (proc / str(pid) / "comm").read_text().strip()
    except OSError:
        return ""
