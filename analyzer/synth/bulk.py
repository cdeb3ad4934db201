"""Large captures for benchmarks: Scapy builds the header templates, numpy fills them.

``write_bulk(path, packets, flows)`` writes a little-endian pcap (microsecond or
nanosecond timestamps) with exactly ``packets`` packets in exactly ``flows``
bidirectional flows (distinct 5-tuples), in the mix of `BulkMix`: IPv4 and IPv6, TCP
handshakes with data and FIN teardown, refused (RST) and unanswered SYNs, UDP
exchanges, some 802.1Q-tagged flows. ``small=True`` keeps payloads tiny (~80-byte
packets on average).

How it is fast: flows are made ``concurrency`` at a time (a chunk); each chunk's
packets are described by numpy columns (flow, role, direction, payload length,
sequence numbers), interleaved by start time, and written in slices. A slice's
buffer is first filled with a fixed pseudo-random pattern (the payload bytes), then
every packet's headers are written over it in one fancy-index store per template.
IPv4 header checksums and TCP/UDP checksums are computed in numpy, the payload part
from prefix sums of the pattern, so every checksum is right. Memory depends on the
chunk and slice sizes, not on the file size.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Packet

from analyzer.errors import UsageError

U8 = NDArray[np.uint8]
I64 = NDArray[np.int64]
U64 = NDArray[np.uint64]

PATTERN_BYTES = 1 << 16  # payload pattern period (even, larger than any payload)
SLICE_PACKETS = 1 << 16  # packets per write
MAX_PAYLOAD = 1440  # keeps IPv6 + TCP within a 1500-byte MTU
RECORD_HEADER = 16  # pcap record header: ts_sec, ts_frac, caplen, len
# Payload bytes: upper-case text. Random binary makes tshark's heuristic dissectors
# (RTCP, Teredo, ...) claim packets and call them malformed; text they leave alone.
PATTERN_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 "

# Flow kinds, and the roles of their packets.
KIND_TCP, KIND_REFUSED, KIND_UNANSWERED, KIND_UDP = 0, 1, 2, 3
ROLE_SYN, ROLE_SYNACK, ROLE_ACK, ROLE_DATA = 0, 1, 2, 3
ROLE_FIN_C, ROLE_FIN_S, ROLE_LAST_ACK, ROLE_RST, ROLE_UDP = 4, 5, 6, 7, 8
MIN_PACKETS = np.array([6, 2, 1, 1], dtype=np.int64)  # per kind, before extra data

# TCP flags per role (data packets get PSH|ACK or ACK by payload), c2s per role.
ROLE_FLAGS = np.array([0x02, 0x12, 0x10, 0x18, 0x11, 0x11, 0x10, 0x14, 0], dtype=np.uint8)
ROLE_SEQ_SPACE = np.array([1, 1, 0, 0, 1, 1, 0, 0, 0], dtype=np.int64)  # SYN/FIN use one
ROLE_CLIENT_SENDS = np.array([1, 0, 1, -1, 1, 0, 1, 0, -1], dtype=np.int8)  # -1: varies

# Addresses: documentation ranges only. Clients 198.51.100.0/24 + 203.0.113.0/24,
# servers 192.0.2.1-64; IPv6 clients 2001:db8:c000::/48, servers 2001:db8:5::1-64.
CLIENT_V4_BASES = (0xC6336400, 0xCB007100)  # 198.51.100.0, 203.0.113.0
SERVER_V4_BASE = 0xC0000200  # 192.0.2.0
CLIENT_V6_PREFIX = bytes.fromhex("20010db8c0000000")
SERVER_V6_PREFIX = bytes.fromhex("20010db800050000")
PORTS_PER_ADDRESS = 28232  # client ports 32768..60999 (Linux's ephemeral range)
FIRST_CLIENT_PORT = 32768
ENDPOINT_SPACE = 512 * PORTS_PER_ADDRESS
SCRAMBLE = 1_000_003  # prime, coprime to ENDPOINT_SPACE: a bijection on it
TCP_SERVER_PORTS = np.array([80, 8080, 8000, 80], dtype=np.int64)
UDP_SERVER_PORTS = np.array([7, 19, 7, 13], dtype=np.int64)  # echo, chargen, daytime


@dataclass(frozen=True)
class BulkMix:
    """Fractions of flows: IPv6, UDP, VLAN-tagged, refused and unanswered TCP."""

    ipv6: float = 0.4
    udp: float = 0.25
    vlan: float = 0.1
    refused: float = 0.03
    unanswered: float = 0.02

    @classmethod
    def parse(cls, text: str) -> BulkMix:
        """``ipv6=0.5,udp=0.1,...`` (missing keys keep their defaults)."""
        known = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in filter(None, (item.strip() for item in text.split(","))):
            name, _, number = part.partition("=")
            if name not in known:
                raise UsageError(f"--mix: unknown key {name!r}; known: {', '.join(sorted(known))}")
            try:
                values[name] = float(number)
            except ValueError:
                raise UsageError(f"--mix: {name}={number!r} is not a number") from None
        mix = cls(**values)
        mix.check()
        return mix

    def check(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"--mix: {f.name}={value} is not between 0 and 1")
        if self.udp + self.refused + self.unanswered > 1.0:
            raise UsageError("--mix: udp + refused + unanswered must not exceed 1")


@dataclass(frozen=True)
class BulkResult:
    packets: int
    flows: int
    bytes: int


@dataclass(frozen=True)
class Template:
    """One header layout: pcap record header, link, IP and transport headers."""

    data: U8
    l3: int  # offset of the IP header
    l4: int  # offset of the transport header
    family: int
    proto: int  # 6 or 17

    @property
    def length(self) -> int:
        return len(self.data)


def _template(family: int, proto: int, vlan: bool, syn: bool) -> Template:
    link: Packet = Ether(src="02:00:5e:00:53:01", dst="02:00:5e:00:53:10")
    if vlan:
        link = link / Dot1Q(vlan=100)
    ip: Packet = (IP(src="192.0.2.1", dst="192.0.2.2", ttl=64, flags="DF") if family == 4
                  else IPv6(src="2001:db8::1", dst="2001:db8::2", hlim=64))
    if proto == 17:
        l4: Packet = UDP(sport=1, dport=2)
    elif syn:
        l4 = TCP(sport=1, dport=2, window=64240, options=[
            ("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None),
            ("WScale", 7)])
    else:
        l4 = TCP(sport=1, dport=2, window=502)
    l3 = len(bytes(link))
    l4_at = l3 + (20 if family == 4 else 40)
    data = np.frombuffer(bytes(16) + bytes(link / ip / l4), dtype=np.uint8).copy()
    return Template(data, RECORD_HEADER + l3, RECORD_HEADER + l4_at, family, proto)


# Template index = family_bit * 6 + vlan_bit * 3 + layout (0 tcp+options, 1 tcp, 2 udp).
TEMPLATES: tuple[Template, ...] = tuple(
    _template(family, 17 if layout == 2 else 6, vlan, layout == 0)
    for family in (4, 6) for vlan in (False, True) for layout in range(3)
)


class PayloadPattern:
    """The pseudo-random bytes every payload is cut from, with checksum prefix sums."""

    def __init__(self, rng: np.random.Generator) -> None:
        alphabet = np.frombuffer(PATTERN_ALPHABET, dtype=np.uint8)
        self.bytes: U8 = alphabet[rng.integers(0, len(alphabet), PATTERN_BYTES)]
        doubled = np.concatenate([self.bytes, self.bytes]).astype(np.uint64)
        self.doubled = doubled
        even = (doubled[0:-1:2] << np.uint64(8)) | doubled[1::2]
        odd = (doubled[1:-1:2] << np.uint64(8)) | doubled[2::2]
        self.even_prefix: U64 = np.concatenate([[0], np.cumsum(even)]).astype(np.uint64)
        self.odd_prefix: U64 = np.concatenate([[0], np.cumsum(odd)]).astype(np.uint64)

    def word_sum(self, start: I64, length: I64) -> U64:
        """Ones'-complement partial sums (unfolded) of payloads at buffer positions."""
        phase = start % PATTERN_BYTES
        words = length // 2
        half = phase // 2
        even = phase % 2 == 0
        total = np.where(
            even,
            self.even_prefix[half + words] - self.even_prefix[half],
            self.odd_prefix[half + words] - self.odd_prefix[half],
        )
        tail = np.where(length % 2 == 1,
                        self.doubled[phase + length - 1] << np.uint64(8), np.uint64(0))
        return (total + tail).astype(np.uint64)

    def fill(self, buffer: U8, size: int) -> None:
        """Write the pattern, repeated, over buffer[:size] (buffer length: whole periods)."""
        rows = math.ceil(size / PATTERN_BYTES)
        buffer[: rows * PATTERN_BYTES].reshape(rows, PATTERN_BYTES)[:] = self.bytes


