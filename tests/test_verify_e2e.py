"""End to end with real kernels: every flow's class equals what the clients observed.

In network namespaces (tests/netlab.py), for net.ipv6.bindv6only 0 and 1: Apache httpd
(`Listen 80`), Python sockets with every v6only combination, a mapped bind, a specific
IPv6 bind, a UDP echo service, a closed port and a port behind an nftables DROP.
Real clients connect over IPv4 and IPv6; tcpdump captures pcap and `-i any` (SLL2),
dumpcap captures pcapng; snapshots come from our collector and from
netstat / ss / ss -e / lsof text. The oracle is the kernel: what the clients saw
(connected, refused, timed out) and which socket the server's accept()/recvfrom()
got each peer on.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyzer.commands.verify import read_capture_flows
from analyzer.snapshot.collector import collect
from analyzer.snapshot.importers import import_text
from analyzer.verdict import verify

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("make_demo", ROOT / "captures/demo/make_demo.py")
assert _spec is not None and _spec.loader is not None
make_demo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_demo)

# port -> [(proto, family, address, v6only)]; v6only None leaves the OS default.
LAYOUT = {
    7001: [("tcp", 6, "::", False)],
    7002: [("tcp", 6, "::", True)],
    7003: [("tcp", 4, "0.0.0.0", None), ("tcp", 6, "::", True)],
    7004: [("tcp", 6, "::", None)],
    7005: [("tcp", 6, "::ffff:192.0.2.1", False)],
    7006: [("tcp", 6, "2001:db8::1", None)],
    7007: [("tcp", 4, "0.0.0.0", None)],
    7053: [("udp", 6, "::", None)],
    7054: [("udp", 6, "::", True), ("udp", 4, "0.0.0.0", None)],
}
CLOSED, DROPPED = 7999, 7998

SERVER = r"""
import json, select, socket, sys
layout = json.loads(sys.argv[1])
socks = {}
for port, specs in layout.items():
    for proto, family, address, v6only in specs:
        kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
        s = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, kind)
        if family == 6 and v6only is not None:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        s.bind((address, int(port)))
        if proto == "tcp":
            s.listen(16)
        socks[s] = family
print(json.dumps({str(s.getsockname()[1]) + "/" + str(f): bool(
    s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)) if f == 6 else None
    for s, f in socks.items()}), flush=True)
taken = []
done = False
while not done:
    ready, _, _ = select.select(list(socks) + [sys.stdin], [], [])
    if sys.stdin in ready:
        ready, _, _ = select.select(list(socks), [], [], 0.3)
        done = True
    for s in ready:
        if s.type == socket.SOCK_STREAM:
            conn, peer = s.accept()
            conn.close()
        else:
            data, peer = s.recvfrom(100)
            s.sendto(b"pong", peer)
        taken.append([peer[1], socks[s]])
print(json.dumps(taken), flush=True)
"""

CLIENT = r"""
import json, socket, sys
out = []
for proto, family, address, port in json.loads(sys.argv[1]):
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, kind)
    s.settimeout(1.2)
    s.bind(("", 0))
    local = s.getsockname()[1]
    try:
        s.connect((address, port))
        if proto == "udp":
            s.send(b"ping")
            s.recv(100)
        seen = "connected"
    except ConnectionRefusedError:
        seen = "refused"
    except (TimeoutError, socket.timeout):
        seen = "timeout"
    s.close()
    out.append([proto, family, port, local, seen])
print(json.dumps(out))
"""
WIRE_ADDRESS = {4: "192.0.2.1", 6: "2001:db8::1"}
SNAPSHOT_COMMANDS = {
    "netstat": ["netstat", "-tulnp"],
    "ss": ["ss", "-tulnp"],
    "ss-e": ["ss", "-tulpen"],
}


def _targets() -> list[list[object]]:
    ports = [(specs[0][0], port) for port, specs in LAYOUT.items()]
    ports += [("tcp", 80), ("tcp", 80), ("tcp", CLOSED), ("tcp", DROPPED)]
    return [[proto, family, WIRE_ADDRESS[family], port]
            for proto, port in ports for family in (4, 6)]


def _expected(observed: list[list[object]], taken: list[list[int]]) -> dict[tuple, str]:
    """(proto, client port) -> the class the kernel's behaviour implies."""
    socket_family = {peer_port: family for peer_port, family in taken}
    out = {}
    for proto, wire, port, local, seen in observed:
        if seen == "refused":
            out[(proto, local)] = "refused"
        elif seen == "timeout":
            out[(proto, local)] = "unanswered"
        else:
            # Apache's only socket is AF_INET6 (asserted with ss -4 below).
            family = 6 if port == 80 else socket_family[local]
            out[(proto, local)] = ("v6-native" if wire == 6 else
                                   "v4-via-v6" if family == 6 else "v4-native")
    return out


def _drop_rule(lab) -> None:
    for command in (["nft", "add", "table", "inet", "t"],
                    ["nft", "add", "chain", "inet", "t", "in",
                     "{ type filter hook input priority 0 ; }"],
                    ["nft", "add", "rule", "inet", "t", "in", "tcp", "dport", str(DROPPED),
                     "drop"]):
        lab.server.run(command)


