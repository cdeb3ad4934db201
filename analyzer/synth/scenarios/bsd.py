"""FreeBSD and macOS hosts: netstat and sockstat print tcp4, tcp6 and tcp46."""

from __future__ import annotations

from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import SERVER_V4, SERVER_V6, Traffic, tcp_listen

SOCKSTAT = {"sockets": "sockstat -46l text", "v6only": "sockstat tcp6/tcp46"}
MACOS_NETSTAT = {"sockets": "netstat -an text", "v6only": "netstat tcp6/tcp46"}


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
    t.spread("tcp", t.clients(4, 2), SERVER_V4, 8000, 1.0, outcome="refused", cls="refused")
    t.spread("tcp", t.clients(6, 2), SERVER_V6, 8000, 1.2, outcome="accepted", cls="v6-native")
    new = t.listen(tcp_listen("::", 8080, v6only=False, pid=1290, process="nginx",
                              user="www", evidence="sockstat tcp46"), True)
    t.snapshot(30, [old, new], sources=SOCKSTAT, defaults={"net.inet6.ip6.v6only": 0})
    t.spread("tcp", t.clients(4, 3), SERVER_V4, 8080, 31.0, outcome="accepted",
             cls="v4-via-v6")
    t.spread("tcp", t.clients(6, 1), SERVER_V6, 8080, 31.5, outcome="accepted",
             cls="v6-native")
    t.spread("tcp", t.clients(4, 1), SERVER_V4, 8000, 32.0, outcome="refused", cls="refused")


@scenario("macos-tcp46", os="macos")
def macos_tcp46(t: Traffic) -> None:
    """macOS netstat shows 'tcp46 *.5000' (takes IPv4) beside 'tcp6 *.5001' (refuses it)."""
    t.text_format = "netstat-bsd"
    dual = t.listen(tcp_listen("::", 5000, v6only=False, process="ControlCe",
                               evidence="netstat tcp46"), True)
    only6 = t.listen(tcp_listen("::", 5001, v6only=True, evidence="netstat tcp6"), False)
    t.snapshot(-5, [dual, only6], sources=MACOS_NETSTAT, defaults={"net.inet6.ip6.v6only": 0})
    t.spread("tcp", t.clients(4, 3), SERVER_V4, 5000, 1.0, outcome="accepted", cls="v4-via-v6")
    t.spread("tcp", t.clients(6, 2), SERVER_V6, 5000, 1.2, outcome="accepted", cls="v6-native")
    t.spread("tcp", t.clients(4, 2), SERVER_V4, 5001, 1.4, outcome="refused", cls="refused")
    t.spread("tcp", t.clients(6, 2), SERVER_V6, 5001, 1.6, outcome="accepted", cls="v6-native")