@dataclass
class FlowPlan:
    """Every flow's kind, family, VLAN and packet count (one number each: flows, not packets)."""

    kind: NDArray[np.int8]
    family6: NDArray[np.bool_]
    vlan: NDArray[np.bool_]
    count: I64


def plan_flows(packets: int, flows: int, mix: BulkMix, rng: np.random.Generator) -> FlowPlan:
    """Choose kinds by the mix, then spread the remaining packets over elastic flows."""
    if flows < 1 or packets < flows:
        raise UsageError(f"--packets ({packets}) must be at least --flows ({flows}) >= 1")
    pick = rng.random(flows)
    kind = np.full(flows, KIND_TCP, dtype=np.int8)
    kind[pick < mix.udp + mix.refused + mix.unanswered] = KIND_UNANSWERED
    kind[pick < mix.udp + mix.refused] = KIND_REFUSED
    kind[pick < mix.udp] = KIND_UDP
    _fit_minimum(kind, packets)
    count = MIN_PACKETS[kind].copy()
    elastic = np.flatnonzero((kind == KIND_TCP) | (kind == KIND_UDP))
    extra = packets - int(count.sum())
    if extra > 0 and elastic.size == 0:
        kind[0], count[0] = KIND_UDP, 1
        elastic = np.array([0])
        extra = packets - int(count.sum())
    if extra > 0:
        weights = rng.lognormal(0.0, 1.0, elastic.size)
        count[elastic] += rng.multinomial(extra, weights / weights.sum())
    return FlowPlan(kind, rng.random(flows) < mix.ipv6, rng.random(flows) < mix.vlan, count)


