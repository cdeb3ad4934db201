"""Benchmark captures: large Ethernet pcap files written with numpy, fast and reproducible.

A capture is a set of TCP and UDP flows (70 % IPv4, 30 % IPv6, 10 % behind an 802.1Q tag),
each with a unique 5-tuple, a client that speaks first (TCP: SYN, SYN-ACK, data,
FIN from both sides) and packets spread over a short life. Flow start times are spread
over the capture, so the number of concurrent flows is ``flows * life / duration``; the
``concurrent`` layout instead keeps every flow open from the first half of the capture
to the second (the "1 M concurrent flows" memory case).

No flow reuses a 5-tuple and no flow is idle for longer than a second, so a plain
5-tuple dictionary, tshark's conversations and our flow table (which splits flows on
FIN/RST reuse and idle timeouts) all find exactly the same flows: that is what the
suite checks before it reports a time. Payload bytes are random (like TLS), so a
compressed copy is not trivially small.

The layouts are those of RFC 791 (IPv4), RFC 8200 (IPv6), RFC 793 (TCP), RFC 768 (UDP)
and the classic libpcap file format (magic a1b2c3d4, microseconds).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

PCAP_GLOBAL_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
RECORD_HEADER = 16
ETH_HEADER = 14
VLAN_TAG = 4
TCP_HEADER = 20
UDP_HEADER = 8
MAX_FRAME = 1514  # without the VLAN tag
CHUNK_PACKETS = 262_144
START_EPOCH = 1_700_000_000

TCP_SERVER_PORTS = np.array([443, 80, 22, 8080, 25, 993], dtype=np.uint32)
UDP_SERVER_PORTS = np.array([53, 443, 123, 5353], dtype=np.uint32)


@dataclass(frozen=True)
class CaptureSpec:
    """What to generate: sizes, flow count and how many flows are open at a time."""

    packets: int
    flows: int
    small: bool  # ~80-byte frames instead of the ~650-byte mix
    concurrency: int = 10_000
    seed: int = 0

    life_s = 1.0  # longest flow life (spread layout; the mean is half of it)

    @property
    def concurrent(self) -> bool:
        """Every flow open across the middle of the capture."""
        return self.concurrency >= self.flows

    @property
    def duration_s(self) -> float:
        if self.concurrent:
            return 60.0
        return max(2.0, self.flows * self.life_s / 2 / self.concurrency)


@dataclass
class PacketTable:
    """Per-packet fields, in capture order."""

    ts_us: NDArray[np.int64]
    flow: NDArray[np.int64]
    c2s: NDArray[np.bool_]
    tcp_flags: NDArray[np.uint8]
    payload: NDArray[np.int64]


@dataclass
class FlowTable:
    """Per-flow identity: family, protocol, tag and both endpoints."""

    v6: NDArray[np.bool_]
    udp: NDArray[np.bool_]
    vlan: NDArray[np.int64]  # -1 untagged
    client: NDArray[np.uint8]  # (n, 16), IPv4 in the last 4 bytes
    server: NDArray[np.uint8]
    client_port: NDArray[np.uint32]
    server_port: NDArray[np.uint32]


def make_flows(n: int, rng: np.random.Generator) -> FlowTable:
    """Unique flows: the client address encodes the flow number."""
    v6 = rng.random(n) < 0.3
    udp = rng.random(n) < 0.15
    vlan = np.where(rng.random(n) < 0.1, rng.integers(1, 4095, n), -1)
    ids = np.arange(n, dtype=np.uint64)
    client = np.zeros((n, 16), dtype=np.uint8)
    server = np.zeros((n, 16), dtype=np.uint8)
    server_ids = rng.integers(1, 2000, n).astype(np.uint64)
    # IPv4 clients 10.0.0.0/8 + i, servers 198.18.x.y; IPv6 2001:db8:1::i, 2001:db8:ffff::j
    client[:, 12] = 10
    client[:, 13:16] = _be_bytes(ids, 3)
    server[:, 12:14] = (198, 18)
    server[:, 14:16] = _be_bytes(server_ids, 2)
    client[v6] = 0
    server[v6] = 0
    client[v6, 0:6] = (0x20, 0x01, 0x0D, 0xB8, 0x00, 0x01)
    server[v6, 0:6] = (0x20, 0x01, 0x0D, 0xB8, 0xFF, 0xFF)
    client[v6, 8:16] = _be_bytes(ids[v6], 8)
    server[v6, 8:16] = _be_bytes(server_ids[v6], 8)
    client_port = rng.integers(32768, 61000, n).astype(np.uint32)
    server_port = np.where(
        udp,
        UDP_SERVER_PORTS[rng.integers(0, len(UDP_SERVER_PORTS), n)],
        TCP_SERVER_PORTS[rng.integers(0, len(TCP_SERVER_PORTS), n)],
    ).astype(np.uint32)
    return FlowTable(v6, udp, vlan, client, server, client_port, server_port)


def make_packets(spec: CaptureSpec, flows: FlowTable, rng: np.random.Generator) -> PacketTable:
    """Assign packets to flows, give them times, directions, flags and payload sizes."""
    n, f = spec.packets, spec.flows
    weights = rng.pareto(1.5, f) + 1.0
    counts = 1 + rng.multinomial(n - f, weights / weights.sum())
    flow = np.repeat(np.arange(f), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    pos = np.arange(n) - first
    last = np.repeat(counts - 1, counts)
    ts_us = _packet_times(spec, flow, pos, last, f, rng)
    c2s = np.where(pos == 0, True, np.where(pos == 1, False, rng.random(n) < 0.55))
    tcp = ~flows.udp[flow]
    closing = tcp & (last >= 3) & (pos >= last - 1)
    c2s[closing] = pos[closing] == last[closing] - 1
    flags = np.where(pos == 0, 0x02, np.where(pos == 1, 0x12, 0x10)).astype(np.uint8)
    payload = _payload_sizes(spec, flows, flow, rng)
    payload[tcp & (pos <= 1)] = 0
    payload[closing] = 0
    flags[closing] = 0x11
    flags[(flags == 0x10) & (payload > 0)] |= 0x08
    flags[~tcp] = 0
    order = np.argsort(ts_us, kind="stable")
    return PacketTable(ts_us[order], flow[order], c2s[order], flags[order], payload[order])


def _packet_times(
    spec: CaptureSpec,
    flow: NDArray[np.int64],
    pos: NDArray[np.int64],
    last: NDArray[np.int64],
    f: int,
    rng: np.random.Generator,
) -> NDArray[np.int64]:
    """Microsecond times, increasing within each flow, one flow's packets >= 1 us apart."""
    span_us = int(spec.duration_s * 1e6)
    if spec.concurrent:
        start = rng.integers(0, span_us // 2 - 1, f)
        life = np.full(f, span_us // 2)
    else:
        life = rng.integers(1000, max(1001, int(spec.life_s * 1e6)), f)
        start = rng.integers(0, max(1, span_us - int(life.max())), f)
    # evenly spaced over the life with jitter; never more than life/count apart
    step = life[flow] // np.maximum(last, 1)
    jitter = (rng.random(len(flow)) * 0.5 * step).astype(np.int64)
    rel = pos * step + np.where(pos > 0, jitter, 0)
    return (start[flow] + np.maximum(rel, pos)).astype(np.int64)


def _payload_sizes(
    spec: CaptureSpec, flows: FlowTable, flow: NDArray[np.int64], rng: np.random.Generator
) -> NDArray[np.int64]:
    n = len(flow)
    headers = _ip_header_len(flows.v6[flow]) + np.where(flows.udp[flow], UDP_HEADER, TCP_HEADER)
    if spec.small:
        return rng.integers(0, 45, n).astype(np.int64)
    kind = rng.random(n)
    full = MAX_FRAME - ETH_HEADER - headers
    some = rng.integers(1, 1000, n)
    return np.where(kind < 0.39, full, np.where(kind < 0.65, some, 0)).astype(np.int64)


def _ip_header_len(v6: NDArray[np.bool_]) -> NDArray[np.int64]:
    return np.where(v6, 40, 20).astype(np.int64)


def _be_bytes(values: NDArray[np.uint64], width: int) -> NDArray[np.uint8]:
    """Big-endian bytes of each value: an (n, width) array."""
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64) * np.uint64(8)
    return ((values[:, None] >> shifts) & np.uint64(0xFF)).astype(np.uint8)


def _put(buf: NDArray[np.uint8], off: NDArray[np.int64], values: NDArray, width: int) -> None:
    """Write each value big-endian at its offset."""
    v = values.astype(np.uint64)
    for k in range(width):
        buf[off + k] = (v >> np.uint64(8 * (width - 1 - k))) & np.uint64(0xFF)


def _put_le32(buf: NDArray[np.uint8], off: NDArray[np.int64], values: NDArray) -> None:
    v = values.astype(np.uint64)
    for k in range(4):
        buf[off + k] = (v >> np.uint64(8 * k)) & np.uint64(0xFF)


def encode_chunk(
    pk: PacketTable, flows: FlowTable, sl: slice, rng: np.random.Generator
) -> bytes:
    """Records of the packets in ``sl``: random bytes overwritten with valid headers."""
    fid = pk.flow[sl]
    c2s = pk.c2s[sl]
    payload = pk.payload[sl]
    v6 = flows.v6[fid]
    udp = flows.udp[fid]
    tagged = flows.vlan[fid] >= 0
    l2 = ETH_HEADER + np.where(tagged, VLAN_TAG, 0)
    l3 = _ip_header_len(v6)
    l4 = np.where(udp, UDP_HEADER, TCP_HEADER)
    frame = l2 + l3 + l4 + payload
    rec = RECORD_HEADER + frame
    start = np.cumsum(rec) - rec
    buf = np.frombuffer(bytearray(rng.bytes(int(rec.sum()))), dtype=np.uint8)
    ts = pk.ts_us[sl]
    _put_le32(buf, start, START_EPOCH + ts // 1_000_000)
    _put_le32(buf, start + 4, ts % 1_000_000)
    _put_le32(buf, start + 8, frame)
    _put_le32(buf, start + 12, frame)
    eth = start + RECORD_HEADER
    buf[eth[:, None] + np.arange(12)] = (2, 0, 0x5E, 0, 0x53, 1, 2, 0, 0x5E, 0, 0x53, 2)
    t = eth[tagged]
    _put(buf, t + 12, np.full(len(t), 0x8100), 2)
    _put(buf, t + 14, flows.vlan[fid[tagged]], 2)
    _put(buf, eth + l2 - 2, np.where(v6, 0x86DD, 0x0800), 2)
    ip = eth + l2
    src = np.where(c2s[:, None], flows.client[fid], flows.server[fid])
    dst = np.where(c2s[:, None], flows.server[fid], flows.client[fid])
    proto = np.where(udp, 17, 6)
    _write_ipv4(buf, ip[~v6], src[~v6], dst[~v6], proto[~v6], (l3 + l4 + payload)[~v6])
    _write_ipv6(buf, ip[v6], src[v6], dst[v6], proto[v6], (l4 + payload)[v6])
    sport = np.where(c2s, flows.client_port[fid], flows.server_port[fid])
    dport = np.where(c2s, flows.server_port[fid], flows.client_port[fid])
    tp = ip + l3
    _put(buf, tp, sport, 2)
    _put(buf, tp + 2, dport, 2)
    u = udp
    _put(buf, tp[u] + 4, (UDP_HEADER + payload)[u], 2)
    _put(buf, tp[u] + 6, np.zeros(int(u.sum())), 2)
    t = ~udp
    _put(buf, tp[t] + 12, np.full(int(t.sum()), 0x50), 1)
    _put(buf, tp[t] + 13, pk.tcp_flags[sl][t], 1)
    _put(buf, tp[t] + 14, np.full(int(t.sum()), 64240), 2)
    _put(buf, tp[t] + 16, np.zeros(int(t.sum())), 4)
    return buf.tobytes()


def _write_ipv4(buf, off, src, dst, proto, total) -> None:
    n = len(off)
    _put(buf, off, np.full(n, 0x4500), 2)
    _put(buf, off + 2, total, 2)
    _put(buf, off + 4, np.arange(n) & 0xFFFF, 2)
    _put(buf, off + 6, np.full(n, 0x4000), 2)  # DF, not a fragment
    _put(buf, off + 8, np.full(n, 64), 1)
    _put(buf, off + 9, proto, 1)
    _put(buf, off + 10, np.zeros(n), 2)
    buf[off[:, None] + np.arange(12, 16)] = src[:, 12:16]
    buf[off[:, None] + np.arange(16, 20)] = dst[:, 12:16]


def _write_ipv6(buf, off, src, dst, proto, payload_len) -> None:
    n = len(off)
    _put(buf, off, np.full(n, 0x60000000), 4)
    _put(buf, off + 4, payload_len, 2)
    _put(buf, off + 6, proto, 1)
    _put(buf, off + 7, np.full(n, 64), 1)
    buf[off[:, None] + np.arange(8, 24)] = src
    buf[off[:, None] + np.arange(24, 40)] = dst


def write_capture(path: Path, spec: CaptureSpec) -> None:
    """Write the capture described by ``spec`` to ``path``."""
    rng = np.random.default_rng(spec.seed)
    flows = make_flows(spec.flows, rng)
    packets = make_packets(spec, flows, rng)
    with path.open("wb") as out:
        out.write(PCAP_GLOBAL_HEADER)
        for lo in range(0, spec.packets, CHUNK_PACKETS):
            out.write(encode_chunk(packets, flows, slice(lo, lo + CHUNK_PACKETS), rng))


def compress_zstd(src: Path, dst: Path, level: int = 3) -> None:
    """A zstd copy of ``src`` (streamed, multi-threaded)."""
    import zstandard

    part = dst.with_name(dst.name + ".part")
    cctx = zstandard.ZstdCompressor(level=level, threads=2)
    with src.open("rb") as fin, part.open("wb") as fout:
        cctx.copy_stream(fin, fout, read_size=1 << 22, write_size=1 << 22)
    part.replace(dst)
