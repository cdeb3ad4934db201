"""The collector against REAL kernel sockets in a fresh network namespace.

A child process inside the namespace opens AF_INET and AF_INET6 sockets in every
combination (`::` with v6only 0 and 1, `::ffff:192.0.2.1`, `0.0.0.0` beside a v6only
`[::]`, a specific IPv6 address, UDP too); the oracle is what the test asked the kernel
for, checked once more by the kernel's own behaviour (an IPv4 connect succeeds or is
refused) and by the text of ss, netstat and lsof taken in the same namespace, imported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from analyzer.snapshot import Snapshot, dump_snapshots, load_snapshots
from analyzer.snapshot.collector import collect
from analyzer.snapshot.importers import import_text
from analyzer.snapshot.show import reach

pytestmark = pytest.mark.netns

# (proto, family, bind address, port, v6only to set or None to leave the default)
LAYOUT = [
    ("tcp", 6, "::", 8001, 0),
    ("tcp", 6, "::", 8002, 1),
    ("tcp", 6, "::ffff:192.0.2.1", 8003, 0),
    ("tcp", 4, "0.0.0.0", 8004, None),
    ("tcp", 6, "::", 8004, 1),
    ("tcp", 6, "2001:db8::1", 8005, None),
    ("tcp", 6, "::", 8006, None),
    ("tcp", 4, "192.0.2.1", 8007, None),
    ("udp", 6, "::", 9001, 0),
    ("udp", 6, "::", 9002, 1),
    ("udp", 4, "0.0.0.0", 9003, None),
    ("udp", 6, "::ffff:192.0.2.1", 9004, 0),
    ("udp", 4, "0.0.0.0", 9005, None),
    ("udp", 6, "::", 9005, 1),
    ("udp", 6, "::", 9006, None),
]

SERVER = r"""
import json, os, socket, sys, threading, time
layout = json.loads(sys.argv[1])
held = []
for proto, family, address, port, v6only in layout:
    af = socket.AF_INET6 if family == 6 else socket.AF_INET
    sock = socket.socket(af, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
    if v6only is not None:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
    sock.bind((address, port))
    if proto == "tcp":
        sock.listen(8)
    held.append(sock)
def serve(listener):
    while True:
        conn, peer = listener.accept()
        held.append(conn)
        print(json.dumps({"accepted": peer[0], "port": listener.getsockname()[1]}), flush=True)
for sock in held[:]:
    if sock.type == socket.SOCK_STREAM:
        threading.Thread(target=serve, args=(sock,), daemon=True).start()
print(json.dumps({"pid": os.getpid()}), flush=True)
time.sleep(120)
"""

CLIENT = r"""
import socket, sys, time
conn = socket.create_connection(("192.0.2.1", 8001), timeout=5)
print(conn.getsockname()[1], flush=True)
time.sleep(120)
"""


def start_server(lab, layout=LAYOUT) -> int:
    process = lab.server.popen([sys.executable, "-u", "-c", SERVER, json.dumps(layout)])
    line = process.stdout.readline()
    if not line:
        pytest.fail(f"server did not start: {process.stderr.read()}")
    return int(json.loads(line)["pid"])


def kernel_default_v6only(lab) -> int:
    out = lab.server.run(["sysctl", "-n", "net.ipv6.bindv6only"]).stdout
    return int(out.strip())


def expected_listeners(pid: int, default_v6only: int) -> set[tuple]:
    """What the test asked for; an unset v6only takes the namespace's default, and a
    specific (non-mapped) IPv6 bind sets it (inet6_bind: sk_ipv6only = 1)."""
    expected = set()
    for proto, family, address, port, v6only in LAYOUT:
        state = "LISTEN" if proto == "tcp" else "UNCONN"
        flag = None if family == 4 else bool(default_v6only if v6only is None else v6only)
        if family == 6 and address not in ("::", "::ffff:192.0.2.1"):
            flag = True
        expected.add((proto, family, address, port, state, flag, pid))
    return expected


def listener_keys(snapshot: Snapshot, with_v6only: bool = True) -> set[tuple]:
    return {
        (s.proto, s.family, s.local_address, s.local_port, s.state,
         s.v6only if with_v6only else None, s.pid)
        for s in snapshot.listeners()
    }


def ipv4_connect(lab, port: int) -> bool:
    code = (f"import socket\ntry:\n socket.create_connection(('192.0.2.1', {port}), "
            "timeout=3).close(); print('ok')\nexcept ConnectionRefusedError: print('refused')")
    return lab.client.python(code).stdout.strip() == "ok"


def test_every_socket_layout_reported_exactly(lab):
    pid = start_server(lab)
    snapshot = collect(netns=lab.server.netns)
    assert snapshot.os == "linux"
    assert snapshot.defaults == {"net.ipv6.bindv6only": 0}
    assert listener_keys(snapshot) == expected_listeners(pid, 0)
    assert lab.server.addr4 in snapshot.addresses[lab.server.iface]
    assert lab.server.addr6 in snapshot.addresses[lab.server.iface]
    # The kernel agrees with the flags we report: IPv4 reaches v6only=0, not v6only=1.
    by_port = {(s.proto, s.local_port, s.family): s for s in snapshot.listeners()}
    assert by_port[("tcp", 8001, 6)].v6only is False and ipv4_connect(lab, 8001)
    assert by_port[("tcp", 8002, 6)].v6only is True and not ipv4_connect(lab, 8002)
    assert by_port[("tcp", 8006, 6)].v6only is False and ipv4_connect(lab, 8006)


def test_ipv4_peer_of_an_ipv6_socket_is_mapped(lab):
    pid = start_server(lab)
    client = lab.client.popen([sys.executable, "-u", "-c", CLIENT])
    client_port = int(client.stdout.readline())
    server = lab.server.processes[0]
    accepted = json.loads(server.stdout.readline())
    assert accepted == {"accepted": "::ffff:192.0.2.2", "port": 8001}
    snapshot = collect(netns=lab.server.netns)
    [conn] = [s for s in snapshot.sockets if s.state == "ESTABLISHED"]
    assert (conn.family, conn.local_address, conn.local_port) == (6, "::ffff:192.0.2.1", 8001)
    assert (conn.remote_address, conn.remote_port) == ("::ffff:192.0.2.2", client_port)
    assert conn.mapped_peer and conn.v6only is False and conn.pid == pid


def test_bindv6only_1_changes_the_unset_socket(lab):
    lab.server.sysctl("net.ipv6.bindv6only", "1")
    pid = start_server(lab)
    snapshot = collect(netns=lab.server.netns)
    assert snapshot.defaults == {"net.ipv6.bindv6only": 1}
    assert listener_keys(snapshot) == expected_listeners(pid, 1)
    unset = next(s for s in snapshot.listeners() if s.local_port == 8006)
    assert unset.v6only is True and not ipv4_connect(lab, 8006)
    assert reach(unset, snapshot).takes == "IPv6"
    # Explicit v6only=0 still takes IPv4 whatever the default says.
    assert ipv4_connect(lab, 8001)
    assert reach(next(s for s in snapshot.listeners() if s.local_port == 8001),
                 snapshot).takes == "IPv4+IPv6"


def test_imported_ss_netstat_lsof_agree_with_the_collector(lab, tmp_path: Path):
    pid = start_server(lab)
    snapshot = collect(netns=lab.server.netns)
    ss_text = lab.server.run(["ss", "-tulpen"]).stdout
    netstat_text = lab.server.run(["netstat", "-tulpen"]).stdout
    lsof = ["lsof", "-i", "-P", "-n", "-a", "-p", str(pid)]
    lsof_text = lab.server.run(lsof).stdout
    fields_text = lab.server.run([*lsof, "-FpcfnPTtu"]).stdout
    from_ss = import_text(ss_text, str(tmp_path / "ss-tulpen.txt"))
    from_netstat = import_text(netstat_text, str(tmp_path / "netstat-tulpen.txt"))
    from_lsof = import_text(lsof_text, str(tmp_path / "lsof-i.txt"))
    from_fields = import_text(fields_text, str(tmp_path / "lsof-F.txt"))
    assert from_ss.sources["format"] == "ss"
    assert from_netstat.sources["format"] == "netstat-linux"
    assert from_lsof.sources["format"] == "lsof"
    assert from_fields.sources["format"] == "lsof-F"
    # ss shows v6only (-e): everything must match, both ways.
    assert listener_keys(from_ss) == listener_keys(snapshot)
    # netstat and lsof cannot show v6only: same sockets, and v6only honestly unknown
    # except where a mapped bind proves it.
    for imported in (from_netstat, from_lsof, from_fields):
        assert listener_keys(imported, False) == listener_keys(snapshot, False)
        for sock in imported.listeners():
            proven = sock.family == 6 and sock.local_address.startswith("::ffff:")
            assert sock.v6only is (False if proven else None), sock
    inodes = {s.inode for s in snapshot.listeners()}
    assert {s.inode for s in from_netstat.listeners()} == inodes
    assert {s.inode for s in from_lsof.listeners()} == inodes
    assert {s.uid for s in from_fields.listeners()} == {0}


@pytest.mark.parametrize("name", ["tcp", "tcp6", "udp", "udp6"])
def test_raw_proc_net_files_agree_with_the_collector(lab, tmp_path: Path, name: str):
    start_server(lab)
    snapshot = collect(netns=lab.server.netns)
    text = lab.server.run(["cat", f"/proc/net/{name}"]).stdout
    imported = import_text(text, str(tmp_path / name))
    assert imported.sources["format"] == "procnet"
    family = 6 if name.endswith("6") else 4
    proto = name.rstrip("6")
    wanted = {
        (s.proto, s.family, s.local_address, s.local_port, s.state, s.inode)
        for s in snapshot.sockets if s.family == family and s.proto == proto
    }
    got = {(s.proto, s.family, s.local_address, s.local_port, s.state, s.inode)
           for s in imported.sockets}
    assert got == wanted and wanted
    for sock in imported.sockets:  # /proc cannot show v6only, unless a mapped address
        assert sock.v6only is (False if sock.local_address.startswith("::ffff:") else None)


def test_collect_command_writes_a_time_series(lab, tmp_path: Path):
    start_server(lab)
    out = tmp_path / "series.jsonl"
    argv = ["collect", "--netns", lab.server.netns, "--interval", "0.05", "--count", "3",
            "-o", str(out)]
    assert run_cli(argv) == 0
    series = load_snapshots(out)
    assert len(series) == 3 and len(out.read_text().splitlines()) == 3
    assert all(len(snap.listeners()) == len(LAYOUT) for snap in series)
    assert [s.taken_at for s in series] == sorted(s.taken_at for s in series)


def test_without_root_owners_are_unseen_but_sockets_are_not(lab, tmp_path: Path):
    pid = start_server(lab)
    as_root = collect(netns=lab.server.netns)
    out = tmp_path / "nobody.json"
    code = ("import sys; from analyzer.snapshot.collector import collect; "
            "from analyzer.snapshot import dump_snapshots; dump_snapshots([collect()], '-')")
    text = lab.server.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           sys.executable, "-c", code],
                          cwd=str(Path(__file__).resolve().parents[1])).stdout
    out.write_text(text)
    [as_nobody] = load_snapshots(out)
    assert listener_keys(as_nobody) == {(*key[:-1], None) for key in listener_keys(as_root)}
    assert any("not root" in note for note in as_nobody.unseen)
    assert all(s.pid == pid for s in as_root.listeners())


def run_cli(argv: list[str]) -> int:
    """cli.main with only this issue's commands registered (others may be unbuilt)."""
    from analyzer import cli

    saved = cli.COMMANDS
    cli.COMMANDS = ("collect", "snapshot")
    try:
        return cli.main(argv)
    finally:
        cli.COMMANDS = saved


def test_netns_that_does_not_exist_is_a_usage_error(capsys):
    assert run_cli(["collect", "--netns", "ds-no-such-namespace"]) == 2
    assert "no network namespace" in capsys.readouterr().err


def test_roundtrip_of_a_live_snapshot(lab, tmp_path: Path):
    start_server(lab)
    snapshot = collect(netns=lab.server.netns)
    path = tmp_path / "live.json"
    dump_snapshots([snapshot], path)
    assert load_snapshots(path) == [snapshot]


def test_psutil_fallback_sees_the_same_sockets_without_v6only(lab):
    pid = start_server(lab)
    exact = collect(netns=lab.server.netns)
    portable = collect(backend="psutil", netns=lab.server.netns)
    assert portable.sources["sockets"] == "psutil.net_connections"
    assert listener_keys(portable, False) == listener_keys(exact, False)
    assert all(s.v6only is None for s in portable.sockets)
    assert portable.defaults == {"net.ipv6.bindv6only": 0}
    assert portable.sources["defaults"] == "sysctl -n net.ipv6.bindv6only"
    assert {s.pid for s in portable.listeners()} == {pid}
    unset = next(s for s in portable.listeners() if s.local_port == 8006)
    assert (reach(unset, portable).takes, reach(unset, portable).basis) == ("IPv4+IPv6",
                                                                             "prior")


PROBE = r"""
import json, socket, sys
result = {}
for port in json.loads(sys.argv[1]):
    took = []
    for family, address in (("IPv4", "192.0.2.1"), ("IPv6", "2001:db8::1")):
        try:
            socket.create_connection((address, port), timeout=3).close()
            took.append(family)
        except ConnectionRefusedError:
            pass
    result[port] = "+".join(took)
print(json.dumps(result))
"""


def test_show_says_what_the_kernel_really_accepts(lab):
    """Per TCP port, the families `show` says its listeners take (together) are the
    families a client's connect() really reaches."""
    start_server(lab)
    snapshot = collect(netns=lab.server.netns)
    tcp = [s for s in snapshot.listeners() if s.proto == "tcp"]
    ports = sorted({s.local_port for s in tcp})
    assert len(ports) == 7
    out = lab.client.run([sys.executable, "-c", PROBE, json.dumps(ports)]).stdout
    accepted = {int(port): set(filter(None, took.split("+")))
                for port, took in json.loads(out).items()}
    for port in ports:
        said = set()
        for sock in tcp:
            if sock.local_port == port:
                said |= set(reach(sock, snapshot).takes.split("+"))
        assert said == accepted[port], port
