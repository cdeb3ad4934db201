"""Flows of real kernel sockets recorded with tcpdump in network namespaces.

The oracles: what the client's sockets reported (connected, ECONNREFUSED, timed out,
an answer or ECONNREFUSED on a UDP socket), and tshark's conversation table of the same
recording for the per-direction packet counts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from floworacle import TSHARK, Tcpdump, flow_directions, tshark_conversations

from analyzer.flows import read_flows

pytestmark = [pytest.mark.netns, pytest.mark.slow]

SERVER = r"""
import socket, threading
tcp = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
tcp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind(("::", 8080)); tcp.listen(16)
udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
udp.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
udp.bind(("::", 9998))
def echo_udp():
    while True:
        data, peer = udp.recvfrom(2048)
        udp.sendto(data, peer)
threading.Thread(target=echo_udp, daemon=True).start()
print("ready", flush=True)
while True:
    conn, _ = tcp.accept()
    conn.sendall(conn.recv(1024).upper())
    conn.close()
"""

CLIENT = r"""
import json, socket
out = {}
def tcp(label, family, addr, port, timeout=5.0):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind(("", 0))
    out[label] = [s.getsockname()[1]]
    try:
        s.connect((addr, port))
        s.sendall(b"hello")
        out[label].append("connected:" + s.recv(100).decode())
    except ConnectionRefusedError:
        out[label].append("refused")
    except socket.timeout:
        out[label].append("timeout")
    s.close()
def udp(label, family, addr, port):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    s.connect((addr, port))
    out[label] = [s.getsockname()[1]]
    s.send(b"ping")
    try:
        out[label].append("answer:" + s.recv(100).decode())
    except ConnectionRefusedError:
        out[label].append("refused")
    except socket.timeout:
        out[label].append("timeout")
    s.close()
A4, A6 = socket.AF_INET, socket.AF_INET6
tcp("tcp4_open", A4, "192.0.2.1", 8080)
tcp("tcp6_open", A6, "2001:db8::1", 8080)
tcp("tcp4_closed", A4, "192.0.2.1", 8081)
tcp("tcp6_closed", A6, "2001:db8::1", 8081)
tcp("tcp4_dropped", A4, "192.0.2.1", 8082, timeout=2.5)
tcp("tcp6_dropped", A6, "2001:db8::1", 8082, timeout=2.5)
udp("udp4_open", A4, "192.0.2.1", 9998)
udp("udp6_open", A6, "2001:db8::1", 9998)
udp("udp4_closed", A4, "192.0.2.1", 9999)
udp("udp6_closed", A6, "2001:db8::1", 9999)
print(json.dumps(out))
"""

NFT_DROP = """
table inet lab {
    chain input {
        type filter hook input priority 0;
        tcp dport 8082 drop
    }
}
"""

# what the client's socket saw -> the outcome and Zeek conn_state the flow must carry
EXPECTED = {
    "connected:HELLO": ("accepted", "SF"),
    "refused": ("refused", "REJ"),
    "timeout": ("unanswered", "S0"),
    "answer:ping": ("answered", "SF"),
}


@pytest.fixture
def recording(lab, tmp_path: Path) -> tuple[Path, dict]:
    lab.server.run(["nft", "-f", "-"], input=NFT_DROP)
    capture = tmp_path / "lab.pcap"
    dump = Tcpdump(lab.server, lab.server.iface, capture)
    server = lab.server.python_popen(SERVER)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    seen = json.loads(lab.client.python(CLIENT, timeout=60).stdout)
    time.sleep(0.2)
    dump.stop()
    return capture, seen


def test_outcomes_match_what_the_sockets_saw(recording: tuple[Path, dict]) -> None:
    capture, seen = recording
    flows = read_flows(str(capture)).to_records(extras=True)
    by_client_port = {(r["proto"], r["client_port"]): r for r in flows}
    udp_refused = {"refused": ("refused", "S0")}
    for label, (port, result) in seen.items():
        proto = label[:3]
        flow = by_client_port[(proto, port)]
        expected = (udp_refused if proto == "udp" else {}).get(result, EXPECTED[result])
        assert (flow["outcome"], flow["conn_state"]) == expected, (label, result, flow)
        assert flow["wire_family"] == int(label[3])
        assert flow["server_port"] in (8080, 8081, 8082, 9998, 9999)
        assert not flow["midstream"]
        if result == "timeout":
            assert flow["syn_retransmissions"] >= 1 and flow["packets_s2c"] == 0
        if proto == "udp" and result == "refused":
            assert flow["icmp_unreachable"] and flow["packets_s2c"] == 0
    # the lab really produced each case
    assert [seen[k][1] for k in sorted(seen)] == [
        "refused", "timeout", "connected:HELLO", "refused", "timeout", "connected:HELLO",
        "refused", "answer:ping", "refused", "answer:ping"]


@pytest.mark.skipif(TSHARK is None, reason="needs tshark")
def test_packet_counts_match_tshark(recording: tuple[Path, dict]) -> None:
    capture, _ = recording
    ours = flow_directions(read_flows(str(capture)).to_records())
    assert ours == tshark_conversations(capture)


def test_port_reuse_splits_flows(tmp_path: Path, lab) -> None:
    """Three connections from the same client port: three flows, each accepted."""
    capture = tmp_path / "reuse.pcap"
    dump = Tcpdump(lab.server, lab.server.iface, capture)
    server = lab.server.python_popen(SERVER)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    lab.client.python(r"""
import socket, time
for _ in range(3):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.bind(("192.0.2.2", 45678))
    s.connect(("192.0.2.1", 8080))
    s.sendall(b"x"); s.recv(10)
    s.close()   # linger 0: RST, so the port is free at once
    time.sleep(0.1)
""")
    dump.stop()
    flows = [r for r in read_flows(str(capture)).to_records() if r["client_port"] == 45678]
    assert [r["outcome"] for r in flows] == ["accepted"] * 3
    assert all(r["packets_c2s"] >= 3 for r in flows)
