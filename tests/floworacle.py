"""Oracles for flow tests: tshark's conversation tables, and tcpdump recordings."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

TSHARK = shutil.which("tshark")

# "A:port <-> B:port  frames_B_to_A bytes unit  frames_A_to_B bytes unit ..."
_CONV = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\S+ \S+\s+(\d+)\s")

Endpoint = tuple[str, int]
PairKey = tuple[str, frozenset[Endpoint]]


def canonical_ip(text: str) -> str:
    ip = ipaddress.ip_address(text)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def tshark_conversations(capture: Path) -> Counter[tuple[str, Endpoint, Endpoint]]:
    """Packets per direction from `tshark -z conv,tcp -z conv,udp` (what it printed, even
    when it stopped at a broken record), keyed by
    (proto, sender, receiver); conversations with the same endpoints are summed."""
    assert TSHARK is not None
    out = subprocess.run(
        [TSHARK, "-n", "-r", str(capture), "-q", "-z", "conv,tcp", "-z", "conv,udp"],
        capture_output=True, text=True, timeout=120, check=False,
    ).stdout
    counts: Counter[tuple[str, Endpoint, Endpoint]] = Counter()
    proto = ""
    for line in out.splitlines():
        if line.startswith("TCP Conversations"):
            proto = "tcp"
        elif line.startswith("UDP Conversations"):
            proto = "udp"
        match = _CONV.match(line)
        if match:
            a = (canonical_ip(match[1]), int(match[2]))
            b = (canonical_ip(match[3]), int(match[4]))
            counts[(proto, b, a)] += int(match[5])
            counts[(proto, a, b)] += int(match[6])
    return +counts


def flow_directions(records: list[dict]) -> Counter[tuple[str, Endpoint, Endpoint]]:
    """The same shape from our flows (split flows of the same endpoints summed)."""
    counts: Counter[tuple[str, Endpoint, Endpoint]] = Counter()
    for r in records:
        c = (canonical_ip(r["client"]), r["client_port"])
        s = (canonical_ip(r["server"]), r["server_port"])
        counts[(r["proto"], c, s)] += r["packets_c2s"]
        counts[(r["proto"], s, c)] += r["packets_s2c"]
    return +counts


class Tcpdump:
    """tcpdump -w in a lab host; immediate mode and packet-buffered output, so stop()
    (SIGINT) loses no packet still waiting in the kernel ring."""

    def __init__(self, host: object, iface: str, path: Path) -> None:
        self.path = path
        self.process = host.popen(  # type: ignore[attr-defined]
            ["tcpdump", "-n", "-U", "--immediate-mode", "-i", iface, "-w", str(path)])
        assert self.process.stderr is not None
        line = self.process.stderr.readline()
        assert "listening on" in line, line

    def stop(self) -> None:
        import os
        import signal
        import time

        time.sleep(0.5)
        os.killpg(self.process.pid, signal.SIGINT)
        self.process.wait(timeout=10)
