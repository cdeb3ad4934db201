"""The table of a snapshot's listeners: does each take IPv4, IPv6 or both, and how we know.

How we know, strongest first:

* ``socket``: the socket's family or address decides alone (AF_INET; a specific IPv6
  address; a mapped ``::ffff:a.b.c.d`` bind; OpenBSD never gives IPv4 to AF_INET6).
* ``flag``: the snapshot's per-socket v6only (sock_diag, ``ss -e``, BSD tcp46/tcp6).
* ``pair``: Linux refuses ``[::]:P`` without v6only beside an AF_INET ``0.0.0.0:P``
  (EADDRINUSE unless both use SO_REUSEPORT), so such a pair means v6only=1.
* ``prior``: the host's default (snapshot `defaults`) or the OS's documented default;
  programs override it per socket (Apache, Go, .NET clear v6only), so it is a guess.
* ``unknown``: neither the socket nor the OS is known.
"""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.snapshot.schema import DOCUMENTED_V6ONLY, Snapshot, Socket


@dataclass(frozen=True)
class Reach:
    """Which families a listener takes and the grounds for saying so."""

    takes: str  # "IPv4", "IPv6", "IPv4+IPv6"
    basis: str  # socket, flag, pair, prior, unknown
    reason: str


def reach(sock: Socket, snapshot: Snapshot) -> Reach:
    """What `sock` (a listener of `snapshot`) accepts; see the module docstring."""
    if sock.family == 4:
        return Reach("IPv4", "socket", "AF_INET socket")
    if sock.local_address.startswith("::ffff:"):
        return Reach("IPv4", "socket", "AF_INET6 bound to an IPv4-mapped address")
    if sock.local_address != "::":
        return Reach("IPv6", "socket", "AF_INET6 bound to a specific IPv6 address")
    if snapshot.os == "openbsd":
        return Reach("IPv6", "socket", "OpenBSD never delivers IPv4 to AF_INET6 sockets")
    if sock.v6only is not None:
        takes = "IPv6" if sock.v6only else "IPv4+IPv6"
        return Reach(takes, "flag", f"v6only={int(sock.v6only)}: {sock.evidence}")
    if snapshot.os == "linux" and _ipv4_wildcard_beside(sock, snapshot):
        return Reach("IPv6", "pair", f"0.0.0.0:{sock.local_port} AF_INET beside it: Linux "
                                     "allows that pair only with v6only=1 (or SO_REUSEPORT)")
    return _prior(snapshot)


def _ipv4_wildcard_beside(sock: Socket, snapshot: Snapshot) -> bool:
    return any(
        other.family == 4 and other.proto == sock.proto and other.local_port == sock.local_port
        and other.local_address == "0.0.0.0" and other.is_listener
        for other in snapshot.sockets
    )


def _prior(snapshot: Snapshot) -> Reach:
    for key, value in snapshot.defaults.items():
        if value is not None:
            return Reach(_takes(value), "prior", f"host default {key}={value}; v6only of "
                                                 "the socket not shown")
    if snapshot.os in DOCUMENTED_V6ONLY:
        key, value = DOCUMENTED_V6ONLY[snapshot.os]
        return Reach(_takes(value), "prior", f"documented {snapshot.os} default {key}="
                                             f"{value}; v6only of the socket not shown")
    return Reach("IPv6 (+IPv4?)", "unknown", "v6only not shown and the OS is unknown")


def _takes(v6only_default: int) -> str:
    return "IPv6" if v6only_default else "IPv4+IPv6"


def listener_rows(snapshot: Snapshot, everything: bool = False) -> list[dict[str, object]]:
    """One dict per listener (or per socket) with its reach, for tables and JSON."""
    rows: list[dict[str, object]] = []
    for sock in snapshot.sockets if everything else snapshot.listeners():
        grounds = reach(sock, snapshot) if sock.is_listener else None
        rows.append({
            "proto": sock.proto,
            "local": _endpoint(sock.local_address, sock.local_port, sock.interface),
            "family": sock.family,
            "v6only": sock.v6only,
            "state": sock.state,
            "takes": grounds.takes if grounds else "",
            "basis": grounds.basis if grounds else "",
            "why": grounds.reason if grounds else sock.evidence,
            "process": f"{sock.pid}/{sock.process or '?'}" if sock.pid else (sock.process or ""),
            "line": sock.line,
        })
    return rows


def _endpoint(address: str, port: int | None, interface: str | None) -> str:
    text = f"[{address}]" if ":" in address else address
    if interface:
        text += f"%{interface}"
    return f"{text}:{port if port is not None else '*'}"


_COLUMNS = ("proto", "local", "family", "v6only", "takes", "basis", "process", "why")


def format_table(snapshot: Snapshot, everything: bool = False, header: bool = True) -> str:
    """Aligned text: a title line, then one row per listener."""
    rows = listener_rows(snapshot, everything)
    cells = [[_cell(row[column]) for column in _COLUMNS] for row in rows]
    if header:
        cells.insert(0, [column.upper() for column in _COLUMNS])
    widths = [max((len(row[i]) for row in cells), default=0) for i in range(len(_COLUMNS) - 1)]
    lines = [_title(snapshot)] if header else []
    for row in cells:
        padded = (cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True))
        lines.append("  ".join(padded) + "  " + row[-1])
    if header and not rows:
        lines.append("(no listeners)")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(int(value))
    return str(value)


def _title(snapshot: Snapshot) -> str:
    parts = [f"host {snapshot.host or '?'}", f"os {snapshot.os or '?'}",
             f"taken {snapshot.taken_at or '?'}", f"from {snapshot.sources.get('sockets', '?')}"]
    defaults = ", ".join(f"{key}={'unknown' if value is None else value}"
                         for key, value in snapshot.defaults.items())
    if defaults:
        parts.append(defaults)
    return "# " + "; ".join(parts)
