"""The scenario builder: a host's snapshots, its traffic and the ground truth, together.

A scenario function receives a :class:`Traffic`, declares the host's sockets and
snapshots, and adds conversations, each with the class the analyzer must give it.
Addresses come from the documentation ranges only (RFC 5737, RFC 3849); times and
ports come from the seed, never from the clock.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from analyzer.snapshot.schema import Snapshot, Socket, format_utc
from analyzer.synth import packets
from analyzer.synth.packets import Flow, Frame
from analyzer.synth.truth import AnomalyTruth, FlowTruth, ListenerTruth, Truth

SERVER_V4 = "192.0.2.10"
SERVER_V6 = "2001:db8::10"
CLIENT_V4_NET = ipaddress.ip_network("198.51.100.0/24")
CLIENT_V6_NET = ipaddress.ip_network("2001:db8:c::/64")
EPOCH_2026_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z
SECOND = 1_000_000_000
SPREAD_WINDOW = 20.0  # seconds; scenarios leave at least this much between snapshots

Conversation = Callable[[Flow, int, int, random.Random], list[Frame]]
Alter = Callable[[list[Frame]], list[Frame]]
Visit = tuple[str, int, int, int, str, str]  # proto, family, clients, port, outcome, class

CONVERSATIONS: dict[tuple[str, str], Conversation] = {
    ("tcp", "accepted"): packets.tcp_accepted,
    ("tcp", "refused"): packets.tcp_refused,
    ("tcp", "unanswered"): packets.tcp_unanswered,
    ("tcp", "midstream"): packets.tcp_midstream,
    ("udp", "accepted"): packets.udp_answered,
    ("udp", "refused"): packets.udp_refused,
    ("udp", "unanswered"): packets.udp_unanswered,
}


@dataclass(frozen=True)
class Listener:
    """A socket of the host's snapshots plus the verdict the analyzer must reach."""

    socket: Socket
    accepts_ipv4: bool | None

    def truth(self) -> ListenerTruth:
        sock = self.socket
        assert sock.local_port is not None
        return ListenerTruth(sock.proto, sock.family, sock.local_address, sock.local_port,
                             self.accepts_ipv4)


