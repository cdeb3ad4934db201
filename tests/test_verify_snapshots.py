"""Verdicts with imported snapshots of several OSes: the seeds' own text (../shared/seeds)
and the third-party corpus (../shared/corpus/snapshots). Captures are written with
Scapy (an independent packet builder); expectations come from the seeds' answers and
the OS facts in ../shared/DOMAIN.md, not from our code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reader_oracles import eth
from scapy.layers.inet import IP, TCP
from scapy.layers.inet6 import IPv6
from scapy.utils import wrpcap

from analyzer.commands.verify import read_capture_flows
from analyzer.flows import FlowFrame
from analyzer.snapshot.importers import import_text
from analyzer.verdict import verify

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


def seed_lines(name: str, pattern: str) -> str:
    text = (SEEDS / name).read_text(encoding="utf-8")
    return "\n".join(line for line in text.splitlines() if re.match(pattern, line)) + "\n"


def conversation(client: str, cport: int, server: str, sport: int, start: float,
                 answer: str) -> list:
    """A TCP handshake: SYN, then SYN-ACK + ACK (accepted), RST (refused) or nothing."""
    layer = IPv6 if ":" in client else IP
    up = eth() / layer(src=client, dst=server)
    down = eth() / layer(src=server, dst=client)
    packets = [up / TCP(sport=cport, dport=sport, flags="S", seq=100)]
    if answer == "accepted":
        packets += [down / TCP(sport=sport, dport=cport, flags="SA", seq=500, ack=101),
                    up / TCP(sport=cport, dport=sport, flags="A", seq=101, ack=501)]
    elif answer == "refused":
        packets.append(down / TCP(sport=sport, dport=cport, flags="RA", seq=0, ack=101))
    for offset, packet in enumerate(packets):
        packet.time = start + offset * 0.001
    return packets


def capture(tmp_path: Path, conversations: list[tuple]) -> FlowFrame:
    packets = []
    for number, spec in enumerate(conversations):
        packets += conversation(*spec[:4], 1_700_000_000.0 + number, spec[4])
    path = tmp_path / "seed.pcap"
    wrpcap(str(path), packets)
    flows, error = read_capture_flows([str(path)])
    assert error is None
    return flows


def classes_by_client_port(verdicts) -> dict[int, str]:
    return {record["client_port"]: record["class"] for record in verdicts.flow_records()}


def listener(verdicts, port: int, family: int):
    found = [item for item in verdicts.listeners
             if item.local_port == port and item.family == family]
    assert len(found) == 1, [item.label for item in verdicts.listeners]
    return found[0]


def test_seed_001_tcp6_rows_with_ipv4_peers(tmp_path):
    """Seed 001: why do IPv4 connections show as tcp6? They are IPv4 connections on
    AF_INET6 sockets (java); the rows are explained and matched to their flows."""
    block = seed_lines("001_50bbf1b179f8b605.txt", r"^(Active|Proto|tcp)").splitlines()
    snapshot = import_text("\n".join(block[:16]) + "\n", "seed001.txt", os_name="linux")
    flows = capture(tmp_path, [
        ("10.0.0.20", 64702, "10.0.0.12", 4243, "accepted"),     # tcp6 row, java
        ("10.0.0.12", 48932, "162.222.40.93", 443, "accepted"),  # tcp6 row, outgoing
        ("10.0.0.20", 49729, "10.0.0.12", 445, "accepted"),      # tcp row, smbd
    ])
    verdicts = verify(flows, [snapshot])
    assert verdicts.hosts[0]["addresses"] == ["10.0.0.12"]  # the peer 162.222.40.93 is not us
    assert classes_by_client_port(verdicts) == {64702: "v4-via-v6", 48932: "v4-via-v6",
                                                49729: "v4-native"}
    explained = {item.socket["local_port"]: item for item in verdicts.connections}
    java_in = explained[4243]
    assert java_in.direction == "inbound" and java_in.flows == [0]
    assert "AF_INET6" in java_in.explanation and "10.0.0.20" in java_in.explanation
    java_out = explained[48932]
    assert java_out.direction == "outbound" and java_out.flows == [1]
    assert "java" in verdicts.flow_reason[0] and "java" in verdicts.flow_reason[1]


def test_seed_002_httpd_only_on_ipv6_takes_ipv4(tmp_path):
    """Seed 002: CentOS netstat shows httpd only on :::80, yet telnet over IPv4 connects;
    sshd has 0.0.0.0:22 beside :::22, so its IPv6 socket is v6-only."""
    text = seed_lines("002_8618a8ce1b508583.txt", r"^tcp ").splitlines()[:5]
    snapshot = import_text("\n".join(text) + "\n", "seed002.txt", os_name="linux")
    flows = capture(tmp_path, [
        ("192.168.1.10", 40001, "192.168.1.241", 80, "accepted"),
        ("192.168.1.10", 40002, "192.168.1.241", 22, "accepted"),
        ("2001:db8::10", 40003, "2001:db8::241", 22, "accepted"),
        ("2001:db8::10", 40004, "2001:db8::241", 80, "accepted"),
    ])
    verdicts = verify(flows, [snapshot])
    assert classes_by_client_port(verdicts) == {40001: "v4-via-v6", 40002: "v4-native",
                                                40003: "v6-native", 40004: "v6-native"}
    httpd = listener(verdicts, 80, 6)
    assert (httpd.knowledge.accepts_ipv4, httpd.knowledge.known_from) == (True, "capture")
    assert "netstat cannot show v6only; 1 IPv4 connection accepted" in httpd.finding
    sshd6 = listener(verdicts, 22, 6)
    assert (sshd6.knowledge.accepts_ipv4, sshd6.knowledge.rule) == (False, "bind-conflict")
    assert verdicts.flow_listener[1] == listener(verdicts, 22, 4).id


def test_ipv4_refused_proves_v6only_and_contradiction_is_reported(tmp_path):
    """net-tools text cannot show v6only: refused IPv4 proves it; an accepted IPv4 flow
    to a socket the snapshot calls v6-only is a contradiction, reported."""
    text = ("Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n"
            "tcp6 0 0 :::8080 :::* LISTEN 10/app\n")
    snapshot = import_text(text, "netstat.txt", os_name="linux")
    flows = capture(tmp_path, [("192.0.2.2", 41000, "192.0.2.1", 8080, "refused")])
    verdicts = verify(flows, [snapshot])
    app = listener(verdicts, 8080, 6)
    assert (app.knowledge.accepts_ipv4, app.knowledge.known_from) == (False, "capture")
    assert app.ipv4_refused == [0] and "v6-only" in app.finding

    ss_text = ("Netid State Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n"
               'tcp LISTEN 0 128 [::]:8080 [::]:* users:(("app",pid=10,fd=3)) ino:1 sk:1 '
               'v6only:1 <->\n')
    strict = import_text(ss_text, "ss.txt", os_name="linux")
    flows = capture(tmp_path, [("192.0.2.2", 41001, "192.0.2.1", 8080, "accepted")])
    verdicts = verify(flows, [strict])
    app = listener(verdicts, 8080, 6)
    assert app.knowledge.known_from == "snapshot" and app.knowledge.accepts_ipv4 is False
    assert verdicts.flow_class[0] == "unmatched"
    assert app.contradictions and "accepted" in app.contradictions[0]


# --- per-OS defaults with imported snapshots of those OSes --------------------------

def test_windows_ipv6_wildcard_is_v6only_by_default(corpus):
    """Seed 000 / Windows: [::]:445 is IPv6-only unless the program cleared it; the text
    cannot tell, so the OS default is the prior."""
    path = corpus / "snapshots/jc/windows/windows-10/netstat-an.out"
    snapshot = import_text(path.read_text(), str(path), os_name="windows", keep_going=True)
    verdicts = verify(FlowFrame.empty(), [snapshot])
    smb6 = listener(verdicts, 445, 6)
    assert smb6.v6only is None
    assert (smb6.knowledge.accepts_ipv4, smb6.knowledge.known_from) == (False, "os-default")


@pytest.mark.parametrize("name", ["inspec/cmd/sockstat", "jc/freebsd12/netstat-an.out"])
def test_freebsd_tcp6_is_v6only(corpus, name):
    """FreeBSD prints tcp6 for a v6-only socket (tcp46 when it takes IPv4 too)."""
    path = corpus / "snapshots" / name
    snapshot = import_text(path.read_text(), str(path), os_name="freebsd")
    verdicts = verify(FlowFrame.empty(), [snapshot])
    sshd6 = listener(verdicts, 22, 6)
    assert (sshd6.knowledge.accepts_ipv4, sshd6.knowledge.known_from) == (False, "snapshot")
    assert listener(verdicts, 22, 4).knowledge.accepts_ipv4 is True


def test_freebsd_netstat_default_prior_when_flag_unknown():
    """FreeBSD's net.inet6.ip6.v6only=1 is the prior for an AF_INET6 wildcard of unknown
    flag (inet6(4)); on Linux the prior is bindv6only=0."""
    text = ("Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n"
            "tcp6 0 0 :::9000 :::* LISTEN 10/app\n")
    linux = verify(FlowFrame.empty(), [import_text(text, "l.txt", os_name="linux")])
    assert listener(linux, 9000, 6).knowledge.accepts_ipv4 is True
    assert listener(linux, 9000, 6).knowledge.known_from == "os-default"


def test_macos_tcp46_tcp6_tcp4(tmp_path):
    """Seed 004 (macOS): tcp46 *.5000 takes both, tcp6 with an address is IPv6-only,
    tcp4 takes IPv4; IPv4 to 37.77.56.75 goes to the exact tcp4 socket first."""
    text = seed_lines("004_449f8613188e1bc1.txt", r"^tcp(4|46|6) ").splitlines()[:3]
    snapshot = import_text("\n".join(text) + "\n", "seed004.txt", os_name="macos")
    flows = capture(tmp_path, [("37.77.56.76", 50887, "37.77.56.75", 5000, "accepted"),
                               ("37.77.56.76", 50888, "37.77.56.99", 5000, "accepted")])
    verdicts = verify(flows, [snapshot], host_addrs=["37.77.56.75", "37.77.56.99"])
    assert verdicts.hosts[0]["addresses_from"] == "--host-addr"
    assert listener(verdicts, 5000, 4).knowledge.accepts_ipv4 is True
    dual = next(item for item in verdicts.listeners if item.local_address == "::")
    assert (dual.knowledge.accepts_ipv4, dual.knowledge.known_from) == (True, "snapshot")
    assert classes_by_client_port(verdicts) == {50887: "v4-native", 50888: "v4-via-v6"}


def test_linux_corpus_sshd_bind_conflict(corpus):
    path = corpus / "snapshots/jc/ubuntu-18.04/netstat-sudo-lnp.out"
    snapshot = import_text(path.read_text(), str(path), os_name="linux")
    verdicts = verify(FlowFrame.empty(), [snapshot])
    sshd6 = listener(verdicts, 22, 6)
    assert (sshd6.knowledge.accepts_ipv4, sshd6.knowledge.rule) == (False, "bind-conflict")


@pytest.mark.parametrize("os_name", ["openbsd"])
def test_openbsd_never(os_name):
    text = ("Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n"
            "tcp6 0 0 :::9000 :::* LISTEN 10/app\n")
    snapshot = import_text(text, "o.txt", os_name=os_name)
    verdicts = verify(FlowFrame.empty(), [snapshot])
    assert listener(verdicts, 9000, 6).knowledge.rule == "openbsd-never"


def test_reuseport_siblings_share_the_capture_evidence(tmp_path):
    """nginx-style workers, each with its own [::]:80 socket (SO_REUSEPORT): IPv4
    accepted on the port proves every one of them takes IPv4."""
    text = ("Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n"
            "tcp6 0 0 :::80 :::* LISTEN 11/nginx\n"
            "tcp6 0 0 :::80 :::* LISTEN 12/nginx\n")
    snapshot = import_text(text, "netstat.txt", os_name="linux")
    flows = capture(tmp_path, [("192.0.2.2", 41000, "192.0.2.1", 80, "accepted")])
    verdicts = verify(flows, [snapshot])
    assert [item.knowledge.known_from for item in verdicts.listeners] == ["capture", "capture"]
    assert verdicts.flow_class[0] == "v4-via-v6"
