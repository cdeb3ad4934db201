"""The listener snapshot: one host's sockets at one moment (schema version 1).

A snapshot is one JSON object; several snapshots of a host over time form a time
series, one object per line (JSON Lines). `Snapshot.to_dict()` writes it,
`Snapshot.from_dict()` reads and validates it; `analyzer.snapshot.store` adds files.
The JSON Schema is `analyzer/snapshot/snapshot.schema.json`; the text below is the
reference.

Snapshot keys
-------------
``schema_version``  int, always `SCHEMA_VERSION` (1).
``host``            host name, or null when the source does not say.
``os``              one of `OS_NAMES` (linux, macos, freebsd, openbsd, netbsd, windows)
                    or null when unknown.
``taken_at``        UTC time, ISO-8601 with a ``Z`` (``2026-11-21T23:56:39.123456Z``, no
                    fraction when it is zero); null for imported text without a time.
``addresses``       ``{interface: [address, ...]}``, plain addresses without prefix
                    length (link-local ones without their zone: the key says it).
``defaults``        the OS defaults that decide an AF_INET6 socket's v6only when the
                    socket itself is not known: ``{"net.ipv6.bindv6only": 0|1|null}`` on
                    Linux, ``{"net.inet6.ip6.v6only": ...}`` on the BSDs. Values are
                    ints or null (unknown). A prior, never a per-socket fact.
``sources``         where each field came from, e.g. ``{"sockets": "sock_diag",
                    "v6only": "INET_DIAG_SKV6ONLY", "processes": "/proc/*/fd"}`` or
                    ``{"sockets": "netstat -tlnp text: file.txt"}``.
``sockets``         list of `Socket` objects (below).
``unseen``          list of strings: what the collector or importer could not see
                    (``"processes of other users: not root"``). Optional, default [].
``errors``          list of ``{"source": str, "line": int|null, "message": str}``: input
                    lines not understood (``--keep-going``). Optional, default [].
``lines``           for imported text: ``{"total", "socket", "header", "blank",
                    "skipped", "error"}`` line counts (total == the sum of the others),
                    else null.
``skipped``         for imported text: ``{reason: count}`` of lines recognised but not
                    sockets we model (unix sockets, raw sockets, other files in lsof).

Socket keys
-----------
``proto``           "tcp" or "udp".
``family``          4 or 6: the SOCKET's address family (AF_INET / AF_INET6), not the
                    family of the packets it carries.
``local_address``   text form without brackets: "0.0.0.0", "::", "192.0.2.1",
                    "2001:db8::1" (a zone goes to ``interface``). An AF_INET6 socket's
                    IPv4 addresses are stored IPv4-mapped, ``::ffff:a.b.c.d``: the
                    kernel's own form, also when the text (net-tools netstat, lsof)
                    printed plain IPv4 in a tcp6 row (`mapped_peer`/`evidence` then say
                    so). A mapped bind is therefore ``::ffff:a.b.c.d`` with family 6,
                    and it proves v6only=0 (Linux refuses such a bind on a v6only
                    socket), as does an IPv4-mapped peer.
``local_port``      int, or null when the text shows ``*`` (an unbound socket).
``remote_address``  the peer address, or null for none (a listener, an unconnected UDP
                    socket: ``*``, ``0.0.0.0``, ``::`` in the text).
``remote_port``     the peer port, or null for none.
``state``           Linux names: ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2
                    TIME_WAIT CLOSE CLOSE_WAIT LAST_ACK LISTEN CLOSING NEW_SYN_RECV, and
                    UNCONN for a UDP socket without a peer (as `ss` prints it; the
                    kernel's TCP_CLOSE). A UDP socket with a peer is ESTABLISHED.
                    Other OSes' spellings are mapped onto these (Windows LISTENING ->
                    LISTEN, BSD FIN_WAIT_1 -> FIN_WAIT1, SYN_RCVD -> SYN_RECV).
``v6only``          true/false for an AF_INET6 socket when the source proves it
                    (sock_diag INET_DIAG_SKV6ONLY, ``ss -e`` v6only:N, ss 4.14+ ``*`` vs
                    ``[::]``, BSD tcp46/tcp6, a mapped bind); null when the source cannot
                    tell. Always null for family 4. Linux sets the flag itself when an
                    AF_INET6 socket binds a specific non-mapped address (inet6_bind), so
                    sock_diag reports true there (the tests saw it).
``pid``             owning process id or null.
``process``         owning process name or null.
``user``            owning user (name, or the numeric uid as text) or null.
``uid``             numeric uid or null (optional).
``inode``           socket inode or null (optional).
``interface``       the interface the socket is bound to (SO_BINDTODEVICE, ss's
                    ``%eth0``) or the zone of a link-local address; null if none
                    (optional). Addresses never carry the zone themselves.
``evidence``        short text of how family and v6only were known, e.g.
                    ``ss printed "*:80"``, ``netstat tcp6 row cannot show v6only``.
``line``            the source line number for imported text, null for collected.
``mapped_peer``     true when an AF_INET6 socket has an IPv4(-mapped) peer: an IPv4
                    connection carried by an IPv6 socket. Derived from the addresses;
                    written for readers, recomputed on load.

A listener (`Snapshot.listeners()`) is a TCP socket in LISTEN or a UDP socket in
UNCONN with a local port.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from analyzer.errors import SnapshotError

SCHEMA_VERSION = 1

OS_NAMES: tuple[str, ...] = ("linux", "macos", "freebsd", "openbsd", "netbsd", "windows")
PROTOS: tuple[str, ...] = ("tcp", "udp")
FAMILIES: tuple[int, ...] = (4, 6)
STATES: tuple[str, ...] = (
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
    "UNCONN",
)
# Documented OS defaults for AF_INET6 sockets (../shared/DOMAIN.md): (setting, value),
# 1 meaning v6-only. A prior for sockets whose own flag is unknown, never a fact.
DOCUMENTED_V6ONLY: dict[str, tuple[str, int]] = {
    "linux": ("net.ipv6.bindv6only", 0),
    "macos": ("net.inet6.ip6.v6only", 0),
    "freebsd": ("net.inet6.ip6.v6only", 1),
    "netbsd": ("net.inet6.ip6.v6only", 1),
    "openbsd": ("net.inet6.ip6.v6only", 1),
    "windows": ("IPV6_V6ONLY default", 1),
}
LINE_KINDS: tuple[str, ...] = ("total", "socket", "header", "blank", "skipped", "error")


@dataclass(frozen=True)
class Socket:
    """One TCP or UDP socket; see the module docstring for each key's meaning."""

    proto: str
    family: int
    local_address: str
    local_port: int | None
    remote_address: str | None = None
    remote_port: int | None = None
    state: str = "LISTEN"
    v6only: bool | None = None
    pid: int | None = None
    process: str | None = None
    user: str | None = None
    uid: int | None = None
    inode: int | None = None
    interface: str | None = None
    evidence: str = ""
    line: int | None = None

    @property
    def mapped_peer(self) -> bool:
        """An AF_INET6 socket whose peer is IPv4: IPv4 traffic on an IPv6 socket."""
        return self.family == 6 and is_ipv4_mapped(self.remote_address)

    @property
    def is_listener(self) -> bool:
        """TCP LISTEN or unconnected UDP with a local port."""
        if self.local_port is None or self.local_port == 0:
            return False
        return (self.proto, self.state) in (("tcp", "LISTEN"), ("udp", "UNCONN"))

    @property
    def is_wildcard(self) -> bool:
        """Bound to 0.0.0.0 or :: (every local address of its family)."""
        return self.local_address in ("0.0.0.0", "::")

    def local_ipv4(self) -> str | None:
        """The IPv4 address this socket is bound to: plain, or unwrapped from ::ffff:."""
        return ipv4_of(self.local_address)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this socket (key order as in the schema)."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _SOCKET_KEYS}
        out["mapped_peer"] = self.mapped_peer
        return out

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>", line: int | None = None,
                  where: str = "socket") -> Socket:
        """Validate one socket object; SnapshotError names source, line and key."""
        check = _Checker(source, line, where)
        obj = check.mapping(data, "")
        check.known_keys(obj, (*_SOCKET_KEYS, "mapped_peer"))
        family = check.choice(obj, "family", FAMILIES)
        sock = cls(
            proto=check.choice(obj, "proto", PROTOS),
            family=family,
            local_address=check.address(obj, "local_address", family, required=True),
            local_port=check.port(obj, "local_port"),
            remote_address=check.address(obj, "remote_address", family, required=False),
            remote_port=check.port(obj, "remote_port"),
            state=check.choice(obj, "state", STATES),
            v6only=check.optional(obj, "v6only", bool),
            pid=check.optional_int(obj, "pid"),
            process=check.optional(obj, "process", str),
            user=check.optional(obj, "user", str),
            uid=check.optional_int(obj, "uid"),
            inode=check.optional_int(obj, "inode"),
            interface=check.optional(obj, "interface", str),
            evidence=check.optional(obj, "evidence", str) or "",
            line=check.optional_int(obj, "line"),
        )
        if sock.family == 4 and sock.v6only is not None:
            check.fail("v6only", "must be null for a family 4 socket")
        return sock


