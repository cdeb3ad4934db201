"""The byte-level address helpers of the verdicts against the standard library's
`ipaddress` (prefix membership, IPv4-mapped normalisation) and plain Python
dictionaries (first-seen factorisation)."""

from __future__ import annotations

import ipaddress

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.verdict.addresses import address_rows, lookup, packed, unpacked
from analyzer.verdict.anomalies import ADDRESS_KINDS
from analyzer.verdict.factorize import factorize, unique_rows

# Addresses near the interesting prefixes, so that hits and near misses both occur.
PREFIXES = [bytes(10) + b"\xff\xff", bytes(12), b"\x00\x64\xff\x9b" + bytes(8),
            b"\x00\x64\xff\x9b\x00\x01", b"\x20\x02", b"\x20\x01\x00\x00", b"\x20\x01\x00\x01"]
address_bytes = st.one_of(
    st.binary(min_size=16, max_size=16),
    st.tuples(st.sampled_from(PREFIXES), st.binary(min_size=16, max_size=16)).map(
        lambda pair: (pair[0] + pair[1])[:16]),
    st.sampled_from([bytes(16), bytes(15) + b"\x01", bytes(15) + b"\x02"]),
)
ORACLE = {
    "ipv4-mapped-on-wire": lambda a: a in ipaddress.IPv6Network("::ffff:0:0/96"),
    "ipv4-compatible": lambda a: int(a) >> 32 == 0 and int(a) > 1,
    "nat64": lambda a: a in ipaddress.IPv6Network("64:ff9b::/96"),
    "nat64-local": lambda a: a in ipaddress.IPv6Network("64:ff9b:1::/48"),
    "6to4": lambda a: a in ipaddress.IPv6Network("2002::/16"),
    "teredo": lambda a: a in ipaddress.IPv6Network("2001::/32"),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(address_bytes, min_size=1, max_size=40))
def test_address_kinds_match_ipaddress(addresses: list[bytes]) -> None:
    rows = np.frombuffer(b"".join(addresses), dtype=np.uint8).reshape(-1, 16)
    assert {spec.kind for spec in ADDRESS_KINDS} == set(ORACLE)
    for spec in ADDRESS_KINDS:
        expected = [ORACLE[spec.kind](ipaddress.IPv6Address(item)) for item in addresses]
        assert spec.test(rows).tolist() == expected, spec.kind


@settings(max_examples=60, deadline=None)
@given(address_bytes)
def test_packed_and_unpacked_follow_ipv4_mapping(raw: bytes) -> None:
    address = ipaddress.IPv6Address(raw)
    expected = address.ipv4_mapped or address
    assert unpacked(raw) == expected
    assert packed(expected) == raw


def first_seen_oracle(values: list) -> tuple[list, list[int]]:
    table: dict = {}
    codes = [table.setdefault(value, len(table)) for value in values]
    return list(table), codes


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=5, max_size=5), max_size=60), st.booleans())
def test_unique_rows_first_seen(values: list[bytes], few: bool) -> None:
    if few:  # many repeats
        values = [value[:1] * 5 for value in values]
    rows = np.frombuffer(b"".join(values), dtype=np.uint8).reshape(-1, 5)
    unique, codes = unique_rows(rows)
    distinct, expected = first_seen_oracle(values)
    assert [row.tobytes() for row in unique] == distinct
    assert codes.tolist() == expected


def test_unique_rows_of_many_rows_equal_a_dict() -> None:
    """200 k rows of 17 bytes (a family byte and an address, as verify factorises servers),
    3000 distinct, plus rows that differ in their last byte only: long probe chains in the
    hash table, each row numbered as a dict numbers it."""
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, size=(3000, 17), dtype=np.uint8)
    twins = base.copy()
    twins[:, -1] ^= 1
    rows = np.concatenate([base, twins])[rng.integers(0, 6000, size=200_000)]
    unique, codes = unique_rows(rows)
    distinct, expected = first_seen_oracle([row.tobytes() for row in rows])
    assert [row.tobytes() for row in unique] == distinct
    assert codes.tolist() == expected


@given(st.lists(st.sampled_from(["tcp", "udp", "accepted", "", "refused"]), max_size=50))
def test_factorize_text_column(values: list[str]) -> None:
    distinct, codes = factorize(np.array(values, dtype="<U10"))
    assert (distinct, codes.tolist()) == first_seen_oracle(values)
    distinct, codes = factorize(np.array(values, dtype=object))
    assert (distinct, codes.tolist()) == first_seen_oracle(values)


def test_text_columns_give_the_same_rows_as_raw_ones() -> None:
    texts = ["192.0.2.1", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1%eth0"]
    rows = address_rows({"client": np.array(texts, dtype=object)}, "client")
    expected = [ipaddress.IPv6Address("::ffff:192.0.2.1").packed,
                ipaddress.IPv6Address("2001:db8::1").packed,
                ipaddress.IPv6Address("::ffff:192.0.2.1").packed,
                ipaddress.IPv6Address("fe80::1").packed]
    assert [row.tobytes() for row in rows] == expected
    owner = {expected[1]: 7}
    assert lookup(rows, owner).tolist() == [-1, 7, -1, -1]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 40), st.integers(0, 65535)),
                min_size=1, max_size=300))
def test_group_keys_equal_numpy_unique(rows: list[tuple[int, int, int]]) -> None:
    """verify's grouping numbers its key rows (epoch, server, port, ...: small ints) as
    np.unique(axis=0) does: the distinct rows sorted, and each row's index among them."""
    from analyzer.verdict.correlate import _unique_rows

    keys = np.array(rows, dtype=np.int64)
    unique, inverse = _unique_rows(keys)
    want_unique, want_inverse = np.unique(keys, axis=0, return_inverse=True)
    assert unique.tolist() == want_unique.tolist()
    assert inverse.tolist() == want_inverse.reshape(-1).tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 11), max_size=200), st.sets(st.integers(0, 11), max_size=8))
def test_lookup_gives_each_row_what_a_dict_gives(picks: list[int], owned: set[int]) -> None:
    """Host lookup over (n, 16) address rows equals a dict lookup row by row."""
    pool = [ipaddress.IPv6Address(f"2001:db8::{number:x}").packed for number in range(12)]
    table = {pool[number]: 100 + number for number in owned}
    rows = np.frombuffer(b"".join(pool[number] for number in picks),
                         dtype=np.uint8).reshape(-1, 16)
    assert lookup(rows, table).tolist() == [table.get(pool[n], -1) for n in picks]
