"""Join the pieces of connections that file rotation cut apart.

Each input file is read on its own, so a connection that was live when ``tcpdump -G/-C``
rotated the file appears as a flow at the end of one file and a (usually midstream) flow
at the start of the next. Reading the files as one stream would have kept it one flow.
`stitch` rebuilds exactly what that single stream would give, from the raw records of
the flow table (`analyzer._flowtable`, columns `RAW_FLOW_COLUMNS`), applying the table's
own rules at each file boundary:

* Files are taken in time order (first packet, then path).
* For each flow key (protocol, both endpoints, VLANs, tunnel), the first flow of a file
  continues the latest flow of that key from the earlier files when the single stream
  would have put its first packet into that flow: the gap is at most the timeout
  (``closed_linger`` once the flow is closed, else the protocol's timeout), and it is not
  a new pure SYN on a closed flow's ports.
* A continued flow adds the later piece's counters direction by direction (the pieces
  may name the client differently when the later one had to guess it), ORs the flag
  bits, keeps the earlier piece's start facts (midstream, guessed, first SYN) and is
  closed when the union of both pieces closes it.

The work is vectorized: rows are sorted by (file, key, first packet) once, and each file
is one numpy step joining its first flow of every key to that key's latest flow so far.

Known gaps, both needing packets the per-file records do not keep: an ICMP error in a
later file quoting a datagram of an earlier file is lost (the UDP flow stays
``unanswered``); and when a connection closes across the cut (closed, or half closed
and then closed, around the rotation), the later piece was read without knowing that,
so where the single stream would split its ports again within that file (a new SYN, or
a pause longer than the linger) the piece did not. Such joins are counted
(`Stitched.joined_near_close`) and reported. (And where a later piece took the server
for the client, as only a pure SYN from the server side can make it, the client's SYNs
in it count as one.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analyzer._flowtable import RAW_FLOW_COLUMNS
from analyzer.flows import flowbits as fb
from analyzer.flows.table import NS, Timeouts
from analyzer.verdict.factorize import unique_rows

RawFlows = dict[str, np.ndarray]

_COUNTERS = ("packets", "ip_bytes", "payload_bytes")
_START_FLAGS = fb.MIDSTREAM | fb.GUESSED | fb.FIRST_SYNACK


@dataclass(frozen=True)
class FilePiece:
    """The raw flows of one input file and the time span of its packets."""

    name: str
    first_ts_ns: int
    last_ts_ns: int
    raw: RawFlows

    def __len__(self) -> int:
        return len(self.raw["first_ts_ns"])


def empty_raw() -> RawFlows:
    return {name: np.empty((0, *shape), dtype=dt) for name, (dt, shape) in RAW_FLOW_COLUMNS.items()}


@dataclass
class Stitched:
    """The joined flows; how many pieces were joined, and how many of those joins the
    module docstring names as possibly inexact (the connection closed across the cut)."""

    raw: RawFlows
    joined: int = 0
    joined_near_close: int = 0


def stitch(pieces: Sequence[FilePiece], timeouts: Timeouts | None = None) -> Stitched:
    """The raw flows of all pieces, with connections split by file boundaries joined."""
    ordered = sorted(
        (piece for piece in pieces if len(piece)), key=lambda p: (p.first_ts_ns, p.name)
    )
    if not ordered:
        return Stitched(empty_raw())
    raw = {name: np.concatenate([p.raw[name] for p in ordered]) for name in RAW_FLOW_COLUMNS}
    file_of = np.repeat(np.arange(len(ordered)), [len(p) for p in ordered])
    keys = flow_keys(raw)
    order = np.lexsort((raw["last_ts_ns"], raw["first_ts_ns"], keys, file_of))
    raw = {name: column[order] for name, column in raw.items()}
    result = Stitched(raw)
    keep = _join(result, file_of[order], keys[order], _Limits(timeouts or Timeouts()))
    result.raw = {name: column[keep] for name, column in raw.items()}
    return result


@dataclass(frozen=True)
class _Limits:
    """The flow table's timeouts in ns."""

    tcp: int
    udp: int
    linger: int

    def __init__(self, timeouts: Timeouts) -> None:
        object.__setattr__(self, "tcp", int(timeouts.tcp * NS))
        object.__setattr__(self, "udp", int(timeouts.udp * NS))
        object.__setattr__(self, "linger", int(timeouts.closed_linger * NS))


def flow_keys(raw: RawFlows) -> np.ndarray:
    """A small integer per flow key: protocol, tunnel, VLANs, both endpoints (sorted)."""
    n = len(raw["first_ts_ns"])
    client = _endpoints(raw["client_addr"], raw["client_port"])
    server = _endpoints(raw["server_addr"], raw["server_port"])
    client_low = _rows_less(client, server)
    low = np.where(client_low[:, None], client, server)
    high = np.where(client_low[:, None], server, client)
    head = np.empty((n, 10), dtype=np.uint8)
    head[:, 0] = raw["proto"]
    head[:, 1] = raw["tunnel"]
    head[:, 2:6] = raw["vlan"].astype("<i4").view(np.uint8).reshape(n, 4)
    head[:, 6:10] = raw["vlan_inner"].astype("<i4").view(np.uint8).reshape(n, 4)
    _, codes = unique_rows(np.concatenate([head, low, high], axis=1))
    return codes


def _endpoints(addresses: np.ndarray, ports: np.ndarray) -> np.ndarray:
    """(n, 18) bytes: the address, then the port big-endian (sorts like (address, port))."""
    port_bytes = ports.astype(">u2").view(np.uint8).reshape(len(ports), 2)
    return np.concatenate([addresses.reshape(len(ports), 16), port_bytes], axis=1)


