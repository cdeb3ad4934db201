"""Flow address text against the C library's inet_ntop (socket.inet_ntop)."""

from __future__ import annotations

import socket

import numpy as np

from analyzer._flowtable import format_addresses


def test_address_text_equals_inet_ntop() -> None:
    rng = np.random.default_rng(7)
    n = 50_000
    addrs = rng.integers(0, 256, (n, 16), dtype=np.uint8)
    addrs.reshape(n, 8, 2)[rng.random((n, 8)) < 0.5] = 0     # zero groups to compress
    addrs[:500, :12] = [0] * 10 + [255, 255]                  # ::ffff:a.b.c.d on the wire
    addrs[500:1000, :12] = 0                                  # ::a.b.c.d
    addrs[1000:1010] = 0                                      # ::
    addrs[1010, 15] = 1                                       # ::1
    family = np.full(n, 6, np.uint8)
    family[2000:20000] = 4
    expected = [
        socket.inet_ntop(socket.AF_INET, bytes(a[12:])) if f == 4
        else socket.inet_ntop(socket.AF_INET6, bytes(a))
        for a, f in zip(addrs, family, strict=True)
    ]
    assert format_addresses(addrs, family).tolist() == expected
