"""Correlate flows with listener snapshots: which socket took each flow, and what that
says about each listener.

- Host identity: a snapshot's host is known by its addresses; a snapshot without
  addresses takes ``host_addrs`` (``--host-addr``) or, failing that, the server side
  of the capture. `Verdicts.hosts` says which.
- Time: a flow is matched against the snapshot of its server's host that was valid
  when the flow started: the last one taken at or before ``first_ts + tolerance``.
  Snapshots without a time (imported text) are valid at any time, merged, and used
  when no timed snapshot is. A flow with no valid snapshot gets no listener: an
  answered one is ``unmatched``; refused and unanswered ones keep what the wire said.
- Delivery: `analyzer.verdict.model` orders the candidate sockets; what the snapshot
  cannot tell is decided by the capture (`analyzer.verdict.inference`).
- Connected rows (``tcp6 10.0.0.12:4243 10.0.0.20:64702 ESTABLISHED java``) are matched
  to the flows alive when the snapshot was taken and explained.

The per-flow work runs on shares of the flows (`analyzer.verdict.shares`, which holds
`verify`); this module has the parts: hosts, the `Correlator`, grouping and judging.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from analyzer.snapshot.schema import Snapshot, Socket
from analyzer.verdict.addresses import address_rows, lookup, packed, unpacked
from analyzer.verdict.factorize import as_keys, factorize, first_seen, row_hash, unique_rows
from analyzer.verdict.inference import Evidence, resolve
from analyzer.verdict.model import (
    IPAddress,
    Knowledge,
    candidates,
    first_taker,
    ipv4_knowledge,
    is_mapped_bind,
    parse_address,
)
from analyzer.verdict.results import (
    ConnectionMatch,
    ListenerVerdict,
    socket_label,
)

DEFAULT_TOLERANCE_S: Final[float] = 5.0
GUESSED_CLIENT_NOTE: Final[str] = (" (client guessed from ports: the capture starts "
                                   "mid-connection)")
# Flow outcomes (issue 3) grouped by what they say about the server's sockets.
DELIVERED: Final[frozenset[str]] = frozenset({"accepted", "answered", "midstream"})
REFUSED: Final[frozenset[str]] = frozenset({"refused"})
UNANSWERED: Final[frozenset[str]] = frozenset({"unanswered"})
_NO_SNAPSHOT = -1
_ListenerKey = tuple[Any, ...]


def normalize(text: str) -> IPAddress | None:
    """A flow or snapshot address as one form: IPv4-mapped IPv6 becomes IPv4."""
    try:
        address = parse_address(str(text))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass
class Host:
    """One host of the snapshots: its addresses and its snapshots over time."""

    name: str | None
    addresses: set[IPAddress]
    addresses_from: str
    timed: list[tuple[int, int]] = field(default_factory=list)  # (taken_at_ns, snapshot)
    timeless: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "host": self.name,
            "addresses": sorted(str(item) for item in self.addresses),
            "addresses_from": self.addresses_from,
            "snapshots": sorted([index for _, index in self.timed] + self.timeless),
        }


@dataclass
class Epoch:
    """The listeners valid for a stretch of time: one timed snapshot, or the timeless."""

    host: int
    snapshots: tuple[int, ...]
    listeners: list[int]
    sockets: list[Socket]


def _snapshot_addresses(snapshot: Snapshot) -> set[IPAddress]:
    found = {normalize(text) for texts in snapshot.addresses.values() for text in texts}
    return {item for item in found if item is not None}


def _snapshot_peers(snapshot: Snapshot) -> set[IPAddress]:
    """Remote addresses of the snapshot's connections: the host's peers, never the host."""
    found = {normalize(sock.remote_address) for sock in snapshot.sockets if sock.remote_address}
    return {item for item in found if item is not None and not item.is_unspecified}


def build_hosts(
    snapshots: Sequence[Snapshot],
    host_addrs: Iterable[str] | None,
    capture_servers: Iterable[IPAddress],
) -> list[Host]:
    """Group snapshots by host name and give each host its addresses (and say whence):
    the snapshot's own, else `host_addrs`, else the capture's server addresses (IPv4 for
    IPv4-mapped ones) that no other host claims and that are not peers in the host's own
    snapshot rows."""
    by_name: dict[str | None, Host] = {}
    peers: dict[str | None, set[IPAddress]] = defaultdict(set)
    for index, snapshot in enumerate(snapshots):
        host = by_name.setdefault(snapshot.host, Host(snapshot.host, set(), "snapshot"))
        host.addresses |= _snapshot_addresses(snapshot)
        peers[snapshot.host] |= _snapshot_peers(snapshot)
        moment = snapshot.taken_at_ns()
        if moment is None:
            host.timeless.append(index)
        else:
            host.timed.append((moment, index))
    hosts = list(by_name.values())
    given = {item for item in (normalize(text) for text in host_addrs or ()) if item}
    claimed = set().union(*(host.addresses for host in hosts)) if hosts else set()
    fallback = set(capture_servers)
    for host in hosts:
        host.timed.sort()
        if host.addresses:
            continue
        if given:
            host.addresses, host.addresses_from = set(given), "--host-addr"
        else:
            host.addresses = fallback - claimed - peers[host.name]
            host.addresses_from = "capture"
    return hosts


def flow_column(columns: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    if name not in columns:
        raise KeyError(f"flow column {name!r} missing (have {sorted(columns)})")
    return np.asarray(columns[name])


def host_of(addresses: np.ndarray, hosts: Sequence[Host]) -> np.ndarray:
    """Per flow ((n, 16) uint8 addresses), the index of the host owning it, or -1."""
    owner: dict[bytes, int] = {}
    for index, host in enumerate(hosts):
        for address in host.addresses:
            owner.setdefault(packed(address), index)
    return lookup(addresses, owner)


class Correlator:
    """One run of `verify`: the hosts, their listeners and epochs (what every share of
    the flows is judged against; picklable, so a forked share gets its own copy)."""

    def __init__(self, snapshots: Sequence[Snapshot], os_name: str | None,
                 tolerance_ns: int, hosts: Sequence[Host] = ()) -> None:
        self.snapshots = list(snapshots)
        self.os_name = os_name
        self.tolerance_ns = tolerance_ns
        self.hosts = list(hosts)
        self.listeners: list[ListenerVerdict] = []
        self.static: list[list[Knowledge]] = []
        self.keys: dict[_ListenerKey, int] = {}
        self.epochs: list[Epoch] = []
        self.host_epochs = _add_epochs(self, self.hosts)
        self.settle_static()

    def os_of(self, snapshot: Snapshot) -> str | None:
        return snapshot.os or self.os_name

    # -- listeners and epochs ---------------------------------------------------------
    def listener_id(self, snapshot_index: int, sock: Socket) -> int:
        snapshot = self.snapshots[snapshot_index]
        key = (snapshot.host, sock.proto, sock.family, sock.local_address, sock.local_port,
               sock.pid, sock.process)
        if key not in self.keys:
            self.keys[key] = len(self.listeners)
            tool = (snapshot.sources.get("sockets") or "the snapshot").split(" text")[0]
            self.listeners.append(ListenerVerdict(
                id=len(self.listeners), host=snapshot.host, proto=sock.proto,
                family=sock.family, local_address=sock.local_address,
                local_port=sock.local_port, v6only=sock.v6only, pid=sock.pid,
                process=sock.process, user=sock.user, snapshots=[],
                knowledge=Knowledge(None, None, "os-default", ""), source_tool=tool,
            ))
            self.static.append([])
        found = self.keys[key]
        if snapshot_index not in self.listeners[found].snapshots:
            self.listeners[found].snapshots.append(snapshot_index)
        return found

    def add_epoch(self, host: int, snapshot_ids: Sequence[int]) -> int:
        sockets: list[Socket] = []
        listener_ids: list[int] = []
        for snapshot_index in snapshot_ids:
            for sock in self.snapshots[snapshot_index].listeners():
                found = self.listener_id(snapshot_index, sock)
                if found not in listener_ids:
                    listener_ids.append(found)
                    sockets.append(sock)
        epoch = Epoch(host, tuple(snapshot_ids), listener_ids, sockets)
        self._static_knowledge(epoch)
        self.epochs.append(epoch)
        return len(self.epochs) - 1

    def _static_knowledge(self, epoch: Epoch) -> None:
        snapshot = self.snapshots[epoch.snapshots[-1]]
        mapped_binds = {(sock.proto, sock.local_port, normalize(sock.local_address))
                        for sock in epoch.sockets if is_mapped_bind(sock)}
        mapped_ports = {
            (sock.proto, sock.local_port)
            for index in epoch.snapshots for sock in self.snapshots[index].sockets
            if sock.mapped_peer and not sock.is_listener and (
                sock.proto, sock.local_port, normalize(sock.local_address)) not in mapped_binds
        }
        for listener, sock in zip(epoch.listeners, epoch.sockets, strict=True):
            peers = [other for other in epoch.sockets
                     if other is not sock and other.proto == sock.proto
                     and other.local_port == sock.local_port]
            self.static[listener].append(ipv4_knowledge(
                sock, peers, self.os_of(snapshot), snapshot.defaults,
                ipv4_peer_seen=(sock.proto, sock.local_port) in mapped_ports,
            ))

    def settle_static(self) -> None:
        """Per listener, the most certain of what its snapshots say."""
        for listener, options in zip(self.listeners, self.static, strict=True):
            certain = [item for item in options if item.certain]
            listener.knowledge = (certain or options)[0]
            answers = {item.accepts_ipv4 for item in certain}
            if len(answers) > 1:
                listener.contradictions.append(
                    "its snapshots disagree: " + "; ".join(item.reason for item in certain))

    def states(self, epoch: Epoch, *, priors: bool) -> dict[int, bool | None]:
        """Each epoch socket's IPv4 answer; priors (OS defaults) only when asked."""
        out: dict[int, bool | None] = {}
        for position, listener in enumerate(epoch.listeners):
            knowledge = self.listeners[listener].knowledge
            usable = priors or knowledge.certain
            out[position] = knowledge.accepts_ipv4 if usable else None
        return out


