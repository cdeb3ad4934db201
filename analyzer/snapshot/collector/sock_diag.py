"""TCP and UDP sockets of this network namespace from sock_diag netlink (inet_diag).

Uses pyroute2's DiagSocket: it decodes INET_DIAG_SKV6ONLY (attribute 11) as an
integer, which is all we need. The kernel adds that attribute on its own for every
AF_INET6 socket in LISTEN or CLOSE state (inet_diag_msg_attrs_fill); for other states
there is none, and `v6only` is None. See sock_diag(7).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any

from pyroute2 import DiagSocket  # type: ignore[import-untyped]
from pyroute2.netlink.diag import SS_ALL  # type: ignore[import-untyped]

_PROTOCOLS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}
_FAMILIES = {4: socket.AF_INET, 6: socket.AF_INET6}
# Kernel TCP state numbers (include/net/tcp_states.h).
TCP_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
    11: "CLOSING", 12: "NEW_SYN_RECV",
}


@dataclass(frozen=True)
class DiagEntry:
    """One socket as inet_diag reports it."""

    proto: str
    family: int
    state: int
    local_address: str
    local_port: int
    remote_address: str
    remote_port: int
    ifindex: int
    uid: int
    inode: int
    v6only: int | None


def dump_sockets() -> list[DiagEntry]:
    """Every TCP and UDP socket, AF_INET and AF_INET6, of the current namespace."""
    entries: list[DiagEntry] = []
    with DiagSocket() as diag:
        diag.bind()
        for proto, number in _PROTOCOLS.items():
            for family, af in _FAMILIES.items():
                for msg in diag.get_sock_stats(family=af, protocol=number, states=SS_ALL):
                    entries.append(_entry(proto, family, msg))
    return entries


def _entry(proto: str, family: int, msg: Any) -> DiagEntry:
    """One inet_diag_msg (a pyroute2 nlmsg: fields by key, attributes by get_attr)."""
    get = msg.__getitem__
    v6only = msg.get_attr("INET_DIAG_SKV6ONLY")
    return DiagEntry(
        proto=proto, family=family, state=int(get("idiag_state")),
        local_address=str(get("idiag_src")), local_port=int(get("idiag_sport")),
        remote_address=str(get("idiag_dst")), remote_port=int(get("idiag_dport")),
        ifindex=int(get("idiag_if")), uid=int(get("idiag_uid")),
        inode=int(get("idiag_inode")), v6only=None if v6only is None else int(v6only),
    )
