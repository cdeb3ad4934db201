"""Snapshot files: round trips, time series, and invalid documents named by file and line.

The oracle for "same data" is the standard json module's reading of what we wrote and
hypothesis-generated snapshots; invalid documents are written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import InputError, SnapshotError
from analyzer.snapshot import (
    SCHEMA_VERSION,
    Snapshot,
    Socket,
    append_snapshot,
    dump_snapshots,
    load_snapshots,
)
from analyzer.snapshot.schema import InputIssue

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "analyzer" / "snapshot" / "snapshot.schema.json"


def sample() -> Snapshot:
    return Snapshot(
        host="web1", os="linux", taken_at="2026-11-21T23:56:39.5Z",
        addresses={"eth0": ["192.0.2.1", "2001:db8::1"], "lo": ["127.0.0.1", "::1"]},
        defaults={"net.ipv6.bindv6only": 0},
        sources={"sockets": "sock_diag", "v6only": "INET_DIAG_SKV6ONLY"},
        sockets=[
            Socket("tcp", 6, "::", 80, state="LISTEN", v6only=False, pid=10,
                   process="httpd", user="root", uid=0, inode=1234, evidence="x"),
            Socket("tcp", 6, "::ffff:192.0.2.1", 80, "::ffff:192.0.2.2", 40000,
                   state="ESTABLISHED", v6only=False, pid=11, process="httpd"),
            Socket("udp", 4, "0.0.0.0", 53, state="UNCONN"),
            Socket("tcp", 6, "fe80::1", 22, state="LISTEN", v6only=True, interface="eth0"),
        ],
        unseen=["nothing"],
        errors=[InputIssue("a.txt", 3, "bad")],
        lines={"total": 3, "socket": 1, "header": 1, "blank": 0, "skipped": 0, "error": 1},
        skipped={},
    )


def test_document_round_trip_and_plain_json(tmp_path: Path):
    path = tmp_path / "snap.json"
    snap = sample()
    dump_snapshots([snap], path)
    assert load_snapshots(path) == [snap]
    data = json.loads(path.read_text())  # the standard reader sees the same values
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["taken_at"] == "2026-11-21T23:56:39.500000Z"
    assert data["sockets"][1]["mapped_peer"] is True
    assert data["sockets"][0]["mapped_peer"] is False
    assert [s["local_port"] for s in data["sockets"]] == [80, 80, 53, 22]


def test_time_series_appends_one_line_each(tmp_path: Path):
    path = tmp_path / "series.jsonl"
    snaps = [sample(), Snapshot(host="web1", os="linux", taken_at="2026-11-22T00:00:00Z")]
    for snap in snaps:
        append_snapshot(snap, path)
    assert len(path.read_text().splitlines()) == 2
    assert load_snapshots(path) == snaps
    dump_snapshots(snaps, tmp_path / "two.jsonl")
    assert load_snapshots(tmp_path / "two.jsonl") == snaps


def test_listeners_helper():
    snap = sample()
    assert [(s.proto, s.local_port) for s in snap.listeners()] == [
        ("tcp", 80), ("udp", 53), ("tcp", 22)]


def test_json_schema_file_matches_the_keys():
    schema = json.loads(SCHEMA_FILE.read_text())
    data = sample().to_dict()
    assert set(schema["properties"]) == set(data)
    socket_schema = schema["$defs"]["socket"]
    assert set(socket_schema["properties"]) == set(data["sockets"][0])
    assert set(schema["required"]) <= set(data)


def broken(tmp_path: Path, text: str, name: str = "bad.json") -> SnapshotError:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(SnapshotError) as caught:
        load_snapshots(path)
    assert str(caught.value).startswith(str(path))
    return caught.value


def test_invalid_socket_named_by_its_line(tmp_path: Path):
    good = tmp_path / "good.json"
    dump_snapshots([sample()], good)
    lines = good.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if '"local_port": 53' in line)
    lines[index] = lines[index].replace('"family": 4', '"family": 5')
    error = broken(tmp_path, "\n".join(lines))
    assert error.line == index + 1
    assert "sockets[2].family" in str(error)


def test_ipv4_text_in_an_ipv6_socket_is_refused(tmp_path: Path):
    data = sample().to_dict()
    data["sockets"][0]["local_address"] = "192.0.2.1"
    error = broken(tmp_path, json.dumps(data, indent=1))
    assert "::ffff:a.b.c.d" in str(error) and error.line is not None


def test_invalid_line_of_a_time_series(tmp_path: Path):
    good = json.dumps(sample().to_dict())
    bad = json.loads(good)
    bad["os"] = "plan9"
    error = broken(tmp_path, "\n".join([good, good, json.dumps(bad)]) + "\n", "s.jsonl")
    assert error.line == 3 and "os" in str(error)


def test_syntax_error_line_and_column(tmp_path: Path):
    error = broken(tmp_path, '{\n  "schema_version": 1,\n  "host": oops\n}\n')
    assert error.line == 3 and "column" in str(error)


@pytest.mark.parametrize(("change", "words"), [
    ({"schema_version": 2}, "schema_version"),
    ({"taken_at": "2026-11-21T23:56:39"}, "UTC"),
    ({"defaults": {"net.ipv6.bindv6only": "zero"}}, "defaults"),
    ({"color": "blue"}, "unknown key"),
    ({"lines": {"total": 5, "socket": 1}}, "total"),
])
def test_invalid_top_level_fields(tmp_path: Path, change: dict, words: str):
    data = {**sample().to_dict(), **change}
    assert words in str(broken(tmp_path, json.dumps(data)))


def test_empty_and_missing_files(tmp_path: Path):
    broken(tmp_path, "   \n", "empty.json")
    with pytest.raises(InputError):
        load_snapshots(tmp_path / "absent.json")


addresses4 = st.ip_addresses(v=4).map(str)
addresses6 = st.ip_addresses(v=6).map(str)


@st.composite
def sockets(draw: st.DrawFn) -> Socket:
    family = draw(st.sampled_from([4, 6]))
    address = addresses4 if family == 4 else addresses6
    from analyzer.snapshot.schema import canonical_address

    return Socket(
        proto=draw(st.sampled_from(["tcp", "udp"])), family=family,
        local_address=canonical_address(draw(address)),
        local_port=draw(st.none() | st.integers(0, 65535)),
        remote_address=draw(st.none() | address.map(canonical_address)),
        remote_port=draw(st.none() | st.integers(0, 65535)),
        state=draw(st.sampled_from(["LISTEN", "ESTABLISHED", "UNCONN", "TIME_WAIT"])),
        v6only=None if family == 4 else draw(st.none() | st.booleans()),
        pid=draw(st.none() | st.integers(1, 2**22)),
        process=draw(st.none() | st.text(max_size=20)),
        evidence=draw(st.text(max_size=30)),
        line=draw(st.none() | st.integers(1, 10**6)),
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(sockets(), max_size=8), st.none() | st.sampled_from(["linux", "windows"]))
def test_round_trip_of_generated_snapshots(tmp_path_factory, items, os_name):
    snap = Snapshot(host="h", os=os_name, sockets=items)
    path = tmp_path_factory.mktemp("rt") / "s.json"
    dump_snapshots([snap], path)
    assert load_snapshots(path) == [snap]
