"""Linux net-tools `netstat` (-tlnp, -antp, -tupn, -64ln, -e, BusyBox) text.

Columns: Proto Recv-Q Send-Q Local-Address Foreign-Address [State] [User Inode]
[PID/Program name]. net-tools reads /proc/net/tcp6, which has no v6only: a `tcp6`
row never tells it (v6only null), except a mapped bind or an IPv4 peer, which net-tools
prints as plain IPv4 in a tcp6 row and which proves v6only=0. Old net-tools (CentOS 6)
printed `tcp` for IPv6 rows too; the family then comes from the address. UNIX, raw
and other sockets are skipped with a reason.
"""

from __future__ import annotations

import re

from analyzer.snapshot.importers.common import (
    Ledger,
    LineError,
    Row,
    signature_score,
    split_colon_endpoint,
    text_family,
)

NAME = "netstat-linux"
TOOL = "net-tools netstat"
OS = "linux"
UNSEEN = ("per-socket v6only: net-tools reads /proc/net, which has none",)

_ROW = re.compile(r"^(tcp6?|udp6?)\s+\d+\s+\d+\s+\S+:\S+\s+\S+:\S+")
_INTERNET = re.compile(r"^Active Internet connections")
_SECTION = re.compile(r"^Active (Internet|UNIX domain|Bluetooth|IPX|AX\.25|NET/ROM)")
_HEADER = re.compile(r"^Proto\s+(Recv-Q|RefCnt|Destination)")
_PROGRAM = re.compile(r"^(?:(\d+)/(.*)|-)$")
_SKIP_PROTOS = {
    "unix": "unix socket", "raw": "raw socket (no port)", "raw6": "raw socket (no port)",
    "udpl": "UDP-Lite socket", "udpl6": "UDP-Lite socket", "sctp": "SCTP socket",
    "sctp6": "SCTP socket", "l2cap": "Bluetooth socket", "rfcomm": "Bluetooth socket",
}


def score(lines: list[str]) -> int:
    return signature_score(lines, _INTERNET, _ROW, header_weight=2)


def parse(lines: list[str], ledger: Ledger, option: str | None = None) -> None:
    columns = _Columns()
    section = "Internet"
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            ledger.blank(number)
        elif _SECTION.match(stripped) or _HEADER.match(stripped):
            section = _section(stripped, section)
            columns.learn(stripped)
            ledger.header(number)
        elif section != "Internet":
            ledger.skip(number, f"not an internet socket ({section} section)")
        else:
            _parse_row(stripped, number, ledger, columns)


def _section(header: str, current: str) -> str:
    match = _SECTION.match(header)
    return match.group(1) if match else current


class _Columns:
    """Which optional columns the last header announced (None: no header seen)."""

    def __init__(self) -> None:
        self.user_inode: bool | None = None
        self.program: bool | None = None

    def learn(self, header: str) -> None:
        if header.startswith("Proto") and "Recv-Q" in header:
            self.user_inode = "Inode" in header
            self.program = "PID/Program" in header


def _parse_row(line: str, number: int, ledger: Ledger, columns: _Columns) -> None:
    tokens = line.split()
    proto_word = tokens[0]
    if proto_word in _SKIP_PROTOS:
        ledger.skip(number, _SKIP_PROTOS[proto_word])
        return
    if proto_word not in ("tcp", "tcp6", "udp", "udp6") or len(tokens) < 5:
        ledger.error(number, f"not a netstat socket row: {line[:60]!r}")
        return
    ledger.socket_from(number, lambda: _row(tokens, number, columns))


def _row(tokens: list[str], number: int, columns: _Columns) -> Row:
    proto = tokens[0].rstrip("6")
    local_text, local_port = split_colon_endpoint(tokens[3])
    remote_text, remote_port = split_colon_endpoint(tokens[4])
    family, evidence = _family(tokens[0], local_text)
    rest = tokens[5:]
    state = None
    if rest and _is_state_word(rest[0]):
        state = rest.pop(0)
    row = Row.from_text(
        proto, family, (local_text, local_port), (remote_text, remote_port),
        state_word=state, line=number, evidence=evidence,
    )
    _owner(rest, row, columns)
    return row


def _family(proto_word: str, local_text: str) -> tuple[int, str]:
    written = text_family(local_text.strip("[]"))
    if proto_word.endswith("6"):
        return 6, f"netstat {proto_word} row: AF_INET6, and it cannot show v6only"
    if written == 6:
        return 6, (f"netstat printed {proto_word} for an IPv6 address (old net-tools): "
                   "AF_INET6, v6only not shown")
    return 4, f"netstat {proto_word} row: AF_INET"


def _is_state_word(word: str) -> bool:
    return word.isupper() and not word.isdigit() and "/" not in word


def _owner(rest: list[str], row: Row, columns: _Columns) -> None:
    """User and Inode (-e) and PID/Program name (-p), guided by the header if any."""
    user_inode = columns.user_inode
    if user_inode is None:
        user_inode = len(rest) >= 2 and rest[1].isdigit() and not _PROGRAM.match(rest[0])
    if user_inode:
        if len(rest) < 2:
            raise LineError("missing the User and Inode columns")
        row.user, inode = rest[0], rest[1]
        if not inode.isdigit():
            raise LineError(f"inode {inode!r} is not a number")
        row.inode = int(inode)
        if row.user.isdigit():
            row.uid = int(row.user)
        rest = rest[2:]
    program = " ".join(rest)
    if not program:
        if columns.program:
            raise LineError("missing the PID/Program name column")
        return
    match = _PROGRAM.match(program)
    if match is None:
        raise LineError(f"unexpected text after the addresses: {program!r}")
    if match.group(1):
        row.pid = int(match.group(1))
        row.process = match.group(2).strip() or None