_SOCKET_KEYS: tuple[str, ...] = (
    "proto", "family", "local_address", "local_port", "remote_address", "remote_port",
    "state", "v6only", "pid", "process", "user", "uid", "inode", "interface", "evidence",
    "line",
)


@dataclass(frozen=True)
class InputIssue:
    """A line of imported text that was not understood."""

    source: str
    line: int | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class Snapshot:
    """One host's sockets at one moment; see the module docstring for each key."""

    host: str | None = None
    os: str | None = None
    taken_at: str | None = None
    addresses: dict[str, list[str]] = field(default_factory=dict)
    defaults: dict[str, int | None] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    sockets: list[Socket] = field(default_factory=list)
    unseen: list[str] = field(default_factory=list)
    errors: list[InputIssue] = field(default_factory=list)
    lines: dict[str, int] | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.taken_at is not None:  # one spelling, so equal moments compare equal
            object.__setattr__(self, "taken_at", parse_utc(self.taken_at))

    def listeners(self) -> list[Socket]:
        """The listening sockets: TCP LISTEN and unconnected, bound UDP."""
        return [sock for sock in self.sockets if sock.is_listener]

    def taken_at_ns(self) -> int | None:
        """`taken_at` as integer nanoseconds since the epoch (UTC), or None."""
        if self.taken_at is None:
            return None
        moment = datetime.fromisoformat(self.taken_at.replace("Z", "+00:00"))
        seconds = int(moment.replace(microsecond=0).timestamp())
        return seconds * 1_000_000_000 + moment.microsecond * 1000

    def with_sockets(self, sockets: list[Socket]) -> Snapshot:
        return replace(self, sockets=sockets)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of this snapshot."""
        return {
            "schema_version": SCHEMA_VERSION,
            "host": self.host,
            "os": self.os,
            "taken_at": self.taken_at,
            "addresses": {iface: list(addrs) for iface, addrs in self.addresses.items()},
            "defaults": dict(self.defaults),
            "sources": dict(self.sources),
            "sockets": [sock.to_dict() for sock in self.sockets],
            "unseen": list(self.unseen),
            "errors": [issue.to_dict() for issue in self.errors],
            "lines": dict(self.lines) if self.lines is not None else None,
            "skipped": dict(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>", line: int | None = None,
                  socket_lines: list[int] | None = None) -> Snapshot:
        """Validate a snapshot object; SnapshotError names source, line and key.

        `socket_lines[i]`, when given, is the line where sockets[i] starts in `source`.
        """
        check = _Checker(source, line, "snapshot")
        obj = check.mapping(data, "")
        check.known_keys(obj, _SNAPSHOT_KEYS)
        version = obj.get("schema_version")
        if version != SCHEMA_VERSION:
            check.fail("schema_version", f"is {version!r}, this program reads {SCHEMA_VERSION}")
        raw_sockets = check.list_of(obj, "sockets", object)
        sockets = [
            Socket.from_dict(
                item, source,
                socket_lines[index] if socket_lines and index < len(socket_lines) else line,
                f"sockets[{index}]",
            )
            for index, item in enumerate(raw_sockets)
        ]
        return cls(
            host=check.optional(obj, "host", str),
            os=check.optional_choice(obj, "os", OS_NAMES),
            taken_at=check.timestamp(obj, "taken_at"),
            addresses=check.addresses(obj, "addresses"),
            defaults=check.defaults(obj, "defaults"),
            sources=check.str_map(obj, "sources"),
            sockets=sockets,
            unseen=check.list_of(obj, "unseen", str),
            errors=check.issues(obj, "errors"),
            lines=check.line_counts(obj, "lines"),
            skipped=check.count_map(obj, "skipped"),
        )


_SNAPSHOT_KEYS: tuple[str, ...] = (
    "schema_version", "host", "os", "taken_at", "addresses", "defaults", "sources",
    "sockets", "unseen", "errors", "lines", "skipped",
)


def is_ipv4_mapped(address: str | None) -> bool:
    """True for an IPv4-mapped IPv6 address text (::ffff:a.b.c.d)."""
    if address is None or ":" not in address:
        return False
    try:
        return ipaddress.IPv6Address(address).ipv4_mapped is not None
    except ValueError:
        return False


def ipv4_of(address: str | None) -> str | None:
    """The IPv4 address in `address` (plain or ::ffff:-mapped), else None."""
    if address is None:
        return None
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv4Address):
        return str(parsed)
    mapped = parsed.ipv4_mapped
    return str(mapped) if mapped is not None else None


def canonical_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Address text as the schema writes it: compressed, no zone, mapped as ::ffff:a.b.c.d."""
    parsed = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(parsed, ipaddress.IPv6Address):
        mapped = parsed.ipv4_mapped
        if mapped is not None:
            return f"::ffff:{mapped}"
        return str(parsed).split("%")[0]
    return str(parsed)


