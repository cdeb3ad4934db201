"""The socket delivery model, rule by rule (expectations from the sources each rule
names, see ../shared/DOMAIN.md), and against the real Linux kernel in a namespace."""

from __future__ import annotations

import ipaddress
import json

import pytest

from analyzer.snapshot import Socket
from analyzer.verdict.model import (
    OS_MODELS,
    RULES,
    candidates,
    first_taker,
    ipv4_knowledge,
    os_prior,
)

S1 = ipaddress.ip_address("192.0.2.1")
S6 = ipaddress.ip_address("2001:db8::1")


def tcp(family: int, address: str, v6only: bool | None = None, port: int = 80) -> Socket:
    return Socket("tcp", family, address, port, v6only=v6only)


# rule id -> (socket, other listeners on the port, os, defaults, ipv4 peer seen,
#             expected accepts_ipv4, expected known_from)
KNOWLEDGE_CASES = {
    "inet-takes-ipv4": (tcp(4, "0.0.0.0"), [], "linux", {}, False, True, "snapshot"),
    "mapped-bind": (tcp(6, "::ffff:192.0.2.1"), [], "linux", {}, False, True, "snapshot"),
    "specific-v6-bind": (tcp(6, "2001:db8::1"), [], "linux", {}, False, False, "snapshot"),
    "per-socket-flag": (tcp(6, "::", v6only=True), [], "linux", {}, False, False, "snapshot"),
    "established-ipv4-peer": (tcp(6, "::"), [], "linux", {}, True, True, "snapshot"),
    "bind-conflict": (tcp(6, "::"), [tcp(4, "0.0.0.0")], "linux", {}, False, False,
                      "snapshot"),
    "os-default": (tcp(6, "::"), [], "linux", {"net.ipv6.bindv6only": 1}, False, False,
                   "os-default"),
    "openbsd-never": (tcp(6, "::", v6only=False), [], "openbsd", {}, False, False,
                      "os-default"),
}


@pytest.mark.parametrize("rule", sorted(KNOWLEDGE_CASES))
def test_knowledge_rule(rule):
    sock, peers, os_name, defaults, peer_seen, accepts, known_from = KNOWLEDGE_CASES[rule]
    got = ipv4_knowledge(sock, peers, os_name, defaults, ipv4_peer_seen=peer_seen)
    assert (got.rule, got.accepts_ipv4, got.known_from) == (rule, accepts, known_from)
    assert got.reason


def test_flag_beats_bind_conflict_and_default():
    """A socket's own v6only=0 beside 0.0.0.0 is possible (SO_REUSEPORT): the flag wins."""
    got = ipv4_knowledge(tcp(6, "::", v6only=False), [tcp(4, "0.0.0.0")], "linux",
                         {"net.ipv6.bindv6only": 1})
    assert (got.rule, got.accepts_ipv4) == ("per-socket-flag", True)


def test_bind_conflict_is_linux_only():
    """FreeBSD lets both wildcards coexist (inet6(4)); there the default decides."""
    got = ipv4_knowledge(tcp(6, "::"), [tcp(4, "0.0.0.0")], "freebsd", {})
    assert (got.rule, got.accepts_ipv4, got.known_from) == ("os-default", False, "os-default")


# OS -> expected default v6only (DOMAIN.md: Linux 0, macOS 0, FreeBSD/NetBSD 1, Windows
# v6-only unless cleared, OpenBSD never takes IPv4 on AF_INET6).
OS_DEFAULT_V6ONLY = {"linux": False, "macos": False, "freebsd": True, "netbsd": True,
                     "windows": True, "openbsd": True}


@pytest.mark.parametrize("os_name", sorted(OS_DEFAULT_V6ONLY))
def test_os_defaults(os_name):
    prior = os_prior(os_name, {})
    assert prior.accepts_ipv4 is (not OS_DEFAULT_V6ONLY[os_name])
    assert prior.known_from == "os-default"
    assert OS_MODELS[os_name].source


def test_snapshot_sysctl_overrides_os_table():
    assert os_prior("freebsd", {"net.inet6.ip6.v6only": 0}).accepts_ipv4 is True
    assert os_prior("linux", {"net.ipv6.bindv6only": None}).accepts_ipv4 is True
    assert os_prior(None, {}).accepts_ipv4 is None


