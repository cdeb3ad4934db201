"""macOS and FreeBSD `netstat -an` (also -A, -T, -P columns; AIX/HP-UX use the same rows).

Rows: ``tcp46  0  0  *.80  *.*  LISTEN``; addresses and ports joined by a dot. The
protocol suffix shows the PCB's INP_IPV4/INP_IPV6 flags: ``tcp4`` an AF_INET socket,
``tcp46`` an AF_INET6 socket that also takes IPv4 (v6only off, proven). ``tcp6`` is an
AF_INET6 socket without INP_IPV4: for a wildcard (``*``) bind that is not yet connected
this proves v6only set (in6_pcbbind keeps INP_IPV4 only without IN6P_IPV6_V6ONLY); a
specific address or a connection clears INP_IPV4 whatever the flag, so v6only stays
null there. Plain ``tcp``/``udp`` (HP-UX, AIX sections) gives
the family from the address only, v6only unknown. Which BSD it is cannot be told from
the rows: the OS stays null unless --os says it.
"""

from __future__ import annotations

import re

from analyzer.snapshot.importers.common import (
    Ledger,
    LineError,
    Row,
    known_state,
    parse_address,
    parse_port,
    split_dot_endpoint,
    text_family,
)

NAME = "netstat-bsd"
TOOL = "BSD/macOS netstat"
OS = None
UNSEEN = ("per-socket v6only: only for unconnected wildcard sockets (tcp46/tcp6)",)

_PROTO = re.compile(r"^(tcp|udp)(4|6|46)?$")
_END = r"\S+\.(?:\d+|\*|[a-z][\w-]*)"
_ROW = re.compile(rf"(?:^|\s)(tcp|udp)(4|6|46)?\s+(\d+\s+)*{_END}\s+{_END}(?:\s|$)")
_COUNTER = re.compile(r"^(-|\d+(\.\d+)?)$")  # -b/-x/-T columns, -P's Log ID "-"
_HOST_WIDTH = 16  # BSD netstat's inetprint() prints at most 16 characters of a host
_HEADER = re.compile(r"^(Active |Proto |Tcpcb |Socket |PCB |Address |Registered |"
                     r"\w+/ID\s|Current |\(?state\)?)")
_OTHER_SECTION = re.compile(r"^Active (LOCAL \(UNIX\)|Multipath|kernel|UNIX)")


def score(lines: list[str]) -> int:
    return sum(2 for line in lines if _ROW.search(line))


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
            _parse_row(stripped, number, ledger)


def _parse_row(line: str, number: int, ledger: Ledger) -> None:
    tokens = line.split()
    index = next((i for i, token in enumerate(tokens[:3]) if _PROTO.match(token)), None)
    if index is None:
        first = tokens[0]
        if first.startswith(("icmp", "raw", "ip", "divert", "igmp")):
            ledger.skip(number, f"{first} socket (no port)")
        else:
            ledger.error(number, f"not a netstat socket row: {line[:60]!r}")
        return
    ledger.socket_from(number, lambda: _row(tokens[index:], number))


def _row(tokens: list[str], number: int) -> Row:
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
    family, v6only, evidence = suffix_family("netstat", tokens[0], local_text, remote_text)
    if family == 6 and _HOST_WIDTH in (len(local_text), len(remote_text)):
        evidence += ("; netstat cuts addresses to 16 characters without -W: an address of "
                     "exactly 16 may be cut short")
    return Row(
        proto=proto, family=family, local=parse_address(local_text, family),
        local_port=parse_port(local_port, proto),
        remote=parse_address(remote_text, family), remote_port=parse_port(remote_port, proto),
        state_word=state, line=number, evidence=evidence, v6only=v6only,
    )


def suffix_family(
    tool: str, word: str, local: str, remote: str
) -> tuple[int, bool | None, str]:
    """Family, v6only and evidence from a BSD protocol word (tcp4/tcp6/tcp46/tcp)."""
    match = _PROTO.match(word)
    suffix = match.group(2) if match else None
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
        raise LineError(f"{word} row with wildcard addresses: the family cannot be told")
    return written, None, f"{tool} {word}: family from the address, v6only not shown"
