"""Addresses that should never, or only rarely, be seen on the wire (RFC 6890, RFC 6052)."""

from __future__ import annotations

from analyzer.synth.packets import Frame, tunnel_6in4
from analyzer.synth.scenarios.linux import DIAG_EVIDENCE, SOCK_DIAG
from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import SERVER_V4, SERVER_V6, Traffic, both_families, tcp_listen

MAPPED_CLIENT = "::ffff:198.51.100.66"  # IPv4-mapped in an IPv6 header: never valid
NAT64_CLIENT = "64:ff9b::198.51.100.77"  # RFC 6052 well-known prefix (SIIT-DC)
SIX_TO_FOUR_CLIENT = "2002:cb00:710a::1"  # 6to4 of 203.0.113.10
# Teredo (RFC 4380 4): 2001:0:<server 203.0.113.1>:<flags>:<~port>:<~client 198.51.100.50>
TEREDO_CLIENT = "2001:0:cb00:7101:8000:f227:39cc:9bcd"
TUNNEL_CLIENT_V6 = "2001:db8:6::2"
TUNNEL_CLIENT_V4 = "203.0.113.1"  # the 6in4 tunnel endpoint


@scenario("anomalies", os="linux")
def anomalies(t: Traffic) -> None:
    """IPv4-mapped sources on the wire, a 6in4 tunnel, NAT64, 6to4 and Teredo clients
    reach a dual-stack nginx.

    Linux drops TCPv6 SYNs from mapped sources without an answer; the tunnelled,
    NAT64, 6to4 and Teredo clients are IPv6 on the wire and served natively.
    """
    nginx = t.listen(tcp_listen("::", 80, v6only=False, pid=1401, process="nginx",
                                user="www-data", evidence=DIAG_EVIDENCE), True)
    t.snapshot(-5, [nginx], sources=SOCK_DIAG, defaults={"net.ipv6.bindv6only": 0})
    t.visits(1.0,
             *both_families(80, (2, "v4-via-v6"), (1, "v6-native")))
    t.add("tcp", MAPPED_CLIENT, SERVER_V6, 80, 2.0, outcome="unanswered", cls="unanswered",
          anomaly="ipv4-mapped-on-wire")
    t.add("tcp", NAT64_CLIENT, SERVER_V6, 80, 2.5, outcome="accepted", cls="v6-native",
          anomaly="nat64")
    t.add("tcp", SIX_TO_FOUR_CLIENT, SERVER_V6, 80, 3.0, outcome="accepted", cls="v6-native",
          anomaly="6to4")
    t.add("tcp", TEREDO_CLIENT, SERVER_V6, 80, 3.2, outcome="accepted", cls="v6-native",
          anomaly="teredo")

    def in_6in4(frames: list[Frame]) -> list[Frame]:
        return tunnel_6in4(frames, TUNNEL_CLIENT_V4, SERVER_V4, t.rng)

    t.add("tcp", TUNNEL_CLIENT_V6, SERVER_V6, 80, 3.5, outcome="accepted", cls="v6-native",
          alter=in_6in4, anomaly="6in4")
