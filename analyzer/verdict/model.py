"""The per-OS socket delivery model: which listening socket takes a packet, and why.

One table-driven module. `RULES` names every rule with its source; `OS_MODELS` holds
each operating system's defaults. Two questions are answered here, on plain data:

1. Does a listening socket take IPv4 at all? (`ipv4_knowledge`) The answer is
   true, false or unknown (None), together with where it is known from
   (``snapshot``, ``os-default``; the capture is added by `inference`).
2. Which socket takes a new connection (TCP SYN, UDP datagram) to address A, port P?
   (`candidates` orders the sockets the way the kernel scores them; `first_taker`
   walks that order given each socket's IPv4 answer.)

Sources (checked against the code, not folklore):
- Linux ``net/ipv4/inet_hashtables.c``: ``inet_lhash2_lookup`` is tried for the
  destination address first, then for ``INADDR_ANY``; ``compute_score`` returns -1 for
  an AF_INET6 socket with ``ipv6_only_sock`` and gives AF_INET one point more than
  AF_INET6. AF_INET6 ``::`` and ``::ffff:A`` hash into the same buckets as ``0.0.0.0``
  and ``A`` (``ipv6_portaddr_hash``). UDP: ``net/ipv4/udp.c`` ``compute_score``, same.
- Linux ``net/ipv6/inet6_hashtables.c`` ``compute_score``: only AF_INET6 sockets whose
  address equals the destination (or ``::``) take IPv6.
- Linux ``net/ipv4/inet_connection_sock.c`` ``inet_bind_conflict`` /
  ``inet_rcv_saddr_equal``: ``[::]:P`` without v6only conflicts with any AF_INET bind
  on P unless both sockets set SO_REUSEPORT (``ipv6(7)``, ``IPV6_V6ONLY``).
- ``ipv6(7)``: ``IPV6_V6ONLY`` defaults to ``/proc/sys/net/ipv6/bindv6only`` (0).
- RFC 3493 §3.7 and FreeBSD ``inet6(4)``: IPv4 to a port with both a wildcard AF_INET
  and a wildcard AF_INET6 socket goes to the AF_INET one; FreeBSD/NetBSD default
  ``net.inet6.ip6.v6only=1``; OpenBSD ``ip6(4)``: IPv4-mapped addresses are never
  used, AF_INET6 sockets never take IPv4; macOS (XNU, BSD-derived) default 0, netstat
  prints tcp46 for dual-stack sockets; Windows: ``IPV6_V6ONLY`` is on by default
  (Microsoft "Dual-Stack Sockets for IPv6 Winsock Applications").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
BindKind = Literal["wildcard", "mapped", "specific"]
KnownFrom = Literal["snapshot", "capture", "os-default"]


@dataclass(frozen=True)
class Rule:
    """One rule of the model: what it says and where that can be checked."""

    id: str
    text: str
    source: str


RULES: Final[dict[str, Rule]] = {
    rule.id: rule
    for rule in (
        Rule("exact-before-wildcard",
             "sockets bound to the destination address are tried before wildcard ones",
             "Linux net/ipv4/inet_hashtables.c __inet_lookup_listener (lhash2 for daddr, "
             "then INADDR_ANY); net/ipv4/udp.c __udp4_lib_lookup; RFC 3493 §3.7"),
        Rule("inet-before-inet6",
             "within a bucket an AF_INET socket wins over an AF_INET6 one",
             "Linux net/ipv4/inet_hashtables.c compute_score (PF_INET scores one more); "
             "FreeBSD inet6(4)"),
        Rule("v6only-never-ipv4",
             "an AF_INET6 socket with IPV6_V6ONLY never takes IPv4",
             "Linux compute_score: ipv6_only_sock() -> -1; ipv6(7) IPV6_V6ONLY"),
        Rule("inet-never-ipv6",
             "an AF_INET socket never takes IPv6",
             "Linux net/ipv6/inet6_hashtables.c compute_score (sk_family == PF_INET6)"),
        Rule("inet-takes-ipv4",
             "an AF_INET socket takes IPv4 for its address (or every address for 0.0.0.0)",
             "ip(7)"),
        Rule("mapped-bind",
             "an AF_INET6 socket bound to ::ffff:A takes IPv4 to A only, never IPv6",
             "RFC 4291 §2.5.5.2; Linux net/ipv6/af_inet6.c __inet6_bind (mapped bind "
             "needs v6only off); ipv6_portaddr_hash"),
        Rule("specific-v6-bind",
             "an AF_INET6 socket bound to a specific non-mapped IPv6 address is IPv6-only",
             "Linux net/ipv4/inet_hashtables.c: ipv6_portaddr_hash of a non-mapped "
             "address never equals an IPv4 bucket"),
        Rule("per-socket-flag",
             "the socket's own IPV6_V6ONLY decides (seen in the snapshot)",
             "ipv6(7) IPV6_V6ONLY; sock_diag(7) INET_DIAG_SKV6ONLY; ss -e v6only:N; "
             "BSD netstat tcp46/tcp6"),
        Rule("established-ipv4-peer",
             "an AF_INET6 socket on port P with an IPv4 peer shows that the listener on P "
             "takes IPv4",
             "RFC 3493 §3.7 (IPv4 peers of AF_INET6 sockets are IPv4-mapped); net-tools "
             "netstat prints them in tcp6 rows"),
        Rule("bind-conflict",
             "0.0.0.0:P (or A:P) beside [::]:P means the AF_INET6 socket is v6-only, "
             "unless both set SO_REUSEPORT",
             "Linux net/ipv4/inet_connection_sock.c inet_bind_conflict, "
             "inet_rcv_saddr_equal; udp_lib_lport_inuse"),
        Rule("os-default",
             "a socket that did not set IPV6_V6ONLY gets the OS default",
             "ipv6(7) bindv6only; FreeBSD inet6(4) net.inet6.ip6.v6only; Windows "
             "Dual-Stack Sockets docs; macOS default 0"),
        Rule("openbsd-never",
             "OpenBSD never delivers IPv4 to AF_INET6 sockets",
             "OpenBSD ip6(4): IPV6_V6ONLY is always on and cannot be cleared"),
        Rule("no-listener",
             "nothing matches: the kernel answers RST (TCP) or ICMP port unreachable (UDP)",
             "Linux net/ipv4/tcp_ipv4.c tcp_v4_rcv (no_tcp_socket -> tcp_v4_send_reset); "
             "net/ipv4/udp.c __udp4_lib_rcv (icmp_send ICMP_PORT_UNREACH)"),
        Rule("capture-accepted",
             "an IPv4 connection accepted where the only possible taker is an AF_INET6 "
             "socket proves that socket takes IPv4",
             "this model: exact-before-wildcard, inet-before-inet6, v6only-never-ipv4"),
        Rule("capture-refused",
             "IPv4 refused while an AF_INET6 wildcard socket listens proves it is v6-only",
             "this model: no-listener, v6only-never-ipv4"),
    )
}


@dataclass(frozen=True)
class OSModel:
    """One operating system's facts about AF_INET6 sockets and IPv4."""

    name: str
    default_v6only: bool | None
    setting: str | None
    ipv4_to_inet6: bool
    bind_conflict: bool
    source: str


