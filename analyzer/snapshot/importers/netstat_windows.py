"""Windows `netstat -an`, `-ano`, `-anob` (also piped through PowerShell Select-String).

Rows: ``TCP  [::]:445  [::]:0  LISTENING  4``; UDP rows have no state. The family is
the address's ([...] is AF_INET6). Windows prints ``[::]:445`` whether or not the
socket is IPv6-only, so v6only is always null here (the OS default, IPv6-only unless
a program clears IPV6_V6ONLY, is only a prior). `-b` adds lines naming the owner
(``[svchost.exe]``, a service name, or "Can not obtain ownership information"):
they belong to the row above (the process name is taken from ``[name]``) and are
counted as skipped lines with that reason.
"""

from __future__ import annotations

import re
from dataclasses import replace

from analyzer.snapshot.importers.common import (
    Ledger,
    LineError,
    Row,
    not_an_address,
    signature_score,
    split_colon_endpoint,
    text_family,
)

NAME = "netstat-windows"
TOOL = "Windows netstat"
OS = "windows"
UNSEEN = ("per-socket v6only: Windows netstat prints [::] either way",)

_ROW = re.compile(r"^>?\s*(TCP|UDP)\s+\S+:\S+\s+\S+:\S+")
_ACTIVE = re.compile(r"^\s*Active Connections\s*$")
_HEADER = re.compile(r"^(Active Connections|Proto\s+Local Address)")
_OWNER = re.compile(r"^\[.*\]$|^Can not obtain ownership information$|^[\w.$ -]+$")


def score(lines: list[str]) -> int:
    return signature_score(lines, _ACTIVE, _ROW, header_weight=3)


def parse(lines: list[str], ledger: Ledger, option: str | None = None) -> None:
    last_socket: int | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith(">"):  # Select-String marks the matching line
            stripped = stripped[1:].strip()
        if not stripped:
            ledger.blank(number)
        elif _HEADER.match(stripped):
            ledger.header(number)
        elif _ROW.match(stripped):
            last_socket = _parse_row(stripped, number, ledger)
        elif last_socket is not None and _OWNER.match(stripped):
            ledger.skip(number, "netstat -b owner line, attached to the row above")
            _name_owner(ledger, last_socket, stripped)
        else:
            ledger.error(number, f"not a Windows netstat row: {stripped[:60]!r}")


def _parse_row(line: str, number: int, ledger: Ledger) -> int | None:
    tokens = line.split()
    proto = tokens[0].lower()
    try:
        local_text, local_port = split_colon_endpoint(tokens[1])
        remote_text, remote_port = split_colon_endpoint(tokens[2])
        family = text_family(local_text)
        if family is None:
            raise LineError(not_an_address(local_text))
        rest = tokens[3:]
        state = rest.pop(0) if proto == "tcp" and rest else None
        row = Row.from_text(
            proto, family, (local_text, local_port), (remote_text, remote_port),
            state_word=state, line=number,
            evidence=f"Windows netstat printed {tokens[1]}"
            + (": v6only not shown" if family == 6 else ""),
        )
        if rest:
            if len(rest) != 1 or not rest[0].isdigit():
                raise LineError(f"unexpected text after the addresses: {' '.join(rest)!r}")
            row.pid = int(rest[0])
        ledger.socket(number, row.to_socket())
    except LineError as exc:
        ledger.error(number, str(exc))
        return None
    return len(ledger.sockets) - 1


def _name_owner(ledger: Ledger, index: int, text: str) -> None:
    """`-b` gives the executable in brackets; keep it as the process name."""
    if text.startswith("[") and text.endswith("]"):
        sock = ledger.sockets[index]
        ledger.sockets[index] = replace(sock, process=text[1:-1])