@dataclass(frozen=True)
class Group:
    """Flows that the model cannot tell apart: same epoch, service and outcome."""

    epoch: int
    proto: str
    wire_family: int
    server: IPAddress | None
    port: int
    outcome: str
    direction: str


@dataclass
class GroupVerdict:
    flow_class: str
    listener: int
    reason: str


@dataclass(frozen=True)
class HostEpochs:
    """A host's epochs: timed ones in time order, and the merged timeless one (or -1)."""

    times: np.ndarray
    timed: np.ndarray
    timeless: int


def _add_epochs(correlator: Correlator, hosts: Sequence[Host]) -> list[HostEpochs]:
    out: list[HostEpochs] = []
    for host_index, host in enumerate(hosts):
        timeless = correlator.add_epoch(host_index, host.timeless) if host.timeless else -1
        timed = [correlator.add_epoch(host_index, [index]) for _, index in host.timed]
        out.append(HostEpochs(np.array([moment for moment, _ in host.timed], dtype=np.int64),
                              np.array([*timed, timeless], dtype=np.int64), timeless))
    return out


def epoch_per_flow(correlator: Correlator, epochs: Sequence[HostEpochs],
                    host_of: np.ndarray, first_ns: np.ndarray) -> np.ndarray:
    """Per flow, the epoch valid at its start: the last snapshot at or before
    first_ts + tolerance, else the timeless one, else -1."""
    epoch_of = np.full(len(first_ns), _NO_SNAPSHOT, dtype=np.int64)
    for host_index, host in enumerate(epochs):
        rows = np.flatnonzero(host_of == host_index)
        if not len(rows):
            continue
        position = np.searchsorted(host.times, first_ns[rows] + correlator.tolerance_ns,
                                   side="right") - 1
        epoch_of[rows] = host.timed[position]  # position -1 picks the timeless entry
    return epoch_of


