"""Linux hosts: the seed finding, bindv6only=1, the sshd pattern, a mapped bind, midstream."""

from __future__ import annotations

from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import (
    SERVER_V4,
    SERVER_V6,
    Traffic,
    both_families,
    established,
    tcp_listen,
)

NETSTAT_TCP6 = "netstat tcp6 row cannot show v6only"
NETSTAT_TCP = "netstat tcp row: AF_INET"
SOCK_DIAG = {"sockets": "sock_diag", "v6only": "INET_DIAG_SKV6ONLY",
             "processes": "/proc/*/fd"}
DIAG_EVIDENCE = "sock_diag INET_DIAG_SKV6ONLY"


def netstat_sources(command: str) -> dict[str, str]:
    return {"sockets": f"{command} text", "v6only": "not shown by netstat"}


@scenario("seed-httpd", os="linux")
def seed_httpd(t: Traffic) -> None:
    """Linux httpd shows only ':::80' in netstat, yet IPv4 clients reach it (seed 002).

    sshd beside it holds 0.0.0.0:22 and :::22, so its IPv6 socket is v6-only (the
    bind-conflict rule) and IPv4 ssh goes to the AF_INET socket.
    """
    t.text_format = "netstat-linux"
    sockets = [
        t.listen(tcp_listen("0.0.0.0", 22, pid=1084, process="sshd", evidence=NETSTAT_TCP),
                 True),
        t.listen(tcp_listen("127.0.0.1", 25, pid=1165, process="master",
                            evidence=NETSTAT_TCP), True),
        t.listen(tcp_listen("::", 80, pid=2316, process="httpd", evidence=NETSTAT_TCP6), True),
        t.listen(tcp_listen("::", 22, pid=1084, process="sshd", evidence=NETSTAT_TCP6), False),
        t.listen(tcp_listen("::1", 25, pid=1165, process="master", evidence=NETSTAT_TCP6),
                 False),
    ]
    t.snapshot(-5, sockets, sources=netstat_sources("netstat -natp"),
               defaults={"net.ipv6.bindv6only": None})
    t.visits(1.0,
             *both_families(80, (4, "v4-via-v6"), (3, "v6-native")),
             *both_families(22, (1, "v4-native"), (1, "v6-native")))


@scenario("linux-bindv6only", os="linux")
def linux_bindv6only(t: Traffic) -> None:
    """Debian-style bindv6only=1: a plain '::' listener refuses IPv4, Apache's still takes it.

    Apache (APR) clears IPV6_V6ONLY on its wildcard listen, so the per-socket flag wins
    over the sysctl; a Python server keeps the default and is v6-only.
    """
    t.text_format = "ss"
    plain = t.listen(tcp_listen("::", 8080, v6only=True, pid=4120, process="python3",
                                user="www-data", evidence=DIAG_EVIDENCE), False)
    apache = t.listen(tcp_listen("::", 80, v6only=False, pid=911, process="apache2",
                                 evidence=DIAG_EVIDENCE), True)
    t.snapshot(-5, [apache, plain], sources=SOCK_DIAG, defaults={"net.ipv6.bindv6only": 1})
    t.visits(1.0,
             *both_families(8080, (3, "refused"), (2, "v6-native")),
             *both_families(80, (3, "v4-via-v6"), (2, "v6-native")))


@scenario("sshd-pattern", os="linux")
def sshd_pattern(t: Traffic) -> None:
    """sshd on 0.0.0.0:22 and [::]:22 v6-only: each family reaches its own socket.

    A firewall drops telnet, so those SYNs go unanswered.
    """
    t.text_format = "ss"
    v4 = t.listen(tcp_listen("0.0.0.0", 22, pid=702, process="sshd",
                             evidence="ss printed 0.0.0.0:22"), True)
    v6 = t.listen(tcp_listen("::", 22, v6only=True, pid=702, process="sshd",
                             evidence='ss printed "[::]:22"'), False)
    t.snapshot(-5, [v4, v6], sources={"sockets": "ss -tlnpe text", "v6only": "ss -e v6only"},
               defaults={"net.ipv6.bindv6only": 0})
    t.visits(1.0,
             *both_families(22, (3, "v4-native"), (3, "v6-native")),
             ("tcp", 4, 1, 23, "unanswered", "unanswered"))


@scenario("mapped-bind", os="linux")
def mapped_bind(t: Traffic) -> None:
    """An AF_INET6 socket bound to ::ffff:192.0.2.10 takes IPv4 only (seed 004).

    Its neighbour bound to 2001:db8::10 is IPv6-only by construction, although its
    v6only flag is clear.
    """
    t.text_format = "ss"
    mapped = t.listen(tcp_listen(f"::ffff:{SERVER_V4}", 5000, v6only=False, pid=3301,
                                 process="python3", evidence=DIAG_EVIDENCE), True)
    v6 = t.listen(tcp_listen(SERVER_V6, 5001, v6only=False, pid=3301, process="python3",
                             evidence=DIAG_EVIDENCE), False)
    t.snapshot(-5, [mapped, v6], sources=SOCK_DIAG, defaults={"net.ipv6.bindv6only": 0})
    t.visits(1.0,
             *both_families(5000, (3, "v4-via-v6"), (2, "refused")),
             ("tcp", 6, 2, 5001, "accepted", "v6-native"),
             ("tcp", 4, 2, 5001, "refused", "refused"))


@scenario("midstream", os="linux")
def midstream(t: Traffic) -> None:
    """Long-lived IPv4 connections show as tcp6 rows of java's ':::4243' (seed 001).

    They began before the capture (no handshake on the wire); netstat -tulpn lists
    them as tcp6 with plain IPv4 peers, beside smbd's IPv4-only connections.
    """
    t.text_format = "netstat-linux"
    java = t.listen(tcp_listen("::", 4243, pid=31307, process="java", evidence=NETSTAT_TCP6),
                    True)
    smbd = t.listen(tcp_listen("0.0.0.0", 445, pid=21470, process="smbd",
                               evidence=NETSTAT_TCP), True)
    rows = [java, smbd]
    for client in t.clients(4, 3):
        port = t.ephemeral_port(client)
        rows.append(established(java, SERVER_V4, client, port))
        t.add("tcp", client, SERVER_V4, 4243, 0.2 + t.rng.random(), outcome="midstream",
              cls="v4-via-v6", client_port=port)
    for client in t.clients(4, 2):
        port = t.ephemeral_port(client)
        rows.append(established(smbd, SERVER_V4, client, port))
        t.add("tcp", client, SERVER_V4, 445, 0.3 + t.rng.random(), outcome="midstream",
              cls="v4-native", client_port=port)
    t.snapshot(-1, rows, sources=netstat_sources("netstat -tulpn"),
               defaults={"net.ipv6.bindv6only": None})
    t.visits(3.0,
             *both_families(4243, (1, "v4-via-v6"), (1, "v6-native")))
