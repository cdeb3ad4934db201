"""A scenario's snapshot as the text a user would paste: netstat, ss, from each OS.

Each renderer prints the sockets the way the tool does (column widths from the
tools' printf formats), including what the tool cannot show: net-tools netstat
prints IPv4 peers of an AF_INET6 socket as plain IPv4 in a ``tcp6`` row, Windows
prints ``[::]:445`` whatever IPV6_V6ONLY is. ``dualstack verify`` (or
`analyzer.snapshot.importers.import_text`) must reach the same truth from this text
as from ``snapshots.jsonl``, with only what the text holds.
"""

from __future__ import annotations

from collections.abc import Callable

from analyzer.snapshot.schema import Snapshot, Socket, ipv4_of

# Header and command per format, as the tools print them.
NETSTAT_LINUX_HEAD = (
    "Active Internet connections (servers and established)\n"
    "Proto Recv-Q Send-Q Local Address           Foreign Address         State       "
    "PID/Program name    \n"
)
NETSTAT_WINDOWS_HEAD = (
    "\nActive Connections\n\n"
    "  Proto  Local Address          Foreign Address        State           PID\n"
)
NETSTAT_BSD_HEAD = (
    "Active Internet connections (including servers)\n"
    "Proto Recv-Q Send-Q  Local Address          Foreign Address        (state)    \n"
)
# OpenBSD: netdomainpr() in usr.bin/netstat/inet.c (rev. 1.180, 2024) prints one section
# per family and socket type, AF_INET first, each under its own title and header:
# "%-7.7s %-6.6s %-6.6s " Proto Recv-Q Send-Q, " %-22.22s %-22.22s%s" with " TCP-State"
# for TCP only; rows "%-7.7s %6llu %6llu " and inetprint()'s " %-22.22s" per address.
OPENBSD_TITLE = "Active Internet connections (including servers)\n"
SS_HEAD = ("Netid State  Recv-Q Send-Q   Local Address:Port    Peer Address:Port Process\n")

def render(snapshot: Snapshot, fmt: str) -> str:
    """The snapshot's sockets as ``fmt`` prints them on the snapshot's OS (`RENDERERS`)."""
    return RENDERERS[fmt](snapshot.sockets, snapshot.os or "linux")


# ---------------------------------------------------------------- net-tools netstat


def _netstat_linux(sockets: list[Socket], os_name: str) -> str:
    del os_name
    rows = [NETSTAT_LINUX_HEAD]
    for sock in sockets:
        proto = sock.proto + ("6" if sock.family == 6 else "")
        state = "" if sock.proto == "udp" else sock.state
        owner = f"{sock.pid}/{sock.process}" if sock.pid is not None else "-"
        rows.append(f"{proto:<5} {0:>6} {0:>6} {_linux_end(sock, True):<23} "
                    f"{_linux_end(sock, False):<23} {state:<11} {owner:<19}\n")
    return "".join(rows)


def _linux_end(sock: Socket, local: bool) -> str:
    """net-tools form: IPv4-mapped printed as plain IPv4, '*' for a missing port."""
    address = sock.local_address if local else sock.remote_address
    port = sock.local_port if local else sock.remote_port
    if address is None:
        address = "0.0.0.0" if sock.family == 4 else "::"
    plain = ipv4_of(address) if sock.family == 6 else None
    return f"{plain or address}:{port if port is not None else '*'}"


# ---------------------------------------------------------------- Windows netstat


def _netstat_windows(sockets: list[Socket], os_name: str) -> str:
    del os_name
    rows = [NETSTAT_WINDOWS_HEAD]
    for sock in sockets:
        state = {"LISTEN": "LISTENING"}.get(sock.state, sock.state)
        if sock.proto == "udp":
            state = ""
        local = _windows_end(sock.local_address, sock.local_port, sock.family)
        remote = ("*:*" if sock.proto == "udp" else
                  _windows_end(sock.remote_address, sock.remote_port or 0, sock.family))
        pid = sock.pid if sock.pid is not None else 0
        rows.append(f"  {sock.proto.upper():<6} {local:<22} {remote:<22} {state:<15} {pid}\n")
    return "".join(rows).replace("\n", "\r\n")  # cmd.exe output has CRLF line ends