def _outcome_kind(outcome: str) -> str:
    if outcome in DELIVERED:
        return "delivered"
    if outcome in REFUSED:
        return "refused"
    if outcome in UNANSWERED:
        return "unanswered"
    return "other"


def flow_ids(ids: np.ndarray | None, rows: list[int]) -> list[int]:
    """The ids of a share's flows at `rows` (``ids[row]``; None: the rows themselves)."""
    return rows if ids is None else ids[rows].tolist()


@dataclass
class ListenerFlows:
    """The flows (ids) a share of the flows gives one listener."""

    ipv4_accepted: list[int] = field(default_factory=list)
    ipv6_accepted: list[int] = field(default_factory=list)
    ipv4_refused: list[int] = field(default_factory=list)
    ipv6_refused: list[int] = field(default_factory=list)


class FlowJudge:
    """Evidence and classes for groups of flows (rows of one share of the flows, whose
    ids are ``ids[row]``, or the rows themselves when `ids` is None)."""

    def __init__(self, correlator: Correlator, groups: dict[Group, list[int]],
                 ids: np.ndarray | None = None) -> None:
        self.c = correlator
        self.groups = groups
        self.ids = ids
        self.evidence = [Evidence() for _ in correlator.listeners]
        self.taken = [ListenerFlows() for _ in correlator.listeners]

    def _ids(self, rows: list[int]) -> list[int]:
        return flow_ids(self.ids, rows)

    def _order(self, group: Group) -> list[int]:
        epoch = self.c.epochs[group.epoch]
        if group.server is None:
            return []
        return candidates(group.proto, group.wire_family, group.server, group.port,
                          epoch.sockets)

    def gather_evidence(self) -> None:
        """First pass: what IPv4 flows say about sockets the snapshot cannot tell."""
        for group, rows in self.groups.items():
            if group.epoch < 0 or group.wire_family != 4 or group.direction != "inbound":
                continue
            epoch = self.c.epochs[group.epoch]
            order = self._order(group)
            known = self.c.states(epoch, priors=False)
            if group.outcome == "delivered":
                self._evidence_accepted(epoch, order, known, rows)
            elif group.outcome == "refused":
                self._evidence_refused(epoch, order, known, rows)

    def _evidence_accepted(self, epoch: Epoch, order: list[int],
                           known: dict[int, bool | None], rows: list[int]) -> None:
        taker = first_taker(4, order, known)
        if taker.index is None:
            for position in taker.skipped:
                self.evidence[epoch.listeners[position]].accepted_against.extend(
                    self._ids(rows))
            return
        # SO_REUSEPORT siblings (same family, address and port) share the evidence
        first = epoch.sockets[taker.index]
        siblings = [position for position in order
                    if (epoch.sockets[position].family, epoch.sockets[position].local_address)
                    == (first.family, first.local_address)]
        later = [position for position in order[order.index(taker.index) + 1:]
                 if position not in siblings]
        if taker.assumed and all(known.get(position) is False for position in later):
            for position in siblings:
                if known.get(position) is None:
                    self.evidence[epoch.listeners[position]].accepted.extend(self._ids(rows))

    def _evidence_refused(self, epoch: Epoch, order: list[int],
                          known: dict[int, bool | None], rows: list[int]) -> None:
        for position in order:
            listener = epoch.listeners[position]
            if known.get(position) is None:
                self.evidence[listener].refused.extend(self._ids(rows))
            elif known[position] is True:
                self.evidence[listener].refused_against.extend(self._ids(rows))
                return

    def judge(self, group: Group, rows: list[int]) -> GroupVerdict:
        """Second pass: the class, listener and reason of a group of flows."""
        if group.direction == "outbound":
            return GroupVerdict(*self._outbound(group))
        if group.epoch < 0:
            return self._without_snapshot(group)
        epoch = self.c.epochs[group.epoch]
        order = self._order(group)
        states = self.c.states(epoch, priors=True)
        taker = first_taker(group.wire_family, order, states)
        if group.outcome == "delivered":
            return self._delivered(group, epoch, taker.index, rows)
        return self._not_delivered(group, epoch, taker.index)

    def _outbound(self, group: Group) -> tuple[str, int, str]:
        if group.outcome in ("refused", "unanswered"):
            return group.outcome, -1, f"outgoing connection from this host, {group.outcome}"
        return ("unmatched", -1,
                "outgoing connection from a snapshot host: no listener is involved "
                "(see connections for the socket that made it)")

    def _without_snapshot(self, group: Group) -> GroupVerdict:
        why = ("no snapshot of its host was valid when it started"
               if group.direction == "inbound" else
               "its server is not an address of any snapshot host")
        if group.outcome in ("refused", "unanswered"):
            return GroupVerdict(group.outcome, -1, f"{group.outcome} on the wire; {why}")
        return GroupVerdict("unmatched", -1, f"answered, but {why}")

    def _describe(self, listener: ListenerVerdict) -> str:
        knowledge = listener.knowledge
        source = f"known from {knowledge.known_from}" if knowledge.known_from else "unknown"
        return f"{listener.label} ({listener.owner}); {knowledge.reason} ({source})"

    def _delivered(self, group: Group, epoch: Epoch, position: int | None,
                   rows: list[int]) -> GroupVerdict:
        family_text = f"IPv{group.wire_family}"
        if position is None:
            return GroupVerdict(
                "unmatched", -1,
                f"{family_text} answered on {group.proto}/{group.port}, but no listener of "
                "the snapshot can take it")
        listener = self.c.listeners[epoch.listeners[position]]
        taken = self.taken[listener.id]
        target = taken.ipv4_accepted if group.wire_family == 4 else taken.ipv6_accepted
        target.extend(self._ids(rows))
        if group.wire_family == 6:
            flow_class = "v6-native"
        else:
            flow_class = "v4-via-v6" if listener.family == 6 else "v4-native"
        return GroupVerdict(flow_class, listener.id,
                            f"{family_text} taken by {self._describe(listener)}")

    def _not_delivered(self, group: Group, epoch: Epoch,
                       position: int | None) -> GroupVerdict:
        family_text = f"IPv{group.wire_family}"
        on_port = [self.c.listeners[item] for item, sock in
                   zip(epoch.listeners, epoch.sockets, strict=True)
                   if sock.proto == group.proto and sock.local_port == group.port]
        if group.outcome == "refused":
            for listener in on_port:
                taken = self.taken[listener.id]
                (taken.ipv4_refused if group.wire_family == 4
                 else taken.ipv6_refused).extend(self._ids(self.groups[group]))
        outcome = group.outcome if group.outcome != "other" else "unmatched"
        if position is not None:
            listener = self.c.listeners[epoch.listeners[position]]
            return GroupVerdict(
                outcome, listener.id,
                f"{family_text} {group.outcome}, although the model gives it to "
                f"{self._describe(listener)}")
        if not on_port:
            return GroupVerdict(outcome, -1,
                                f"{family_text} {group.outcome}: no socket listens on "
                                f"{group.proto}/{group.port}")
        blocked = "; ".join(self._describe(item) for item in on_port)
        return GroupVerdict(outcome, -1,
                            f"{family_text} {group.outcome}: no socket on "
                            f"{group.proto}/{group.port} takes {family_text}: {blocked}")


