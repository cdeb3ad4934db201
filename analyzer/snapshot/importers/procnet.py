"""Raw Linux /proc/net/tcp, tcp6, udp and udp6.

Rows: ``sl: local rem st ... uid timeout inode ...`` with addresses as hex words in
host byte order (little-endian on x86: 0100007F is 127.0.0.1; an IPv6 address is four
such 32-bit words) and ports in big-endian hex. 32 hex digits mean an AF_INET6 socket;
/proc carries no v6only (null), except that a mapped address proves it off. TCP or UDP
cannot be told from the rows: the file name says it (tcp/udp in it), or --format
procnet-tcp / procnet-udp.
"""

from __future__ import annotations

import ipaddress
import re
import struct
from functools import partial
from pathlib import Path

from analyzer.errors import SnapshotError
from analyzer.snapshot.importers.common import (
    Address,
    Ledger,
    LineError,
    Row,
    signature_score,
)
from analyzer.snapshot.schema import canonical_address

NAME = "procnet"
TOOL = "/proc/net"
OS = "linux"
UNSEEN = ("per-socket v6only: /proc/net does not carry it", "processes: /proc/net has none")

_HEADER = re.compile(r"^\s*sl\s+local_address\s+rem(ote)?_address\s+st\b")
_ROW = re.compile(r"^\s*\d+:\s+([0-9A-Fa-f]{8}|[0-9A-Fa-f]{32}):[0-9A-Fa-f]{4}\s")
_STATES = {
    1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
    6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
    11: "CLOSING", 12: "NEW_SYN_RECV",
}
_BYTE_ORDER = "<"  # /proc prints the kernel's u32 words in host order; x86/arm are little


def score(lines: list[str]) -> int:
    return signature_score(lines, _HEADER, _ROW)


def proto_of(lines: list[str], source: str, forced: str | None = None) -> str:
    """tcp or udp from --format, else the file name; SnapshotError when neither says."""
    if forced:
        return forced
    name = Path(source).name.lower()
    for proto in ("udp", "tcp"):
        if proto in name:
            return proto
    raise SnapshotError(source, None, "/proc/net rows do not say tcp or udp and the file "
                        "name does not either: use --format procnet-tcp or procnet-udp")


def parse(lines: list[str], ledger: Ledger, proto: str | None = None) -> None:
    if proto not in ("tcp", "udp"):
        raise AssertionError("procnet.parse needs proto tcp or udp")
    for number, line in ledger.data_lines(lines, _HEADER):
        ledger.socket_from(number, partial(_row, line.split(), proto, number))


def _row(tokens: list[str], proto: str, number: int) -> Row:
    if len(tokens) < 10 or not tokens[0].endswith(":"):
        raise LineError(f"a /proc/net row has at least 10 fields, this one {len(tokens)}")
    local, local_port = _endpoint(tokens[1])
    remote, remote_port = _endpoint(tokens[2])
    family = 6 if len(tokens[1].split(":")[0]) == 32 else 4
    state = _state(tokens[3], proto)
    uid, inode = _number(tokens[7], "uid"), _number(tokens[9], "inode")
    return Row(
        proto=proto, family=family, local=Address(local), local_port=local_port,
        remote=Address(remote), remote_port=remote_port, state_word=state, line=number,
        evidence=f"/proc/net/{proto}{'6' if family == 6 else ''} row: AF_INET"
        f"{'6, v6only not shown' if family == 6 else ''}",
        uid=uid, user=str(uid), inode=inode or None,
    )


def _endpoint(text: str) -> tuple[str, int]:
    address_hex, _, port_hex = text.partition(":")
    try:
        raw = bytes.fromhex(address_hex)
        port = int(port_hex, 16)
    except ValueError:
        raise LineError(f"endpoint {text!r} is not hex address:port") from None
    if len(raw) not in (4, 16) or len(port_hex) != 4:
        raise LineError(f"endpoint {text!r} has a bad length")
    words = struct.unpack(f"{_BYTE_ORDER}{len(raw) // 4}I", raw)
    network = struct.pack(f">{len(words)}I", *words)
    return canonical_address(ipaddress.ip_address(network)), port


def _state(text: str, proto: str) -> str:
    try:
        code = int(text, 16)
    except ValueError:
        raise LineError(f"state {text!r} is not hex") from None
    name = _STATES.get(code)
    if name is None:
        raise LineError(f"unknown TCP state code {text}")
    if proto == "udp" and name not in ("ESTABLISHED", "CLOSE"):
        raise LineError(f"a UDP socket cannot be in state {text} ({name})")
    return name


def _number(text: str, what: str) -> int:
    if not text.isdigit():
        raise LineError(f"{what} {text!r} is not a number")
    return int(text)
