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

Only flows near a file's edges can take part (within the longest timeout of its first
or last packet), so the Python loop runs over boundary flows, not every flow.

Known gaps, both needing packets the per-file records do not keep: an ICMP error in a
later file quoting a datagram of an earlier file is lost (the UDP flow stays
``unanswered``); and when a connection closes across the cut (closed, or half closed
and then closed, around the rotation), the later piece was read without knowing that,
so where the single stream would split its ports again within that file (a new SYN, or
a pause longer than the linger) the piece did not. Such joins are counted
(`Stitched.joined_near_close`) and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analyzer._flowtable import RAW_FLOW_COLUMNS
from analyzer.flows import flowbits as fb
from analyzer.flows.table import NS, Timeouts

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
    starts = np.array([p.first_ts_ns for p in ordered], dtype=np.int64)[file_of]
    ends = np.array([p.last_ts_ns for p in ordered], dtype=np.int64)[file_of]
    limits = _Limits(timeouts or Timeouts())
    near_start = raw["first_ts_ns"] <= starts + limits.horizon
    near_end = raw["last_ts_ns"] >= ends - limits.horizon
    result = Stitched(raw)
    keep = _join_boundary_flows(result, file_of, near_start, near_end, limits)
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

    @property
    def horizon(self) -> int:
        return max(self.tcp, self.udp, self.linger)


def _join_boundary_flows(
    result: Stitched,
    file_of: np.ndarray,
    near_start: np.ndarray,
    near_end: np.ndarray,
    limits: _Limits,
) -> np.ndarray:
    """Merge continuing pieces into the flow they continue (in place); the rows to keep."""
    raw = result.raw
    keep = np.ones(len(file_of), dtype=bool)
    rows = np.flatnonzero(near_start | near_end)
    rows = rows[np.lexsort((raw["last_ts_ns"][rows], raw["first_ts_ns"][rows], file_of[rows]))]
    latest: dict[bytes, int] = {}  # key -> row holding the latest flow of that key
    current_file = -1
    seen_in_file: set[bytes] = set()
    for row in rows.tolist():
        if file_of[row] != current_file:
            current_file = int(file_of[row])
            seen_in_file = set()
        key = _flow_key(raw, row)
        first_in_file = key not in seen_in_file
        seen_in_file.add(key)
        earlier = latest.get(key)
        if (
            first_in_file
            and earlier is not None
            and near_start[row]
            and _continues(raw, earlier, row, limits)
        ):
            result.joined += 1
            closing = _closing(raw, earlier)
            _merge_into(raw, earlier, row)
            result.joined_near_close += closing and bool(raw["flow_flags"][earlier] & fb.CLOSED)
            keep[row] = False
            continue
        latest[key] = row
    return keep


def _flow_key(raw: RawFlows, row: int) -> bytes:
    """Protocol, VLANs, tunnel and both endpoints in canonical (sorted) order."""
    client = raw["client_addr"][row].tobytes() + int(raw["client_port"][row]).to_bytes(2, "big")
    server = raw["server_addr"][row].tobytes() + int(raw["server_port"][row]).to_bytes(2, "big")
    low, high = sorted((client, server))
    head = np.array(
        [raw["proto"][row], raw["tunnel"][row], raw["vlan"][row], raw["vlan_inner"][row]],
        dtype=np.int64,
    ).tobytes()
    return head + low + high


def _continues(raw: RawFlows, earlier: int, later: int, limits: _Limits) -> bool:
    """Would the single stream have put `later`'s first packet into flow `earlier`?"""
    closed = bool(raw["flow_flags"][earlier] & fb.CLOSED)
    if closed:
        timeout = limits.linger
    elif raw["proto"][earlier] == fb.TCP:
        timeout = limits.tcp
    else:
        timeout = limits.udp
    if int(raw["first_ts_ns"][later]) - int(raw["last_ts_ns"][earlier]) > timeout:
        return False
    starts_with_syn = raw["proto"][later] == fb.TCP and not raw["flow_flags"][later] & fb.MIDSTREAM
    return not (closed and starts_with_syn)


def _closing(raw: RawFlows, row: int) -> bool:
    """Closed, or half closed (a FIN from one side): the next piece may close it."""
    sent = int(raw["sent_c2s"][row]) | int(raw["sent_s2c"][row])
    return bool(raw["flow_flags"][row] & fb.CLOSED or sent & fb.FIN)


def _same_client(raw: RawFlows, earlier: int, later: int) -> bool:
    return bool(
        raw["client_port"][earlier] == raw["client_port"][later]
        and np.array_equal(raw["client_addr"][earlier], raw["client_addr"][later])
    )


def _merge_into(raw: RawFlows, earlier: int, later: int) -> None:
    """Add flow `later` to flow `earlier`, direction by direction."""
    same = _same_client(raw, earlier, later)
    pairs = (("c2s", "c2s"), ("s2c", "s2c")) if same else (("c2s", "s2c"), ("s2c", "c2s"))
    for role, their_role in pairs:
        sent = int(raw[f"sent_{their_role}"][later])
        if raw[f"packets_{role}"][earlier]:
            sent &= ~fb.FIRST_SYN & 0xFF  # this role's first packet is in the earlier piece
        raw[f"sent_{role}"][earlier] |= sent
        raw[f"tcp_flags_{role}"][earlier] |= raw[f"tcp_flags_{their_role}"][later]
        for counter in _COUNTERS:
            raw[f"{counter}_{role}"][earlier] += raw[f"{counter}_{their_role}"][later]
    if same:  # syn_count counts the client's pure SYNs
        raw["syn_count"][earlier] += raw["syn_count"][later]
    elif raw["sent_s2c"][later] & fb.SYN:  # the piece saw them from its "server": at least 1
        raw["syn_count"][earlier] += 1
    flags = raw["flow_flags"]
    flags[earlier] |= int(flags[later]) & ~_START_FLAGS & 0xFF
    if _closes(int(raw["sent_c2s"][earlier]), int(raw["sent_s2c"][earlier])):
        flags[earlier] |= fb.CLOSED
    raw["first_ts_ns"][earlier] = min(raw["first_ts_ns"][earlier], raw["first_ts_ns"][later])
    raw["last_ts_ns"][earlier] = max(raw["last_ts_ns"][earlier], raw["last_ts_ns"][later])


def _closes(sent_c2s: int, sent_s2c: int) -> bool:
    """The flow table's closing rule: a RST, or a FIN from both sides."""
    return bool((sent_c2s | sent_s2c) & fb.RST or (sent_c2s & fb.FIN and sent_s2c & fb.FIN))
