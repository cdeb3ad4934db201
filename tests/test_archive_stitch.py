"""Stitching flows across rotated files equals reading the files as one stream.

The oracle is the flow table itself run over the whole packet stream (the definition of
"one flow" the batch job must reproduce); the packet streams are generated, cut at
random points like `tcpdump -C` would, and each piece is read on its own.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from analyzer._flowtable import PACKET_INPUTS, RAW_FLOW_COLUMNS
from analyzer.archive.stitch import FilePiece, stitch
from analyzer.capture.columns import PACKET_COLUMNS
from analyzer.flows import Timeouts

NS = 1_000_000_000
TIMEOUTS = Timeouts(tcp=300.0, udp=60.0, closed_linger=5.0)
FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10
TCP_KINDS = {
    "syn": (SYN, 0),
    "synack": (SYN | ACK, 0),
    "ack": (ACK, 0),
    "data": (PSH | ACK, 100),
    "fin": (FIN | ACK, 0),
    "rst": (RST | ACK, 0),
}
# (proto, address a, port a, address b, port b)
KEYS = (
    (6, "192.0.2.1", 40000, "192.0.2.80", 80),
    (6, "2001:db8::1", 40001, "2001:db8::80", 443),
    (17, "198.51.100.7", 5353, "198.51.100.53", 53),
)
GAPS_S = (0.001, 0.5, 4.0, 6.0, 59.0, 61.0, 299.0, 301.0)


def _addr16(text: str) -> bytes:
    import ipaddress

    ip = ipaddress.ip_address(text)
    return ip.packed if ip.version == 6 else b"\x00" * 10 + b"\xff\xff" + ip.packed


def packet_columns(packets: list[tuple[int, int, bool, str]]) -> dict[str, np.ndarray]:
    """Columns of the reader's packet batch for (ts_ns, key index, from a?, kind)."""
    n = len(packets)
    cols = {
        name: np.zeros((n, *shape), dtype=dtype)
        for name, (dtype, shape, _meaning) in PACKET_COLUMNS.items()
    }
    cols["vlan"][:] = -1
    cols["vlan_inner"][:] = -1
    for i, (ts, key_index, from_a, kind) in enumerate(packets):
        proto, addr_a, port_a, addr_b, port_b = KEYS[key_index]
        src, sport, dst, dport = (
            (addr_a, port_a, addr_b, port_b) if from_a else (addr_b, port_b, addr_a, port_a)
        )
        flags, payload = TCP_KINDS[kind] if proto == 6 else (0, 60)
        cols["ts_ns"][i] = ts
        cols["wire_family"][i] = 4 if "." in src else 6
        cols["src"][i] = np.frombuffer(_addr16(src), dtype=np.uint8)
        cols["dst"][i] = np.frombuffer(_addr16(dst), dtype=np.uint8)
        cols["sport"][i], cols["dport"][i], cols["proto"][i] = sport, dport, proto
        cols["tcp_flags"][i] = flags
        cols["payload_len"][i] = payload
        cols["ip_len"][i] = payload + (40 if proto == 6 else 28)
    return {name: cols[name] for name in PACKET_INPUTS}


