"""Scapy helpers: the packets of one conversation, and the link layer around them.

Every builder returns :class:`Frame` objects (a timestamp and an IP packet) so the
scenarios never touch link layers; :func:`link_frame` wraps an IP packet for the
chosen link type (Ethernet with optional 802.1Q, Linux SLL2, raw IP, BSD null).
Nothing here reads the clock or a global random state: every value comes from the
``random.Random`` the caller passes, so the same seed gives the same bytes.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from scapy.layers.dns import DNS, DNSQR, DNSRR
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import ICMPv6DestUnreach, IPv6, IPv6ExtHdrFragment, fragment6
from scapy.layers.l2 import CookedLinuxV2, Dot1Q, Ether
from scapy.packet import Packet, Raw

LINKTYPES: dict[str, int] = {"ethernet": 1, "null": 0, "raw": 101, "sll2": 276}
"""Link-layer names of ``--link`` and their pcap LINKTYPE numbers (tcpdump.org/linktypes)."""

SERVER_MAC = "02:00:5e:00:53:10"
PEER_MAC = "02:00:5e:00:53:01"  # the router (or the client on the same segment)

# BSD null/loopback AF values for IPv6 (DLT_NULL stores the sender's AF_INET6).
NULL_AF_INET6: dict[str, int] = {"freebsd": 28, "macos": 30}
NULL_AF_INET6_DEFAULT = 24  # NetBSD and OpenBSD (and what libpcap documents first)

MSS = 1448
ETHERTYPE_IPV4 = 0x0800
ETHERTYPE_IPV6 = 0x86DD


@dataclass(frozen=True)
class Flow:
    """One conversation's identity, as the ground truth names it."""

    proto: str  # "tcp" or "udp"
    client: str
    client_port: int
    server: str
    server_port: int

    @property
    def family(self) -> int:
        return ip_family(self.server)


@dataclass(frozen=True)
class Frame:
    """One packet of the capture, before the link layer is added.

    ``inbound`` is true when the packet travels towards the host whose snapshot we
    write (it sets the SLL2 packet type and the Ethernet addresses). ``snap`` keeps
    only that many bytes of the IP packet (a snaplen cut; the wire length stays).
    ``payload`` is an IP packet, or raw bytes for deliberately corrupted packets (then
    ``family`` says which EtherType to put in front). A ``torn`` frame must be the
    last: the file ends in the middle of its record, as when tcpdump is killed.
    """

    ts_ns: int
    payload: Packet | bytes
    inbound: bool
    family: int = 0
    snap: int | None = None
    torn: bool = False

    def ip_bytes(self) -> bytes:
        return bytes(self.payload)

    def ip_family(self) -> int:
        if self.family:
            return self.family
        return 6 if self.ip_bytes()[0] >> 4 == 6 else 4


@dataclass
class Pace:
    """A deterministic clock for one conversation: a start and a round-trip time."""

    now_ns: int
    rtt_ns: int
    frames: list[Frame] = field(default_factory=list)

    def emit(self, packet: Packet, *, inbound: bool, after_ns: int = 0) -> None:
        self.now_ns += after_ns
        self.frames.append(Frame(self.now_ns, packet, inbound))

    def half_rtt(self) -> int:
        return self.rtt_ns // 2


def ip_family(address: str) -> int:
    return ipaddress.ip_address(address).version


def ip_header(src: str, dst: str, rng: random.Random) -> Packet:
    """An IPv4 or IPv6 header for the pair, with a deterministic IP id / flow label."""
    if ip_family(src) == 4:
        return IP(src=src, dst=dst, ttl=64, id=rng.randrange(1, 65536), flags="DF")
    return IPv6(src=src, dst=dst, hlim=64, fl=rng.randrange(1, 1 << 20))


# ---------------------------------------------------------------- payloads per port


def http_request(host: str, path: str = "/") -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: synth/1\r\n"
        "Accept: */*\r\n\r\n"
    ).encode()


