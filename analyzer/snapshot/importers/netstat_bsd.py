"""BSD, macOS, AIX and HP-UX `netstat -an` (also -A, -T, -P columns).

Rows: ``tcp46  0  0  *.80  *.*  LISTEN``; addresses and ports joined by a dot. What the
protocol word says depends on the OS that printed it:

* FreeBSD and macOS: the suffix shows the PCB's INP_IPV4/INP_IPV6 flags: ``tcp4`` an
  AF_INET socket, ``tcp46`` an AF_INET6 socket that also takes IPv4 (v6only off,
  proven). ``tcp6`` is an AF_INET6 socket without INP_IPV4: for a wildcard (``*``) bind
  that is not yet connected this proves v6only set (in6_pcbbind keeps INP_IPV4 only
  without IN6P_IPV6_V6ONLY); a specific address or a connection clears INP_IPV4
  whatever the flag, so v6only stays null there.
* OpenBSD (usr.bin/netstat/inet.c, netdomainpr): ``tcp``/``udp`` for AF_INET and
  ``tcp6``/``udp6`` for AF_INET6, and OpenBSD never gives IPv4 to an AF_INET6 socket,
  so every ``tcp6`` row is v6only by construction. Known from ``--os openbsd`` or from
  the header OpenBSD alone prints (`os_of`).
* NetBSD (inet.c protopr / inet6.c ip6protopr): ``tcp`` for AF_INET, ``tcp6`` for
  every AF_INET6 socket whatever its v6only (null). Known from ``--os netbsd`` only.
* Otherwise a plain ``tcp``/``udp`` (HP-UX, AIX) gives the family from the address
  only, v6only unknown; a wildcard row is refused unless the text is known to hold
  AF_INET sockets only (``netstat -f inet``: ``--format netstat-bsd-inet``).

Which BSD it is cannot be told from FreeBSD/macOS rows: the OS stays null unless
--os says it.
"""

from __future__ import annotations

import re

from analyzer.snapshot.importers.common import (
    Ledger,
    LineError,
    Row,
    known_state,
    split_dot_endpoint,
    text_family,
)

NAME = "netstat-bsd"
TOOL = "BSD/macOS netstat"
OS = None
UNSEEN = ("per-socket v6only: FreeBSD/macOS show it for unconnected wildcard sockets only "
          "(tcp46/tcp6), NetBSD never (OpenBSD: always on)",)

_PROTO = re.compile(r"^(tcp|udp)(4|6|46)?$")
_END = r"\S+\.(?:\d+|\*|[a-z][\w-]*)"
_ROW = re.compile(rf"(?:^|\s)(tcp|udp)(4|6|46)?\s+(\d+\s+)*{_END}\s+{_END}(?:\s|$)")
_COUNTER = re.compile(r"^(-|\d+(\.\d+)?)$")  # -b/-x/-T columns, -P's Log ID "-"
_HOST_WIDTH = 16  # BSD netstat's inetprint() prints at most 16 characters of a host
_HEADER = re.compile(r"^(Active |Proto |Tcpcb |Socket |PCB |Address |Registered |"
                     r"\w+/ID\s|Current |\(?state\)?)")
_OTHER_SECTION = re.compile(r"^Active (LOCAL \(UNIX\)|Multipath|kernel|UNIX)")


# The options of parse(): whose netstat printed the rows (see the module docstring).
OPENBSD, NETBSD, INET_ONLY = "openbsd", "netbsd", "inet"
# OpenBSD's header: netdomainpr() in usr.bin/netstat/inet.c (rev. 1.180) prints
# "%-7.7s" Proto and names the TCP state column " TCP-State"; FreeBSD, macOS, NetBSD,
# AIX and HP-UX print "%-5.5s" and "(state)" or "State".
_OPENBSD_HEADER = re.compile(r"^(PCB\s+)?Proto(   Recv-Q|\s.*\sTCP-State$)")


def score(lines: list[str]) -> int:
    return sum(2 for line in lines if _ROW.search(line))


def os_of(lines: list[str]) -> tuple[str, str] | None:
    """The OS and why, when the text itself says which netstat printed it."""
    if any(_OPENBSD_HEADER.match(line.strip()) for line in lines):
        return OPENBSD, "OpenBSD netstat header (7-wide Proto column or TCP-State)"
    return None


def option_for(os_name: str | None) -> str | None:
    """The parse option a known OS implies."""
    return os_name if os_name in (OPENBSD, NETBSD) else None


def parse(lines: list[str], ledger: Ledger, option: str | None = None) -> None:
    section = "inet"
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            ledger.blank(number)
        elif stripped.startswith("Active "):
            section = "other" if _OTHER_SECTION.match(stripped) else "inet"
            ledger.header(number)
        elif _HEADER.match(stripped):
            ledger.header(number)
        elif section == "other":
            ledger.skip(number, "not an internet socket (unix/kernel/multipath section)")
        else:
            _parse_row(stripped, number, ledger, option)


