"""The flow fingerprint every tool must agree on before its time is reported.

A flow is reduced to its canonical key (protocol, the smaller (address, port) endpoint
"a", the larger "b"; addresses as 16 bytes, IPv4 mapped as ``::ffff:a.b.c.d``) and its
packet counts a->b and b->a. Each flow's 53 bytes

    proto (1) | a (16) | port a (2, big endian) | b (16) | port b (2) | n_ab (8, LE) | n_ba (8)

are hashed with 64-bit FNV-1a and the hashes are summed modulo 2**64, so the fingerprint
does not depend on the order in which a tool lists its flows. ``benchmarks/c_loop/flowloop.c``
computes the same sum in C.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FNV_OFFSET = np.uint64(0xCBF29CE484222325)
FNV_PRIME = np.uint64(0x100000001B3)
V4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"

FlowKey = tuple[int, bytes, int, bytes, int]
"""(proto, src, sport, dst, dport) with addresses as 4 or 16 raw bytes."""


@dataclass(frozen=True)
class FlowSummary:
    """What is compared between tools."""

    flows: int
    packets: int  # TCP/UDP packets counted into flows
    checksum: int

    def as_dict(self) -> dict[str, int | str]:
        return {
            "flows": self.flows,
            "flow_packets": self.packets,
            "checksum": f"{self.checksum:#018x}",
        }


def addr16(raw: bytes) -> bytes:
    """An address as 16 bytes (IPv4 mapped)."""
    return V4_MAPPED_PREFIX + raw if len(raw) == 4 else raw


def text_addr16(text: str) -> bytes:
    """A textual IPv4 or IPv6 address as 16 bytes (IPv4 mapped)."""
    return addr16(ipaddress.ip_address(text).packed)


def summarize_directed(
    proto: NDArray,
    src: NDArray[np.uint8],
    sport: NDArray,
    dst: NDArray[np.uint8],
    dport: NDArray,
    n_sd: NDArray,
    n_ds: NDArray,
) -> FlowSummary:
    """Fingerprint flows given in any orientation (src/dst may be client/server)."""
    key_s = np.concatenate([src, _be16(sport)], axis=1)
    key_d = np.concatenate([dst, _be16(dport)], axis=1)
    s_first = _rows_less_equal(key_s, key_d)
    a = np.where(s_first[:, None], key_s, key_d)
    b = np.where(s_first[:, None], key_d, key_s)
    n_ab = np.where(s_first, n_sd, n_ds).astype(np.uint64)
    n_ba = np.where(s_first, n_ds, n_sd).astype(np.uint64)
    rows = np.concatenate(
        [np.asarray(proto, dtype=np.uint8)[:, None], a, b, _le64(n_ab), _le64(n_ba)], axis=1
    )
    return FlowSummary(len(rows), int(n_ab.sum() + n_ba.sum()), _fnv_sum(rows))


def summarize_counts(counts: Mapping[FlowKey, int]) -> FlowSummary:
    """Fingerprint a dict of per-direction packet counts keyed by directed 5-tuples."""
    merged: dict[FlowKey, list[int]] = {}
    for (proto, src, sport, dst, dport), n in counts.items():
        if (src, sport) <= (dst, dport):
            merged.setdefault((proto, src, sport, dst, dport), [0, 0])[0] += n
        else:
            merged.setdefault((proto, dst, dport, src, sport), [0, 0])[1] += n
    return summarize_flows(merged.items())


def summarize_flows(flows: Iterable[tuple[FlowKey, list[int]]]) -> FlowSummary:
    """Fingerprint (key, [n_sd, n_ds]) pairs (keys with raw 4- or 16-byte addresses)."""
    items = list(flows)
    n = len(items)
    proto = np.fromiter((k[0] for k, _ in items), dtype=np.uint8, count=n)
    src = _addr_matrix(addr16(k[1]) for k, _ in items)
    sport = np.fromiter((k[2] for k, _ in items), dtype=np.uint16, count=n)
    dst = _addr_matrix(addr16(k[3]) for k, _ in items)
    dport = np.fromiter((k[4] for k, _ in items), dtype=np.uint16, count=n)
    n_sd = np.fromiter((c[0] for _, c in items), dtype=np.uint64, count=n)
    n_ds = np.fromiter((c[1] for _, c in items), dtype=np.uint64, count=n)
    return summarize_directed(proto, src, sport, dst, dport, n_sd, n_ds)


def _addr_matrix(addrs: Iterable[bytes]) -> NDArray[np.uint8]:
    blob = b"".join(addrs)
    return np.frombuffer(blob, dtype=np.uint8).reshape(-1, 16)


def _be16(v: NDArray) -> NDArray[np.uint8]:
    v = np.asarray(v, dtype=np.uint16)
    return np.stack([(v >> 8).astype(np.uint8), (v & 0xFF).astype(np.uint8)], axis=1)


def _le64(v: NDArray[np.uint64]) -> NDArray[np.uint8]:
    return np.ascontiguousarray(v.astype("<u8")).view(np.uint8).reshape(-1, 8)


def _rows_less_equal(x: NDArray[np.uint8], y: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Row-wise lexicographic x <= y."""
    if len(x) == 0:
        return np.zeros(0, dtype=bool)
    differ = x != y
    first = np.argmax(differ, axis=1)
    rows = np.arange(len(x))
    return ~differ.any(axis=1) | (x[rows, first] < y[rows, first])


def _fnv_sum(rows: NDArray[np.uint8]) -> int:
    h = np.full(len(rows), FNV_OFFSET, dtype=np.uint64)
    for col in range(rows.shape[1]):
        h ^= rows[:, col].astype(np.uint64)
        h *= FNV_PRIME
    return int(h.sum(dtype=np.uint64))