def _rows_less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise lexicographic a < b of two (n, k) uint8 arrays."""
    differ = a != b
    first = differ.argmax(axis=1)
    rows = np.arange(len(a))
    return np.asarray(differ[rows, first] & (a[rows, first] < b[rows, first]))


def _join(result: Stitched, file_of: np.ndarray, keys: np.ndarray, limits: _Limits) -> np.ndarray:
    """Join each file's first flow of a key to that key's latest flow of the earlier files
    (rows sorted by file, key, first packet); the rows that remain flows of their own."""
    raw = result.raw
    n = len(keys)
    keep = np.ones(n, dtype=bool)
    latest = np.full(int(keys.max()) + 1 if n else 0, -1, dtype=np.int64)  # per key: row
    merged_into = np.full(n, -1, dtype=np.int64)
    bounds = np.flatnonzero(np.diff(file_of)) + 1
    for lo, hi in zip(np.r_[0, bounds], np.r_[bounds, n], strict=True):
        rows = np.arange(lo, hi)
        file_keys = keys[lo:hi]
        first = np.r_[True, file_keys[1:] != file_keys[:-1]]
        last = np.r_[file_keys[1:] != file_keys[:-1], True]
        heads = rows[first]
        earlier = latest[keys[heads]]
        found = earlier >= 0
        heads, earlier = heads[found], earlier[found]
        joins = _continues(raw, earlier, heads, limits)
        heads, earlier = heads[joins], earlier[joins]
        closing = _closing(raw, earlier)
        _merge_into(raw, earlier, heads)
        result.joined += len(heads)
        result.joined_near_close += int((closing & fb.has(raw["flow_flags"][earlier],
                                                          fb.CLOSED)).sum())
        keep[heads] = False
        merged_into[heads] = earlier
        now_latest = rows[last]
        latest[keys[now_latest]] = np.where(merged_into[now_latest] >= 0,
                                            merged_into[now_latest], now_latest)
    return keep


def _continues(raw: RawFlows, earlier: np.ndarray, later: np.ndarray,
               limits: _Limits) -> np.ndarray:
    """Would the single stream have put `later`'s first packet into flow `earlier`?"""
    closed = fb.has(raw["flow_flags"][earlier], fb.CLOSED)
    tcp = raw["proto"][earlier] == fb.TCP
    timeout = np.where(closed, limits.linger, np.where(tcp, limits.tcp, limits.udp))
    gap = raw["first_ts_ns"][later] - raw["last_ts_ns"][earlier]
    starts_with_syn = (raw["proto"][later] == fb.TCP) & ~fb.has(raw["flow_flags"][later],
                                                                 fb.MIDSTREAM)
    return np.asarray((gap <= timeout) & ~(closed & starts_with_syn))


def _closing(raw: RawFlows, rows: np.ndarray) -> np.ndarray:
    """Closed, or half closed (a FIN from one side): the next piece may close it."""
    sent = raw["sent_c2s"][rows] | raw["sent_s2c"][rows]
    return np.asarray(fb.has(raw["flow_flags"][rows], fb.CLOSED) | fb.has(sent, fb.FIN))


def _merge_into(raw: RawFlows, earlier: np.ndarray, later: np.ndarray) -> None:
    """Add flows `later` to flows `earlier` (distinct rows), direction by direction."""
    same = (raw["client_port"][earlier] == raw["client_port"][later]) & np.all(
        raw["client_addr"][earlier] == raw["client_addr"][later], axis=1)
    first_syn_off = np.uint8(~fb.FIRST_SYN & 0xFF)
    for role, other in (("c2s", "s2c"), ("s2c", "c2s")):
        def theirs(name: str, role: str = role, other: str = other) -> np.ndarray:
            return np.where(same, raw[f"{name}_{role}"][later], raw[f"{name}_{other}"][later])

        sent = theirs("sent")
        # this role's first packet is in the earlier piece when it sent anything there
        sent = np.where(raw[f"packets_{role}"][earlier] > 0, sent & first_syn_off, sent)
        flags = theirs("tcp_flags")
        counters = {name: theirs(name) for name in _COUNTERS}
        raw[f"sent_{role}"][earlier] |= sent
        raw[f"tcp_flags_{role}"][earlier] |= flags
        for name, values in counters.items():
            raw[f"{name}_{role}"][earlier] += values
    # syn_count counts the client's pure SYNs; a piece that took the other side for the
    # client saw them as its server's: at least one then.
    extra_syns = np.where(same, raw["syn_count"][later],
                          fb.has(raw["sent_s2c"][later], fb.SYN).astype(np.uint32))
    raw["syn_count"][earlier] += extra_syns.astype(raw["syn_count"].dtype)
    flags = raw["flow_flags"]
    flags[earlier] |= flags[later] & np.uint8(~_START_FLAGS & 0xFF)
    sent_c2s, sent_s2c = raw["sent_c2s"][earlier], raw["sent_s2c"][earlier]
    closes = fb.has(sent_c2s | sent_s2c, fb.RST) | (fb.has(sent_c2s, fb.FIN)
                                                   & fb.has(sent_s2c, fb.FIN))
    flags[earlier] |= np.where(closes, np.uint8(fb.CLOSED), np.uint8(0))
    raw["first_ts_ns"][earlier] = np.minimum(raw["first_ts_ns"][earlier],
                                             raw["first_ts_ns"][later])
    raw["last_ts_ns"][earlier] = np.maximum(raw["last_ts_ns"][earlier],
                                            raw["last_ts_ns"][later])
