"""UDP services: answers, ICMP port unreachable, and silence."""

from __future__ import annotations

from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import Traffic, both_families, udp_bound

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
    t.visits(1.0,
             *both_families(53, (3, "v4-via-v6"), (2, "v6-native"), proto="udp"),
             *both_families(5300, (2, "refused"), (2, "v6-native"), proto="udp"),
             ("udp", 6, 1, 5301, "refused", "refused"),
             ("udp", 4, 1, 5400, "unanswered", "unanswered"))