def _fit_minimum(kind: NDArray[np.int8], packets: int) -> None:
    """Turn TCP flows (6 packets at least) into UDP ones (1) until the minimum fits."""
    excess = int(MIN_PACKETS[kind].sum()) - packets
    if excess <= 0:
        return
    tcp = np.flatnonzero(kind == KIND_TCP)
    need = math.ceil(excess / 5)
    kind[tcp[:need]] = KIND_UDP
    excess = int(MIN_PACKETS[kind].sum()) - packets
    if excess > 0:
        refused = np.flatnonzero(kind == KIND_REFUSED)
        kind[refused[:excess]] = KIND_UNANSWERED


@dataclass
class ChunkPackets:
    """Per-packet columns of one chunk of flows, in output (time) order."""

    flow: I64  # global flow number
    template: I64
    client_sends: NDArray[np.bool_]
    payload: I64
    flags: NDArray[np.uint8]
    seq: I64
    ack: I64

    def __len__(self) -> int:
        return len(self.flow)


class BulkWriter:
    """Writes the planned flows chunk by chunk; see the module docstring."""

    def __init__(self, path: Path, plan: FlowPlan, *, small: bool, seed: int,
                 concurrency: int, nano: bool, chunk_gap_s: float = 0.0) -> None:
        self.path = path
        self.plan = plan
        self.small = small
        self.concurrency = max(1, concurrency)
        self.nano = nano
        self.chunk_gap_us = round(chunk_gap_s * 1_000_000)
        self.rng = np.random.default_rng([seed, 1])
        self.pattern = PayloadPattern(np.random.default_rng([seed, 2]))
        self.clock_us = 1_767_225_600 * 1_000_000 + (seed % 86400) * 1_000_000
        self.buffer: U8 = np.empty(0, dtype=np.uint8)
        self.written = 0
        self.count = 0

    def write(self) -> BulkResult:
        if str(self.path) == "-":
            self._write_to(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with open(self.path, "wb") as out:
                self._write_to(out)
        return BulkResult(self.count, len(self.plan.count), self.written)

    def _write_to(self, out: BinaryIO) -> None:
        out.write(self._file_header())
        flows = len(self.plan.count)
        for first in range(0, flows, self.concurrency):
            if first:
                self.clock_us += self.chunk_gap_us
            chunk = self._chunk_packets(first, min(flows, first + self.concurrency))
            for start in range(0, len(chunk), SLICE_PACKETS):
                self._write_slice(out, chunk, start, min(len(chunk), start + SLICE_PACKETS))

    def _file_header(self) -> bytes:
        magic = 0xA1B23C4D if self.nano else 0xA1B2C3D4
        header = np.array([magic], dtype="<u4").tobytes() + np.array(
            [2, 4], dtype="<u2").tobytes() + np.array([0, 0, 262144, 1], dtype="<u4").tobytes()
        self.written += len(header)
        return header

    # ------------------------------------------------------------ packets of a chunk

    def _chunk_packets(self, first: int, stop: int) -> ChunkPackets:
        plan, rng = self.plan, self.rng
        counts = plan.count[first:stop]
        local = np.repeat(np.arange(stop - first), counts)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        index = np.arange(len(local)) - starts[local]
        kind = plan.kind[first:stop][local]
        fixed_data = np.where(kind == KIND_TCP, counts[local] - 6, 0)
        role = _roles(kind, index, fixed_data)
        client_sends = self._directions(role, index, rng)
        payload = self._payloads(role, rng)
        flags = ROLE_FLAGS[role].copy()
        flags[(role == ROLE_DATA) & (payload == 0)] = 0x10
        seq, ack = _sequence_numbers(role, client_sends, payload, local, starts, rng,
                                     stop - first)
        family6 = plan.family6[first:stop][local]
        vlan = plan.vlan[first:stop][local]
        layout = np.where(kind == KIND_UDP, 2, np.where(role <= ROLE_SYNACK, 0, 1))
        template = family6.astype(np.int64) * 6 + vlan.astype(np.int64) * 3 + layout
        # Interleave: packet i of a flow at time i + the flow's random start offset.
        order = np.argsort(index + rng.random(stop - first)[local] * 8.0, kind="stable")
        return ChunkPackets(
            flow=(local + first)[order], template=template[order],
            client_sends=client_sends[order], payload=payload[order], flags=flags[order],
            seq=seq[order], ack=ack[order],
        )

    def _directions(self, role: I64, index: I64, rng: np.random.Generator
                    ) -> NDArray[np.bool_]:
        fixed = ROLE_CLIENT_SENDS[role]
        data_first = (role == ROLE_DATA) & (np.roll(role, 1) != ROLE_DATA)
        randomly = rng.random(len(role)) < 0.4
        udp_turn = index % 2 == 0
        sends = np.where(fixed >= 0, fixed == 1,
                         np.where(role == ROLE_UDP, udp_turn, randomly | data_first))
        return np.asarray(sends, dtype=np.bool_)

    def _payloads(self, role: I64, rng: np.random.Generator) -> I64:
        carries = (role == ROLE_DATA) | (role == ROLE_UDP)
        n = len(role)
        if self.small:
            sizes = rng.integers(1, 41, n)
        else:
            draw = rng.random(n)
            sizes = np.where(draw < 0.45, MAX_PAYLOAD,
                             np.where(draw < 0.75, rng.integers(1, 400, n), 0))
            sizes = np.where(role == ROLE_UDP, np.maximum(sizes, 24), sizes)
        return np.where(carries, sizes, 0).astype(np.int64)

    # ------------------------------------------------------------ bytes of a slice

    def _write_slice(self, out: BinaryIO, chunk: ChunkPackets, start: int, stop: int) -> None:
        part = slice(start, stop)
        template = chunk.template[part]
        lengths = np.array([t.length for t in TEMPLATES], dtype=np.int64)[template]
        payload = chunk.payload[part]
        records = lengths + payload
        offsets = np.concatenate([[0], np.cumsum(records)[:-1]])
        size = int(records.sum())
        self._ensure_buffer(size)
        self.pattern.fill(self.buffer, size)
        steps = self.rng.integers(1, 10, stop - start)
        times = self.clock_us + np.cumsum(steps)
        self.clock_us = int(times[-1])
        for number in np.unique(template).tolist():
            rows = np.flatnonzero(template == number)
            self._write_headers(TEMPLATES[number], chunk, start, rows, offsets[rows],
                                times[rows])
        out.write(self.buffer[:size].data)
        self.written += size
        self.count += stop - start

    def _ensure_buffer(self, size: int) -> None:
        need = math.ceil(size / PATTERN_BYTES) * PATTERN_BYTES
        if len(self.buffer) < need:
            self.buffer = np.empty(need, dtype=np.uint8)

    def _write_headers(self, tpl: Template, chunk: ChunkPackets, start: int, rows: I64,
                       offsets: I64, times_us: I64) -> None:
        at = rows + start
        n = len(rows)
        head = np.tile(tpl.data, (n, 1))
        payload = chunk.payload[at]
        flow = chunk.flow[at]
        client_sends = chunk.client_sends[at]
        wire = tpl.length - RECORD_HEADER + payload
        _put(head, 0, _record_times(times_us, self.nano), "<u4")
        _put(head, 8, np.stack([wire, wire], axis=1), "<u4")
        client, server = _addresses(flow, tpl.family)
        src = np.where(client_sends[:, None], client, server)
        dst = np.where(client_sends[:, None], server, client)
        cport, sport = _ports(flow, tpl.proto)
        ports = np.stack([np.where(client_sends, cport, sport),
                          np.where(client_sends, sport, cport)], axis=1)
        l4_length = tpl.length - tpl.l4 + payload
        self._fill_ip(head, tpl, src, dst, l4_length, at)
        _put(head, tpl.l4, ports, ">u2")
        if tpl.proto == 6:
            _put(head, tpl.l4 + 4, np.stack([chunk.seq[at], chunk.ack[at]], axis=1), ">u4")
            head[:, tpl.l4 + 13] = chunk.flags[at]
            checksum_at = tpl.l4 + 16
        else:
            _put(head, tpl.l4 + 4, l4_length[:, None], ">u2")
            checksum_at = tpl.l4 + 6
        head[:, checksum_at:checksum_at + 2] = 0
        pseudo = _words(head, tpl.l3 + (12 if tpl.family == 4 else 8), tpl.l4) \
            + np.uint64(tpl.proto) + l4_length.astype(np.uint64)
        body = _words(head, tpl.l4, tpl.length)
        payload_sum = self.pattern.word_sum(offsets + tpl.length, payload)
        checksum = _finish(pseudo + body + payload_sum)
        if tpl.proto == 17:
            checksum = np.where(checksum == 0, 0xFFFF, checksum)
        _put(head, checksum_at, checksum[:, None], ">u2")
        positions = offsets[:, None] + np.arange(tpl.length)
        self.buffer[positions] = head

    def _fill_ip(self, head: U8, tpl: Template, src: U8, dst: U8, l4_length: I64,
                 at: I64) -> None:
        if tpl.family == 4:
            ident = (at * 40503 + self.count) & 0xFFFF
            _put(head, tpl.l3 + 2, np.stack([l4_length + 20, ident], axis=1), ">u2")
            head[:, tpl.l3 + 12:tpl.l3 + 16] = src
            head[:, tpl.l3 + 16:tpl.l3 + 20] = dst
            head[:, tpl.l3 + 10:tpl.l3 + 12] = 0
            checksum = _finish(_words(head, tpl.l3, tpl.l3 + 20))
            _put(head, tpl.l3 + 10, checksum[:, None], ">u2")
        else:
            _put(head, tpl.l3 + 4, l4_length[:, None], ">u2")
            head[:, tpl.l3 + 8:tpl.l3 + 24] = src
            head[:, tpl.l3 + 24:tpl.l3 + 40] = dst


def _roles(kind: NDArray[np.int8], index: I64, data: I64) -> I64:
    tcp_role = np.where(index < 3, index,
                        np.where(index < 3 + data, ROLE_DATA, ROLE_FIN_C + index - 3 - data))
    return np.select(
        [kind == KIND_TCP, kind == KIND_REFUSED, kind == KIND_UNANSWERED],
        [tcp_role, np.where(index == 0, ROLE_SYN, ROLE_RST), ROLE_SYN],
        ROLE_UDP,
    ).astype(np.int64)


def _sequence_numbers(role: I64, client_sends: NDArray[np.bool_], payload: I64, local: I64,
                      starts: I64, rng: np.random.Generator, flows: int) -> tuple[I64, I64]:
    """Sequence and acknowledgment numbers: each side's ISN plus what it sent before."""
    space = payload + ROLE_SEQ_SPACE[role]
    by_client = np.where(client_sends, space, 0)
    by_server = np.where(client_sends, 0, space)
    before_client = _exclusive_cumsum_per_flow(by_client, local, starts)
    before_server = _exclusive_cumsum_per_flow(by_server, local, starts)
    isn = rng.integers(0, 1 << 32, (flows, 2), dtype=np.int64)
    isn_client, isn_server = isn[local, 0], isn[local, 1]
    seq = np.where(client_sends, isn_client + before_client, isn_server + before_server)
    ack = np.where(client_sends, isn_server + before_server, isn_client + before_client)
    ack = np.where(role == ROLE_SYN, 0, ack)
    seq = np.where(role == ROLE_RST, 0, seq)
    return seq & 0xFFFFFFFF, ack & 0xFFFFFFFF


def _exclusive_cumsum_per_flow(values: I64, local: I64, starts: I64) -> I64:
    total = np.cumsum(values) - values
    return total - total[starts][local]


def _addresses(flow: I64, family: int) -> tuple[U8, U8]:
    """Client and server address bytes of each flow number (distinct clients per flow)."""
    endpoint = (flow * SCRAMBLE) % ENDPOINT_SPACE
    host = endpoint // PORTS_PER_ADDRESS
    server_host = 1 + flow % 64
    if family == 4:
        client = np.array(CLIENT_V4_BASES, dtype=np.int64)[host // 256] + host % 256
        server = SERVER_V4_BASE + server_host
        return _be_bytes(client, 4), _be_bytes(server, 4)
    n = len(flow)
    client6 = np.empty((n, 16), dtype=np.uint8)
    client6[:, :8] = np.frombuffer(CLIENT_V6_PREFIX, dtype=np.uint8)
    client6[:, 8:] = _be_bytes(flow + 1, 8)
    server6 = np.empty((n, 16), dtype=np.uint8)
    server6[:, :8] = np.frombuffer(SERVER_V6_PREFIX, dtype=np.uint8)
    server6[:, 8:] = _be_bytes(server_host, 8)
    return client6, server6


def _ports(flow: I64, proto: int) -> tuple[I64, I64]:
    endpoint = (flow * SCRAMBLE) % ENDPOINT_SPACE
    client = FIRST_CLIENT_PORT + endpoint % PORTS_PER_ADDRESS
    servers = TCP_SERVER_PORTS if proto == 6 else UDP_SERVER_PORTS
    return client, servers[flow % len(servers)]


def _be_bytes(values: I64, width: int) -> U8:
    kind = {4: ">u4", 8: ">u8"}[width]
    return np.asarray(values).astype(kind).view(np.uint8).reshape(-1, width)


def _put(head: U8, column: int, values: I64, kind: str) -> None:
    """Store each row's values (n, k) at ``column`` in the dtype ``kind`` (e.g. '>u2')."""
    data = np.ascontiguousarray(np.asarray(values).reshape(len(head), -1).astype(kind))
    raw = data.view(np.uint8).reshape(len(head), -1)
    head[:, column:column + raw.shape[1]] = raw


def _words(head: U8, begin: int, end: int) -> U64:
    """Sum of the big-endian 16-bit words of head[:, begin:end] (an even span)."""
    part = head[:, begin:end].astype(np.uint64)
    return ((part[:, 0::2] << np.uint64(8)) + part[:, 1::2]).sum(axis=1, dtype=np.uint64)


def _finish(total: U64) -> I64:
    """Fold a 64-bit sum to 16 bits and complement it (RFC 1071)."""
    folded = total.astype(np.uint64)
    for _ in range(4):
        folded = (folded & np.uint64(0xFFFF)) + (folded >> np.uint64(16))
    return (~folded.astype(np.int64)) & 0xFFFF


def _record_times(times_us: I64, nano: bool) -> I64:
    seconds, fraction = np.divmod(times_us, 1_000_000)
    if nano:
        fraction = fraction * 1000
    return np.stack([seconds, fraction], axis=1)


def write_bulk(path: str | Path, packets: int, flows: int, *, small: bool = False,
               seed: int = 0, mix: BulkMix | str | None = None, concurrency: int = 10_000,
               nano: bool = False, chunk_gap_s: float = 0.0) -> BulkResult:
    """Write a pcap of exactly ``packets`` packets in exactly ``flows`` flows ("-": stdout).

    Flows are made ``concurrency`` at a time: a chunk's flows all start and end before
    the next chunk's begin, packets ~5 us apart. ``chunk_gap_s`` seconds of silence
    between chunks (longer than a flow table's idle timeouts, e.g. 61 for Zeek's UDP
    minute) let every chunk's flows expire before the next, so a reader holds at most
    ``concurrency`` flows whatever the file's length. ``mix`` is a `BulkMix` or its
    ``--mix`` text; the same arguments give the same bytes.
    """
    chosen = BulkMix.parse(mix) if isinstance(mix, str) else (mix or BulkMix())
    chosen.check()
    rng = np.random.default_rng([seed, 0])
    plan = plan_flows(packets, flows, chosen, rng)
    writer = BulkWriter(Path(path), plan, small=small, seed=seed, concurrency=concurrency,
                        nano=nano, chunk_gap_s=chunk_gap_s)
    return writer.write()
