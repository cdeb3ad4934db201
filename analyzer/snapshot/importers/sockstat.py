"""FreeBSD `sockstat` (-l, -4, -6, -46, -s): one row per socket file descriptor.

``USER COMMAND PID FD PROTO LOCAL ADDRESS FOREIGN ADDRESS [PATH STATE CONN STATE]``.
The protocol word carries the family and v6only as in BSD netstat (tcp4, tcp6,
tcp46: see `netstat_bsd.suffix_family`). ``?`` marks an owner sockstat could not
find. UNIX sockets (stream/dgram/seqpac) are skipped with a reason.
"""

from __future__ import annotations

import re

from analyzer.snapshot.importers.common import (
    Ledger,
    Row,
    known_state,
    signature_score,
    split_colon_endpoint,
)
from analyzer.snapshot.importers.netstat_bsd import suffix_family

NAME = "sockstat"
TOOL = "FreeBSD sockstat"
OS = "freebsd"
UNSEEN = ("per-socket v6only: only for unconnected wildcard sockets (tcp46/tcp6)",)

_HEADER = re.compile(r"^USER\s+COMMAND\s+PID\s+FD\s+PROTO")
_INET = re.compile(r"^(tcp|udp)(4|6|46)$")
_ROW = re.compile(r"^\S+\s+\S+\s+(\d+|\?)\s+(\d+\w?|\?)\s+(tcp|udp)(4|6|46)\s")


def score(lines: list[str]) -> int:
    return signature_score(lines, _HEADER, _ROW)


def parse(lines: list[str], ledger: Ledger, option: str | None = None) -> None:
    for number, stripped in ledger.data_lines(lines, _HEADER):
        _parse_row(stripped, number, ledger)


def _parse_row(line: str, number: int, ledger: Ledger) -> None:
    tokens = line.split()
    if len(tokens) < 7:
        ledger.error(number, f"not a sockstat row: {line[:60]!r}")
        return
    match = _INET.match(tokens[4])
    if match is None:
        if tokens[4] in ("stream", "dgram", "seqpac"):
            ledger.skip(number, "unix socket")
        else:
            ledger.error(number, f"unknown protocol {tokens[4]!r}")
        return
    proto = match.group(1)
    ledger.socket_from(number, lambda: _row(tokens, proto, number))


def _row(tokens: list[str], proto: str, number: int) -> Row:
    local_text, local_port = split_colon_endpoint(tokens[5])
    remote_text, remote_port = split_colon_endpoint(tokens[6])
    family, v6only, evidence = suffix_family("sockstat", tokens[4], local_text, remote_text)
    states = [word for word in tokens[7:] if known_state(word)]
    state = states[0] if states else ("LISTEN" if proto == "tcp" and remote_text == "*"
                                      else None)
    if not states and proto == "tcp":
        evidence += "; no state column: a TCP socket with peer *:* taken as LISTEN"
    return Row.from_text(
        proto, family, (local_text, local_port), (remote_text, remote_port),
        state_word=state, line=number, evidence=evidence, v6only=v6only,
        user=None if tokens[0] == "?" else tokens[0],
        process=None if tokens[1] == "?" else tokens[1],
        pid=int(tokens[2]) if tokens[2].isdigit() else None,
    )
