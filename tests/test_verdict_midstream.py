"""A flow whose start is not in the capture: its client is only guessed from the ports,
and the verdict's reason says so. The capture is built with Scapy (an independent
packet builder); which flows start mid-connection is known from how it was built."""

from __future__ import annotations

from pathlib import Path

from reader_oracles import eth
from scapy.layers.inet import IP, TCP
from scapy.utils import wrpcap

from analyzer.commands.verify import read_capture_flows
from analyzer.snapshot.importers import import_text
from analyzer.verdict import verify

NETSTAT = """Active Internet connections (only servers)
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name
tcp6       0      0 :::80                   :::*                    LISTEN      19171/apache2
"""
SERVER = "192.0.2.1"
NOTE = "client guessed from ports: the capture starts mid-connection"


def handshake(client: str, cport: int, start: float) -> list:
    up, down = eth() / IP(src=client, dst=SERVER), eth() / IP(src=SERVER, dst=client)
    return [up / TCP(sport=cport, dport=80, flags="S", seq=100),
            down / TCP(sport=80, dport=cport, flags="SA", seq=500, ack=101),
            up / TCP(sport=cport, dport=80, flags="A", seq=101, ack=501)]


def mid_connection(client: str, cport: int, server_first: bool) -> list:
    """Data and ACKs of an established connection, no SYN: the capture began later."""
    up, down = eth() / IP(src=client, dst=SERVER), eth() / IP(src=SERVER, dst=client)
    request = up / TCP(sport=cport, dport=80, flags="PA", seq=1000, ack=9000) / b"GET /"
    answer = down / TCP(sport=80, dport=cport, flags="PA", seq=9000, ack=1005) / b"200 OK"
    return [answer, request] if server_first else [request, answer]


def timed(packets: list, start: float) -> list:
    for offset, packet in enumerate(packets):
        packet.time = start + offset * 0.001
    return packets


def test_reason_says_when_the_client_was_guessed(tmp_path: Path) -> None:
    packets = (timed(handshake("192.0.2.10", 40010, 0), 1_700_000_000.0)
               + timed(mid_connection("192.0.2.11", 40011, server_first=False),
                       1_700_000_001.0)
               + timed(mid_connection("192.0.2.12", 40012, server_first=True),
                       1_700_000_002.0))
    path = tmp_path / "midstream.pcap"
    wrpcap(str(path), packets)
    flows, error = read_capture_flows([str(path)])
    assert error is None and len(flows) == 3
    snapshot = import_text(NETSTAT, "netstat.txt", os_name="linux")
    verdicts = verify(flows, [snapshot], host_addrs=[SERVER])
    by_port = {record["client_port"]: record for record in verdicts.flow_records()}
    assert sorted(by_port) == [40010, 40011, 40012]  # port 80 taken as the server's
    for port in (40011, 40012):
        assert by_port[port]["midstream"] is True
        assert by_port[port]["class"] == "v4-via-v6"  # IPv4 taken by tcp6 :::80
        assert NOTE in by_port[port]["reason"], by_port[port]["reason"]
    assert by_port[40010]["midstream"] is False
    assert by_port[40010]["class"] == "v4-via-v6"
    assert "guessed" not in by_port[40010]["reason"]