# Delivery: (sockets, wire family, destination, v6only answers, expected taker index)
DELIVERY_CASES = {
    "exact-before-wildcard": ([tcp(4, "0.0.0.0"), tcp(4, "192.0.2.1")], 4, S1, {}, 1),
    "exact-before-wildcard-mapped": ([tcp(6, "::", False), tcp(6, "::ffff:192.0.2.1")], 4, S1,
                                     {0: True, 1: True}, 1),
    "inet-before-inet6": ([tcp(6, "::", False), tcp(4, "0.0.0.0")], 4, S1,
                          {0: True, 1: True}, 1),
    "v6only-never-ipv4": ([tcp(6, "::", True)], 4, S1, {0: False}, None),
    "inet-never-ipv6": ([tcp(4, "0.0.0.0")], 6, S6, {}, None),
    "mapped-bind-not-ipv6": ([tcp(6, "::ffff:192.0.2.1")], 6, S6, {}, None),
    "specific-v6-not-ipv4": ([tcp(6, "2001:db8::1")], 4, S1, {}, None),
    "specific-v6-takes-ipv6": ([tcp(6, "::"), tcp(6, "2001:db8::1")], 6, S6, {}, 1),
    "other-address-not-taken": ([tcp(4, "198.51.100.1")], 4, S1, {}, None),
    "v6only-skipped-for-inet": ([tcp(6, "::", True), tcp(4, "0.0.0.0")], 4, S1,
                                {0: False, 1: True}, 1),
}


@pytest.mark.parametrize("case", sorted(DELIVERY_CASES))
def test_delivery(case):
    sockets, wire, destination, answers, expected = DELIVERY_CASES[case]
    order = candidates("tcp", wire, destination, 80, sockets)
    states = {i: (True if s.family == 4 else answers.get(i)) for i, s in enumerate(sockets)}
    assert first_taker(wire, order, states).index == expected


def test_unknown_answer_is_assumed_not_decided():
    order = candidates("tcp", 4, S1, 80, [tcp(6, "::")])
    taker = first_taker(4, order, {0: None})
    assert (taker.index, taker.assumed) == (0, True)


def test_other_proto_and_port_never_candidates():
    sockets = [Socket("udp", 4, "0.0.0.0", 80, state="UNCONN"), tcp(4, "0.0.0.0", port=81)]
    assert candidates("tcp", 4, S1, 80, sockets) == []


def test_every_rule_has_a_source():
    for rule in RULES.values():
        assert rule.text and rule.source, rule.id


# --- the real kernel as the oracle --------------------------------------------------
SERVER = r"""
import json, select, socket, sys
specs = json.loads(sys.argv[1])
socks, report = [], []
for proto, family, address, port, v6only, reuseport in specs:
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, kind)
    if reuseport:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == 6 and v6only is not None:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
    try:
        s.bind((address, port))
        if proto == "tcp":
            s.listen(16)
    except OSError as exc:
        report.append({"error": exc.errno}); socks.append(None); continue
    flag = s.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) if family == 6 else None
    report.append({"v6only": None if flag is None else bool(flag)}); socks.append(s)
print(json.dumps(report), flush=True)
taken = []
live = [s for s in socks if s is not None]
done = False
while not done:
    ready, _, _ = select.select(live + [sys.stdin], [], [])
    if sys.stdin in ready:
        ready, _, _ = select.select(live, [], [], 0.2)
        done = True
    for s in ready:
        i = socks.index(s)
        if s.type == socket.SOCK_STREAM:
            conn, peer = s.accept(); conn.close()
        else:
            data, peer = s.recvfrom(100)
        taken.append([i, peer[0]])
print(json.dumps(taken), flush=True)
"""

CLIENT = r"""
import json, socket, sys
proto, family, address, port = json.loads(sys.argv[1])
kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
s = socket.socket(socket.AF_INET6 if family == 6 else socket.AF_INET, kind)
s.settimeout(1)
try:
    s.connect((address, port))
    if proto == "udp":
        s.send(b"x")
    print("ok")
except ConnectionRefusedError:
    print("refused")
except OSError as exc:
    print(f"error {exc}")
"""

