"""Community ID v1 (corelight/community-id-spec) for TCP/UDP flows, one array at a time.

SHA-1 over: seed (2 bytes, network order), source address, destination address
(4 bytes when IPv4 was on the wire, 16 for IPv6), protocol, one zero byte, source port,
destination port; the endpoints ordered smaller (address, port) first. The digest is
base64-encoded and prefixed with the version, "1:".
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import numpy.typing as npt

VERSION_PREFIX = "1:"


def community_ids(
    proto: npt.NDArray[np.uint8],
    src: npt.NDArray[np.uint8],
    dst: npt.NDArray[np.uint8],
    sport: npt.NDArray[np.uint16],
    dport: npt.NDArray[np.uint16],
    wire_family: npt.NDArray[np.uint8],
    seed: int = 0,
) -> npt.NDArray[np.str_]:
    """Community IDs of flows given as columns; addresses are (n, 16) with IPv4 mapped."""
    n = len(proto)
    out = np.empty(n, dtype="<U30")
    swap = _endpoints_out_of_order(src, dst, sport, dport)
    lo_addr = np.where(swap[:, None], dst, src)
    hi_addr = np.where(swap[:, None], src, dst)
    lo_port = np.where(swap, dport, sport)
    hi_port = np.where(swap, sport, dport)
    for family, width in ((4, 4), (6, 16)):
        rows = np.flatnonzero(wire_family == family)
        if len(rows) == 0:
            continue
        records = _hash_inputs(
            seed, lo_addr[rows, 16 - width :], hi_addr[rows, 16 - width :],
            proto[rows], lo_port[rows], hi_port[rows],
        )
        out[rows] = [_encode(bytes(record)) for record in records]
    return out


def _endpoints_out_of_order(
    src: npt.NDArray[np.uint8],
    dst: npt.NDArray[np.uint8],
    sport: npt.NDArray[np.uint16],
    dport: npt.NDArray[np.uint16],
) -> npt.NDArray[np.bool_]:
    """True where (src, sport) > (dst, dport): compare addresses as big-endian numbers."""
    s = np.ascontiguousarray(src).view(">u8").reshape(-1, 2)
    d = np.ascontiguousarray(dst).view(">u8").reshape(-1, 2)
    greater = (s[:, 0] > d[:, 0]) | ((s[:, 0] == d[:, 0]) & (s[:, 1] > d[:, 1]))
    equal = (s[:, 0] == d[:, 0]) & (s[:, 1] == d[:, 1])
    return np.asarray(greater | (equal & (sport > dport)))


def _hash_inputs(
    seed: int,
    lo_addr: npt.NDArray[np.uint8],
    hi_addr: npt.NDArray[np.uint8],
    proto: npt.NDArray[np.uint8],
    lo_port: npt.NDArray[np.uint16],
    hi_port: npt.NDArray[np.uint16],
) -> npt.NDArray[np.uint8]:
    """The bytes the spec hashes, one row per flow."""
    n, width = lo_addr.shape
    rec = np.zeros((n, 2 + 2 * width + 6), dtype=np.uint8)
    rec[:, 0:2] = np.frombuffer(seed.to_bytes(2, "big"), dtype=np.uint8)
    rec[:, 2 : 2 + width] = lo_addr
    rec[:, 2 + width : 2 + 2 * width] = hi_addr
    tail = 2 + 2 * width
    rec[:, tail] = proto
    rec[:, tail + 2 : tail + 4] = lo_port.astype(">u2").view(np.uint8).reshape(n, 2)
    rec[:, tail + 4 : tail + 6] = hi_port.astype(">u2").view(np.uint8).reshape(n, 2)
    return rec


def _encode(record: bytes) -> str:
    digest = hashlib.sha1(record, usedforsecurity=False).digest()
    return VERSION_PREFIX + base64.b64encode(digest).decode("ascii")
