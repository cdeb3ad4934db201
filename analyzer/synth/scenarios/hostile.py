"""Traffic that tests a reader: snaplen-cut packets, corruption, tiny fragments."""

from __future__ import annotations

import dataclasses

from analyzer.synth.packets import (
    Flow,
    Frame,
    fragmented,
    tcp_unanswered,
    with_tcp_checksum_broken,
)
from analyzer.synth.scenarios.linux import DIAG_EVIDENCE, SOCK_DIAG
from analyzer.synth.scenarios.registry import scenario
from analyzer.synth.traffic import (
    SECOND,
    SERVER_V4,
    SERVER_V6,
    Traffic,
    tcp_listen,
    udp_bound,
)

SNAP = 96  # bytes of each IP packet kept: every header, a little payload
FRAGMENT_SIZE = 24  # tiny fragments (a multiple of 8), as evasion tools send them

# Frames no parser can make sense of: (IP version, bytes). tshark flags each malformed.
GARBAGE: tuple[tuple[int, bytes], ...] = (
    # IPv4 whose header length (IHL 15 = 60 bytes) runs past the 28-byte packet.
    (4, bytes.fromhex("4f00001c0001000040060000c6336463c000020a") + b"\x00" * 8),
    # IPv6 whose payload length (1000) promises far more than the 8 bytes present.
    (6, bytes.fromhex("6000000003e8063f") + bytes(16) + bytes.fromhex(
        "20010db8000000000000000000000010") + b"\x00" * 8),
)


@scenario("hostile", os="linux")
def hostile(t: Traffic) -> None:
    """Snaplen-cut packets, a corrupted checksum, garbage headers, tiny fragments and a
    torn last record around a dual-stack server.

    The flows are still classified; the garbage frames and the torn record belong to
    no flow.
    """
    web = t.listen(tcp_listen("::", 80, v6only=False, pid=2001, process="nginx",
                              user="www-data", evidence=DIAG_EVIDENCE), True)
    dns = t.listen(udp_bound("::", 53, v6only=False, pid=640, process="named", user="bind",
                             evidence=DIAG_EVIDENCE), True)
    t.snapshot(-5, [web, dns], sources=SOCK_DIAG, defaults={"net.ipv6.bindv6only": 0})

    def cut(frames: list[Frame]) -> list[Frame]:
        return [dataclasses.replace(frame, snap=SNAP) for frame in frames]

    def tiny_fragments(frames: list[Frame]) -> list[Frame]:
        return fragmented(frames, FRAGMENT_SIZE, t.rng)

    t.spread("tcp", t.clients(4, 2), SERVER_V4, 80, 1.0, outcome="accepted", cls="v4-via-v6",
             alter=cut)
    t.spread("tcp", t.clients(6, 1), SERVER_V6, 80, 1.5, outcome="accepted", cls="v6-native",
             alter=with_bad_duplicate)
    t.spread("udp", t.clients(4, 2), SERVER_V4, 53, 4.0, outcome="accepted", cls="v4-via-v6",
             alter=tiny_fragments)
    t.spread("udp", t.clients(6, 2), SERVER_V6, 53, 4.5, outcome="accepted", cls="v6-native",
             alter=tiny_fragments)
    end = max(frame.ts_ns for frame in t.frames)
    for index, (family, data) in enumerate(GARBAGE):
        t.frames.append(Frame(end + (index + 1) * SECOND, data, inbound=True, family=family))
    t.frames.append(torn_syn(t, end + (len(GARBAGE) + 1) * SECOND))


def torn_syn(t: Traffic, at_ns: int) -> Frame:
    """A last SYN whose record the capture tool never finished writing (no flow in the truth)."""
    client = t.client(4)
    flow = Flow("tcp", client, t.ephemeral_port(client), SERVER_V4, 80)
    (syn,) = tcp_unanswered(flow, at_ns, 0, t.rng, tries=1)
    return dataclasses.replace(syn, torn=True)


def with_bad_duplicate(frames: list[Frame]) -> list[Frame]:
    """Repeat the first data segment with a wrong TCP checksum right after the original."""
    position = next(i for i, frame in enumerate(frames) if len(frame.ip_bytes()) > 100)
    original = frames[position]
    assert not isinstance(original.payload, bytes)
    duplicate = Frame(original.ts_ns + 1000, with_tcp_checksum_broken(original.payload),
                      original.inbound)
    return [*frames[:position + 1], duplicate, *frames[position + 1:]]