R = True  # SO_REUSEPORT
KERNEL_SCENARIOS = {
    # name: [(proto, family, address, v6only, reuseport)]
    "dual-stack-wildcard": [("tcp", 6, "::", False, False)],
    "v6only-wildcard": [("tcp", 6, "::", True, False)],
    "inet-and-v6only": [("tcp", 4, "0.0.0.0", None, False), ("tcp", 6, "::", True, False)],
    "inet-beside-dual-stack-conflicts": [("tcp", 4, "0.0.0.0", None, False),
                                         ("tcp", 6, "::", False, False)],
    "inet-beside-dual-stack-reuseport": [("tcp", 6, "::", False, R),
                                         ("tcp", 4, "0.0.0.0", None, R)],
    "exact-inet-beside-dual-stack": [("tcp", 6, "::", False, R),
                                     ("tcp", 4, "192.0.2.1", None, R)],
    "mapped-beside-dual-stack": [("tcp", 6, "::", False, R),
                                 ("tcp", 6, "::ffff:192.0.2.1", False, R)],
    "mapped-alone": [("tcp", 6, "::ffff:192.0.2.1", False, False)],
    "specific-v6": [("tcp", 6, "2001:db8::1", None, False)],
    "default-flag": [("tcp", 6, "::", None, False)],
    "udp-dual-stack": [("udp", 6, "::", False, False)],
    "udp-inet-and-v6only": [("udp", 6, "::", True, False), ("udp", 4, "0.0.0.0", None, False)],
}


@pytest.mark.netns
@pytest.mark.parametrize("bindv6only", [0, 1])
def test_model_agrees_with_linux_kernel(lab, bindv6only):
    """Which socket took each IPv4/IPv6 connection, per real kernel, equals the model."""
    import subprocess
    import sys

    lab.server.sysctl("net.ipv6.bindv6only", str(bindv6only))
    for number, (name, layout) in enumerate(sorted(KERNEL_SCENARIOS.items())):
        port = 7000 + number
        specs = [[proto, fam, addr, port, v6only, reuse] for proto, fam, addr, v6only, reuse
                 in layout]
        server = lab.server.popen([sys.executable, "-u", "-c", SERVER, json.dumps(specs)],
                                  stdin=subprocess.PIPE)
        report = json.loads(server.stdout.readline())
        bound = [i for i, item in enumerate(report) if "error" not in item]
        sockets = [Socket(layout[i][0], layout[i][1], layout[i][2], port,
                          state="LISTEN" if layout[i][0] == "tcp" else "UNCONN",
                          v6only=report[i]["v6only"]) for i in bound]
        if len(bound) < len(layout):
            # the bind-conflict rule: the kernel refused the second bind with EADDRINUSE
            assert name == "inet-beside-dual-stack-conflicts", (name, report)
            assert report[1] == {"error": 98}
            peers = [Socket("tcp", 4, "0.0.0.0", port)]
            got = ipv4_knowledge(Socket("tcp", 6, "::", port), peers, "linux", {})
            assert (got.rule, got.accepts_ipv4) == ("bind-conflict", False)
        proto = layout[0][0]
        expected = []
        for wire, address in ((4, "192.0.2.1"), (6, "2001:db8::1")):
            order = candidates(proto, wire, ipaddress.ip_address(address), port, sockets)
            states = {i: ipv4_knowledge(sock, [o for o in sockets if o is not sock], "linux",
                                        {"net.ipv6.bindv6only": bindv6only}).accepts_ipv4
                      for i, sock in enumerate(sockets)}
            taker = first_taker(wire, order, states)
            assert not taker.assumed, (name, wire)
            outcome = lab.client.run([sys.executable, "-c", CLIENT, json.dumps(
                [proto, wire, address, port])], timeout=10).stdout.strip()
            if proto == "tcp":
                assert (outcome == "ok") == (taker.index is not None), (name, wire, outcome)
            expected.append(None if taker.index is None else bound[taker.index])
        server.stdin.close()
        taken = json.loads(server.stdout.readline())
        server.wait(timeout=5)
        observed = [None, None]
        for index, peer in taken:
            observed[0 if "." in peer else 1] = index
        assert observed == expected, (name, bindv6only, report, taken)