OS_MODELS: Final[dict[str, OSModel]] = {
    model.name: model
    for model in (
        OSModel("linux", False, "net.ipv6.bindv6only", True, True,
                "ipv6(7): bindv6only defaults to 0"),
        OSModel("freebsd", True, "net.inet6.ip6.v6only", True, False,
                "FreeBSD inet6(4): net.inet6.ip6.v6only defaults to 1"),
        OSModel("netbsd", True, "net.inet6.ip6.v6only", True, False,
                "NetBSD ip6(4): net.inet6.ip6.v6only defaults to 1"),
        OSModel("openbsd", True, None, False, False,
                "OpenBSD ip6(4): AF_INET6 sockets never take IPv4"),
        OSModel("macos", False, "net.inet6.ip6.v6only", True, False,
                "macOS (XNU): net.inet6.ip6.v6only defaults to 0"),
        OSModel("windows", True, None, True, False,
                "Windows: IPV6_V6ONLY is on unless the program clears it"),
    )
}


class SocketLike(Protocol):
    """What the model reads of a snapshot socket (analyzer.snapshot.Socket fits)."""

    @property
    def proto(self) -> str: ...
    @property
    def family(self) -> int: ...
    @property
    def local_address(self) -> str: ...
    @property
    def local_port(self) -> int | None: ...
    @property
    def v6only(self) -> bool | None: ...