def _connected_sockets(correlator: Correlator) -> list[tuple[int, Socket]]:
    return [(index, sock) for index, snapshot in enumerate(correlator.snapshots)
            for sock in snapshot.sockets
            if not sock.is_listener and sock.remote_address is not None
            and sock.remote_port is not None]


class FlowIndex:
    """Flows by (proto, server, server port, client, client port), for flows touching
    given ports: byte keys sorted by their hash, searched per connected socket."""

    def __init__(self, columns: Mapping[str, np.ndarray], ports: set[int]) -> None:
        cport, sport = flow_column(columns, "client_port"), flow_column(columns, "server_port")
        port_list = np.fromiter(ports, dtype=np.int64, count=len(ports))
        rows = np.flatnonzero(np.isin(sport, port_list) | np.isin(cport, port_list))
        self.protos, proto = factorize(flow_column(columns, "proto")[rows])
        keys = _flow_keys(proto, address_rows(columns, "server")[rows], sport[rows],
                          address_rows(columns, "client")[rows], cport[rows])
        hashes = row_hash(keys)
        order = np.argsort(hashes, kind="stable")
        self.hashes, self.keys, self.rows = hashes[order], as_keys(keys[order]), rows[order]

    def get(self, proto: str, server: IPAddress | None, server_port: int | None,
            client: IPAddress | None, client_port: int | None) -> list[int]:
        """The flows of one 5-tuple, in flow order."""
        if (proto not in self.protos or server is None or client is None
                or server_port is None or client_port is None):
            return []
        wanted = _flow_keys(np.array([self.protos.index(proto)]),
                            np.frombuffer(packed(server), dtype=np.uint8)[None, :],
                            np.array([server_port]),
                            np.frombuffer(packed(client), dtype=np.uint8)[None, :],
                            np.array([client_port]))
        hashed = row_hash(wanted)[0]
        low, high = (np.searchsorted(self.hashes, hashed, side="left"),
                     np.searchsorted(self.hashes, hashed, side="right"))
        same = self.keys[low:high] == as_keys(wanted)[0]
        return self.rows[low:high][same].tolist()


