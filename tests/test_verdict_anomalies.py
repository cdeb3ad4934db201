"""Anomalies on the wire: addresses written with Scapy into IPv6 headers, and the
tunnels in third-party captures counted by tshark."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess

import pytest
from reader_oracles import eth
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.utils import wrpcap

from analyzer.commands.verify import read_capture_flows
from analyzer.verdict.anomalies import find_anomalies

# kind -> an address of that kind, by the RFC prefixes (DOMAIN.md "On the wire")
ADDRESSES = {
    "ipv4-mapped-on-wire": "::ffff:127.0.0.1",
    "ipv4-compatible": "::192.0.2.3",
    "nat64": "64:ff9b::c000:202",
    "nat64-local": "64:ff9b:1::c000:202",
    "6to4": "2002:c000:202::1",
    "teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
}


def test_each_address_kind_is_named_with_its_flows(tmp_path):
    packets = []
    for number, source in enumerate(ADDRESSES.values()):
        packet = eth() / IPv6(src=source, dst="2001:db8::1") / TCP(
            sport=40000 + number, dport=80, flags="S")
        packet.time = 1_700_000_000 + number
        packets.append(packet)
    plain = eth() / IP(src="192.0.2.2", dst="192.0.2.1") / TCP(sport=1, dport=80, flags="S")
    plain.time = 1_700_000_100
    native = eth() / IPv6(src="2001:db8::2", dst="2001:db8::1") / UDP(sport=5, dport=53)
    native.time = 1_700_000_101
    path = tmp_path / "odd.pcap"
    wrpcap(str(path), [*packets, plain, native])
    flows, error = read_capture_flows([str(path)])
    assert error is None and len(flows) == len(ADDRESSES) + 2
    found = {item.kind: item for item in find_anomalies(flows.columns)}
    assert set(found) == set(ADDRESSES)
    clients = flows.columns["client"].astype(str).tolist()
    for kind, address in ADDRESSES.items():
        rows = found[kind].flows
        assert len(rows) == 1 and found[kind].source
        assert ipaddress.ip_address(clients[rows[0]]) == ipaddress.ip_address(address)
    assert next(iter(found)) == "ipv4-mapped-on-wire"  # the security-relevant one first


def tshark_conversations(path, display_filter: str) -> int:
    out = subprocess.run(["tshark", "-n", "-r", str(path), "-Y", display_filter, "-T",
                          "fields", "-e", "tcp.stream", "-e", "udp.stream"],
                         capture_output=True, text=True, check=True).stdout
    return len({line for line in out.splitlines() if line.strip()})


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
@pytest.mark.parametrize("name,kind,display_filter", [
    ("nfstream/6in4tunnel.pcap", "6in4", "ip.proto==41 && (tcp || udp) && !icmpv6"),
    ("zeek/tunnels/6in4.pcap", "6in4", "ip.proto==41 && (tcp || udp) && !icmpv6"),
    ("nfstream/4in6tunnel.pcap", "4in6", "ipv6.nxt==4 && (tcp || udp) && !icmp"),
    ("nfstream/teredo.pcap", "teredo-udp", "udp.port==3544"),
])
def test_tunnels_in_corpus(corpus, name, kind, display_filter):
    path = corpus / "captures" / name
    flows, error = read_capture_flows([str(path)])
    assert error is None
    found = {item.kind: item for item in find_anomalies(flows.columns)}
    assert len(found[kind].flows) == tshark_conversations(path, display_filter) > 0


MAPPED_SYN = r"""
from scapy.all import IPv6, TCP, conf, send
conf.verb = 0
send(IPv6(src="::ffff:192.0.2.2", dst="2001:db8::1") / TCP(sport=40404, dport=80, flags="S"))
"""


@pytest.mark.netns
def test_mapped_source_on_the_wire_is_dropped_by_linux_and_reported(lab, tmp_path):
    """Linux drops a TCPv6 SYN from ::ffff:a.b.c.d without an answer: the flow is
    unanswered, and the anomaly names it."""
    import sys

    from test_verify_e2e import make_demo

    from analyzer.snapshot.importers import import_text
    from analyzer.verdict import verify

    server = lab.server.python_popen(
        "import socket, time\ns = socket.socket(socket.AF_INET6)\ns.bind(('::', 80))\n"
        "s.listen()\nprint('up', flush=True)\ntime.sleep(60)\n")
    assert server.stdout.readline().strip() == "up"
    snapshot = import_text(lab.server.run(["netstat", "-tlnp"]).stdout, "netstat.txt",
                           os_name="linux")
    dump = make_demo.start_tcpdump(lab.server, tmp_path / "mapped.pcap")
    lab.client.run([sys.executable, "-c", MAPPED_SYN], timeout=60)
    __import__("time").sleep(0.3)
    make_demo.stop(dump)
    flows, error = read_capture_flows([str(tmp_path / "mapped.pcap")])
    assert error is None and len(flows) == 1
    verdicts = verify(flows, [snapshot], host_addrs=["2001:db8::1", "192.0.2.1"])
    assert verdicts.flow_record(0)["class"] == "unanswered"
    assert verdicts.flow_record(0)["wire_family"] == 6
    found = {item.kind: item for item in verdicts.anomalies}
    assert found["ipv4-mapped-on-wire"].flows == [0]
