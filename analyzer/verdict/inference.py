"""The capture decides what the snapshot cannot: does an AF_INET6 listener take IPv4?

net-tools `netstat`, `lsof`, `/proc/net/tcp6` and Windows `netstat` cannot show
IPV6_V6ONLY. The wire can (rules capture-accepted and capture-refused in
`analyzer.verdict.model`):

- an IPv4 connection accepted on a port where, by the model, the only socket that
  could have taken it is an AF_INET6 wildcard socket proves that socket takes IPv4;
- IPv4 SYNs refused (RST, ICMP port unreachable) while such a socket listens prove it
  is v6-only.

Evidence is gathered per listener; `resolve` turns it into `Knowledge`. Evidence that
goes against what the snapshot itself proves is kept as a contradiction and reported
as a finding, never hidden.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.verdict.model import Knowledge


@dataclass
class Evidence:
    """Flows (indexes) that speak about one listener's IPv4 answer."""

    accepted: list[int] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    accepted_against: list[int] = field(default_factory=list)
    refused_against: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Resolution:
    """The final answer for a listener and the contradictions found on the way."""

    knowledge: Knowledge
    contradictions: tuple[str, ...]


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def resolve(static: Knowledge, evidence: Evidence) -> Resolution:
    """Combine what the snapshot (or OS default) says with what the capture showed."""
    contradictions: list[str] = []
    if evidence.accepted_against:
        contradictions.append(
            f"{static.reason}, yet {_plural(len(evidence.accepted_against), 'IPv4 connection')}"
            " accepted on its port with no other socket that could take IPv4"
        )
    if evidence.refused_against:
        contradictions.append(
            f"{static.reason}, yet {_plural(len(evidence.refused_against), 'IPv4 connection')}"
            " to it refused (the socket may have been gone, or a firewall rejected IPv4)"
        )
    if static.certain:
        return Resolution(static, tuple(contradictions))
    accepted, refused = len(evidence.accepted), len(evidence.refused)
    if accepted and refused:
        contradictions.append(
            f"the capture shows {_plural(accepted, 'IPv4 connection')} accepted and "
            f"{refused} refused on this socket's port (was the socket replaced?)"
        )
        return Resolution(static, tuple(contradictions))
    if accepted:
        return Resolution(
            Knowledge(True, "capture", "capture-accepted",
                      f"{_plural(accepted, 'IPv4 connection')} accepted with no AF_INET "
                      "socket that could take IPv4"),
            tuple(contradictions),
        )
    if refused:
        return Resolution(
            Knowledge(False, "capture", "capture-refused",
                      f"{_plural(refused, 'IPv4 connection')} refused while it listened"),
            tuple(contradictions),
        )
    return Resolution(static, tuple(contradictions))