def http_response(body_size: int) -> bytes:
    body = (b"<p>dual-stack</p>\n" * (body_size // 18 + 1))[:body_size]
    head = (
        "HTTP/1.1 200 OK\r\nServer: synth\r\nContent-Type: text/html\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


NBSS_KEEPALIVE = b"\x85\x00\x00\x00"  # RFC 1002 4.3.7 session keep-alive: valid SMB transport


def tcp_payloads(server: str, port: int, rng: random.Random) -> tuple[bytes, bytes]:
    """Request and response bytes that tshark's dissector for ``port`` accepts as valid."""
    if port == 22:
        return b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", b"SSH-2.0-OpenSSH_9.6\r\n"
    if port in (139, 445):
        return NBSS_KEEPALIVE, NBSS_KEEPALIVE
    host = f"[{server}]" if ip_family(server) == 6 else server
    return http_request(host), http_response(rng.randrange(200, 4000))


def dns_query(rng: random.Random, name: str = "www.example.com") -> Packet:
    return DNS(id=rng.randrange(65536), rd=1, qd=DNSQR(qname=name, qtype="A"))


def dns_answer(query: Packet, address: str = "192.0.2.80") -> Packet:
    question = query[DNSQR]
    return DNS(
        id=query.id, qr=1, rd=1, ra=1, qd=question,
        an=DNSRR(rrname=question.qname, type="A", ttl=300, rdata=address),
    )


# ---------------------------------------------------------------- TCP conversations

SYN_OPTIONS_BASE: tuple[tuple[str, object], ...] = (("MSS", 1460), ("SAckOK", b""))


def syn_options(rng: random.Random) -> list[tuple[str, object]]:
    return [
        *SYN_OPTIONS_BASE,
        ("Timestamp", (rng.randrange(1, 1 << 31), 0)),
        ("NOP", None),
        ("WScale", 7),
    ]


@dataclass
class TcpEnds:
    """Sequence state of both ends of one TCP conversation."""

    flow: Flow
    rng: random.Random
    client_seq: int = 0
    server_seq: int = 0

    def __post_init__(self) -> None:
        self.client_seq = self.rng.randrange(1 << 32)
        self.server_seq = self.rng.randrange(1 << 32)

    def client_packet(self, flags: str, payload: bytes = b"",
                      options: list[tuple[str, object]] | None = None) -> Packet:
        """The client's next segment; its sequence number advances past it."""
        packet = self._segment(True, flags, payload, options)
        self.client_seq = _advance(self.client_seq, flags, payload)
        return packet

    def server_packet(self, flags: str, payload: bytes = b"",
                      options: list[tuple[str, object]] | None = None) -> Packet:
        """The server's next segment; its sequence number advances past it."""
        packet = self._segment(False, flags, payload, options)
        self.server_seq = _advance(self.server_seq, flags, payload)
        return packet

    def _segment(self, from_client: bool, flags: str, payload: bytes,
                 options: list[tuple[str, object]] | None) -> Packet:
        f = self.flow
        src, dst, sport, dport = ((f.client, f.server, f.client_port, f.server_port)
                                  if from_client else
                                  (f.server, f.client, f.server_port, f.client_port))
        seq, ack = ((self.client_seq, self.server_seq) if from_client else
                    (self.server_seq, self.client_seq))
        segment = TCP(sport=sport, dport=dport, flags=flags, seq=seq,
                      ack=ack if "A" in flags else 0, window=502 if from_client else 509,
                      options=options or [])
        return _with_payload(ip_header(src, dst, self.rng) / segment, payload)


def _advance(seq: int, flags: str, payload: bytes) -> int:
    return (seq + len(payload) + _seq_space(flags)) % (1 << 32)


def _seq_space(flags: str) -> int:
    return int("S" in flags) + int("F" in flags)


def _with_payload(packet: Packet, payload: bytes) -> Packet:
    return packet / Raw(payload) if payload else packet


def tcp_accepted(flow: Flow, start_ns: int, rtt_ns: int, rng: random.Random) -> list[Frame]:
    """Handshake, one request and its response in MSS-sized segments, FIN teardown."""
    ends = TcpEnds(flow, rng)
    pace = Pace(start_ns, rtt_ns)
    request, response = tcp_payloads(flow.server, flow.server_port, rng)
    _handshake(ends, pace, rng)
    _exchange(ends, pace, request, response)
    _fin_teardown(ends, pace)
    return pace.frames


def tcp_midstream(flow: Flow, start_ns: int, rtt_ns: int, rng: random.Random,
                  exchanges: int = 3) -> list[Frame]:
    """A connection opened before the capture began: data both ways, no SYN, no FIN."""
    ends = TcpEnds(flow, rng)
    pace = Pace(start_ns, rtt_ns)
    for _ in range(exchanges):
        request, response = tcp_payloads(flow.server, flow.server_port, rng)
        _exchange(ends, pace, request, response)
        pace.now_ns += rng.randrange(1_000_000, 50_000_000)
    return pace.frames


def tcp_refused(flow: Flow, start_ns: int, rtt_ns: int, rng: random.Random) -> list[Frame]:
    """A SYN answered by RST/ACK: no socket takes it, and connect() fails at once."""
    ends = TcpEnds(flow, rng)
    pace = Pace(start_ns, rtt_ns)
    pace.emit(ends.client_packet("S", options=syn_options(rng)), inbound=True)
    pace.emit(ends.server_packet("RA"), inbound=False, after_ns=pace.half_rtt())
    return pace.frames


def tcp_unanswered(flow: Flow, start_ns: int, rtt_ns: int, rng: random.Random,
                   tries: int = 3) -> list[Frame]:
    """A SYN that nobody answers (a DROP rule), retransmitted with exponential backoff."""
    del rtt_ns
    ends = TcpEnds(flow, rng)
    options = syn_options(rng)
    isn = ends.client_seq
    frames = []
    at = start_ns
    for attempt in range(tries):
        ends.client_seq = isn
        frames.append(Frame(at, ends.client_packet("S", options=options), True))
        at += 1_000_000_000 << attempt
    return frames


def _handshake(ends: TcpEnds, pace: Pace, rng: random.Random) -> None:
    pace.emit(ends.client_packet("S", options=syn_options(rng)), inbound=True)
    pace.emit(ends.server_packet("SA", options=syn_options(rng)), inbound=False,
              after_ns=pace.half_rtt())
    pace.emit(ends.client_packet("A"), inbound=True, after_ns=pace.half_rtt())


def _exchange(ends: TcpEnds, pace: Pace, request: bytes, response: bytes) -> None:
    pace.emit(ends.client_packet("PA", request), inbound=True, after_ns=20_000)
    for offset in range(0, len(response), MSS):
        flags = "PA" if offset + MSS >= len(response) else "A"
        pace.emit(ends.server_packet(flags, response[offset:offset + MSS]), inbound=False,
                  after_ns=pace.half_rtt() if offset == 0 else 15_000)
    pace.emit(ends.client_packet("A"), inbound=True, after_ns=pace.half_rtt())


def _fin_teardown(ends: TcpEnds, pace: Pace) -> None:
    pace.emit(ends.client_packet("FA"), inbound=True, after_ns=40_000)
    pace.emit(ends.server_packet("FA"), inbound=False, after_ns=pace.half_rtt())
    pace.emit(ends.client_packet("A"), inbound=True, after_ns=pace.half_rtt())


# ---------------------------------------------------------------- UDP conversations


def udp_datagram(flow: Flow, payload: Packet | bytes, rng: random.Random,
                 reply: bool = False) -> Packet:
    if reply:
        head = ip_header(flow.server, flow.client, rng)
        return head / UDP(sport=flow.server_port, dport=flow.client_port) / payload
    head = ip_header(flow.client, flow.server, rng)
    return head / UDP(sport=flow.client_port, dport=flow.server_port) / payload


def udp_answered(flow: Flow, start_ns: int, rtt_ns: int, rng: random.Random,
                 queries: int = 1) -> list[Frame]:
    """DNS-like queries, each answered by the server."""
    pace = Pace(start_ns, rtt_ns)
    for _ in range(queries):
        query = dns_query(rng)
        pace.emit(udp_datagram(flow, query, rng), inbound=True)
        pace.emit(udp_datagram(flow, dns_answer(query), rng, reply=True), inbound=False,
                  after_ns=pace.half_rtt())
        pace.now_ns += rng.randrange(1_000_000, 20_000_000)
    return pace.frames


def udp_refused(flow: Flow, start_ns: int, rtt_ns: int, rng: random.Random) -> list[Frame]:
    """A query answered by ICMP/ICMPv6 port unreachable that quotes the datagram."""
    pace = Pace(start_ns, rtt_ns)
    datagram = udp_datagram(flow, dns_query(rng), rng)
    pace.emit(datagram, inbound=True)
    pace.emit(port_unreachable(datagram, flow.server, rng), inbound=False,
              after_ns=pace.half_rtt())
    return pace.frames


def udp_unanswered(flow: Flow, start_ns: int, rtt_ns: int, rng: random.Random,
                   tries: int = 2) -> list[Frame]:
    """Queries that get no answer and no ICMP error (a silent DROP)."""
    del rtt_ns
    query = dns_query(rng)
    return [Frame(start_ns + i * 2_000_000_000, udp_datagram(flow, query, rng), True)
            for i in range(tries)]


def port_unreachable(datagram: Packet, reporter: str, rng: random.Random) -> Packet:
    """The ICMP error a host sends for a datagram no socket takes (RFC 792, RFC 4443 3.1).

    Linux quotes as much of the datagram as fits in 576 (IPv4) or 1280 (IPv6) bytes.
    """
    original = bytes(datagram)
    sender = datagram[IPv6].src if IPv6 in datagram else datagram[IP].src
    head = ip_header(reporter, sender, rng)
    if ip_family(reporter) == 4:
        return head / ICMP(type=3, code=3) / Raw(original[:548])
    return head / ICMPv6DestUnreach(code=4) / Raw(original[:1232])


# ---------------------------------------------------------------- unusual packets


def tunnel_6in4(frames: list[Frame], outer_client: str, outer_server: str,
                rng: random.Random) -> list[Frame]:
    """Carry IPv6 frames inside IPv4 protocol 41 (RFC 4213 3.5), both directions."""
    wrapped = []
    for frame in frames:
        src, dst = (outer_client, outer_server) if frame.inbound else (outer_server, outer_client)
        outer = IP(src=src, dst=dst, ttl=64, id=rng.randrange(1, 65536), proto=41)
        wrapped.append(Frame(frame.ts_ns, outer / frame.payload, frame.inbound))
    return wrapped


def fragmented(frames: list[Frame], size: int, rng: random.Random) -> list[Frame]:
    """Split each IP packet into fragments of ``size`` bytes (Scapy's fragment/fragment6)."""
    out: list[Frame] = []
    for frame in frames:
        assert isinstance(frame.payload, Packet)
        for i, piece in enumerate(_fragments(frame.payload, size, rng)):
            out.append(Frame(frame.ts_ns + i * 10_000, piece, frame.inbound))
    return out


def _fragments(packet: Packet, size: int, rng: random.Random) -> list[Packet]:
    if IPv6 in packet:
        header = packet[IPv6]
        with_ext = header.copy()
        payload = with_ext.payload
        with_ext.remove_payload()
        marked = with_ext / IPv6ExtHdrFragment(id=rng.randrange(1, 1 << 32)) / payload
        return list(fragment6(marked, size + 48))
    header = packet[IP].copy()
    header.flags = 0
    return list(fragment(header, size))


def with_tcp_checksum_broken(packet: Packet) -> Packet:
    """The same segment with a wrong TCP checksum (a duplicate a NIC corrupted)."""
    good = packet.__class__(bytes(packet))
    good[TCP].chksum = (good[TCP].chksum + 1) % 65536
    return good


# ---------------------------------------------------------------- link layers


def link_frame(frame: Frame, link: str, vlan: int | None, os_name: str) -> bytes:
    """The frame's IP packet wrapped in the link layer named by ``--link``."""
    ip_bytes = frame.ip_bytes()
    family = frame.ip_family()
    wrap = _LINK_WRAPPERS[link]
    return wrap(ip_bytes, family, frame.inbound, vlan, os_name)


def _ethernet(ip_bytes: bytes, family: int, inbound: bool, vlan: int | None,
              os_name: str) -> bytes:
    del os_name
    src, dst = (PEER_MAC, SERVER_MAC) if inbound else (SERVER_MAC, PEER_MAC)
    ethertype = ETHERTYPE_IPV6 if family == 6 else ETHERTYPE_IPV4
    if vlan is None:
        return bytes(Ether(src=src, dst=dst, type=ethertype)) + ip_bytes
    return bytes(Ether(src=src, dst=dst, type=0x8100) / Dot1Q(vlan=vlan, type=ethertype)) \
        + ip_bytes


def _sll2(ip_bytes: bytes, family: int, inbound: bool, vlan: int | None,
          os_name: str) -> bytes:
    """LINKTYPE_LINUX_SLL2: packet type 0 (to us) or 4 (outgoing), Ethernet ARPHRD."""
    del os_name
    ethertype = ETHERTYPE_IPV6 if family == 6 else ETHERTYPE_IPV4
    mac = bytes.fromhex((PEER_MAC if inbound else SERVER_MAC).replace(":", ""))
    header = CookedLinuxV2(
        proto=0x8100 if vlan is not None else ethertype, ifindex=2, lladdrtype=1,
        pkttype=0 if inbound else 4, lladdrlen=6, src=mac + b"\x00\x00",
    )
    if vlan is not None:
        return bytes(header / Dot1Q(vlan=vlan, type=ethertype)) + ip_bytes
    return bytes(header) + ip_bytes


def _raw(ip_bytes: bytes, family: int, inbound: bool, vlan: int | None,
         os_name: str) -> bytes:
    del family, inbound, vlan, os_name
    return ip_bytes


def _null(ip_bytes: bytes, family: int, inbound: bool, vlan: int | None,
          os_name: str) -> bytes:
    """DLT_NULL: the sender's address family as a 4-byte host-order (little-endian) int."""
    del inbound, vlan
    af = 2 if family == 4 else NULL_AF_INET6.get(os_name, NULL_AF_INET6_DEFAULT)
    return af.to_bytes(4, "little") + ip_bytes


_LINK_WRAPPERS: dict[str, Callable[[bytes, int, bool, int | None, str], bytes]] = {
    "ethernet": _ethernet,
    "null": _null,
    "raw": _raw,
    "sll2": _sll2,
}


def link_header_length(link: str, vlan: int | None) -> int:
    base = {"ethernet": 14, "null": 4, "raw": 0, "sll2": 20}[link]
    return base + (4 if vlan is not None else 0)


def link_supports_vlan(link: str) -> bool:
    return link in ("ethernet", "sll2")
