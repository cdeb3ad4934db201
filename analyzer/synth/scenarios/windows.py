"""Windows hosts: '::' is IPv6-only unless a program clears IPV6_V6ONLY (seed 000)."""

from __future__ import annotations

from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import Traffic, both_families, tcp_listen

NETSTAT_ANO = {"sockets": "netstat -ano text", "v6only": "not shown by netstat"}
BRACKETS = "netstat [::] row cannot show v6only"


@scenario("windows-smb", os="windows")
def windows_smb(t: Traffic) -> None:
    """Windows SMB listens on 0.0.0.0:445 and [::]:445: IPv4 and IPv6 each reach their own.

    netstat cannot show v6only; the Windows default (IPv6-only) says [::]:445 takes no
    IPv4, and the IPv4 clients indeed reach the AF_INET socket.
    """
    t.text_format = "netstat-windows"
    v4 = t.listen(tcp_listen("0.0.0.0", 445, pid=4, process="System", user=None,
                             evidence="netstat 0.0.0.0 row: AF_INET"), True)
    v6 = t.listen(tcp_listen("::", 445, pid=4, process="System", user=None,
                             evidence=BRACKETS), False)
    t.snapshot(-5, [v4, v6], sources=NETSTAT_ANO)
    t.visits(1.0,
             *both_families(445, (3, "v4-native"), (3, "v6-native")))


@scenario("windows-v6-alone", os="windows")
def windows_v6_alone(t: Traffic) -> None:
    """A Windows service listening only on [::]:8080 refuses IPv4 clients with RST."""
    t.text_format = "netstat-windows"
    v6 = t.listen(tcp_listen("::", 8080, pid=5120, process="service.exe", user=None,
                             evidence=BRACKETS), False)
    t.snapshot(-5, [v6], sources=NETSTAT_ANO)
    t.visits(1.0,
             *both_families(8080, (3, "refused"), (2, "v6-native")))
