"""What every text importer shares: the line ledger, endpoint and state parsing.

`Ledger` records what became of every input line (socket, header, blank, skipped
with a reason, error); `Ledger.close()` checks that each line got exactly one fate,
so nothing is dropped silently. `Endpoint` parsing turns the many spellings of
"address:port" (``[::]:80``, ``:::80``, ``*.22``, ``*:http``) into schema values.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from analyzer.snapshot.importers.services import port_number
from analyzer.snapshot.schema import InputIssue, Socket, canonical_address


def signature_score(lines: list[str], header: re.Pattern[str], row: re.Pattern[str],
                    header_weight: int = 5) -> int:
    """How much `lines` look like a format: its header lines weigh more than its rows."""
    headers = sum(header_weight for line in lines if header.search(line))
    return headers + sum(bool(row.search(line)) for line in lines)


class LineError(ValueError):
    """A line (or a field in it) that the importer does not understand."""


@dataclass
class Ledger:
    """The fate of each line of one input text."""

    source: str
    total: int
    sockets: list[Socket] = field(default_factory=list)
    errors: list[InputIssue] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    fates: dict[int, str] = field(default_factory=dict)  # line -> kind, or the skip reason

    def _mark(self, line: int, kind: str, detail: str | None = None) -> None:
        if line in self.fates:
            raise AssertionError(f"{self.source}: line {line} accounted twice")
        self.fates[line] = detail or kind
        self.kinds[kind] += 1

    def socket(self, line: int, sock: Socket) -> None:
        self._mark(line, "socket")
        self.sockets.append(sock)

    def header(self, line: int) -> None:
        self._mark(line, "header")

    def blank(self, line: int) -> None:
        self._mark(line, "blank")

    def skip(self, line: int, reason: str) -> None:
        self._mark(line, "skipped", f"skipped: {reason}")
        self.skipped[reason] += 1

    def error(self, line: int, message: str) -> None:
        self._mark(line, "error")
        self.errors.append(InputIssue(self.source, line, message))

    def socket_from(self, line: int, build: Callable[[], Row]) -> None:
        """Record the socket `build()` describes, or the LineError it raises, at `line`."""
        try:
            sock = build().to_socket()
        except LineError as exc:
            self.error(line, str(exc))
            return
        self.socket(line, sock)

    def data_lines(self, lines: list[str], header: re.Pattern[str]) -> Iterator[tuple[int, str]]:
        """(number, stripped text) of the lines that are neither blank nor a `header`
        (those are recorded here)."""
        for number, line in enumerate(lines, start=1):
            stripped = line.strip()
            if not stripped:
                self.blank(number)
            elif header.match(stripped):
                self.header(number)
            else:
                yield number, stripped

    def counts(self) -> dict[str, int]:
        """Line counts by kind; raises if a line got no fate at all."""
        missing = sorted(set(range(1, self.total + 1)) - set(self.fates))
        if missing:
            raise AssertionError(f"{self.source}: line {missing[0]} was not accounted for")
        counts = {"total": self.total}
        for kind in ("socket", "header", "blank", "skipped", "error"):
            counts[kind] = self.kinds[kind]
        return counts


# State spellings of every tool, mapped onto the Linux names of the schema.
_STATE_NAMES: dict[str, str] = {
    "ESTAB": "ESTABLISHED",
    "SYN-SENT": "SYN_SENT",
    "SYN-RECV": "SYN_RECV",
    "SYN_RCVD": "SYN_RECV",
    "SYN_RECEIVED": "SYN_RECV",
    "FIN-WAIT-1": "FIN_WAIT1",
    "FIN_WAIT_1": "FIN_WAIT1",
    "FIN-WAIT-2": "FIN_WAIT2",
    "FIN_WAIT_2": "FIN_WAIT2",
    "TIME-WAIT": "TIME_WAIT",
    "CLOSE-WAIT": "CLOSE_WAIT",
    "LAST-ACK": "LAST_ACK",
    "LISTENING": "LISTEN",
    "CLOSED": "CLOSE",
    "BOUND": "CLOSE",  # Windows: bound, neither listening nor connected
    "NEW-SYN-RECV": "NEW_SYN_RECV",
}
_LINUX_STATES = frozenset({
    "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE",
    "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV", "UNCONN",
})


def known_state(text: str) -> str | None:
    """The schema name of a state word of any tool, or None if it is not one."""
    word = text.strip("()").upper()
    name = _STATE_NAMES.get(word, word)
    return name if name in _LINUX_STATES else None


def state_for(proto: str, word: str | None, has_peer: bool) -> str:
    """The schema state; UDP without a state word is UNCONN, or ESTABLISHED with a peer."""
    if word is None or word == "":
        if proto == "udp":
            return "ESTABLISHED" if has_peer else "UNCONN"
        raise LineError("no state column for a TCP socket")
    state = known_state(word)
    if state is None:
        raise LineError(f"unknown state {word!r}")
    if proto == "udp" and state == "CLOSE":
        return "UNCONN"
    if proto == "tcp" and state == "UNCONN":
        return "CLOSE"
    if proto == "udp" and state not in ("UNCONN", "ESTABLISHED"):
        raise LineError(f"a UDP socket cannot be in TCP state {word}")
    return state


@dataclass(frozen=True)
class Address:
    """One parsed address: schema text, the interface after %, how it was written."""

    text: str | None  # None: no address ("*" or the unspecified address as a peer)
    interface: str | None = None
    written_ipv4_in_v6: bool = False


_WILDCARDS = {4: "0.0.0.0", 6: "::"}


def parse_address(text: str, family: int, wildcard_ok: bool = True) -> Address:
    """An address text of a row whose socket family is known.

    ``*`` is the wildcard of the family; IPv4 text in an AF_INET6 row becomes
    ``::ffff:a.b.c.d`` (`written_ipv4_in_v6`); zones (``%eth0``) go to `interface`.
    """
    raw = text.strip()
    if raw.startswith("[") and raw.endswith("]"):
        raw = raw[1:-1]
    interface = None
    if "%" in raw:
        raw, zone = raw.split("%", 1)
        interface = zone or None
        if raw.endswith("]") and raw.startswith("["):
            raw = raw[1:-1]
    if raw == "*":
        if not wildcard_ok:
            raise LineError(f"address {text!r}: '*' is not allowed here")
        return Address(_WILDCARDS[family], interface)
    try:
        parsed = ipaddress.ip_address(raw)
    except ValueError:
        raise LineError(not_an_address(text)) from None
    if parsed.version == 4 and family == 6:
        return Address(f"::ffff:{parsed}", interface, written_ipv4_in_v6=True)
    if parsed.version == 6 and family == 4:
        raise LineError(f"address {text!r} is IPv6 in a row of an IPv4 socket")
    return Address(canonical_address(parsed), interface)


def not_an_address(text: str) -> str:
    """Why `text` is not an address: cut short, a host name, or plain wrong."""
    raw = text.strip("[]")
    if re.fullmatch(r"[0-9A-Fa-f:.]+", raw) and ":" in raw and (
            raw.count("::") > 1 or raw.endswith(":") or len(raw) >= 15):
        return (f"address {text!r} looks cut short (netstat truncates long IPv6 addresses "
                "to fit its column; use -W/wide output)")
    if re.fullmatch(r"[\w.-]+", raw) and re.search(r"[G-Zg-z]", raw):
        return f"{text!r} is a host name, not an address (run the command with -n)"
    return f"{text!r} is not an IP address"


def text_family(text: str) -> int | None:
    """4 or 6 when the address text (brackets, zone allowed) is an IP address; else None."""
    raw = text.strip("[]").split("%")[0].strip("[]")
    try:
        return ipaddress.ip_address(raw).version
    except ValueError:
        return None


def parse_port(text: str, proto: str) -> int | None:
    """A port number, ``*`` (None), or a service name (resolved, see `services`)."""
    if text == "*":
        return None
    if not text:
        raise LineError("the port is missing")
    if text.isdigit():
        number = int(text)
        if number > 65535:
            raise LineError(f"port {number} is over 65535")
        return number
    service = port_number(text, proto)
    if service is None:
        raise LineError(f"unknown service name {text!r} (run the command with -n/-P)")
    return service


def split_colon_endpoint(text: str) -> tuple[str, str]:
    """Split ``addr:port`` (``[v6]:p``, ``v6:p`` at the last colon, ``*:*``)."""
    if text.startswith("["):
        close = text.find("]")
        if close < 0 or text[close + 1:close + 2] != ":":
            raise LineError(f"endpoint {text!r} has no ':port' after ']'")
        return text[:close + 1], text[close + 2:]
    if ":" not in text:
        raise LineError(f"endpoint {text!r} has no ':port'")
    address, port = text.rsplit(":", 1)
    return address, port


def split_ss_endpoint(text: str) -> tuple[str, str]:
    """ss endpoints: ``[addr]%if:port``, ``addr%if:port``, ``*:port``, ``:::port``."""
    if text.startswith("["):
        close = text.find("]")
        tail = text[close + 1:]
        zone = ""
        if tail.startswith("%"):
            zone, _, port = tail[1:].rpartition(":")
            return f"{text[:close + 1]}%{zone}", port
        if not tail.startswith(":"):
            raise LineError(f"endpoint {text!r} has no ':port' after ']'")
        return text[:close + 1], tail[1:]
    return split_colon_endpoint(text)


def split_dot_endpoint(text: str) -> tuple[str, str]:
    """BSD/macOS/HP-UX ``addr.port`` (``*.22``, ``127.0.0.1.25``, ``::1.49309``, ``*.*``)."""
    if "." not in text:
        raise LineError(f"endpoint {text!r} has no '.port'")
    address, port = text.rsplit(".", 1)
    return address, port


def is_unspecified(address: str | None) -> bool:
    return address in (None, "0.0.0.0", "::")


@dataclass
class Row:
    """The fields of one socket row, as the importers collect them."""

    proto: str
    family: int
    local: Address
    local_port: int | None
    remote: Address
    remote_port: int | None
    state_word: str | None
    line: int
    evidence: str
    v6only: bool | None = None
    pid: int | None = None
    process: str | None = None
    user: str | None = None
    uid: int | None = None
    inode: int | None = None

    @classmethod
    def from_text(cls, proto: str, family: int, local: tuple[str, str],
                  remote: tuple[str, str], **fields: Any) -> Row:
        """A row from the (address, port) texts of both ends, as the splitters return
        them (see `parse_address`, `parse_port`); `fields` are the other Row fields."""
        return cls(proto=proto, family=family, local=parse_address(local[0], family),
                   local_port=parse_port(local[1], proto),
                   remote=parse_address(remote[0], family),
                   remote_port=parse_port(remote[1], proto), **fields)

    def to_socket(self) -> Socket:
        """The schema socket; a mapped address proves v6only is off (Linux refuses
        an IPv4-mapped bind, and never gives an IPv4 peer, to a v6only socket)."""
        remote = None if is_unspecified(self.remote.text) else self.remote.text
        remote_port = self.remote_port if remote is not None else None
        if remote_port == 0 and remote is None:
            remote_port = None
        state = state_for(self.proto, self.state_word, remote is not None)
        evidence, v6only = self.evidence, self.v6only
        notes = [evidence] if evidence else []
        if self.local.written_ipv4_in_v6 or self.remote.written_ipv4_in_v6:
            notes.append("IPv4 text in an IPv6 socket's row, stored as ::ffff:a.b.c.d")
        mapped = self.family == 6 and (_mapped(self.local.text) or _mapped(remote))
        if mapped and v6only is None:
            v6only = False
            notes.append("an IPv4-mapped address proves v6only=0")
        return Socket(
            proto=self.proto, family=self.family, local_address=self.local.text or "",
            local_port=self.local_port, remote_address=remote, remote_port=remote_port,
            state=state, v6only=v6only if self.family == 6 else None, pid=self.pid,
            process=self.process, user=self.user, uid=self.uid, inode=self.inode,
            evidence="; ".join(notes), line=self.line,
            interface=self.local.interface,
        )


def _mapped(address: str | None) -> bool:
    return address is not None and address.startswith("::ffff:") and "." in address