def utc_now() -> str:
    """The current time in the snapshot's `taken_at` form."""
    return format_utc(datetime.now(timezone.utc))


def format_utc(moment: datetime) -> str:
    """A datetime as ISO-8601 UTC with a Z (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    text = moment.astimezone(timezone.utc).isoformat()
    return text.replace("+00:00", "Z")


def parse_utc(text: str) -> str:
    """Normalise an ISO-8601 time with an explicit offset or Z to `taken_at` form."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (add Z or +00:00)")
    return format_utc(moment)


class _Checker:
    """Field checks that raise SnapshotError naming source, line and the key path."""

    def __init__(self, source: str, line: int | None, where: str) -> None:
        self.source = source
        self.line = line
        self.where = where

    def fail(self, key: str, message: str) -> None:
        path = f"{self.where}.{key}" if key else self.where
        raise SnapshotError(self.source, self.line, f"{path}: {message}")

    def mapping(self, data: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(data, Mapping):
            self.fail(key, f"expected an object, got {type(data).__name__}")
        return data

    def known_keys(self, obj: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(obj) - set(allowed))
        if unknown:
            self.fail(unknown[0], "unknown key")

    def optional(self, obj: Mapping[str, Any], key: str, kind: type) -> Any:
        value = obj.get(key)
        if value is not None and (not isinstance(value, kind) or
                                  (kind is not bool and isinstance(value, bool))):
            self.fail(key, f"expected {kind.__name__} or null, got {value!r}")
        return value

    def optional_int(self, obj: Mapping[str, Any], key: str) -> int | None:
        value = self.optional(obj, key, int)
        if value is not None and value < 0:
            self.fail(key, f"must not be negative, got {value}")
        return value

    def choice(self, obj: Mapping[str, Any], key: str, allowed: tuple[Any, ...]) -> Any:
        if key not in obj:
            self.fail(key, "missing")
        value = obj[key]
        if isinstance(value, bool) or value not in allowed:
            self.fail(key, f"{value!r} is not one of {', '.join(map(str, allowed))}")
        return value

    def optional_choice(self, obj: Mapping[str, Any], key: str,
                        allowed: tuple[str, ...]) -> str | None:
        return None if obj.get(key) is None else self.choice(obj, key, allowed)

    def port(self, obj: Mapping[str, Any], key: str) -> int | None:
        value = self.optional_int(obj, key)
        if value is not None and value > 65535:
            self.fail(key, f"port {value} is over 65535")
        return value

    def address(self, obj: Mapping[str, Any], key: str, family: int, required: bool) -> Any:
        value = self.optional(obj, key, str)
        if value is None:
            if required:
                self.fail(key, "missing")
            return None
        try:
            parsed = ipaddress.ip_address(value)
        except ValueError:
            self.fail(key, f"{value!r} is not an IP address")
        if parsed.version != family:
            self.fail(key, f"{value!r} is IPv{parsed.version} but the socket's family is "
                           f"{family} (an AF_INET6 socket's IPv4 address is ::ffff:a.b.c.d)")
        return value

    def timestamp(self, obj: Mapping[str, Any], key: str) -> str | None:
        value = self.optional(obj, key, str)
        if value is None:
            return None
        try:
            return parse_utc(value)
        except ValueError as exc:
            self.fail(key, f"{value!r} is not an ISO-8601 UTC time: {exc}")
        return None

    def list_of(self, obj: Mapping[str, Any], key: str, kind: type) -> list[Any]:
        value = obj.get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"expected a list, got {type(value).__name__}")
        for index, item in enumerate(value):
            if not isinstance(item, kind):
                self.fail(f"{key}[{index}]", f"expected {kind.__name__}, got {item!r}")
        return list(value)

    def str_map(self, obj: Mapping[str, Any], key: str) -> dict[str, str]:
        return self._map_of(obj, key, lambda text: isinstance(text, str), "a string")

    def count_map(self, obj: Mapping[str, Any], key: str) -> dict[str, int]:
        return self._map_of(obj, key, lambda count: not isinstance(count, bool)
                            and isinstance(count, int) and count >= 0, "a count")

    def defaults(self, obj: Mapping[str, Any], key: str) -> dict[str, int | None]:
        return self._map_of(obj, key, lambda setting: setting is None or (
            not isinstance(setting, bool) and isinstance(setting, int)), "an int or null")

    def _map_of(self, obj: Mapping[str, Any], key: str, valid: Callable[[Any], bool],
                expected: str) -> dict[str, Any]:
        """The object at `key` (``{}`` when absent), each value checked by `valid`."""
        value = self.mapping(obj.get(key, {}), key)
        for name, item in value.items():
            if not valid(item):
                self.fail(f"{key}.{name}", f"expected {expected}, got {item!r}")
        return dict(value)

    def addresses(self, obj: Mapping[str, Any], key: str) -> dict[str, list[str]]:
        value = self.mapping(obj.get(key, {}), key)
        result: dict[str, list[str]] = {}
        for iface, addrs in value.items():
            result[iface] = self.list_of(value, iface, str)
            for addr in addrs:
                try:
                    ipaddress.ip_address(addr)
                except ValueError:
                    self.fail(f"{key}.{iface}", f"{addr!r} is not an IP address")
        return result

    def issues(self, obj: Mapping[str, Any], key: str) -> list[InputIssue]:
        issues = []
        for index, item in enumerate(self.list_of(obj, key, dict)):
            sub = _Checker(self.source, self.line, f"{self.where}.{key}[{index}]")
            sub.known_keys(item, ("source", "line", "message"))
            issues.append(InputIssue(
                source=sub.optional(item, "source", str) or "",
                line=sub.optional_int(item, "line"),
                message=sub.optional(item, "message", str) or "",
            ))
        return issues

    def line_counts(self, obj: Mapping[str, Any], key: str) -> dict[str, int] | None:
        if obj.get(key) is None:
            return None
        counts = self.count_map(obj, key)
        self.known_keys_of(counts, key, LINE_KINDS)
        parts = sum(counts.get(kind, 0) for kind in LINE_KINDS[1:])
        if counts.get("total", 0) != parts:
            self.fail(key, f"total {counts.get('total')} != sum of the kinds {parts}")
        return counts

    def known_keys_of(self, obj: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(obj) - set(allowed))
        if unknown:
            self.fail(f"{key}.{unknown[0]}", "unknown key")