def _windows_end(address: str | None, port: int | None, family: int) -> str:
    text = address or ("0.0.0.0" if family == 4 else "::")
    return f"[{text}]:{port}" if family == 6 else f"{text}:{port}"


# ---------------------------------------------------------------- BSD / macOS netstat


def _netstat_bsd(sockets: list[Socket], os_name: str) -> str:
    if os_name == "openbsd":
        return _netstat_openbsd(sockets)
    rows = [NETSTAT_BSD_HEAD]
    for sock in sockets:
        proto = sock.proto + _bsd_suffix(sock)
        state = "" if sock.proto == "udp" else sock.state
        local = _bsd_end(sock.local_address, sock.local_port)
        remote = _bsd_end(sock.remote_address, sock.remote_port)
        rows.append(f"{proto:<5.5} {0:>6} {0:>6}  {local:<22.22} {remote:<22.22} {state:<11}\n")
    return "".join(rows)


def _bsd_suffix(sock: Socket) -> str:
    """tcp4/tcp6/tcp46 on FreeBSD and macOS."""
    if sock.family == 4 or ipv4_of(sock.local_address):
        return "4"
    return "46" if sock.v6only is False else "6"


def _netstat_openbsd(sockets: list[Socket]) -> str:
    """OpenBSD's sections: tcp and udp for AF_INET, then tcp6 and udp6 for AF_INET6."""
    rows: list[str] = []
    for family, proto in ((4, "tcp"), (4, "udp"), (6, "tcp"), (6, "udp")):
        section = [sock for sock in sockets if (sock.family, sock.proto) == (family, proto)]
        if not section:
            continue
        state_title = " TCP-State" if proto == "tcp" else ""
        rows.append(OPENBSD_TITLE)
        rows.append(f"{'Proto':<7.7} {'Recv-Q':<6.6} {'Send-Q':<6.6}  {'Local Address':<22.22} "
                    f"{'Foreign Address':<22.22}{state_title}\n")
        name = proto + ("6" if family == 6 else "")
        for sock in sorted(section, key=lambda item: -(item.remote_port or 0)):
            state = f" {sock.state}" if proto == "tcp" else ""
            local = _bsd_end(sock.local_address, sock.local_port)
            remote = _bsd_end(sock.remote_address, sock.remote_port)
            rows.append(f"{name:<7.7} {0:>6} {0:>6}  {local:<22.22} {remote:<22.22}{state}\n")
    return "".join(rows)


def _bsd_end(address: str | None, port: int | None) -> str:
    text = "*" if address in (None, "0.0.0.0", "::") else ipv4_of(address) or address
    return f"{text}.{port if port else '*'}"


# ---------------------------------------------------------------- iproute2 ss


def _ss(sockets: list[Socket], os_name: str) -> str:
    del os_name
    rows = [SS_HEAD]
    for sock in sockets:
        local = _ss_end(sock, sock.local_address, sock.local_port)
        remote = _ss_end(sock, sock.remote_address, sock.remote_port)
        users = (f'users:(("{sock.process}",pid={sock.pid},fd={3 + sock.local_port % 7}))'
                 if sock.pid is not None and sock.local_port is not None else "")
        extra = f" v6only:{int(bool(sock.v6only))}" if sock.family == 6 else ""
        backlog = 128 if sock.state == "LISTEN" else 0
        rows.append(f"{sock.proto:<5} {sock.state:<6} {0:<6} {backlog:<6} {local:>20} "
                    f"{remote:>20} {users} uid:0 ino:{20000 + (sock.local_port or 0)} "
                    f"sk:1{extra} <->\n")
    return "".join(rows)


def _ss_end(sock: Socket, address: str | None, port: int | None) -> str:
    """ss 4.14+: '*' for a dual-stack '::', '[::]' for a v6-only one, brackets for IPv6."""
    where = "*" if port is None else str(port)
    if address is None:
        address = "0.0.0.0" if sock.family == 4 else "::"
    if sock.family == 4:
        return f"{address}:{where}"
    if address == "::" and sock.v6only is False:
        return f"*:{where}"
    return f"[{address}]:{where}"


RENDERERS: dict[str, Callable[[list[Socket], str], str]] = {
    "netstat-linux": _netstat_linux,
    "netstat-windows": _netstat_windows,
    "netstat-bsd": _netstat_bsd,
    "ss": _ss,
}
