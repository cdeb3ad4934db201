"""Community ID v1 (corelight/community-id-spec) for TCP/UDP flows, one array at a time.

SHA-1 over: seed (2 bytes, network order), source address, destination address (4 bytes
when IPv4 was on the wire, 16 for IPv6), protocol, one zero byte, source port,
destination port; the endpoints ordered smaller (address, port) first. The digest is
base64-encoded and prefixed with the version, "1:". The loop is in the Cython core
(ext/flowtable_cid.pxi), with the CPU's SHA instructions where it has them
(ext/sha1_hw.h: ~85 ns per flow here, the portable loop ~375); the tests check both
against the spec's baseline and the `communityid` package.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from analyzer._flowtable import community_id_text


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
    if not 0 <= seed <= 0xFFFF:
        raise ValueError(f"Community ID seed must fit 16 bits, got {seed}")
    c = np.ascontiguousarray
    return community_id_text(c(proto), c(src), c(dst), c(sport), c(dport), c(wire_family), seed)
