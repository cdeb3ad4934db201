"""iproute2 `ss` (-tlnp, -tanp, -ulnp, -tulpen, -a), new and old spellings.

ss gets sockets from sock_diag, so it can show what netstat cannot:

* ``-e`` prints ``v6only:N`` for every AF_INET6 socket in LISTEN/UNCONN (the kernel
  sends INET_DIAG_SKV6ONLY for those states only). A row with ``-e`` details
  (``ino:``) but without ``v6only:`` in a file that shows it elsewhere is AF_INET.
* iproute2 4.14 and newer print ``0.0.0.0`` for an AF_INET wildcard, ``*`` for an
  AF_INET6 wildcard with v6only off, ``[::]`` for one with v6only on, and
  ``[::ffff:a.b.c.d]`` for a mapped bind.
* Older iproute2 printed ``*`` for the AF_INET wildcard and ``:::80``/``[::]:80``
  (RHEL 7) for every AF_INET6 wildcard, v6only unknown.

So ``*:80`` is ambiguous alone. The file tells which ss wrote it: an IPv4 peer as
``0.0.0.0:*`` only comes from the new one; an unbracketed IPv6 endpoint, or an IPv4
row with the peer ``*:*``, only from the old one. If the file shows neither, a ``*``
row is an error (choose with --format ss-new / ss-old).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analyzer.snapshot.importers.common import (
    Address,
    Ledger,
    LineError,
    Row,
    known_state,
    parse_address,
    parse_port,
    signature_score,
    split_ss_endpoint,
    text_family,
)

NAME = "ss"
TOOL = "iproute2 ss"
OS = "linux"
UNSEEN = ("per-socket v6only: only where ss -e printed it or iproute2 4.14+ spelt "
          "the wildcard (* or [::])",)

_NETIDS_SKIPPED = {
    "u_str": "unix socket", "u_dgr": "unix socket", "u_seq": "unix socket",
    "nl": "netlink socket", "p_raw": "packet socket", "p_dgr": "packet socket",
    "raw": "raw socket (no port)", "icmp6": "raw socket (no port)",
    "v_str": "vsock socket", "v_dgr": "vsock socket", "sctp": "SCTP socket",
    "mptcp": "MPTCP socket", "tipc": "TIPC socket", "xdp": "XDP socket",
    "dccp": "DCCP socket",
}
_STATES = {"ESTAB", "SYN-SENT", "SYN-RECV", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT",
           "UNCONN", "CLOSE-WAIT", "LAST-ACK", "LISTEN", "CLOSING", "UNKNOWN"}
_HEADER = re.compile(r"^(Netid\s+)?State\s+Recv-Q\s+Send-Q")
_ROW = re.compile(r"^(?:(tcp|udp)\s+)?(ESTAB|LISTEN|UNCONN|TIME-WAIT|SYN-SENT|CLOSE-WAIT)"
                  r"\s+\d+\s+\d+\s+\S+:\S+\s+\S+:\S+")
_ROW_OR_USERS = re.compile(rf"{_ROW.pattern}|users:\(\(")
_USERS = re.compile(r"users:\(\((.*?)\)\)(?:\s|$)")
_USER = re.compile(r'^"(.*)",(?:pid=)?(\d+),(?:fd=)?(\d+)$')
_V6ONLY = re.compile(r"\bv6only:([01])\b")
_EXTENDED = re.compile(r"\b(ino|uid|sk):\S+")
_ENDPOINT_START = "[*:0123456789abcdef"
_NUMBER_OF = re.compile(r"\b(uid|ino):(\d+)\b")


def score(lines: list[str]) -> int:
    return signature_score(lines, _HEADER, _ROW_OR_USERS)


@dataclass(frozen=True)
class _Style:
    """What the whole file says about the ss that wrote it."""

    new: bool
    old: bool
    shows_v6only: bool
    has_netid: bool
    lone_proto: str | None  # without a Netid column: tcp if LISTEN rows, udp if UNCONN


def parse(lines: list[str], ledger: Ledger, forced: str | None = None) -> None:
    style = _style(lines, forced)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            ledger.blank(number)
        elif _HEADER.match(line.strip()):
            ledger.header(number)
        elif line[:1] in (" ", "\t") and not _ROW.match(line.strip()):
            ledger.skip(number, "ss detail line (-i/-m) of the row above")
        else:
            _parse_row(line.strip(), number, ledger, style)


def _style(lines: list[str], forced: str | None) -> _Style:
    new = old = v6only = netid = False
    states: set[str] = set()
    for line in lines:
        tokens = line.split()
        if len(tokens) < 5 or tokens[0] in ("Netid", "State"):
            continue
        v6only = v6only or bool(_V6ONLY.search(line))
        netid = netid or tokens[0] in ("tcp", "udp") or tokens[0] in _NETIDS_SKIPPED
        start = 1 if tokens[0] not in _STATES else 0
        states.add(tokens[start])
        endpoints = [t for t in tokens[start:start + 5] if ":" in t and t[0] in _ENDPOINT_START]
        if len(endpoints) < 2:
            continue
        local, peer = endpoints[0], endpoints[1]
        new = new or peer == "0.0.0.0:*"
        old = old or _unbracketed_v6(local) or _unbracketed_v6(peer) or (
            text_family(local.rsplit(":", 1)[0].split("%")[0]) == 4 and peer == "*:*")
    if forced == "new":
        new, old = True, False
    elif forced == "old":
        new, old = False, True
    lone = "tcp" if "LISTEN" in states else "udp" if "UNCONN" in states else None
    return _Style(new and not old, old and not new, v6only, netid, lone)


def _unbracketed_v6(endpoint: str) -> bool:
    return not endpoint.startswith("[") and endpoint.count(":") >= 2


def _parse_row(line: str, number: int, ledger: Ledger, style: _Style) -> None:
    tokens = line.split()
    if tokens[0] in _NETIDS_SKIPPED:
        ledger.skip(number, _NETIDS_SKIPPED[tokens[0]])
        return
    ledger.socket_from(number, lambda: _row(line, tokens, number, style))


def _row(line: str, tokens: list[str], number: int, style: _Style) -> Row:
    if tokens[0] in ("tcp", "udp"):
        proto, tokens = tokens[0], tokens[1:]
    elif style.has_netid:
        raise LineError(f"unknown Netid {tokens[0]!r}")
    elif style.lone_proto is None:
        raise LineError("no Netid column and no LISTEN/UNCONN row to tell tcp from udp")
    else:
        proto = style.lone_proto
    if len(tokens) < 5 or tokens[0] not in _STATES:
        raise LineError(f"no ss state column in {line[:60]!r}")
    state, local_end, peer_end = tokens[0], tokens[3], tokens[4]
    local_text, local_port = split_ss_endpoint(local_end)
    peer_text, peer_port = split_ss_endpoint(peer_end)
    extra = " ".join(tokens[5:])
    family, v6only, evidence = _family(local_text, local_end, extra, style, state)
    row = Row(
        proto=proto, family=family, local=_address(local_text, family),
        local_port=parse_port(local_port, proto),
        remote=_address(peer_text, family), remote_port=parse_port(peer_port, proto),
        state_word=known_state(state) if state != "UNKNOWN" else "UNKNOWN", line=number,
        evidence=evidence, v6only=v6only,
    )
    if not style.has_netid:
        row.evidence += f"; no Netid column: {proto} (the file has "\
                        f"{'LISTEN' if proto == 'tcp' else 'UNCONN'} rows)"
    _owner(extra, row)
    return row


def _address(text: str, family: int) -> Address:
    return parse_address(text, family)


def _family(
    local: str, endpoint: str, extra: str, style: _Style, state: str
) -> tuple[int, bool | None, str]:
    flag = _V6ONLY.search(extra)
    base = local.split("%")[0]
    if flag is not None:
        return 6, flag.group(1) == "1", f'ss -e printed v6only:{flag.group(1)}'
    if base == "*":
        return _star_family(endpoint, extra, style, state)
    written = text_family(base)
    if written is None:
        raise LineError(f"{local!r} is a host name, not an address (run ss with -n)")
    if written == 4:
        return 4, None, f'ss printed "{endpoint}": AF_INET'
    if base == "[::]" and style.new:
        return 6, True, f'ss 4.14+ printed "{endpoint}": AF_INET6 with v6only on'
    return 6, None, f'ss printed "{endpoint}": AF_INET6, v6only not shown'


def _star_family(
    endpoint: str, extra: str, style: _Style, state: str
) -> tuple[int, bool | None, str]:
    listening = state in ("LISTEN", "UNCONN")
    if style.shows_v6only and listening and _EXTENDED.search(extra):
        return 4, None, (f'ss -e printed "{endpoint}" without v6only, which it shows for '
                         "every AF_INET6 listener: AF_INET")
    if style.new:
        return 6, False, (f'ss 4.14+ printed "{endpoint}" (the file writes AF_INET '
                          "wildcards as 0.0.0.0): AF_INET6 with v6only off")
    if style.old:
        return 4, None, (f'older ss printed "{endpoint}" (the file writes IPv6 wildcards '
                         "as :::/[::]): AF_INET")
    raise LineError(f'"{endpoint}" is AF_INET in iproute2 before 4.14 but a dual-stack '
                    "AF_INET6 socket after, and this file does not tell which "
                    "(force with --format ss-old or ss-new)")


def _owner(extra: str, row: Row) -> None:
    users = _USERS.search(extra)
    if users:
        first = users.group(1).split("),(")[0]
        match = _USER.match(first)
        if match is None:
            raise LineError(f"cannot read users:(({users.group(1)[:40]}))")
        row.process, row.pid = match.group(1), int(match.group(2))
    for key, value in _NUMBER_OF.findall(extra):
        if key == "uid":
            row.uid = int(value)
            row.user = value
        else:
            row.inode = int(value)
