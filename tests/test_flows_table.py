"""Flow table on small hand-built packet batches: keys, directions, outcomes, splitting.

Expected values come from the scenario each test builds (who sent what, when), not from
our code; the oracle tests against tshark, the communityid package and real sockets are in
test_flows_oracles.py and test_flows_sockets.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from flowpackets import ACK, FIN, PSH, RST, SYN, batch, pkt

from analyzer.flows import FlowFrame, Timeouts, flows_from_batches

C4, S4 = "192.0.2.2", "192.0.2.1"
C6, S6 = "2001:db8::2", "2001:db8::1"


def flows(*batches: list, timeouts: Timeouts | None = None, flush_every: int = 65536
          ) -> FlowFrame:
    return FlowFrame.concat(list(flows_from_batches(
        [batch(b) for b in batches], timeouts, flush_every)))


def handshake(c: str, cp: int, s: str, sp: int, t: float = 0.0) -> list:
    return [
        pkt(c, cp, s, sp, t, flags=SYN),
        pkt(s, sp, c, cp, t + 0.001, flags=SYN | ACK),
        pkt(c, cp, s, sp, t + 0.002, flags=ACK),
        pkt(c, cp, s, sp, t + 0.003, flags=PSH | ACK, payload=100),
        pkt(s, sp, c, cp, t + 0.004, flags=PSH | ACK, payload=1000),
        pkt(c, cp, s, sp, t + 0.005, flags=FIN | ACK),
        pkt(s, sp, c, cp, t + 0.006, flags=FIN | ACK),
        pkt(c, cp, s, sp, t + 0.007, flags=ACK),
    ]


@pytest.mark.parametrize(("c", "s", "family"), [(C4, S4, 4), (C6, S6, 6)])
def test_accepted_connection_counts_both_directions(c: str, s: str, family: int) -> None:
    f = flows(handshake(c, 40000, s, 80))
    assert len(f) == 1
    row = f.to_records(extras=True)[0]
    assert (row["client"], row["client_port"], row["server"], row["server_port"]) == (
        c, 40000, s, 80)
    assert (row["packets_c2s"], row["packets_s2c"]) == (5, 3)
    assert (row["payload_bytes_c2s"], row["payload_bytes_s2c"]) == (100, 1000)
    header = 40 if family == 4 else 60
    assert row["ip_bytes_c2s"] == 5 * header + 100
    assert row["ip_bytes_s2c"] == 3 * header + 1000
    assert row["wire_family"] == family
    assert (row["outcome"], row["conn_state"], row["midstream"]) == ("accepted", "SF", False)
    assert (row["first_ts_ns"], row["last_ts_ns"]) == (0, 7_000_000)
    assert row["tcp_flags_c2s"] == SYN | ACK | PSH | FIN


def test_refused_and_unanswered_with_retransmissions() -> None:
    f = flows([
        pkt(C4, 40001, S4, 81, 0.0, flags=SYN),
        pkt(S4, 81, C4, 40001, 0.001, flags=RST | ACK),
        pkt(C4, 40002, S4, 82, 0.0, flags=SYN),
        pkt(C4, 40002, S4, 82, 1.0, flags=SYN),
        pkt(C4, 40002, S4, 82, 3.0, flags=SYN),
    ])
    by_port = {r["server_port"]: r for r in f.to_records(extras=True)}
    assert by_port[81]["outcome"] == "refused"
    assert by_port[81]["conn_state"] == "REJ"
    assert by_port[82]["outcome"] == "unanswered"
    assert by_port[82]["conn_state"] == "S0"
    assert by_port[82]["syn_retransmissions"] == 2
    assert by_port[82]["packets_c2s"] == 3


def test_midstream_client_guessed_from_ports() -> None:
    # first packet seen goes from the server (port 443) to the client's ephemeral port
    f = flows([
        pkt(S4, 443, C4, 51000, 0.0, flags=ACK, payload=10),
        pkt(C4, 51000, S4, 443, 0.1, flags=ACK),
    ])
    row = f.to_records(extras=True)[0]
    assert (row["client"], row["client_port"], row["server_port"]) == (C4, 51000, 443)
    assert row["midstream"] and row["client_guessed"]
    assert (row["outcome"], row["conn_state"]) == ("midstream", "OTH")
    assert (row["packets_c2s"], row["packets_s2c"]) == (1, 1)


def test_synack_first_names_its_receiver_client() -> None:
    f = flows([pkt(S4, 80, C4, 1234, 0.0, flags=SYN | ACK),
               pkt(C4, 1234, S4, 80, 0.1, flags=ACK)])
    row = f.to_records(extras=True)[0]
    assert (row["client_port"], row["server_port"]) == (1234, 80)
    assert row["midstream"] and not row["client_guessed"]
    assert row["outcome"] == "accepted"


def test_port_reuse_after_fin_starts_new_flow() -> None:
    f = flows(handshake(C4, 40000, S4, 80, 0.0) + handshake(C4, 40000, S4, 80, 1.0))
    assert len(f) == 2
    assert list(f.columns["packets_c2s"]) == [5, 5]
    assert list(f.columns["first_ts_ns"]) == [0, 1_000_000_000]


def test_port_reuse_after_rst_starts_new_flow() -> None:
    f = flows([
        pkt(C4, 40000, S4, 81, 0.0, flags=SYN),
        pkt(S4, 81, C4, 40000, 0.001, flags=RST | ACK),
        pkt(C4, 40000, S4, 81, 0.5, flags=SYN),
        pkt(S4, 81, C4, 40000, 0.501, flags=SYN | ACK),
    ])
    assert list(f.columns["outcome"]) == ["refused", "accepted"]


def test_idle_timeout_splits_udp_and_tcp() -> None:
    f = flows([
        pkt(C4, 5000, S4, 53, 0.0, proto=17, payload=30),
        pkt(S4, 53, C4, 5000, 0.1, proto=17, payload=80),
        pkt(C4, 5000, S4, 53, 61.0, proto=17, payload=30),      # after udp timeout 60 s
        pkt(C4, 40000, S4, 22, 0.0, flags=SYN),
        pkt(S4, 22, C4, 40000, 0.01, flags=SYN | ACK),
        pkt(C4, 40000, S4, 22, 200.0, flags=ACK),               # within tcp timeout
        pkt(C4, 40000, S4, 22, 600.0, flags=ACK, payload=5),    # 400 s idle: new flow
    ])
    recs = f.to_records(extras=True)
    udp = [r for r in recs if r["proto"] == "udp"]
    tcp = [r for r in recs if r["proto"] == "tcp"]
    assert [(r["packets_c2s"], r["packets_s2c"], r["outcome"]) for r in udp] == [
        (1, 1, "answered"), (1, 0, "unanswered")]
    assert [(r["packets_c2s"], r["packets_s2c"], r["midstream"]) for r in tcp] == [
        (2, 1, False), (1, 0, True)]


def test_timeouts_are_configurable() -> None:
    rows = [pkt(C4, 5000, S4, 53, 0.0, proto=17), pkt(C4, 5000, S4, 53, 10.0, proto=17)]
    assert len(flows(rows)) == 1
    assert len(flows(rows, timeouts=Timeouts(udp=5.0))) == 2


def test_udp_refused_by_icmp_port_unreachable_quoting_the_datagram() -> None:
    icmp4 = pkt(S4, 0, C4, 0, 0.001, proto=1, icmp_type=3, icmp_code=3, q_src=pkt(
        C4, 0, S4, 0, 0)["src"], q_dst=pkt(S4, 0, C4, 0, 0)["src"], q_sport=5353,
        q_dport=9999, q_proto=17)
    icmp6 = pkt(S6, 0, C6, 0, 0.001, proto=58, icmp_type=1, icmp_code=4, q_src=pkt(
        C6, 0, S6, 0, 0)["src"], q_dst=pkt(S6, 0, C6, 0, 0)["src"], q_sport=5353,
        q_dport=9999, q_proto=17)
    f = flows([pkt(C4, 5353, S4, 9999, 0.0, proto=17, payload=4), icmp4,
               pkt(C6, 5353, S6, 9999, 0.0, proto=17, payload=4), icmp6,
               pkt(C4, 5354, S4, 9999, 0.0, proto=17, payload=4)])
    outcome = {(r["client"], r["client_port"]): r["outcome"] for r in f.to_records()}
    assert outcome == {(C4, 5353): "refused", (C6, 5353): "refused",
                       (C4, 5354): "unanswered"}
    assert f.columns["packets_s2c"].tolist() == [0, 0, 0]


def test_vlan_and_tunnel_are_part_of_the_key() -> None:
    f = flows([
        pkt(C4, 1, S4, 2, 0.0, proto=17, vlan=10),
        pkt(C4, 1, S4, 2, 0.1, proto=17, vlan=20),
        pkt(C4, 1, S4, 2, 0.2, proto=17, tunnel=3),
        pkt(S4, 2, C4, 1, 0.3, proto=17, vlan=10),
    ])
    assert sorted(zip(f.columns["vlan"].tolist(), f.columns["tunnel"].tolist(),
                      f.columns["packets_s2c"].tolist(), strict=True)) == [
        (-1, "4in4", 0), (10, "", 1), (20, "", 0)]


def test_bad_status_later_fragments_and_non_ip_are_not_flows() -> None:
    f = flows([
        pkt(C4, 1, S4, 2, 0.0, proto=17, status=3),
        pkt(C4, 1, S4, 2, 0.0, proto=17, frag=2),
        pkt(C4, 1, S4, 2, 0.0, proto=17, wire_family=0),
        pkt(C4, 0, S4, 0, 0.0, proto=1, icmp_type=8),
    ])
    assert len(f) == 0


def test_many_flows_grow_table_and_stream_out_in_batches() -> None:
    n = 300_000
    rng = np.random.default_rng(1)
    cols = batch([pkt(C4, 1, S4, 2, 0.0, proto=17)])
    big = {name: np.repeat(arr, n, axis=0) for name, arr in cols.items()}
    big["sport"] = (np.arange(n) % 60000 + 1024).astype(np.uint16)
    big["src"][:, 14] = (np.arange(n) // 60000).astype(np.uint8)
    big["ts_ns"] = np.sort(rng.integers(0, 10**9, n))
    halves = [{k: v[: n // 2] for k, v in big.items()}, {k: v[n // 2:] for k, v in big.items()}]
    frames = list(flows_from_batches(halves, None, flush_every=100_000))
    assert sum(len(fr) for fr in frames) == n
    assert all(len(fr) for fr in frames)


def test_finished_flows_leave_while_reading() -> None:
    # 1000 short UDP exchanges 2 s apart: with a 1 s timeout only a few are ever live
    rows = []
    for i in range(1000):
        rows.append(pkt(C4, 10000 + i, S4, 53, 2.0 * i, proto=17))
        rows.append(pkt(S4, 53, C4, 10000 + i, 2.0 * i + 0.01, proto=17))
    from analyzer.flows.table import Timeouts as T
    table = T(udp=1.0).new_table(initial_capacity=16)
    for start in range(0, len(rows), 100):
        table.update(batch(rows[start:start + 100]))
    assert table.peak_live_flows < 200
    table.finish_all()
    assert len(table.take_finished()["proto"]) == 1000


def test_no_packet_is_taken_after_the_end_of_input() -> None:
    """finish_all ends the input: flows leave the index all at once, so a later packet
    could not find its flow; it is refused rather than counted in a new one."""
    table = Timeouts().new_table()
    table.update(batch([pkt(C4, 40000, S4, 80, 1.0, flags=0x02)]))
    table.finish_all(0)
    with pytest.raises(RuntimeError, match="after finish_all"):
        table.update(batch([pkt(S4, 80, C4, 40000, 1.1, flags=0x12)]))
    assert table.finish_all() == 1
    assert table.take_finished()["packets_c2s"].tolist() == [1]


# corelight/community-id-spec baseline/baseline_deflt.json and baseline_seed1.json,
# the TCP and UDP rows (seed 0)
SPEC_BASELINE = [
    (6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    (17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="),
    (6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
    (6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="),
]


@pytest.mark.parametrize(("proto", "src", "dst", "sport", "dport", "expected"), SPEC_BASELINE)
def test_community_id_spec_baseline(proto: int, src: str, dst: str, sport: int, dport: int,
                                    expected: str) -> None:
    first = pkt(src, sport, dst, dport, 0.0, proto=proto, flags=SYN if proto == 6 else 0)
    f = flows([first])
    assert f.columns["community_id"].tolist() == [expected]


# corelight/community-id-spec baseline/baseline_seed1.json would need seed 1; the
# communityid package is the oracle for other seeds
def test_community_id_seed_matches_communityid_package() -> None:
    communityid = pytest.importorskip("communityid")
    from analyzer.flows.community_id import community_ids

    rows = [pkt(C4, 40000, S4, 80, 0.0), pkt(C6, 5353, S6, 53, 0.0, proto=17)]
    cols = batch(rows)
    got = community_ids(cols["proto"], cols["src"], cols["dst"], cols["sport"],
                        cols["dport"], cols["wire_family"], seed=1).tolist()
    oracle = communityid.CommunityID(seed=1)
    expected = [oracle.calc(communityid.FlowTuple(6, C4, S4, 40000, 80)),
                oracle.calc(communityid.FlowTuple(17, C6, S6, 5353, 53))]
    assert got == expected


@pytest.mark.parametrize("hardware", [True, False], ids=["sha-instructions", "portable"])
def test_community_ids_of_random_flows_match_communityid_both_ways(hardware: bool) -> None:
    """The CPU's SHA-1 instructions (where it has them) and the portable loop, against
    the communityid package on 3000 random IPv4 and IPv6 TCP/UDP flows."""
    communityid = pytest.importorskip("communityid")
    import ipaddress

    from analyzer._flowtable import sha1_hardware
    from analyzer.flows.community_id import community_ids

    if hardware and not sha1_hardware(True):
        pytest.skip("this CPU has no SHA extensions")
    rng = np.random.default_rng(7)
    n = 3000
    family = rng.choice([4, 6], n).astype(np.uint8)
    src = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    dst = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    for addrs in (src, dst):
        addrs[family == 4, :12] = np.frombuffer(b"\0" * 10 + b"\xff\xff", dtype=np.uint8)
    proto = rng.choice([6, 17], n).astype(np.uint8)
    sport = rng.integers(0, 65536, n, dtype=np.uint16)
    dport = rng.integers(0, 65536, n, dtype=np.uint16)
    try:
        sha1_hardware(hardware)
        got = community_ids(proto, src, dst, sport, dport, family, seed=3).tolist()
    finally:
        sha1_hardware(True)

    def text(row: np.ndarray, v4: bool) -> str:
        return str(ipaddress.ip_address(bytes(row[12:]) if v4 else bytes(row)))

    oracle = communityid.CommunityID(seed=3)
    expected = [oracle.calc(communityid.FlowTuple(
        int(proto[i]), text(src[i], family[i] == 4), text(dst[i], family[i] == 4),
        int(sport[i]), int(dport[i]))) for i in range(n)]
    assert got == expected


def test_text_columns_follow_rows_through_concat_take_and_merge() -> None:
    communityid = pytest.importorskip("communityid")
    from analyzer.flows.table import _merge_sorted

    rows = [pkt(C4 if i % 2 else C6, 20000 + i, S4 if i % 2 else S6, 80, 100.0 - i,
                flags=SYN) for i in range(300)]
    frames = list(flows_from_batches([batch(rows)], None, flush_every=64))
    assert len(frames) > 1
    merged = _merge_sorted(list(flows_from_batches([batch(rows)], None, flush_every=64)))
    for frame in (FlowFrame.concat(frames).take(np.arange(299, -1, -3)), merged):
        oracle = communityid.CommunityID()
        for rec in frame.to_records():
            assert rec["client"] == (C4 if rec["client_port"] % 2 else C6)
            assert rec["community_id"] == oracle.calc(communityid.FlowTuple(
                6, rec["client"], rec["server"], rec["client_port"], 80))
    assert merged.columns["first_ts_ns"].tolist() == sorted(merged.columns["first_ts_ns"])


def test_arrow_and_pandas_views() -> None:
    pytest.importorskip("pandas")
    f = flows(handshake(C4, 40000, S4, 80) + handshake(C6, 40001, S6, 443, 1.0))
    table = f.to_arrow()
    assert table.num_rows == 2
    assert table.column("client_addr").type.byte_width == 16
    assert bytes(table.column("client_addr")[0].as_py())[12:] == bytes([192, 0, 2, 2])
    df = f.to_pandas(extras=False)
    assert df["client"].tolist() == [C4, C6]
    assert df["packets_c2s"].tolist() == [5, 5]
    assert df["midstream"].tolist() == [False, False]


def test_reordered_handshake_is_not_midstream() -> None:
    # the server's SYN-ACK was captured before the client's SYN (capture reordering)
    f = flows([pkt(S4, 80, C4, 1234, 0.0, flags=SYN | ACK),
               pkt(C4, 1234, S4, 80, 0.001, flags=SYN),
               pkt(C4, 1234, S4, 80, 0.002, flags=ACK)])
    row = f.to_records(extras=True)[0]
    assert (row["client_port"], row["midstream"], row["client_guessed"]) == (1234, False, False)
    assert (row["outcome"], row["conn_state"]) == ("accepted", "S1")