@dataclass
class Traffic:
    """Everything one scenario produces: frames, snapshots and truth, in the making."""

    seed: int
    scale: int = 1
    os: str = "linux"
    host: str = "server"
    text_format: str | None = None  # also write the snapshot as this tool's text
    rng: random.Random = field(init=False)
    start_ns: int = field(init=False)
    frames: list[Frame] = field(default_factory=list)
    snapshots: list[Snapshot] = field(default_factory=list)
    flows: list[FlowTruth] = field(default_factory=list)
    anomalies: list[AnomalyTruth] = field(default_factory=list)
    listeners: dict[tuple[str, int, str, int], Listener] = field(default_factory=dict)
    addresses: dict[str, list[str]] = field(default_factory=dict)
    _used_clients: set[tuple[str, int]] = field(default_factory=set)
    _client_index: dict[int, int] = field(default_factory=lambda: {4: 0, 6: 0})

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        # A fixed day per seed, at a whole second: same seed, same timestamps.
        self.start_ns = EPOCH_2026_NS + self.rng.randrange(0, 300 * 86400) * SECOND
        self.addresses = {"lo": ["127.0.0.1", "::1"], "eth0": [SERVER_V4, SERVER_V6]}

    # ------------------------------------------------------------ time

    def at(self, seconds: float) -> int:
        """Capture time ``seconds`` after the scenario's start, on a microsecond."""
        return self.start_ns + round(seconds * 1_000_000) * 1000

    def iso(self, seconds: float) -> str:
        ns = self.at(seconds)
        moment = datetime.fromtimestamp(ns // SECOND, tz=timezone.utc)
        return format_utc(moment.replace(microsecond=(ns % SECOND) // 1000))

    # ------------------------------------------------------------ snapshots

    def listen(self, socket: Socket, accepts_ipv4: bool | None) -> Socket:
        """Declare a listener and the verdict it must get (the same socket in every snapshot)."""
        listener = Listener(socket, accepts_ipv4)
        key = listener.truth().key()
        known = self.listeners.get(key)
        if known is not None and known.accepts_ipv4 != accepts_ipv4:
            raise ValueError(f"listener {key} declared with two verdicts")
        self.listeners[key] = listener
        return socket

    def snapshot(self, seconds: float, sockets: list[Socket], *, sources: dict[str, str],
                 defaults: dict[str, int | None] | None = None,
                 with_addresses: bool = True) -> Snapshot:
        snap = Snapshot(
            host=self.host, os=self.os, taken_at=self.iso(seconds),
            addresses=dict(self.addresses) if with_addresses else {},
            defaults=dict(defaults or {}), sources=dict(sources), sockets=list(sockets),
        )
        self.snapshots.append(snap)
        return snap

    # ------------------------------------------------------------ clients

    def client(self, family: int) -> str:
        """The next client address of the family (198.51.100.20+, 2001:db8:c::20+)."""
        net = CLIENT_V4_NET if family == 4 else CLIENT_V6_NET
        index = self._client_index[family]
        self._client_index[family] = index + 1
        return str(net[0x20 + index % 200])

    def clients(self, family: int, count: int) -> list[str]:
        """``count`` clients, times ``--scale``."""
        return [self.client(family) for _ in range(count * self.scale)]

    def ephemeral_port(self, client: str) -> int:
        while True:
            port = self.rng.randrange(32768, 61000)
            if (client, port) not in self._used_clients:
                self._used_clients.add((client, port))
                return port

    def rtt_ns(self) -> int:
        return self.rng.randrange(300, 40_000) * 1000

    # ------------------------------------------------------------ conversations

    def add(self, proto: str, client: str, server: str, port: int, seconds: float, *,
            outcome: str, cls: str, client_port: int | None = None,
            alter: Alter | None = None, anomaly: str | None = None) -> list[Frame]:
        """One conversation of ``outcome`` (accepted, refused, unanswered, midstream).

        Its frames (changed by ``alter`` if given: tunnelled, cut, fragmented) join the
        capture, and its flow joins the truth as ``cls`` (and as ``anomaly`` if given).
        """
        flow = Flow(proto, client, client_port or self.ephemeral_port(client), server, port)
        made = CONVERSATIONS[(proto, outcome)](flow, self.at(seconds), self.rtt_ns(), self.rng)
        if alter is not None:
            made = alter(made)
        self.frames.extend(made)
        truth = FlowTruth(flow.proto, flow.client, flow.client_port, flow.server,
                          flow.server_port, cls)
        self.flows.append(truth)
        if anomaly is not None:
            self.anomalies.append(AnomalyTruth(anomaly, truth))
        return made

    def spread(self, proto: str, clients: list[str], server: str, port: int, start: float,
               *, outcome: str, cls: str, window: float = SPREAD_WINDOW,
               alter: Alter | None = None) -> None:
        """One conversation per client, started within ``window`` seconds (with jitter).

        At most 0.7 s apart, closer when ``--scale`` brings many clients, so that
        scaled traffic stays between the same snapshots.
        """
        every = min(0.7, window / max(1, len(clients)))
        for index, client in enumerate(clients):
            moment = start + index * every + self.rng.random() * every / 2
            self.add(proto, client, server, port, moment, outcome=outcome, cls=cls,
                     alter=alter)

    def visits(self, start: float, *rows: Visit) -> None:
        """Each row's clients (times ``--scale``) visit the server, rows 0.2 s apart.

        A row is (proto, family, clients, port, outcome, class); the server address is
        the host's own of that family.
        """
        for index, (proto, family, count, port, outcome, cls) in enumerate(rows):
            server = SERVER_V4 if family == 4 else SERVER_V6
            self.spread(proto, self.clients(family, count), server, port, start + 0.2 * index,
                        outcome=outcome, cls=cls)

    # ------------------------------------------------------------ result

    def sorted_frames(self) -> list[Frame]:
        return sorted(self.frames, key=lambda frame: frame.ts_ns)

    def truth(self) -> Truth:
        return Truth(tuple(self.flows),
                     tuple(listener.truth() for listener in self.listeners.values()),
                     tuple(self.anomalies))


# ---------------------------------------------------------------- visit and socket shorthands

_OUTCOMES = {"refused": "refused", "unanswered": "unanswered"}  # other classes: accepted


def both_families(port: int, v4: tuple[int, str], v6: tuple[int, str], proto: str = "tcp"
                  ) -> tuple[Visit, Visit]:
    """`Traffic.visits` rows: IPv4, then IPv6 clients of one port, each given as
    ``(clients, class)``; the outcome on the wire follows from the class (refused and
    unanswered as named, accepted for the others)."""
    return (_visit(proto, 4, port, *v4), _visit(proto, 6, port, *v6))


def _visit(proto: str, family: int, port: int, clients: int, cls: str) -> Visit:
    return (proto, family, clients, port, _OUTCOMES.get(cls, "accepted"), cls)



def tcp_listen(address: str, port: int, **owner: Any) -> Socket:
    """A TCP listener (LISTEN); ``owner``: v6only, pid, process, user, evidence."""
    return _bound("tcp", "LISTEN", address, port, **owner)


def udp_bound(address: str, port: int, **owner: Any) -> Socket:
    """An unconnected UDP socket (UNCONN); ``owner`` as for `tcp_listen`."""
    return _bound("udp", "UNCONN", address, port, **owner)


def _bound(proto: str, state: str, address: str, port: int, *, v6only: bool | None = None,
           pid: int | None = None, process: str | None = None, user: str | None = "root",
           evidence: str = "") -> Socket:
    family = 6 if ":" in address else 4
    return Socket(proto, family, address, port, state=state,
                  v6only=v6only if family == 6 else None, pid=pid, process=process, user=user,
                  evidence=evidence)


def established(listener: Socket, local: str, remote: str, remote_port: int) -> Socket:
    """An accepted connection of ``listener``; IPv4 ends of an AF_INET6 socket are mapped."""
    if listener.family == 6:
        local, remote = _mapped(local), _mapped(remote)
    return Socket(listener.proto, listener.family, local, listener.local_port,
                  remote_address=remote, remote_port=remote_port, state="ESTABLISHED",
                  v6only=listener.v6only, pid=listener.pid, process=listener.process,
                  user=listener.user, evidence=listener.evidence)


def _mapped(address: str) -> str:
    return address if ":" in address else f"::ffff:{address}"
