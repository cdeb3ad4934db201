"""UDP services: answers, ICMP port unreachable, and silence."""

from __future__ import annotations

from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import SERVER_V4, SERVER_V6, Traffic, udp_bound

SS_UDP = {"sockets": "ss -ulnpe text", "v6only": "ss -e v6only"}


@scenario("udp-dns", os="linux")
def udp_dns(t: Traffic) -> None:
    """A dual-stack DNS server answers IPv4 and IPv6; a v6-only one draws ICMP port
    unreachable for IPv4.

    A datagram to a port nobody holds is refused the same way over IPv6, and one
    into a firewall's DROP gets no answer at all.
    """
    t.text_format = "ss"
    named = t.listen(udp_bound("::", 53, v6only=False, pid=640, process="named", user="bind",
                               evidence='ss printed "*:53"'), True)
    only6 = t.listen(udp_bound("::", 5300, v6only=True, pid=655, process="unbound",
                               user="unbound", evidence='ss printed "[::]:5300"'), False)
    t.snapshot(-5, [named, only6], sources=SS_UDP, defaults={"net.ipv6.bindv6only": 0})
    t.spread("udp", t.clients(4, 3), SERVER_V4, 53, 1.0, outcome="accepted", cls="v4-via-v6")
    t.spread("udp", t.clients(6, 2), SERVER_V6, 53, 1.2, outcome="accepted", cls="v6-native")
    t.spread("udp", t.clients(4, 2), SERVER_V4, 5300, 1.4, outcome="refused", cls="refused")
    t.spread("udp", t.clients(6, 2), SERVER_V6, 5300, 1.6, outcome="accepted", cls="v6-native")
    t.spread("udp", t.clients(6, 1), SERVER_V6, 5301, 2.0, outcome="refused", cls="refused")
    t.spread("udp", t.clients(4, 1), SERVER_V4, 5400, 2.2, outcome="unanswered",
             cls="unanswered")