@dataclass(frozen=True)
class Knowledge:
    """Whether a socket takes IPv4, where that is known from, by which rule, in words."""

    accepts_ipv4: bool | None
    known_from: KnownFrom | None
    rule: str
    reason: str

    @property
    def certain(self) -> bool:
        """Known from the snapshot, the capture or an OS fact (a default is only a prior)."""
        return self.known_from in ("snapshot", "capture") or self.rule == "openbsd-never"


def parse_address(text: str) -> IPAddress:
    """An address of the snapshot or flow text: brackets and a %zone are dropped."""
    return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])


def bind_kind(family: int, local_address: str) -> BindKind:
    """wildcard (0.0.0.0, ::, ::ffff:0.0.0.0), mapped (::ffff:A) or specific."""
    if local_address in ("0.0.0.0", "::", "*", ""):
        return "wildcard"
    address = parse_address(local_address)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return "wildcard" if int(address.ipv4_mapped) == 0 else "mapped"
    return "specific"


def ipv4_bound(sock: SocketLike) -> ipaddress.IPv4Address | None:
    """The IPv4 address an AF_INET or mapped AF_INET6 socket is bound to."""
    address = parse_address(sock.local_address) if sock.local_address not in ("*", "") else None
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if isinstance(address, ipaddress.IPv6Address):
        return address.ipv4_mapped
    return None


def is_mapped_bind(sock: SocketLike) -> bool:
    """An AF_INET6 socket bound to ::ffff:A (or ::ffff:0.0.0.0)."""
    if sock.family != 6 or sock.local_address in ("::", "*", ""):
        return False
    address = parse_address(sock.local_address)
    return isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None


def takes_ipv6(sock: SocketLike) -> bool:
    """AF_INET6 and not a mapped bind (rules inet-never-ipv6, mapped-bind)."""
    return sock.family == 6 and not is_mapped_bind(sock)


def os_prior(os_name: str | None, defaults: Mapping[str, int | None]) -> Knowledge:
    """The OS default for a socket that did not set IPV6_V6ONLY (rule os-default)."""
    model = OS_MODELS.get(os_name or "")
    if model is None:
        return Knowledge(None, None, "os-default", "OS unknown: no default to assume")
    value: bool | None = model.default_v6only
    said = f"{model.name} default"
    if model.setting is not None and defaults.get(model.setting) is not None:
        value = bool(defaults[model.setting])
        said = f"{model.setting}={defaults[model.setting]} in the snapshot"
    elif model.setting is not None:
        said = f"{model.name} default {model.setting}={int(bool(value))}"
    if value is None:
        return Knowledge(None, None, "os-default", f"{said}: unknown")
    verdict = "v6-only" if value else "takes IPv4 too"
    return Knowledge(not value, "os-default", "os-default", f"{said}: {verdict}")