def _snapshots(lab, pids: list[int]) -> dict[str, list]:
    texts = {name: lab.server.run(cmd).stdout for name, cmd in SNAPSHOT_COMMANDS.items()}
    texts["lsof"] = lab.server.run(
        ["lsof", "-i", "-P", "-n", "-a", "-p", ",".join(map(str, pids))]).stdout
    out = {name: [import_text(text, f"{name}.txt", os_name="linux")]
           for name, text in texts.items()}
    out["collector"] = [collect(netns=lab.server.netns)]
    return out


def start_dumpcap(lab, path: Path):
    """Wireshark's dumpcap writes pcapng itself (tcpdump writes classic pcap only)."""
    process = lab.server.popen(["dumpcap", "-q", "-i", lab.server.iface, "-s", "2048",
                                "-B", "4", "-w", str(path)])
    deadline = time.monotonic() + 10
    while not (path.exists() and path.stat().st_size > 0):
        assert process.poll() is None and time.monotonic() < deadline, "dumpcap did not start"
        time.sleep(0.05)
    time.sleep(0.3)
    return process


def _captures(raw: dict[str, Path]) -> dict[str, Path]:
    assert raw["veth"].read_bytes()[:4] == bytes.fromhex("d4c3b2a1")
    assert raw["pcapng"].read_bytes()[:4] == bytes.fromhex("0a0d0d0a")
    assert int.from_bytes(raw["any"].read_bytes()[20:24], "little") == 276  # LINKTYPE_LINUX_SLL2
    return {"pcap": raw["veth"], "pcapng": raw["pcapng"], "any-sll2": raw["any"]}


def _run_lab(lab, tmp: Path, bindv6only: int):
    lab.server.sysctl("net.ipv6.bindv6only", str(bindv6only))
    _drop_rule(lab)
    apache = make_demo.start_apache(lab.server, tmp / "httpd")
    assert lab.server.run(["ss", "-4", "-tlnH", "sport = :80"]).stdout.strip() == ""
    server = lab.server.popen([sys.executable, "-u", "-c", SERVER,
                               json.dumps({str(p): s for p, s in LAYOUT.items()})],
                              stdin=subprocess.PIPE)
    flags = json.loads(server.stdout.readline())
    snapshots = _snapshots(lab, [apache.pid, server.pid])
    raw = {"veth": tmp / "veth.pcap", "any": tmp / "any.pcap", "pcapng": tmp / "veth.pcapng"}
    dumps = [make_demo.start_tcpdump(lab.server, raw["veth"]), start_dumpcap(lab, raw["pcapng"]),
             make_demo.start_tcpdump(lab.server, raw["any"], "-y", "LINUX_SLL2", iface="any")]
    observed = json.loads(lab.client.run([sys.executable, "-c", CLIENT,
                                          json.dumps(_targets())], timeout=120).stdout)
    for dump in dumps:
        make_demo.stop(dump)
    server.stdin.close()
    taken = json.loads(server.stdout.readline())
    return flags, snapshots, _captures(raw), _expected(observed, taken)


def _truth(flags: dict[str, bool | None], port: int) -> bool:
    """Does the AF_INET6 socket on PORT take IPv4? (kernel getsockopt)"""
    return flags.get(f"{port}/6") is False


@pytest.mark.netns
@pytest.mark.slow
@pytest.mark.parametrize("bindv6only", [0, 1])
def test_every_flow_class_equals_what_clients_saw(lab, tmp_path, bindv6only):
    flags, snapshots, captures, expected = _run_lab(lab, tmp_path, bindv6only)
    assert flags["7004/6"] is bool(bindv6only)  # the default really changed
    assert sorted(set(expected.values())) == sorted(
        {"v4-via-v6", "v4-native", "v6-native", "refused", "unanswered"})
    for capture_name, capture in captures.items():
        flows, error = read_capture_flows([str(capture)])
        assert error is None
        for source, snaps in snapshots.items():
            verdicts = verify(flows, snaps, os="linux")
            got = {}
            for record in verdicts.flow_records():
                if record["server"] in WIRE_ADDRESS.values():
                    got[(record["proto"], record["client_port"])] = record["class"]
            mismatches = {key: (value, got.get(key)) for key, value in expected.items()
                          if got.get(key) != value}
            assert not mismatches, (capture_name, source, mismatches)
            _check_listeners(verdicts, flags, source)


def _check_listeners(verdicts, flags, source) -> None:
    """Every listener's accepts_ipv4 is the kernel's truth whenever it is decided."""
    for item in verdicts.listeners:
        port = item.local_port
        if item.family == 4:
            assert item.knowledge.accepts_ipv4 is True
            continue
        if port == 80:
            truth = True  # Apache (APR) clears IPV6_V6ONLY for its wildcard listener
        elif port in (7005,):
            truth = True
        elif port == 7006:
            truth = False
        else:
            truth = _truth(flags, port)
        answer = item.knowledge.accepts_ipv4
        assert answer is truth, (source, item.label, item.knowledge, item.finding)
        if source in ("collector", "ss-e"):
            assert item.knowledge.known_from == "snapshot", (source, item.label)
        if source in ("netstat", "lsof") and port in (80, 7001, 7002, 7004, 7053):
            # the text cannot show v6only; the IPv4 flows accepted or refused decide
            assert item.knowledge.known_from == "capture", (source, item.label)
