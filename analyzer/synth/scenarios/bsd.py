"""FreeBSD, macOS and OpenBSD hosts: netstat and sockstat print tcp4, tcp6 and tcp46."""

from __future__ import annotations

from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import Traffic, both_families, tcp_listen

SOCKSTAT = {"sockets": "sockstat -46l text", "v6only": "sockstat tcp6/tcp46"}
MACOS_NETSTAT = {"sockets": "netstat -an text", "v6only": "netstat tcp6/tcp46"}
OPENBSD_NETSTAT = {"sockets": "netstat -an text", "v6only": "OpenBSD: always v6-only"}


@scenario("freebsd-v6only", os="freebsd")
def freebsd_v6only(t: Traffic) -> None:
    """FreeBSD's default v6only=1 makes '::' refuse IPv4; after the sysctl change a new
    tcp46 listener takes it (seed 003).

    The socket opened before `sysctl net.inet6.ip6.v6only=0` stays v6-only: the flag
    is set per socket when it is created.
    """
    old = t.listen(tcp_listen("::", 8000, v6only=True, pid=812, process="python3.11",
                              user="www", evidence="sockstat tcp6"), False)
    t.snapshot(-5, [old], sources=SOCKSTAT, defaults={"net.inet6.ip6.v6only": 1})
    t.visits(1.0,
             *both_families(8000, (2, "refused"), (2, "v6-native")))
    new = t.listen(tcp_listen("::", 8080, v6only=False, pid=1290, process="nginx",
                              user="www", evidence="sockstat tcp46"), True)
    t.snapshot(30, [old, new], sources=SOCKSTAT, defaults={"net.inet6.ip6.v6only": 0})
    t.visits(31.0,
             *both_families(8080, (3, "v4-via-v6"), (1, "v6-native")),
             ("tcp", 4, 1, 8000, "refused", "refused"))


@scenario("macos-tcp46", os="macos")
def macos_tcp46(t: Traffic) -> None:
    """macOS netstat shows 'tcp46 *.5000' (takes IPv4) beside 'tcp6 *.5001' (refuses it)."""
    t.text_format = "netstat-bsd"
    dual = t.listen(tcp_listen("::", 5000, v6only=False, process="ControlCe",
                               evidence="netstat tcp46"), True)
    only6 = t.listen(tcp_listen("::", 5001, v6only=True, evidence="netstat tcp6"), False)
    t.snapshot(-5, [dual, only6], sources=MACOS_NETSTAT, defaults={"net.inet6.ip6.v6only": 0})
    t.visits(1.0,
             *both_families(5000, (3, "v4-via-v6"), (2, "v6-native")),
             *both_families(5001, (2, "refused"), (2, "v6-native")))


@scenario("openbsd-separate", os="openbsd")
def openbsd_separate(t: Traffic) -> None:
    """OpenBSD never gives IPv4 to an AF_INET6 socket: 'tcp6 *.8080' refuses IPv4 while
    'tcp *.80' beside 'tcp6 *.80' serves both families."""
    t.text_format = "netstat-bsd"
    web4 = t.listen(tcp_listen("0.0.0.0", 80, pid=3551, process="httpd", user="www",
                               evidence="netstat tcp"), True)
    web6 = t.listen(tcp_listen("::", 80, v6only=True, pid=3551, process="httpd", user="www",
                               evidence="netstat tcp6"), False)
    alone = t.listen(tcp_listen("::", 8080, v6only=True, pid=4410, process="node", user="app",
                                evidence="netstat tcp6"), False)
    t.snapshot(-5, [web4, web6, alone], sources=OPENBSD_NETSTAT)
    t.visits(1.0,
             *both_families(80, (3, "v4-native"), (2, "v6-native")),
             *both_families(8080, (2, "refused"), (2, "v6-native")))