def ipv4_knowledge(
    sock: SocketLike,
    port_peers: Sequence[SocketLike],
    os_name: str | None,
    defaults: Mapping[str, int | None],
    ipv4_peer_seen: bool = False,
) -> Knowledge:
    """Does this listening socket take IPv4? Rules in order, the first that applies.

    `port_peers` are the other listeners of the same snapshot, protocol and port;
    `ipv4_peer_seen` says the snapshot holds an AF_INET6 connection on this port
    with an IPv4 peer (rule established-ipv4-peer).
    """
    if sock.family == 4:
        return Knowledge(True, "snapshot", "inet-takes-ipv4", "AF_INET socket")
    kind = bind_kind(6, sock.local_address)
    if is_mapped_bind(sock):
        return Knowledge(True, "snapshot", "mapped-bind",
                         f"bound to the IPv4-mapped address {sock.local_address}")
    if kind == "specific":
        return Knowledge(False, "snapshot", "specific-v6-bind",
                         f"bound to the IPv6 address {sock.local_address}")
    model = OS_MODELS.get(os_name or "")
    if model is not None and not model.ipv4_to_inet6:
        return Knowledge(False, "os-default", "openbsd-never", model.source)
    if sock.v6only is not None:
        said = "v6only=1" if sock.v6only else "v6only=0"
        return Knowledge(not sock.v6only, "snapshot", "per-socket-flag",
                         f"{said} in the snapshot")
    if ipv4_peer_seen:
        return Knowledge(True, "snapshot", "established-ipv4-peer",
                         "the snapshot shows an IPv4 peer on an AF_INET6 socket of this port")
    if (model is None or model.bind_conflict) and any(
        peer.family == 4 or is_mapped_bind(peer) for peer in port_peers
    ):
        return Knowledge(False, "snapshot", "bind-conflict",
                         "an AF_INET socket shares the port, so this one must be v6-only "
                         "(unless both use SO_REUSEPORT)")
    return os_prior(os_name, defaults)


def _bucket_rank(sock: SocketLike, wire_family: int, destination: IPAddress) -> int | None:
    """0 exact bucket, 1 wildcard bucket, None when the socket cannot take it."""
    kind = bind_kind(sock.family, sock.local_address)
    if wire_family == 6:
        if not takes_ipv6(sock):
            return None
        if kind == "wildcard":
            return 1
        return 0 if parse_address(sock.local_address) == destination else None
    if sock.family == 6 and kind == "specific":
        return None
    if kind == "wildcard":
        return 1
    bound = ipv4_bound(sock)
    return 0 if bound is not None and bound == destination else None


def candidates(
    proto: str,
    wire_family: int,
    destination: IPAddress,
    port: int,
    sockets: Sequence[SocketLike],
) -> list[int]:
    """Indexes of the sockets that could take a new connection, in the kernel's order.

    Rules exact-before-wildcard and inet-before-inet6 order them; inet-never-ipv6,
    mapped-bind and specific-v6-bind remove the impossible ones. Whether each
    AF_INET6 socket takes IPv4 is left to `first_taker`.
    """
    if isinstance(destination, ipaddress.IPv6Address) and destination.ipv4_mapped and (
        wire_family == 4
    ):
        destination = destination.ipv4_mapped
    ranked: list[tuple[int, int, int]] = []
    for index, sock in enumerate(sockets):
        if sock.proto != proto or sock.local_port != port:
            continue
        bucket = _bucket_rank(sock, wire_family, destination)
        if bucket is not None:
            ranked.append((bucket, 0 if sock.family == 4 else 1, index))
    return [index for _, _, index in sorted(ranked)]


@dataclass(frozen=True)
class Taker:
    """The socket that takes a connection, and whether that depends on an unknown."""

    index: int | None
    assumed: bool
    skipped: tuple[int, ...]


def first_taker(
    wire_family: int, order: Sequence[int], accepts_ipv4: Mapping[int, bool | None]
) -> Taker:
    """Walk `candidates` order: IPv6 goes to the first; IPv4 to the first that takes IPv4.

    A socket whose IPv4 answer is unknown is taken as the taker with ``assumed=True``
    (rule v6only-never-ipv4 decides only when the answer is known); `skipped` are the
    v6-only sockets passed over.
    """
    if wire_family == 6:
        return Taker(order[0] if order else None, False, ())
    skipped: list[int] = []
    for index in order:
        answer = accepts_ipv4.get(index)
        if answer is False:
            skipped.append(index)
            continue
        return Taker(index, answer is None, tuple(skipped))
    return Taker(None, False, tuple(skipped))
