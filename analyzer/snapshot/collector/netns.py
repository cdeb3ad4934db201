"""Run a collector inside a named network namespace (/run/netns/NAME), in a child.

The child forks, joins the namespace with setns(2) (netlink sockets and /proc/sys/net
then belong to it), collects, and sends the snapshot back as JSON over a pipe; the
parent's own namespace is never changed.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analyzer.errors import InputError, UsageError
from analyzer.snapshot.schema import Snapshot

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000


def collect_in_netns(name: str, collect: Callable[[], Snapshot]) -> Snapshot:
    """`collect()` run in a forked child inside network namespace `name`."""
    path = NETNS_DIR / name
    if "/" in name or not path.exists():
        raise UsageError(f"no network namespace {name!r} (not in {NETNS_DIR})")
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        _child(path, collect, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        payload = pipe.read()
    _, status = os.waitpid(pid, 0)
    reply = json.loads(payload or b'{"error": "collector child died"}')
    if "error" in reply or os.waitstatus_to_exitcode(status) != 0:
        raise InputError(f"netns {name}", reply.get("error", "collector child failed"))
    return Snapshot.from_dict(reply["snapshot"], f"netns {name}")


def _child(path: Path, collect: Callable[[], Snapshot], write_end: int) -> None:
    code = 0
    reply: dict[str, Any]
    try:
        join_netns(path)
        reply = {"snapshot": collect().to_dict()}
    except BaseException as exc:  # reported to the parent, which raises
        reply, code = {"error": f"{type(exc).__name__}: {exc}"}, 1
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write(json.dumps(reply).encode())
    os._exit(code)


def join_netns(path: Path) -> None:
    """setns(2) this process into the network namespace file `path`."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"setns {path}: {os.strerror(error)}")
    finally:
        os.close(fd)
