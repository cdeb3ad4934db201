"""Addresses and encapsulations on the wire worth naming, each with the flows showing it.

IPv4-mapped addresses (``::ffff:0:0/96``) must never appear in an IPv6 header
(RFC 6890; RFC 4291 §2.5.5.2): seen there they are an access-control bypass risk
(an IPv4 deny list does not cover ``::ffff:127.0.0.1`` reaching a tcp6 socket).
Transition addresses are named when seen: IPv4-compatible ``::a.b.c.d`` (deprecated,
RFC 4291 §2.5.5.1), NAT64 ``64:ff9b::/96`` (RFC 6052) and ``64:ff9b:1::/48``
(RFC 8215), 6to4 ``2002::/16`` (RFC 3056), Teredo ``2001::/32`` (RFC 4380), and
tunnels: 6in4 (IP protocol 41, RFC 4213), Teredo's UDP port 3544.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from analyzer.verdict.addresses import address_rows, prefix_mask, texts_at

# A test takes (n, 16) uint8 addresses and says per row whether it is of the kind.
AddressTest = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class AddressKind:
    """A class of IPv6 addresses worth naming on the wire."""

    kind: str
    description: str
    source: str
    test: AddressTest


def _in(network: str) -> AddressTest:
    return lambda rows: prefix_mask(rows, network)


def _ipv4_compatible(rows: np.ndarray) -> np.ndarray:
    """::a.b.c.d: the upper 96 bits zero, and not :: or ::1."""
    return (~rows[:, :12].any(axis=1)) & (rows[:, 12:15].any(axis=1) | (rows[:, 15] > 1))


ADDRESS_KINDS: Final[tuple[AddressKind, ...]] = (
    AddressKind("ipv4-mapped-on-wire",
                "IPv4-mapped address in an IPv6 header: never valid on the wire, and an "
                "IPv4 access list does not cover it when it reaches a tcp6 socket",
                "RFC 6890 (not valid as source or destination); RFC 4291 §2.5.5.2",
                _in("::ffff:0:0/96")),
    AddressKind("ipv4-compatible", "IPv4-compatible IPv6 address ::a.b.c.d (deprecated)",
                "RFC 4291 §2.5.5.1", _ipv4_compatible),
    AddressKind("nat64", "NAT64 well-known prefix 64:ff9b::/96: IPv4 reached through a "
                "translator", "RFC 6052", _in("64:ff9b::/96")),
    AddressKind("nat64-local", "NAT64 local-use prefix 64:ff9b:1::/48", "RFC 8215",
                _in("64:ff9b:1::/48")),
    AddressKind("6to4", "6to4 address 2002::/16 (IPv6 carried over IPv4)", "RFC 3056",
                _in("2002::/16")),
    AddressKind("teredo", "Teredo address 2001::/32 (IPv6 carried in UDP over IPv4)",
                "RFC 4380", _in("2001::/32")),
)
TUNNEL_KINDS: Final[dict[str, tuple[str, str]]] = {
    "6in4": ("IPv6 carried in IPv4 (IP protocol 41)", "RFC 4213"),
    "4in6": ("IPv4 carried in IPv6 (IP protocol 4 over IPv6)", "RFC 2473"),
    "6in6": ("IPv6 carried in IPv6", "RFC 2473"),
    "4in4": ("IPv4 carried in IPv4", "RFC 2003"),
}
# The packet batch contract's tunnel codes (analyzer.capture.columns.TUNNEL_NAMES).
_TUNNEL_CODES: Final[tuple[str, ...]] = ("", "6in4", "4in6", "4in4", "6in6")
TEREDO_PORT: Final[int] = 3544


@dataclass
class Anomaly:
    """One kind of anomaly and the flows (indexes) that show it."""

    kind: str
    description: str
    source: str
    flows: list[int] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "description": self.description,
            "source": self.source,
            "count": len(self.flows),
            "flows": list(self.flows),
            "addresses": list(self.addresses),
        }


def _address_anomalies(columns: Mapping[str, np.ndarray]) -> dict[str, Anomaly]:
    """Address kinds of IPv6 headers, tested as bytes on the flows with IPv6 on the wire
    (the address text is made only for the flows that show one)."""
    found: dict[str, Anomaly] = {}
    wire6 = np.flatnonzero(np.asarray(columns["wire_family"]) == 6)
    sides = {side: address_rows(columns, side)[wire6] for side in ("client", "server")}
    for spec in ADDRESS_KINDS:
        for side, rows in sides.items():
            hits = wire6[spec.test(rows)]
            if not len(hits):
                continue
            anomaly = found.setdefault(spec.kind,
                                       Anomaly(spec.kind, spec.description, spec.source))
            anomaly.flows.extend(hits.tolist())
            anomaly.addresses.extend(str(text) for text in texts_at(columns, side, hits))
    return found


def _tunnel_names(column: np.ndarray) -> np.ndarray:
    if column.dtype.kind in "iu":
        codes = np.clip(column.astype(np.int64), 0, len(_TUNNEL_CODES) - 1)
        return np.asarray(_TUNNEL_CODES, dtype=object)[codes]
    return column.astype(object)


def _tunnel_anomalies(columns: Mapping[str, np.ndarray]) -> dict[str, Anomaly]:
    found: dict[str, Anomaly] = {}
    if "tunnel" in columns:
        names = _tunnel_names(np.asarray(columns["tunnel"]))
        for name in sorted({str(item) for item in names.tolist() if item}):
            description, source = TUNNEL_KINDS.get(name, (f"{name} tunnel", ""))
            rows = np.flatnonzero(names == name).tolist()
            found[name] = Anomaly(name, description, source, rows)
    if "proto" in columns:
        udp = np.asarray(columns["proto"]).astype(str) == "udp"
        teredo = udp & (
            (np.asarray(columns["server_port"]) == TEREDO_PORT)
            | (np.asarray(columns["client_port"]) == TEREDO_PORT)
        )
        if teredo.any():
            found["teredo-udp"] = Anomaly(
                "teredo-udp", "UDP port 3544: Teredo (IPv6 tunnelled in UDP over IPv4)",
                "RFC 4380", np.flatnonzero(teredo).tolist(),
            )
    return found


def find_anomalies(columns: Mapping[str, np.ndarray]) -> list[Anomaly]:
    """Every anomaly kind seen in the flows, mapped addresses first."""
    return _ordered({**_address_anomalies(columns), **_tunnel_anomalies(columns)})


def merge_anomalies(shares: Iterable[Sequence[Anomaly]]) -> list[Anomaly]:
    """The anomalies found in several shares of the flows (flows named by id), as one
    list: the flows and addresses of each kind together."""
    found: dict[str, Anomaly] = {}
    for anomaly in (item for share in shares for item in share):
        merged = found.setdefault(anomaly.kind, Anomaly(anomaly.kind, anomaly.description,
                                                        anomaly.source))
        merged.flows.extend(anomaly.flows)
        merged.addresses.extend(anomaly.addresses)
    return _ordered(found)


def _ordered(found: dict[str, Anomaly]) -> list[Anomaly]:
    """The anomalies with their flows and addresses sorted and distinct, by kind."""
    for anomaly in found.values():
        anomaly.flows = sorted(set(anomaly.flows))
        anomaly.addresses = sorted(set(anomaly.addresses))
    order = [item.kind for item in ADDRESS_KINDS]
    return sorted(found.values(),
                  key=lambda item: order.index(item.kind) if item.kind in order else len(order))