def flows_of(columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    table = TIMEOUTS.new_table()
    table.update(columns)
    table.finish_all()
    return table.take_finished()


def canonical(raw: dict[str, np.ndarray]) -> list[tuple]:
    rows = []
    for i in range(len(raw["first_ts_ns"])):
        rows.append(tuple(
            raw[name][i].tobytes() if raw[name].ndim == 2 else raw[name][i].item()
            for name in RAW_FLOW_COLUMNS
        ))
    return sorted(rows, key=repr)


def pieces_of(columns: dict[str, np.ndarray], cuts: list[int]) -> list[FilePiece]:
    bounds = [0, *cuts, len(columns["ts_ns"])]
    pieces = []
    for number, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if lo == hi:
            continue
        part = {name: arr[lo:hi] for name, arr in columns.items()}
        ts = part["ts_ns"]
        pieces.append(FilePiece(f"part{number:03d}", int(ts.min()), int(ts.max()), flows_of(part)))
    return pieces


packet_steps = st.lists(
    st.tuples(
        st.sampled_from(GAPS_S),
        st.integers(0, len(KEYS) - 1),
        st.booleans(),
        st.sampled_from(sorted(TCP_KINDS)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=packet_steps, data=st.data())
def test_stitched_pieces_equal_one_stream(steps, data) -> None:
    ts = 1_600_000_000 * NS
    packets = []
    for gap, key_index, from_a, kind in steps:
        ts += int(gap * NS)
        # Side a plays the client, b the server: only a sends a pure SYN, only b a SYN-ACK
        # (a piece that took the other side for the client cannot count the SYNs).
        sender_a = {"syn": True, "synack": False}.get(kind, from_a)
        packets.append((ts, key_index, sender_a, kind))
    columns = packet_columns(packets)
    cuts = sorted(data.draw(st.sets(st.integers(1, len(packets)), max_size=5)))
    whole = canonical(flows_of(columns))
    result = stitch(pieces_of(columns, cuts), TIMEOUTS)
    if result.joined_near_close and canonical(result.raw) != whole:
        # The documented limit, and counted: the later piece was read without knowing
        # the connection had closed, so the single stream may split it where it did not.
        reject()
    assert canonical(result.raw) == whole
    # A piece's flows in another order (the flow table gives them by first packet, which
    # stitch uses when it finds it): the same flows.
    backwards = [FilePiece(p.name, p.first_ts_ns, p.last_ts_ns,
                           {name: column[::-1] for name, column in p.raw.items()})
                 for p in pieces_of(columns, cuts)]
    assert canonical(stitch(backwards, TIMEOUTS).raw) == canonical(result.raw)


def test_connection_spanning_three_files_is_one_flow() -> None:
    t0 = 1_600_000_000 * NS
    steps = ["syn", "synack", "ack", "data", "data", "data", "data", "fin", "fin", "ack"]
    packets = [
        (t0 + i * NS, 0, kind in ("syn", "ack", "fin") and i != 8, kind)
        for i, kind in enumerate(steps)
    ]
    columns = packet_columns(packets)
    pieces = pieces_of(columns, [3, 5, 9])
    assert sum(len(p) for p in pieces) == 4  # one piece of the connection per file
    result = stitch(pieces, TIMEOUTS)
    stitched = result.raw
    assert result.joined == 3
    assert len(stitched["first_ts_ns"]) == 1
    assert canonical(stitched) == canonical(flows_of(columns))


def test_pieces_are_joined_in_time_order_not_name_order() -> None:
    t0 = 1_600_000_000 * NS
    kinds = ["syn", "synack", "ack", "data", "data", "fin"]
    packets = [(t0 + i * NS, 0, i % 2 == 0, kind) for i, kind in enumerate(kinds)]
    columns = packet_columns(packets)
    first, second = pieces_of(columns, [3])
    swapped = [
        FilePiece("b", first.first_ts_ns, first.last_ts_ns, first.raw),
        FilePiece("a", second.first_ts_ns, second.last_ts_ns, second.raw),
    ]
    assert canonical(stitch(swapped, TIMEOUTS).raw) == canonical(flows_of(columns))


def test_idle_gap_longer_than_timeout_keeps_two_flows() -> None:
    t0 = 1_600_000_000 * NS
    packets = [(t0, 2, True, "data"), (t0 + 61 * NS, 2, True, "data")]
    columns = packet_columns(packets)
    stitched = stitch(pieces_of(columns, [1]), TIMEOUTS).raw
    assert len(stitched["first_ts_ns"]) == 2
    assert canonical(stitched) == canonical(flows_of(columns))


def test_flow_key_codes_number_keys_as_a_dict_of_unordered_endpoints_would() -> None:
    """The oracle: a Python dict keyed by (proto, tunnel, VLANs, frozenset of the two
    endpoints), numbering keys in first-seen order; rows repeat keys with the endpoints
    swapped, and differ by one field only."""
    from analyzer._flowtable import flow_key_codes

    rng = np.random.default_rng(7)
    n = 5000
    raw = {name: np.zeros((n, *shape), dtype=dtype)
           for name, (dtype, shape) in RAW_FLOW_COLUMNS.items()}
    base = rng.integers(0, 40, n)                        # 40 distinct base keys
    swap = rng.random(n) < 0.5
    addresses = rng.integers(0, 256, (40, 2, 16), dtype=np.uint8)
    addresses[:5, 1] = addresses[:5, 0]                  # same address on both ends
    ports = rng.integers(0, 65536, (40, 2)).astype(np.uint16)
    ends = np.where(swap[:, None], [1, 0], [0, 1])
    raw["client_addr"][:] = addresses[base, ends[:, 0]]
    raw["server_addr"][:] = addresses[base, ends[:, 1]]
    raw["client_port"][:] = ports[base, ends[:, 0]]
    raw["server_port"][:] = ports[base, ends[:, 1]]
    raw["proto"][:] = np.where(base % 2, 6, 17)
    raw["tunnel"][:] = rng.integers(0, 2, n)
    raw["vlan"][:] = rng.choice([-1, 10], n)
    raw["vlan_inner"][:] = rng.choice([-1, 20], n)
    seen: dict[tuple, int] = {}
    expected = []
    for row in range(n):
        ends_of_row = frozenset({(raw["client_addr"][row].tobytes(), int(raw["client_port"][row])),
                                 (raw["server_addr"][row].tobytes(), int(raw["server_port"][row]))})
        key = (int(raw["proto"][row]), int(raw["tunnel"][row]), int(raw["vlan"][row]),
               int(raw["vlan_inner"][row]), ends_of_row)
        expected.append(seen.setdefault(key, len(seen)))
    assert flow_key_codes(raw).tolist() == expected
    assert len(seen) > 200                                # the fields do split the keys