def _flow_keys(proto: np.ndarray, server: np.ndarray, server_port: np.ndarray,
               client: np.ndarray, client_port: np.ndarray) -> np.ndarray:
    """(n, 37) uint8 per flow: proto code, server, server port, client, client port."""
    def port_bytes(ports: np.ndarray) -> np.ndarray:
        return np.asarray(ports, dtype=">u2").reshape(-1, 1).view(np.uint8)
    return np.concatenate([
        np.asarray(proto, dtype=np.uint8).reshape(-1, 1), server, port_bytes(server_port),
        client, port_bytes(client_port)], axis=1)


def connection_rows(correlator: Correlator, columns: Mapping[str, np.ndarray]
                    ) -> list[tuple[int, ConnectionMatch]]:
    """Connected sockets of the snapshots, matched to the flows (rows) alive at that time;
    each with its place among the snapshots' connected sockets."""
    connected = _connected_sockets(correlator)
    if not connected:
        return []
    ports = {port for _, sock in connected for port in (sock.local_port, sock.remote_port)
             if port is not None}
    index = FlowIndex(columns, ports)
    first, last = flow_column(columns, "first_ts_ns"), flow_column(columns, "last_ts_ns")
    matches: list[tuple[int, ConnectionMatch]] = []
    for place, (snap_index, sock) in enumerate(connected):
        moment = correlator.snapshots[snap_index].taken_at_ns()
        match = _match_connection(correlator, snap_index, sock, index, moment, first, last)
        if match.flows or sock.mapped_peer:
            matches.append((place, match))
    return matches


