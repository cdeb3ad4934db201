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

The keys are numbered in one hashing pass (`analyzer._flowtable.flow_key_codes`), the rows
sorted by (file, key, first packet) once (numpy), then joined in one pass without the GIL
(`analyzer._flowtable.stitch_join`, ext/flowtable_stitch.pxi). The numpy version took a
numpy step per file (~0.2 ms of Python overhead a file) and factorised 46-byte key rows:
stitching 16 files went from 118 to 41 ms, 2000 files from 514 to 45 ms.

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

from analyzer._flowtable import RAW_FLOW_COLUMNS, flow_key_codes, stitch_join
from analyzer.flows.table import NS, Timeouts

RawFlows = dict[str, np.ndarray]


@dataclass(frozen=True)
class FilePiece:
    """The raw flows of one input file and the time span of its packets; with `rows`,
    only the flows at those rows of `raw` (a share of them, in time order)."""

    name: str
    first_ts_ns: int
    last_ts_ns: int
    raw: RawFlows
    rows: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.raw["first_ts_ns"] if self.rows is None else self.rows)

    def column(self, name: str) -> np.ndarray:
        column = self.raw[name]
        return column if self.rows is None else column[self.rows]


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
    raw = {name: np.concatenate([p.column(name) for p in ordered]) for name in RAW_FLOW_COLUMNS}
    file_of = np.repeat(np.arange(len(ordered)), [len(p) for p in ordered])
    keys = flow_key_codes(raw)  # protocol, tunnel, VLANs, both endpoints in either order
    order = _by_file_key_and_time(raw, keys, file_of)
    _take_in_place(raw, order)
    result = Stitched(raw)
    keep = _join(result, file_of[order], keys[order], _Limits(timeouts or Timeouts()))
    _take_in_place(raw, keep)
    return result


def _by_file_key_and_time(raw: RawFlows, keys: np.ndarray, file_of: np.ndarray) -> np.ndarray:
    """The rows' order by file, key, first packet, last packet. The rows come by file, and
    the flow table gives each file's flows by first and last packet already (checked): a
    stable sort of one (file, key) number then keeps that order, at a fifth of the time
    of sorting all four keys (400 k flows: 12 ms instead of 65)."""
    first, last = raw["first_ts_ns"], raw["last_ts_ns"]
    step = np.diff(first)
    in_time = (np.diff(file_of) != 0) | (step > 0) | ((step == 0) & (np.diff(last) >= 0))
    if not in_time.all():
        return np.lexsort((last, first, keys, file_of))
    return np.argsort(file_of.astype(np.int64) * (int(keys.max()) + 1) + keys, kind="stable")


def _take_in_place(raw: RawFlows, rows: np.ndarray) -> None:
    """Each column replaced by its `rows`, one at a time: at most one column's copy is
    alive beside the columns (a new dict of all of them held two copies at once)."""
    for name, column in raw.items():
        raw[name] = column[rows]


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


def _join(result: Stitched, file_of: np.ndarray, keys: np.ndarray, limits: _Limits) -> np.ndarray:
    """Join each file's first flow of a key to that key's latest flow of the earlier files
    (rows sorted by file, key, first packet; `_flowtable.stitch_join`, in place); the rows
    that remain flows of their own."""
    keep, joined, near_close = stitch_join(
        result.raw, np.ascontiguousarray(keys, dtype=np.int64),
        np.ascontiguousarray(file_of, dtype=np.int64), limits.tcp, limits.udp, limits.linger)
    result.joined += joined
    result.joined_near_close += near_close
    return keep.astype(bool)
