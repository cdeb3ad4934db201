"""Flow text: addresses against the C library's inet_ntop, the Arrow layout against pyarrow."""

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


def test_text_columns_reach_arrow_as_pyarrow_converts_them() -> None:
    """FlowFrame.to_arrow's text path (`narrow_ascii`, one C pass) against pyarrow
    converting the same Python strings: empty, full-width, padded, a NUL inside,
    non-ASCII (pyarrow's own conversion then), and both numpy byte orders."""
    import pyarrow as pa

    from analyzer._flowtable import narrow_ascii
    from analyzer.flows.frame import _string_array

    rng = np.random.default_rng(3)
    alphabet = np.array(list("0123456789abcdef:.ABCXYZ+/="))
    texts = ["".join(rng.choice(alphabet, rng.integers(0, 31))) for _ in range(5000)]
    texts += ["", "x" * 30, "a\0b", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="]
    for column in (np.array(texts), np.array(texts).astype(">U30")):
        assert _string_array(pa, column).equals(pa.array(texts, type=pa.string()))
    accented = np.array([*texts[:10], "café"])
    assert narrow_ascii(accented) is None
    assert _string_array(pa, accented).equals(pa.array(accented.tolist(), type=pa.string()))
