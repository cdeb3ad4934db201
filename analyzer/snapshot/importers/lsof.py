"""`lsof -i` (with -P -n, or with service names) and full `lsof` listings.

Columns: COMMAND PID [TID [TASKCMD]] USER FD TYPE DEVICE SIZE/OFF NODE NAME. TYPE
``IPv4``/``IPv6`` is the socket's family (not the wire's: an IPv6 socket with an IPv4
peer prints ``IPv6 ... TCP 192.0.2.10:80->192.0.2.20:46754``); lsof cannot show v6only.
Rows of other files (REG, DIR, unix, ...) are skipped with a reason; a socket listed
again (another process, fd or thread sharing it: same DEVICE and NAME) is skipped as a
repeat of its first line. Service names (``*:http``) resolve via `services`.
"""

from __future__ import annotations

import re

from analyzer.snapshot.importers.common import (
    Ledger,
    LineError,
    Row,
    known_state,
    signature_score,
    split_colon_endpoint,
)

NAME = "lsof"
TOOL = "lsof"
OS = None
UNSEEN = ("per-socket v6only: lsof shows the socket type only",)

_HEADER = re.compile(r"^COMMAND\s+PID\s+.*\bNAME\s*$")
_INET_ROW = re.compile(r"\sIPv[46]\s+\S+\s+\S+\s+(TCP|UDP)\s")
_NOTICE = re.compile(r"^lsof: (WARNING|no pwd entry)|^\s+Output information may be incomplete")


def score(lines: list[str]) -> int:
    return signature_score(lines, _HEADER, _INET_ROW)


def parse(lines: list[str], ledger: Ledger, option: str | None = None) -> None:
    first_of: dict[tuple[str, str], int] = {}
    for number, stripped in ledger.data_lines(lines, _HEADER):
        if _NOTICE.match(lines[number - 1]):
            ledger.skip(number, "lsof warning")
        else:
            _parse_line(stripped, number, ledger, first_of)


def _parse_line(
    line: str, number: int, ledger: Ledger, first_of: dict[tuple[str, str], int]
) -> None:
    tokens = line.split()
    type_at = next((i for i in range(3, len(tokens)) if tokens[i] in ("IPv4", "IPv6")), None)
    if type_at is None:
        ledger.skip(number, "not an internet socket")
        return
    if len(tokens) < type_at + 5:
        ledger.error(number, f"lsof IPv4/IPv6 row too short: {line[:60]!r}")
        return
    node = tokens[type_at + 3]
    if node not in ("TCP", "UDP"):
        ledger.skip(number, f"{node} socket (not TCP/UDP)")
        return
    name = " ".join(tokens[type_at + 4:])
    key = (tokens[type_at + 1], name)
    if key in first_of:
        ledger.skip(number, "same socket as an earlier row (shared fd, process or thread)")
        return
    first_of[key] = number
    ledger.socket_from(number, lambda: _row(tokens, type_at, node.lower(), name, number))


def _row(tokens: list[str], type_at: int, proto: str, name: str, number: int) -> Row:
    state = None
    if name.endswith(")") and "(" in name:
        name, _, state_text = name.rpartition("(")
        state = state_text.rstrip(")")
        name = name.strip()
    row = socket_row(proto, tokens[type_at], name, state, number)
    row.pid = int(tokens[1]) if tokens[1].isdigit() else None
    row.process, row.user = tokens[0], tokens[type_at - 2]
    device = tokens[type_at + 1]
    if device.isdigit():
        row.inode = int(device)
    if row.user and row.user.isdigit():
        row.uid = int(row.user)
    return row


def socket_row(proto: str, kind: str, name: str, state: str | None, number: int) -> Row:
    """The row of one lsof socket: TYPE `kind` (IPv4/IPv6), NAME ``local[->remote]``."""
    family = 6 if kind == "IPv6" else 4
    local_end, _, remote_end = name.partition("->")
    local_text, local_port = split_colon_endpoint(local_end)
    remote_text, remote_port = split_colon_endpoint(remote_end) if remote_end else ("*", "*")
    if proto == "tcp" and state is None:
        raise LineError("lsof TCP socket without its state (columns: (STATE); -F: the T field)")
    notes = ""
    if proto == "udp" and state is not None and known_state(state) is None:
        notes, state = f"; lsof UDP state ({state}) not a socket state, ignored", None
    evidence = (f"lsof TYPE {kind}: the socket's family; v6only not shown" if family == 6
                else f"lsof TYPE {kind}: AF_INET")
    return Row.from_text(
        proto, family, (local_text, local_port), (remote_text, remote_port),
        state_word=state, line=number, evidence=evidence + notes,
    )