def _match_connection(correlator: Correlator, snap_index: int, sock: Socket,
                      index: FlowIndex, moment: int | None,
                      first: np.ndarray, last: np.ndarray) -> ConnectionMatch:
    local, remote = normalize(sock.local_address), normalize(sock.remote_address or "")
    inbound = index.get(sock.proto, local, sock.local_port, remote, sock.remote_port)
    outbound = index.get(sock.proto, remote, sock.remote_port, local, sock.local_port)
    tolerance = correlator.tolerance_ns
    alive = [row for row in inbound + outbound if moment is None or
             first[row] - tolerance <= moment <= last[row] + tolerance]
    direction = "outbound" if outbound and not inbound else "inbound"
    listener = next((item.id for item in correlator.listeners
                     if snap_index in item.snapshots and item.proto == sock.proto
                     and item.local_port == sock.local_port), None)
    if listener is None and not inbound:
        direction = "outbound"
    label = socket_label(sock.proto, sock.family, sock.local_address, sock.local_port)
    owner = f" ({sock.process})" if sock.process else ""
    if sock.mapped_peer:
        what = (f"{label}{owner} is an AF_INET6 socket with the IPv4 peer "
                f"{normalize(sock.remote_address or '')}: an IPv4 connection carried by an "
                "IPv6 socket (IPv4-mapped, RFC 3493 §3.7)")
        if direction == "inbound" and listener is not None:
            what += f", accepted by {correlator.listeners[listener].label}"
        elif direction == "outbound":
            what += ", made by this host"
    else:
        what = f"{label}{owner}: IPv{4 if sock.family == 4 else 6} connection"
    return ConnectionMatch(snap_index, sock.to_dict(), direction,
                           listener if direction == "inbound" else None, alive, what)


