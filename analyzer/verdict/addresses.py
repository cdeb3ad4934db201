"""Flow addresses as raw 16-byte rows: what correlation and anomaly checks compare.

The FlowFrame keeps every address as 16 bytes, IPv4 as ``::ffff:a.b.c.d`` (columns
``client_addr`` / ``server_addr``), so equality and prefix tests are numpy byte
comparisons over all flows at once, never an `ipaddress` parse per flow. An
IPv4-mapped address and its IPv4 address are the same row, just as
`analyzer.verdict.correlate.normalize` makes them the same address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Final

import numpy as np

from analyzer.flows.columnset import FlowColumns
from analyzer.verdict.factorize import as_keys, factorize
from analyzer.verdict.model import IPAddress, parse_address

MAPPED_PREFIX: Final[bytes] = bytes(10) + b"\xff\xff"


def packed(address: IPAddress) -> bytes:
    """The 16-byte row of an address (IPv4 as ``::ffff:a.b.c.d``)."""
    if isinstance(address, ipaddress.IPv4Address):
        return MAPPED_PREFIX + address.packed
    return address.packed


def unpacked(row: bytes) -> IPAddress:
    """The normalised address of a 16-byte row: IPv4 for ``::ffff:a.b.c.d``."""
    if row[:12] == MAPPED_PREFIX:
        return ipaddress.IPv4Address(row[12:])
    return ipaddress.IPv6Address(row)


def _packed_text(text: str) -> bytes:
    """A flow column's address text as a row (all zeros when it is not an address)."""
    try:
        return packed(parse_address(str(text)))
    except ValueError:
        return bytes(16)


def address_rows(columns: Mapping[str, np.ndarray], side: str) -> np.ndarray:
    """(n, 16) uint8 addresses of ``side`` ('client' or 'server'): the raw column when
    the flows have it, else packed from the text column (once per distinct text)."""
    raw = f"{side}_addr"
    if raw in columns:
        return np.ascontiguousarray(np.asarray(columns[raw], dtype=np.uint8)).reshape(-1, 16)
    unique, codes = factorize(np.asarray(columns[side]))
    table = np.frombuffer(b"".join(_packed_text(text) for text in unique) or bytes(16),
                          dtype=np.uint8).reshape(-1, 16)
    return table[codes]


def lookup(rows: np.ndarray, table: Mapping[bytes, int], missing: int = -1) -> np.ndarray:
    """Per row of (n, 16) uint8, the value `table` gives its bytes, else `missing`."""
    out = np.full(len(rows), missing, dtype=np.int64)
    if not table or not len(rows):
        return out
    known = sorted(table)
    keys = np.frombuffer(b"".join(known), dtype=np.uint8).reshape(-1, 16)
    values = np.array([table[item] for item in known], dtype=np.int64)
    sorted_keys = as_keys(keys)
    wanted = as_keys(rows)
    position = np.minimum(np.searchsorted(sorted_keys, wanted), len(known) - 1)
    hit = sorted_keys[position] == wanted
    out[hit] = values[position[hit]]
    return out


def prefix_mask(rows: np.ndarray, network: str) -> np.ndarray:
    """Per row of (n, 16) uint8, whether it lies in the IPv6 network (byte-aligned
    prefixes only: /16, /32, /48, /96 ...)."""
    net = ipaddress.IPv6Network(network)
    if net.prefixlen % 8:
        raise ValueError(f"{network}: only byte-aligned prefixes are compared as bytes")
    head = np.frombuffer(net.network_address.packed[:net.prefixlen // 8], dtype=np.uint8)
    return np.all(rows[:, :len(head)] == head, axis=1)


def texts_at(columns: Mapping[str, np.ndarray], name: str, rows: np.ndarray) -> np.ndarray:
    """Column `name` at `rows` only: a text column not made yet is made for those rows
    alone (FlowColumns), not for every flow."""
    if isinstance(columns, FlowColumns):
        return np.asarray(columns.rows(rows)[name])
    return np.asarray(columns[name])[rows]