def _parse_row(line: str, number: int, ledger: Ledger, option: str | None) -> None:
    tokens = line.split()
    index = next((i for i, token in enumerate(tokens[:3]) if _PROTO.match(token)), None)
    if index is None:
        first = tokens[0]
        if first.startswith(("icmp", "raw", "ip", "divert", "igmp")):
            ledger.skip(number, f"{first} socket (no port)")
        else:
            ledger.error(number, f"not a netstat socket row: {line[:60]!r}")
        return
    ledger.socket_from(number, lambda: _row(tokens[index:], number, option))


def _row(tokens: list[str], number: int, option: str | None) -> Row:
    match = _PROTO.match(tokens[0])
    assert match is not None
    proto = match.group(1)
    rest = tokens[1:]
    while rest and rest[0].isdigit():  # Recv-Q Send-Q, or -T's Rexmit OOORcv 0-win
        rest.pop(0)
    if len(rest) < 2:
        raise LineError("missing the local or foreign address")
    local_text, local_port = split_dot_endpoint(rest[0])
    remote_text, remote_port = split_dot_endpoint(rest[1])
    state = rest[2] if len(rest) > 2 and known_state(rest[2]) else None
    if len(rest) > 2 and state is None and not _COUNTER.match(rest[2]):
        raise LineError(f"unknown state {rest[2]!r}")
    family, v6only, evidence = _family(tokens[0], local_text, remote_text, option)
    if family == 6 and _HOST_WIDTH in (len(local_text), len(remote_text)):
        evidence += ("; netstat cuts addresses to 16 characters without -W: an address of "
                     "exactly 16 may be cut short")
    return Row.from_text(
        proto, family, (local_text, local_port), (remote_text, remote_port),
        state_word=state, line=number, evidence=evidence, v6only=v6only,
    )


def _family(word: str, local: str, remote: str, option: str | None
            ) -> tuple[int, bool | None, str]:
    if option == INET_ONLY:
        return _inet_only(word)
    if option in (OPENBSD, NETBSD):
        return _openbsd_or_netbsd(word, option)
    return suffix_family("netstat", word, local, remote)


def _inet_only(word: str) -> tuple[int, bool | None, str]:
    """`netstat -f inet` output (--format netstat-bsd-inet): AF_INET sockets only."""
    if _suffix(word) in ("6", "46"):
        raise LineError(f"{word} row in 'netstat -f inet' output (AF_INET only)")
    return 4, None, f"netstat -f inet {word}: AF_INET only (--format netstat-bsd-inet)"


def _openbsd_or_netbsd(word: str, os_name: str) -> tuple[int, bool | None, str]:
    """OpenBSD and NetBSD print tcp/udp for AF_INET and tcp6/udp6 for AF_INET6."""
    suffix = _suffix(word)
    name = "OpenBSD" if os_name == OPENBSD else "NetBSD"
    if suffix in ("4", "46"):
        raise LineError(f"{name} netstat prints tcp/udp and tcp6/udp6, never {word}: "
                        f"is this {name}?")
    if suffix is None:
        return 4, None, f"{name} netstat {word}: AF_INET ({name} prints AF_INET6 as {word}6)"
    if os_name == OPENBSD:
        return 6, True, (f"OpenBSD netstat {word}: AF_INET6, and OpenBSD never gives IPv4 "
                         "to an AF_INET6 socket (v6only always on)")
    return 6, None, f"NetBSD netstat {word}: AF_INET6 whatever its v6only (not shown)"


def _suffix(word: str) -> str | None:
    match = _PROTO.match(word)
    return match.group(2) if match else None


def suffix_family(
    tool: str, word: str, local: str, remote: str
) -> tuple[int, bool | None, str]:
    """Family, v6only and evidence from a FreeBSD/macOS protocol word (tcp4/tcp6/tcp46),
    or from the address of a plain tcp row."""
    suffix = _suffix(word)
    if suffix == "4":
        return 4, None, f"{tool} {word}: AF_INET"
    if suffix == "46":
        return 6, False, f"{tool} {word}: AF_INET6 taking IPv4 too (v6only off)"
    if suffix == "6":
        if local == "*" and remote == "*":
            return 6, True, f"{tool} {word} on an unconnected wildcard: AF_INET6, v6only set"
        return 6, None, f"{tool} {word}: AF_INET6; bound or connected, v6only not shown"
    written = text_family(local) or text_family(remote)
    if written is None:
        raise LineError(f"{word} row with wildcard addresses: the family cannot be told "
                        "(OpenBSD or NetBSD: say --os; 'netstat -f inet' output: "
                        "--format netstat-bsd-inet)")
    return written, None, f"{tool} {word}: family from the address, v6only not shown"
