"""The portable fallback: psutil's net_connections on any OS (macOS, BSD, Windows).

psutil cannot show v6only (null for every socket); the OS default is recorded in
`defaults` as a prior: read with sysctl(8) where there is one, else the documented
default, and `sources["defaults"]` says which.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import psutil  # type: ignore[import-untyped]

from analyzer.snapshot.schema import (
    DOCUMENTED_V6ONLY,
    Snapshot,
    Socket,
    canonical_address,
    utc_now,
)

_STATUS = {"NONE": "UNCONN", "LISTEN": "LISTEN", "SYN_RECV": "SYN_RECV",
           "CLOSE": "CLOSE", "CLOSING": "CLOSING"}


def current_os() -> str | None:
    platform = sys.platform
    for prefix, name in (("linux", "linux"), ("darwin", "macos"), ("freebsd", "freebsd"),
                         ("openbsd", "openbsd"), ("netbsd", "netbsd"), ("win", "windows")):
        if platform.startswith(prefix):
            return name
    return None


def collect_portable() -> Snapshot:
    """Snapshot through psutil: sockets with owners where permitted, no v6only."""
    taken_at = utc_now()
    os_name = current_os()
    key, value, how = _default(os_name)
    sockets = [_socket(conn) for conn in psutil.net_connections(kind="inet")]
    return Snapshot(
        host=socket.gethostname(), os=os_name, taken_at=taken_at,
        addresses=_addresses(), defaults={key: value} if key else {},
        sources={"sockets": "psutil.net_connections", "addresses": "psutil.net_if_addrs",
                 "defaults": how},
        sockets=sorted(sockets, key=lambda s: (s.proto, s.family, s.local_port or 0)),
        unseen=["per-socket v6only: psutil cannot show it (the OS default is a prior)"],
    )


def _default(os_name: str | None) -> tuple[str | None, int | None, str]:
    if os_name not in DOCUMENTED_V6ONLY:
        return None, None, "unknown OS: no default"
    key, documented = DOCUMENTED_V6ONLY[os_name]
    if os_name != "windows":
        try:
            out = subprocess.run(["sysctl", "-n", key], capture_output=True, text=True,
                                 timeout=5, check=True).stdout.strip()
            return key, int(out), f"sysctl -n {key}"
        except (OSError, subprocess.SubprocessError, ValueError):
            pass
    return key, documented, f"documented {os_name} default (a prior, not read)"


def _socket(conn: Any) -> Socket:
    """One psutil sconn (family, type, laddr, raddr, status, pid)."""
    family = 6 if conn.family == socket.AF_INET6 else 4
    proto = "tcp" if conn.type == socket.SOCK_STREAM else "udp"
    laddr, raddr = conn.laddr, conn.raddr
    status = str(conn.status)
    state = _STATUS.get(status, status)
    if proto == "udp":
        state = "ESTABLISHED" if raddr else "UNCONN"
    remote = canonical_address(raddr.ip.split("%")[0]) if raddr else None
    return Socket(
        proto=proto, family=family, local_address=canonical_address(laddr.ip.split("%")[0]),
        local_port=laddr.port, remote_address=remote,
        remote_port=raddr.port if raddr else None, state=state, v6only=None,
        pid=conn.pid,
        process=_process_name(conn.pid),
        evidence=f"psutil AF_INET{'6' if family == 6 else ''}"
        + ("; v6only not shown" if family == 6 else ""),
    )


def _process_name(pid: int | None) -> str | None:
    if pid is None:
        return None
    try:
        return str(psutil.Process(pid).name())
    except (psutil.Error, OSError):
        return None


def _addresses() -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for iface, addrs in psutil.net_if_addrs().items():
        ips = [canonical_address(a.address.split("%")[0]) for a in addrs
               if a.family in (socket.AF_INET, socket.AF_INET6)]
        result[iface] = ips
    return result
