"""`lsof -F` field output (one field per line: ``p123``, ``ccommand``, ``tIPv6``, ``PTCP``,
``n*:80``, ``TST=LISTEN``), as `lsof -nP -i -FpcfnPTu` or InSpec's ``-FpctPn`` print it.

A process set starts at ``p``; a file set at ``f`` (or at ``t`` when FD was not asked
for). An IPv4/IPv6 TCP/UDP file set becomes one socket, accounted to its ``n`` line;
its other field lines are skipped as parts of that record, the lines of other files as
"not an internet socket". A TCP socket needs the ``T`` field (``TST=...``) for its
state: without it the row is an error (lsof was not asked for it), never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from analyzer.snapshot.importers import lsof
from analyzer.snapshot.importers.common import Ledger, LineError
from analyzer.snapshot.importers.lsof import socket_row

NAME = "lsof-F"
TOOL = "lsof -F"
OS = None
UNSEEN = lsof.UNSEEN

_FIELD = re.compile(r"^[a-zA-Z]")
_SIGNATURE = re.compile(r"^(p\d+|tIPv[46]|P(TCP|UDP)|TST=\w+)$")
_PROCESS_FIELDS = set("pcugLRK")


def score(lines: list[str]) -> int:
    matches = sum(bool(_SIGNATURE.match(line.strip())) for line in lines)
    return matches if all(_FIELD.match(line) or not line.strip() for line in lines) else 0


@dataclass
class _Process:
    pid: int | None = None
    command: str | None = None
    user: str | None = None
    uid: int | None = None


@dataclass
class _File:
    fields: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (line, value)
    lines: list[int] = field(default_factory=list)


def parse(lines: list[str], ledger: Ledger, option: str | None = None) -> None:
    process = _Process()
    current: _File | None = None
    for number, line in enumerate(lines, start=1):
        text = line.rstrip("\n")
        if not text.strip():
            ledger.blank(number)
            continue
        key, value = text[0], text[1:]
        starts_file = key == "f" or (key == "t" and (current is None or "t" in current.fields))
        if key == "p" or starts_file:
            _finish(current, process, ledger)
            current = None
        if key in _PROCESS_FIELDS:
            process = _process_field(process, key, value, number, ledger)
            continue
        if current is None:
            current = _File()
        current.fields.setdefault(key if key != "T" else f"T{value.split('=')[0]}",
                                  (number, value))
        current.lines.append(number)
    _finish(current, process, ledger)


def _process_field(process: _Process, key: str, value: str, number: int,
                   ledger: Ledger) -> _Process:
    if key == "p":
        process = _Process(pid=int(value) if value.isdigit() else None)
    elif key == "c":
        process.command = value
    elif key == "L":
        process.user = value
    elif key == "u" and value.isdigit():
        process.uid = int(value)
    ledger.skip(number, "lsof -F process field (joined to its sockets)")
    return process


def _finish(current: _File | None, process: _Process, ledger: Ledger) -> None:
    if current is None:
        return
    kind = current.fields.get("t", (0, ""))[1]
    proto = current.fields.get("P", (0, ""))[1]
    if not kind and proto in ("TCP", "UDP"):
        first = current.lines[0]
        ledger.error(first, "lsof -F without the t field: the socket's family is unknown")
        for number in current.lines[1:]:
            ledger.skip(number, "lsof -F field line of a socket record")
        return
    if kind not in ("IPv4", "IPv6") or proto not in ("TCP", "UDP"):
        for number in current.lines:
            ledger.skip(number, "not an internet socket")
        return
    name_line, name = current.fields.get("n", (current.lines[0], ""))
    for number in current.lines:
        if number != name_line:
            ledger.skip(number, "lsof -F field line of a socket record")
    try:
        state = current.fields.get("TST", (0, None))[1]
        row = socket_row(proto.lower(), kind, name, state.split("=", 1)[1] if state else None,
                         name_line)
    except LineError as exc:
        ledger.error(name_line, str(exc))
        return
    row.pid, row.process = process.pid, process.command
    row.uid = process.uid
    row.user = process.user or (str(process.uid) if process.uid is not None else None)
    ledger.socket(name_line, row.to_socket())
