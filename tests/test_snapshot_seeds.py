"""The command outputs quoted in ../shared/seeds/, imported and shown.

The samples are cut out of the seed texts by pattern (not copied here); what each
must give comes from the seed's own explanation and ../shared/DOMAIN.md: which
family each socket has, what the text proves about v6only and what it cannot.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.snapshot.importers import import_text
from analyzer.snapshot.schema import Snapshot, Socket
from analyzer.snapshot.show import reach

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


def sample(seed: str, pattern: str) -> str:
    """The seed's lines matching `pattern`, as one text."""
    path = next(SEEDS.glob(f"{seed}_*.txt"), None)
    if path is None:
        pytest.fail(f"seed {seed} not found in {SEEDS}")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if re.search(pattern, line)]
    assert lines, f"seed {seed}: nothing matches {pattern!r}"
    return "\n".join(lines) + "\n"


def only(snapshot: Snapshot, port: int, family: int) -> Socket:
    [sock] = [s for s in snapshot.sockets if s.local_port == port and s.family == family
              and s.state in ("LISTEN", "UNCONN")]
    return sock


def test_000_windows_binds_both_wildcards_and_cannot_show_v6only():
    snap = import_text(sample("000", r"^\s+TCP\s"), "seed000-windows.txt")
    assert snap.sources["format"] == "netstat-windows" and snap.os == "windows"
    v4, v6 = only(snap, 445, 4), only(snap, 445, 6)
    assert (v4.local_address, v6.local_address) == ("0.0.0.0", "::")
    assert v6.v6only is None
    grounds = reach(v6, snap)
    assert (grounds.takes, grounds.basis) == ("IPv6", "prior")  # Windows: v6-only default


def test_000_linux_tcp6_row_cannot_show_v6only():
    snap = import_text(sample("000", r"^tcp6\s"), "seed000-linux.txt")
    sock = only(snap, 22, 6)
    assert (sock.local_address, sock.v6only) == ("::", None)
    assert "cannot show v6only" in sock.evidence
    grounds = reach(sock, snap)
    assert (grounds.takes, grounds.basis) == ("IPv4+IPv6", "prior")  # bindv6only=0 default


def test_001_ipv4_connections_shown_as_tcp6_are_ipv4_peers_of_ipv6_sockets():
    lines = sample("001", r"^(Active Internet|Proto |tcp6? )").splitlines()
    end = next(i for i, line in enumerate(lines) if "216.17.8.47" in line)
    text = "\n".join(lines[:end + 1]) + "\n"
    snap = import_text(text, "seed001-netstat-tupn.txt")
    assert snap.lines is not None and snap.lines["header"] == 2
    assert snap.lines["socket"] == len(text.splitlines()) - 2
    java = [s for s in snap.sockets if s.pid == 31307]
    assert len(java) == 3
    for sock in java:
        assert sock.family == 6 and sock.local_address == "::ffff:10.0.0.12"
        assert sock.mapped_peer and sock.v6only is False and sock.process == "java"
    assert {s.remote_address for s in java} == {
        "::ffff:10.0.0.20", "::ffff:162.222.40.93", "::ffff:216.17.8.47"}
    nginx = [s for s in snap.sockets if s.pid == 1400]
    assert {s.process for s in nginx} == {"nginx: worker"}
    nfs = [s for s in snap.sockets if s.local_port == 2049]
    assert [(s.pid, s.process) for s in nfs] == [(None, None)]
    assert all(s.family == 4 and not s.mapped_peer for s in snap.sockets if s.pid != 31307)


def test_001_v4v6_example_listener_and_its_ipv4_child():
    snap = import_text(sample("001", r"^tcp6?\s+0\s+0\s+\S+:5555|:5555\s"),
                       "seed001-v4v6.txt")
    listener = only(snap, 5555, 6)
    assert (listener.local_address, listener.v6only) == ("::", None)
    [child] = [s for s in snap.sockets if s.family == 6 and s.state == "ESTABLISHED"]
    assert child.local_address == "::ffff:127.0.0.1" and child.mapped_peer
    [client] = [s for s in snap.sockets if s.family == 4]
    assert client.remote_port == 5555 and not client.mapped_peer


def test_002_old_net_tools_prints_tcp_for_ipv6_and_sshd_pair_means_v6only():
    text = sample("002", r"^tcp 0 0 ")
    first = "\n".join(text.splitlines()[:5]) + "\n"
    snap = import_text(first, "seed002-netstat-natp.txt", os_name="linux")
    httpd = only(snap, 80, 6)
    assert httpd.local_address == "::" and httpd.v6only is None
    assert "old net-tools" in httpd.evidence
    assert reach(httpd, snap).takes == "IPv4+IPv6"  # what the seed proved with telnet
    sshd6 = only(snap, 22, 6)
    assert (reach(sshd6, snap).takes, reach(sshd6, snap).basis) == ("IPv6", "pair")
    postfix = only(snap, 25, 6)
    assert postfix.local_address == "::1" and reach(postfix, snap).takes == "IPv6"
    # After IPv6 was disabled, httpd listens on 0.0.0.0:80 as AF_INET.
    later = import_text("\n".join(text.splitlines()[5:]) + "\n", "seed002-later.txt")
    assert only(later, 80, 4).local_address == "0.0.0.0"


def test_002_lsof_shows_socket_type_and_service_names():
    text = sample("002", r"^(COMMAND|sshd|httpd) ")
    lines = text.splitlines()
    snap = import_text("\n".join(lines[:3]) + "\n", "seed002-lsof-22.txt")
    assert snap.sources["format"] == "lsof"
    v4, v6 = only(snap, 22, 4), only(snap, 22, 6)
    assert (v4.local_address, v6.local_address) == ("0.0.0.0", "::")
    assert (v4.pid, v6.pid, v6.process, v6.user) == (1084, 1084, "sshd", "root")
    assert v6.v6only is None and "v6only not shown" in v6.evidence
    httpd = import_text("\n".join([lines[0], lines[-1]]) + "\n", "seed002-lsof-80.txt")
    sock = only(httpd, 80, 6)  # "*:http" is port 80
    assert (sock.process, sock.pid, sock.v6only) == ("httpd", 2316, None)


def test_004_macos_suffixes_prove_family_and_v6only():
    snap = import_text(sample("004", r"^tcp(4|6|46)\s"), "seed004-macos.txt", os_name="macos")
    assert snap.sources["format"] == "netstat-bsd"
    mapped = [s for s in snap.sockets if s.local_address == "37.77.56.75"]
    assert [(s.family, s.local_port) for s in mapped] == [(4, 5000)] * 2
    [dual] = [s for s in snap.sockets if s.local_address == "::"]
    assert (dual.local_address, dual.v6only) == ("::", False)
    assert reach(dual, snap).takes == "IPv4+IPv6" and reach(dual, snap).basis == "flag"
    # The seed's server bound 2a00:8640:1::224:36ff:feef:1d89; netstat printed 16
    # characters of it. The importer cannot know, but must say the address may be cut.
    [cut] = [s for s in snap.sockets if s.local_address.startswith("2a00:8640:1::224")]
    assert cut.family == 6 and cut.v6only is None
    assert "cut short" in cut.evidence