def _count(number: int, what: str, noun: str = "connection") -> str:
    return f"{number} {what} {noun}{'' if number == 1 else 's'}"


def finding(listener: ListenerVerdict) -> str:
    """One line per listener: what it is, whether it takes IPv4, and how we know."""
    head = f"{listener.label} ({listener.process or 'unknown process'})"
    noun = "connection" if listener.proto == "tcp" else "flow"
    k = listener.knowledge
    v4, v6 = len(listener.ipv4_accepted), len(listener.ipv6_accepted)
    r4, r6 = len(listener.ipv4_refused), len(listener.ipv6_refused)
    v6_part = f"; {_count(v6, 'IPv6', noun)} accepted" if v6 else ""
    r6_part = f"; {_count(r6, 'IPv6', noun)} refused on its port" if r6 else ""
    tail = "".join([v6_part, f"; {_count(r4, 'IPv4', noun)} refused on its port" if r4 else "",
                    r6_part])
    tool = listener.source_tool
    if listener.family == 4:
        return f"{head}: AF_INET, IPv4 only; {_count(v4, 'IPv4', noun)} accepted{tail}"
    if k.rule == "capture-accepted":
        return (f"{head}: {tool} cannot show v6only; {_count(v4, 'IPv4', noun)} accepted, so IPv4 "
                f"is served through this IPv6 socket{tail}")
    if k.rule == "capture-refused":
        return (f"{head}: {tool} cannot show v6only; {_count(r4, 'IPv4', noun)} refused while it "
                f"listened, so this IPv6 socket is v6-only{v6_part}{r6_part}")
    if k.rule == "established-ipv4-peer":
        seen = (f" and {_count(v4, 'IPv4', noun)} accepted in the capture show" if v4
                else " shows")
        return (f"{head}: {tool} cannot show v6only, but its tcp6 row with an IPv4 peer{seen} "
                f"that IPv4 is served through this IPv6 socket{tail}")
    if k.accepts_ipv4 is True:
        served = (f"{_count(v4, 'IPv4', noun)} accepted: IPv4 is served through this IPv6 socket"
                  if v4 else "takes IPv4 too (none seen)")
        return f"{head}: {k.reason}; {served}{tail}"
    if k.accepts_ipv4 is False:
        return f"{head}: {k.reason}; IPv6 only{tail}"
    return f"{head}: whether it takes IPv4 is unknown ({k.reason}){tail}"


