"""A live Linux snapshot: sock_diag sockets, /proc/*/fd owners, rtnetlink addresses.

Every AF_INET6 socket in LISTEN or CLOSE state gets its exact v6only from
INET_DIAG_SKV6ONLY; connected ones get none from the kernel (v6only null) unless an
IPv4-mapped address proves it off. Without root the owners of other users' sockets
stay unknown; `unseen` says how many.
"""

from __future__ import annotations

import os
import pwd
import socket
from functools import cache

from analyzer.snapshot.collector.host import BINDV6ONLY, interface_addresses, read_sysctl
from analyzer.snapshot.collector.processes import Owners, socket_owners
from analyzer.snapshot.collector.sock_diag import TCP_STATES, DiagEntry, dump_sockets
from analyzer.snapshot.schema import Snapshot, Socket, canonical_address, utc_now


def collect_linux(netns: str | None = None) -> Snapshot:
    """Snapshot of the current network namespace (`netns` only names it in `sources`)."""
    taken_at = utc_now()
    entries = dump_sockets()
    owners = socket_owners()
    sockets = [_socket(entry, owners) for entry in entries]
    where = f" in netns {netns}" if netns else ""
    return Snapshot(
        host=socket.gethostname(),
        os="linux",
        taken_at=taken_at,
        addresses=interface_addresses(),
        defaults={BINDV6ONLY: read_sysctl(BINDV6ONLY)},
        sources={
            "sockets": f"sock_diag inet_diag (pyroute2){where}",
            "v6only": "INET_DIAG_SKV6ONLY (LISTEN/CLOSE sockets of AF_INET6)",
            "processes": "/proc/*/fd socket inodes",
            "addresses": "rtnetlink RTM_GETADDR",
            "defaults": "/proc/sys",
        },
        sockets=sorted(sockets, key=_order),
        unseen=_unseen(sockets, owners),
    )


def _socket(entry: DiagEntry, owners: Owners) -> Socket:
    local = canonical_address(entry.local_address)
    remote = canonical_address(entry.remote_address)
    unconnected = remote in ("0.0.0.0", "::") and entry.remote_port == 0
    state = TCP_STATES.get(entry.state, "CLOSE")
    if entry.proto == "udp":
        state = "UNCONN" if state == "CLOSE" else state
    v6only, evidence = _v6only(entry, local, remote)
    owner = owners.by_inode.get(entry.inode)
    return Socket(
        proto=entry.proto, family=entry.family, local_address=local,
        local_port=entry.local_port, remote_address=None if unconnected else remote,
        remote_port=None if unconnected else entry.remote_port, state=state,
        v6only=v6only, pid=owner[0] if owner else None, process=owner[1] if owner else None,
        user=_user_name(entry.uid), uid=entry.uid, inode=entry.inode or None,
        interface=_interface(entry.ifindex), evidence=evidence,
    )


def _v6only(entry: DiagEntry, local: str, remote: str) -> tuple[bool | None, str]:
    if entry.family == 4:
        return None, "sock_diag AF_INET"
    if entry.v6only is not None:
        return bool(entry.v6only), f"sock_diag INET_DIAG_SKV6ONLY={entry.v6only}"
    if local.startswith("::ffff:") or remote.startswith("::ffff:"):
        return False, "sock_diag AF_INET6 with an IPv4-mapped address: v6only=0"
    return None, "sock_diag AF_INET6: the kernel reports v6only only for LISTEN/CLOSE"


def _unseen(sockets: list[Socket], owners: Owners) -> list[str]:
    notes = []
    if owners.unreadable:
        notes.append(f"fd tables of {owners.unreadable} of {owners.processes} processes "
                     "(not root): their sockets have no pid/process")
    orphans = sum(1 for sock in sockets if sock.pid is None and sock.inode)
    if orphans:
        notes.append(f"{orphans} sockets with no process found (other users, other "
                     "mount namespaces, or kernel sockets)")
    return notes


def _order(sock: Socket) -> tuple[str, int, int, str]:
    return (sock.proto, sock.family, sock.local_port or 0, sock.local_address)


@cache
def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _interface(index: int) -> str | None:
    if index == 0:
        return None
    try:
        return socket.if_indextoname(index)
    except OSError:
        return str(index)


def running_as_root() -> bool:
    return os.geteuid() == 0
