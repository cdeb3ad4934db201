"""The bulk writer: exactly the packets and flows asked for, valid to tshark and dpkt.

Oracles: tshark (conversation table, malformed packets, IP/TCP/UDP checksum
validation) and dpkt (an independent parse of every packet: 5-tuples, VLAN tags,
TCP flags, timestamps).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import dpkt
import pytest
from floworacle import TSHARK, tshark_conversations
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.cli import main
from analyzer.errors import UsageError
from analyzer.synth.bulk import BulkMix, write_bulk

needs_tshark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")


def dpkt_packets(path: Path) -> list[tuple[float, dpkt.ethernet.Ethernet]]:
    with path.open("rb") as handle:
        return [(ts, dpkt.ethernet.Ethernet(buf)) for ts, buf in dpkt.pcap.Reader(handle)]


def five_tuple(eth: dpkt.ethernet.Ethernet) -> tuple[object, ...]:
    ip = eth.data
    l4 = ip.data
    ends = sorted([(bytes(ip.src), l4.sport), (bytes(ip.dst), l4.dport)])
    return (type(l4).__name__, *ends)


@needs_tshark
@pytest.mark.parametrize("small", [False, True])
def test_tshark_counts_the_packets_and_flows_asked_for(tmp_path: Path, small: bool) -> None:
    path = tmp_path / "bulk.pcap"
    result = write_bulk(path, 30_000, 1_500, small=small, seed=1, concurrency=400)
    assert (result.packets, result.flows, result.bytes) == (30_000, 1_500, path.stat().st_size)
    conversations = tshark_conversations(path)
    pairs = {(proto, frozenset((a, b))) for proto, a, b in conversations}
    assert len(pairs) == 1_500
    assert sum(conversations.values()) == 30_000
    average = (result.bytes - 24) / 30_000 - 16
    assert 60 < average < 100 if small else 450 < average < 900


@needs_tshark
def test_tshark_finds_every_checksum_right_and_nothing_malformed(tmp_path: Path) -> None:
    path = tmp_path / "bulk.pcap"
    write_bulk(path, 20_000, 800, seed=2, mix="ipv6=0.5,udp=0.4,vlan=0.3")
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-n", "-r", str(path), "-o", "ip.check_checksum:TRUE",
         "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
         "-T", "fields", "-e", "ip.checksum.status", "-e", "tcp.checksum.status",
         "-e", "udp.checksum.status", "-e", "_ws.malformed", "-e", "_ws.expert.severity"],
        capture_output=True, text=True, check=True, timeout=120).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert len(rows) == 20_000
    statuses = Counter(value for row in rows for value in row[:3] if value)
    assert set(statuses) == {"1"}  # 1 = good; 0 would be bad, 2 unverified
    assert all(row[3] == "" for row in rows)
    assert not any(int(level) >= 8388608 for row in rows for level in row[4].split(",")
                   if level)


def test_dpkt_sees_a_realistic_mix(tmp_path: Path) -> None:
    path = tmp_path / "bulk.pcap"
    write_bulk(path, 20_000, 1_000, seed=3, mix=BulkMix(ipv6=0.4, udp=0.25, vlan=0.2))
    packets = dpkt_packets(path)
    assert len(packets) == 20_000
    times = [ts for ts, _ in packets]
    assert times == sorted(times)
    flows = Counter(five_tuple(eth) for _, eth in packets)
    assert len(flows) == 1_000
    families = Counter(type(eth.data).__name__ for _, eth in packets)
    assert families["IP"] > 5_000 and families["IP6"] > 5_000
    protos = Counter(type(eth.data.data).__name__ for _, eth in packets)
    assert protos["TCP"] > 5_000 and protos["UDP"] > 1_000
    tagged = sum(1 for _, eth in packets if getattr(eth, "vlan_tags", []))
    assert 0.05 < tagged / len(packets) < 0.5
    flags = Counter(eth.data.data.flags for _, eth in packets
                    if isinstance(eth.data.data, dpkt.tcp.TCP))
    for name in ("TH_SYN", "TH_FIN", "TH_RST"):
        bit = getattr(dpkt.tcp, name)
        assert sum(n for value, n in flags.items() if value & bit) > 0, name


def test_our_flow_table_agrees(tmp_path: Path) -> None:
    from analyzer.flows import read_flows

    path = tmp_path / "bulk.pcap"
    write_bulk(path, 12_000, 700, seed=4)
    flows = read_flows([str(path)])
    assert len(flows) == 700
    records = flows.to_records()
    assert sum(r["packets_c2s"] + r["packets_s2c"] for r in records) == 12_000


def test_chunks_follow_each_other_with_the_gap(tmp_path: Path) -> None:
    path = tmp_path / "gap.pcap"
    write_bulk(path, 4_000, 400, seed=6, concurrency=100, chunk_gap_s=61.0)
    packets = dpkt_packets(path)
    spans: dict[tuple[object, ...], list[float]] = {}
    for ts, eth in packets:
        spans.setdefault(five_tuple(eth), []).append(ts)
    starts = sorted(min(times) for times in spans.values())
    ends = sorted(max(times) for times in spans.values())
    moments = [ts for ts, _ in packets]
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    assert sorted(gaps)[-3:] == pytest.approx([61.0] * 3, abs=0.01)  # 4 chunks, 3 gaps
    for group in range(3):  # chunk k's 100 flows all end before chunk k+1's start
        assert ends[100 * group + 99] < starts[100 * (group + 1)]


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    digests = []
    for name, seed in (("a", 9), ("b", 9), ("c", 10)):
        path = tmp_path / f"{name}.pcap"
        write_bulk(path, 5_000, 300, seed=seed)
        digests.append(hashlib.sha256(path.read_bytes()).hexdigest())
    assert digests[0] == digests[1] != digests[2]


@pytest.mark.parametrize(("packets", "flows", "mix"), [
    (500, 500, ""),  # one packet a flow
    (1_000, 400, "udp=0,refused=0,unanswered=0"),  # fewer packets than TCP's minimum
    (3_000, 100, "udp=1,refused=0,unanswered=0"),
    (3_000, 100, "ipv6=1,vlan=1"),
])
def test_edge_mixes_keep_exact_counts(tmp_path: Path, packets: int, flows: int,
                                      mix: str) -> None:
    path = tmp_path / "bulk.pcap"
    write_bulk(path, packets, flows, seed=5, mix=mix, concurrency=64)
    parsed = dpkt_packets(path)
    assert len(parsed) == packets
    assert len({five_tuple(eth) for _, eth in parsed}) == flows


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flows=st.integers(1, 300), extra=st.integers(0, 2_000), small=st.booleans(),
       seed=st.integers(0, 2**31), ipv6=st.floats(0, 1), udp=st.floats(0, 0.9),
       refused=st.floats(0, 0.1), vlan=st.floats(0, 1),
       concurrency=st.integers(1, 500))
def test_any_request_gives_exact_counts(tmp_path: Path, flows: int, extra: int, small: bool,
                                        seed: int, ipv6: float, udp: float, refused: float,
                                        vlan: float, concurrency: int) -> None:
    path = tmp_path / "any.pcap"
    mix = BulkMix(ipv6=ipv6, udp=udp, vlan=vlan, refused=refused, unanswered=0.0)
    result = write_bulk(path, flows + extra, flows, small=small, seed=seed, mix=mix,
                        concurrency=concurrency)
    parsed = dpkt_packets(path)
    assert len(parsed) == result.packets == flows + extra
    assert len({five_tuple(eth) for _, eth in parsed}) == result.flows == flows
    assert path.stat().st_size == result.bytes


@pytest.mark.parametrize(("packets", "flows", "mix"), [
    (10, 20, ""), (10, 0, ""), (10, 5, "ipv7=0.1"), (10, 5, "udp=2"), (10, 5, "udp=x"),
    (10, 5, "udp=0.6,refused=0.6"),
])
def test_bad_requests_are_usage_errors(tmp_path: Path, packets: int, flows: int,
                                       mix: str) -> None:
    with pytest.raises(UsageError):
        write_bulk(tmp_path / "x.pcap", packets, flows, mix=mix)


def test_nanosecond_pcap(tmp_path: Path) -> None:
    path = tmp_path / "ns.pcap"
    write_bulk(path, 1_000, 50, nano=True)
    assert path.read_bytes()[:4] == bytes.fromhex("4d3cb2a1")
    with path.open("rb") as handle:
        assert len(list(dpkt.pcap.Reader(handle))) == 1_000


def test_cli_bulk(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "cli.pcap"
    assert main(["synth", "bulk", "-o", str(path), "--packets", "2000", "--flows", "90",
                 "--small", "--mix", "ipv6=0.2", "--seed", "3"]) == 0
    assert "2000 packets, 90 flows" in capsys.readouterr().err
    assert len(dpkt_packets(path)) == 2_000
    assert main(["synth", "bulk", "-o", str(path), "--packets", "2000"]) == 2


def test_cli_bulk_to_standard_output_feeds_dualstack_flows() -> None:
    command = [sys.executable, "-m", "analyzer"]
    writer = subprocess.Popen([*command, "synth", "bulk", "-o", "-", "--packets", "3000",
                               "--flows", "120", "--seed", "8"], stdout=subprocess.PIPE)
    assert writer.stdout is not None
    reader = subprocess.run([*command, "flows", "-", "--format", "jsonl"], stdin=writer.stdout,
                            capture_output=True, text=True, timeout=120, check=False)
    writer.stdout.close()
    assert writer.wait(timeout=60) == 0 and reader.returncode == 0, reader.stderr
    records = [json.loads(line) for line in reader.stdout.splitlines()]
    assert len(records) == 120
    assert sum(r["packets_c2s"] + r["packets_s2c"] for r in records) == 3000


PEAK_RSS = """
import json, resource, sys
from analyzer.synth.bulk import write_bulk
write_bulk(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), concurrency=2000)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


@pytest.mark.slow
def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    def peak_kib(packets: int, flows: int) -> int:
        out = subprocess.run([sys.executable, "-c", PEAK_RSS, str(tmp_path / "m.pcap"),
                              str(packets), str(flows)], capture_output=True, text=True,
                             check=True, timeout=300).stdout
        return int(json.loads(out))

    small, large = peak_kib(100_000, 5_000), peak_kib(1_000_000, 50_000)
    assert large < small * 1.25, (small, large)