def judge_groups(judge: FlowJudge, group_of_row: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per flow: class, listener id (-1: none) and reason, judged once per group (each
    flow's group: its number in `judge.groups`' order, `group_flows`)."""
    verdicts = [judge.judge(group, rows) for group, rows in judge.groups.items()]
    classes = np.empty(len(verdicts), dtype=object)
    reasons = np.empty(len(verdicts), dtype=object)
    classes[:] = [verdict.flow_class for verdict in verdicts]
    reasons[:] = [verdict.reason for verdict in verdicts]
    listeners = np.array([verdict.listener for verdict in verdicts], dtype=np.int64)
    return classes[group_of_row], listeners[group_of_row], reasons[group_of_row]


def note_guessed_clients(columns: Mapping[str, np.ndarray], flow_reason: np.ndarray) -> None:
    """A midstream flow whose client was only guessed from the ports says so."""
    if "client_guessed" not in columns:
        return
    for row in np.flatnonzero(np.asarray(columns["client_guessed"])).tolist():
        flow_reason[row] = f"{flow_reason[row]}{GUESSED_CLIENT_NOTE}"


def classify_by_connection_rows(connections: Sequence[ConnectionMatch],
                                 columns: Mapping[str, np.ndarray], flow_class: np.ndarray,
                                 flow_reason: np.ndarray) -> None:
    """A flow no listener explains, yet whose very connection a snapshot row shows, is
    classed by that row's socket family (seed 001: tcp6 rows with IPv4 peers)."""
    wire = flow_column(columns, "wire_family")
    for match in connections:
        for row in match.flows:
            if flow_class[row] != "unmatched":
                continue
            family = match.socket["family"]
            flow_class[row] = ("v6-native" if wire[row] == 6 else
                               "v4-via-v6" if family == 6 else "v4-native")
            flow_reason[row] = (f"no listener in the snapshot explains it, but the snapshot "
                                f"shows this very connection ({match.direction}): "
                                f"{match.explanation}")


def _unique_rows(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, axis=0) for small non-negative ints, via one mixed-radix int64."""
    radices = keys.max(axis=0) + 1
    if float(np.prod(radices.astype(np.float64))) >= 2.0**62:
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        return unique, inverse.reshape(-1)
    weights = np.concatenate([np.cumprod(radices[::-1])[::-1][1:], [1]]).astype(np.int64)
    numbers = np.ascontiguousarray(keys @ weights, dtype=np.int64)
    # np.unique(numbers) without sorting every row: number the distinct values by a hash
    # table (first seen), then sort only those.
    first, seen_code = first_seen(numbers)
    distinct = numbers[first]
    order = np.argsort(distinct)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    unique = (distinct[order][:, None] // weights) % radices
    return unique, rank[seen_code]


def group_flows(columns: Mapping[str, np.ndarray], server_rows: np.ndarray,
                epoch_of: np.ndarray, inbound: np.ndarray,
                client_is_host: np.ndarray) -> tuple[dict[Group, list[int]], np.ndarray]:
    """Flows grouped by what the model sees of them (sorting, not a Python loop per flow),
    and each flow's group (its number in the dict's order). Servers are told apart by
    wire family and address bytes, as their texts are."""
    n = len(epoch_of)
    if n == 0:
        return {}, np.empty(0, dtype=np.int64)
    protos, proto = factorize(flow_column(columns, "proto"))
    wire = flow_column(columns, "wire_family").astype(np.int64)
    server_keys, server = unique_rows(
        np.concatenate([wire.astype(np.uint8).reshape(-1, 1), server_rows], axis=1))
    servers = [unpacked(row[1:].tobytes()) for row in server_keys]
    outcomes, outcome = factorize(flow_column(columns, "outcome"))
    direction = np.where(inbound, 0, np.where(client_is_host, 1, 2))
    keys = np.stack([epoch_of + 1, proto, wire, server,
                     flow_column(columns, "server_port").astype(np.int64), outcome,
                     direction], axis=1).astype(np.int64)
    unique, inverse = _unique_rows(keys)
    # Stable argsort of codes that fit 16 bits is numpy's radix sort (linear).
    small = np.int16 if len(unique) < 2**15 else np.int64
    order = np.argsort(inverse.astype(small), kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(unique) + 1))
    names = ("inbound", "outbound", "foreign")
    groups: dict[Group, list[int]] = {}
    group_of_key = np.empty(len(unique), dtype=np.int64)
    numbers: dict[Group, int] = {}
    for number, key in enumerate(unique.tolist()):
        group = Group(key[0] - 1, protos[key[1]], key[2], servers[key[3]], key[4],
                      _outcome_kind(outcomes[key[5]]), names[key[6]])
        group_of_key[number] = numbers.setdefault(group, len(numbers))
        groups.setdefault(group, []).extend(
            order[bounds[number]:bounds[number + 1]].tolist())
    return groups, group_of_key[inverse]


def resolve_listeners(correlator: Correlator, evidence: Sequence[Evidence]) -> None:
    """Each listener's knowledge, now that all the flows' evidence is in."""
    for listener, found in zip(correlator.listeners, evidence, strict=True):
        resolution = resolve(listener.knowledge, found)
        listener.knowledge = resolution.knowledge
        listener.contradictions.extend(resolution.contradictions)


def snapshot_info(index: int, snapshot: Snapshot) -> dict[str, Any]:
    return {
        "index": index,
        "host": snapshot.host,
        "os": snapshot.os,
        "taken_at": snapshot.taken_at,
        "sources": dict(snapshot.sources),
        "listeners": len(snapshot.listeners()),
        "sockets": len(snapshot.sockets),
    }
