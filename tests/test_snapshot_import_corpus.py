"""Importers on real third-party command outputs (../shared/corpus/snapshots).

Every supported file: the format is detected, every line has exactly one fate
(socket, header, blank, skipped with a reason, or error) and the counts add up to the
file's line count; every TCP LISTEN line becomes a LISTEN socket or a reported error.
Where jc's parsed expectation (.json) sits beside a file, it is an independent oracle
for addresses, ports, states, pids and program names, row by row; service names are
checked with the C library's getservbyname, not our table.
"""

from __future__ import annotations

import ipaddress
import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from analyzer.errors import SnapshotError
from analyzer.snapshot.importers import FORMATS, import_text
from analyzer.snapshot.importers.common import Ledger
from analyzer.snapshot.schema import Socket, ipv4_of

SUPPORTED = {
    "inspec/cmd/hpux-netstat-inet": "netstat-bsd",
    "inspec/cmd/hpux-netstat-inet6": "netstat-bsd",
    "inspec/cmd/netstat-aan": "netstat-bsd",
    "inspec/cmd/netstat-anbo-pipe-select-string-pattern.utf8": "netstat-windows",
    "inspec/cmd/lsof-nP-i-FpctPn": "lsof-F",
    "inspec/cmd/netstat-tulpen": "netstat-linux",
    "inspec/cmd/netstat-tulpen-busybox": "netstat-linux",
    "inspec/cmd/sockstat": "sockstat",
    "inspec/cmd/ss-tulpen": "ss",
    "jc/centos-7.7/lsof-sudo.out": "lsof",
    "jc/centos-7.7/lsof.out": "lsof",
    "jc/centos-7.7/netstat-l.out": "netstat-linux",
    "jc/centos-7.7/netstat-p.out": "netstat-linux",
    "jc/centos-7.7/netstat-sudo-aeep.out": "netstat-linux",
    "jc/centos-7.7/netstat-sudo-lnp.out": "netstat-linux",
    "jc/centos-7.7/netstat.out": "netstat-linux",
    "jc/centos-7.7/ss-sudo-a.out": "ss",
    "jc/fedora32/netstat.out": "netstat-linux",
    "jc/freebsd12/netstat-Aa.out": "netstat-bsd",
    "jc/freebsd12/netstat-AaT.out": "netstat-bsd",
    "jc/freebsd12/netstat-AanP.out": "netstat-bsd",
    "jc/freebsd12/netstat-Aax.out": "netstat-bsd",
    "jc/freebsd12/netstat-aT.out": "netstat-bsd",
    "jc/freebsd12/netstat-an.out": "netstat-bsd",
    "jc/generic/netstat-no-state.out": "netstat-linux",
    "jc/generic/netstat-old.out": "netstat-linux",
    "jc/generic/ss-wide.out": "ss",
    "jc/linux-proc/net_tcp": "procnet",
    "jc/linux-proc/net_tcp6": "procnet",
    "jc/osx-10.14.6/netstat-Abn.out": "netstat-bsd",
    "jc/osx-10.14.6/netstat-An.out": "netstat-bsd",
    "jc/osx-10.14.6/netstat.out": "netstat-bsd",
    "jc/ubuntu-18.04/lsof-sudo.out": "lsof",
    "jc/ubuntu-18.04/lsof.out": "lsof",
    "jc/ubuntu-18.04/netstat-l.out": "netstat-linux",
    "jc/ubuntu-18.04/netstat-p.out": "netstat-linux",
    "jc/ubuntu-18.04/netstat-sudo-aeep.out": "netstat-linux",
    "jc/ubuntu-18.04/netstat-sudo-lnp-space.out": "netstat-linux",
    "jc/ubuntu-18.04/netstat-sudo-lnp.out": "netstat-linux",
    "jc/ubuntu-18.04/netstat.out": "netstat-linux",
    "jc/ubuntu-18.04/ss-sudo-a.out": "ss",
    "jc/ubuntu-18.04/ss-sudo-tulpen.out": "ss",
    "jc/windows/windows-10/netstat-an.out": "netstat-windows",
    "jc/windows/windows-10/netstat-aon.out": "netstat-windows",
    "jc/windows/windows-10/netstat-aonb.out": "netstat-windows",
    "jc/windows/windows-10/netstat.out": "netstat-windows",
    "prometheus-procfs/proc/net/tcp": "procnet",
    "prometheus-procfs/proc/net/tcp6": "procnet",
    "prometheus-procfs/proc/net/udp": "procnet",
    "prometheus-procfs/proc/net/udp6": "procnet",
    "prometheus-procfs/proc/net/udp_broken": "procnet",
    "treadmill/data/proc.net.tcp.data": "procnet",
    "treadmill/data/proc.net.tcp6.data": "procnet",
}
# Outputs of other tools or OSes: refused as a whole, or each row reported, never guessed.
UNSUPPORTED = {
    "inspec/cmd/get-net-tcpconnection": "PowerShell JSON",
    "inspec/cmd/s11-netstat-an-finet-finet6": "Solaris netstat sections",
}
WITH_ORACLE = sorted(name for name in SUPPORTED if Path(name).suffix == ".out"
                     or name.startswith("jc/linux-proc"))


def read(corpus: Path, name: str) -> str:
    return (corpus / "snapshots" / name).read_text(encoding="utf-8")


def test_every_corpus_file_is_listed(corpus: Path):
    root = corpus / "snapshots"
    found = {str(p.relative_to(root)) for p in root.rglob("*")
             if p.is_file() and p.suffix != ".json"}
    assert found == set(SUPPORTED) | set(UNSUPPORTED)


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_format_detected_and_no_line_lost(corpus: Path, name: str):
    text = read(corpus, name)
    snap = import_text(text, name, keep_going=True)
    assert snap.sources["format"] == SUPPORTED[name]
    counts = snap.lines
    assert counts is not None
    assert counts["total"] == len(text.splitlines())
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    assert counts["socket"] == len(snap.sockets)
    assert counts["error"] == len(snap.errors)
    assert counts["skipped"] == sum(snap.skipped.values())
    assert all(issue.line and issue.source == name for issue in snap.errors)


_TCP_WORD = re.compile(r"(^|\s)>?\s*(tcp|tcp4|tcp6|tcp46|TCP)\s|\sTCP\s")
_LISTEN_WORD = re.compile(r"\b(LISTEN|LISTENING)\b|\(LISTEN\)")


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_every_tcp_listen_line_is_a_listener_or_an_error(corpus: Path, name: str):
    text = read(corpus, name)
    lines = text.splitlines()
    snap = import_text(text, name, keep_going=True)
    by_line = {sock.line: sock for sock in snap.sockets}
    errors = {issue.line for issue in snap.errors}
    fates = ledger_of(text, name).fates
    for number, line in enumerate(lines, start=1):
        if not (_TCP_WORD.search(line) and _LISTEN_WORD.search(line)):
            continue
        if fates[number].startswith("skipped: same socket"):
            continue  # lsof lists a shared socket once per process/fd
        assert number in by_line or number in errors, (number, line, fates[number])
        if number in by_line:
            assert by_line[number].state == "LISTEN", line


def ledger_of(text: str, name: str) -> Ledger:
    snap = import_text(text, name, keep_going=True)
    module = FORMATS[snap.sources["format"]]
    ledger = Ledger(name, len(text.splitlines()))
    option = "udp" if "udp" in name else "tcp" if module.NAME == "procnet" else None
    module.parse(text.splitlines(), ledger, option)
    return ledger


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_outputs_are_refused_not_guessed(corpus: Path, name: str):
    with pytest.raises(SnapshotError) as caught:
        import_text(read(corpus, name), name)
    assert name in str(caught.value)


@pytest.mark.parametrize("name", sorted(n for n in SUPPORTED))
def test_strict_mode_stops_at_the_first_error_with_its_line(corpus: Path, name: str):
    text = read(corpus, name)
    snap = import_text(text, name, keep_going=True)
    if not snap.errors:
        assert import_text(text, name).sockets == snap.sockets
        return
    with pytest.raises(SnapshotError) as caught:
        import_text(text, name)
    assert caught.value.line == snap.errors[0].line
    assert str(caught.value).startswith(f"{name}: line {snap.errors[0].line}: ")


# ---- jc as an independent oracle -------------------------------------------------------

_ROW_START = {
    "netstat-linux": re.compile(r"^(tcp|udp)6?\s"),
    "netstat-windows": re.compile(r"^>?\s*(TCP|UDP)\s"),
    "netstat-bsd": re.compile(r"(^|\s)(tcp|udp)(4|6|46)?\s"),
    "ss": re.compile(r"^(tcp|udp)\s"),
    "lsof": re.compile(r"\sIPv[46]\s.*\s(TCP|UDP)\s"),
    "procnet": re.compile(r"^\s*\d+:\s"),
}


def jc_rows(fmt: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if fmt in ("netstat-linux", "netstat-bsd"):
        return [r for r in records if r.get("kind") == "network"
                and r.get("transport_protocol") in ("tcp", "udp")]
    if fmt == "netstat-windows":
        return [r for r in records if r.get("proto") in ("TCP", "UDP")]
    if fmt == "ss":
        return [r for r in records if r.get("netid") in ("tcp", "udp")]
    if fmt == "lsof":
        return [r for r in records if r.get("type") in ("IPv4", "IPv6")
                and not str(r.get("name", "")).startswith("ICMP")]
    return records


def our_rows(text: str, name: str, fmt: str) -> list[tuple[int, str]]:
    """(line, fate) of each TCP/UDP socket row, in file order."""
    fates = ledger_of(text, name).fates
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fate = fates[number]
        if fate in ("header", "blank") or (fate.startswith("skipped") and
                                           "same socket" not in fate):
            continue
        if _ROW_START[fmt].search(line):
            rows.append((number, fate))
    return rows


@pytest.mark.parametrize("name", WITH_ORACLE)
def test_rows_agree_with_jc(corpus: Path, name: str):
    text = read(corpus, name)
    oracle_path = corpus / "snapshots" / (name.removesuffix(".out") + ".json")
    records = json.loads(oracle_path.read_text())
    snap = import_text(text, name, keep_going=True)
    fmt = snap.sources["format"]
    theirs = jc_rows(fmt, records)
    ours = our_rows(text, name, fmt)
    assert len(ours) == len(theirs), (len(ours), len(theirs))
    by_line = {sock.line: sock for sock in snap.sockets}
    errors = {issue.line: issue.message for issue in snap.errors}
    compared = 0
    for (number, fate), record in zip(ours, theirs, strict=True):
        if fate == "error":
            assert error_is_justified(record, fmt), (number, errors[number], record)
        elif fate == "socket":
            compare(fmt, by_line[number], record)
            compared += 1
    assert compared == len(snap.sockets)


def error_is_justified(record: dict[str, Any], fmt: str) -> bool:
    """jc kept the row, but it holds something no honest importer can turn into an
    address: a host name, an address cut short, or a TCP row without a state."""
    if fmt == "lsof":
        local = str(record["name"]).split("->")[0].split(" (")[0]
        return not is_ip_or_star(local.rsplit(":", 1)[0])
    texts = [record.get("local_address"), record.get("foreign_address"),
             record.get("peer_address")]
    if any(t is not None and not is_ip_or_star(str(t)) for t in texts):
        return True
    if not resolvable(record.get("local_port"), transport(record)):
        return True
    return transport(record) == "tcp" and not record.get("state")


def resolvable(port: Any, proto: str) -> bool:
    try:
        port_of(port, proto)
    except OSError:
        return False
    return True


def is_ip_or_star(text: str) -> bool:
    raw = text.strip("[]").split("%")[0].strip("[]")
    if raw == "*":
        return True
    try:
        ipaddress.ip_address(raw)
    except ValueError:
        return False
    return True


def transport(record: dict[str, Any]) -> str:
    for key in ("transport_protocol", "netid"):
        if record.get(key):
            return str(record[key])
    return str(record.get("proto", "tcp")).lower().rstrip("46")


def port_of(text: Any, proto: str) -> int | None:
    text = str(text)
    if text == "*":
        return None
    if text.isdigit():
        return int(text)
    return socket.getservbyname(text, proto)  # the C library's table, not ours


def same_address(ours: str | None, theirs: str) -> bool:
    theirs = theirs.strip("[]").split("%")[0].strip("[]")
    if theirs == "*":
        return ours in (None, "0.0.0.0", "::")
    if ours is None:
        return ipaddress.ip_address(theirs).is_unspecified
    wanted = ipaddress.ip_address(theirs)
    if wanted.version == 4:
        return ipv4_of(ours) == str(wanted)
    return ipaddress.ip_address(ours) == wanted


JC_STATES = {"ESTAB": "ESTABLISHED", "LISTENING": "LISTEN", "SYN_RCVD": "SYN_RECV",
             "FIN_WAIT_1": "FIN_WAIT1", "FIN_WAIT_2": "FIN_WAIT2", "CLOSED": "CLOSE"}


def same_state(sock: Socket, state: str | None) -> bool:
    if not state or state == "UNCONN":
        return sock.state in ("UNCONN", "ESTABLISHED") and sock.proto == "udp"
    return sock.state == JC_STATES.get(state, state).replace("-", "_")


def compare(fmt: str, sock: Socket, record: dict[str, Any]) -> None:
    if fmt == "lsof":
        compare_lsof(sock, record)
        return
    if fmt == "procnet":
        compare_procnet(sock, record)
        return
    where = (sock.line, record)
    assert sock.proto == transport(record), where
    if "local_address" not in record:
        return  # jc lost the addresses of this row (FreeBSD -T udp rows): nothing to compare
    assert sock.local_port == port_of(record.get("local_port_num", record["local_port"]),
                                      sock.proto), where
    assert same_address(sock.local_address, str(record["local_address"])), where
    remote = record.get("foreign_address", record.get("peer_address"))
    assert same_address(sock.remote_address, str(remote)), where
    assert same_state(sock, record.get("state")), where
    if "pid" in record:
        assert sock.pid == record["pid"], where
    if record.get("program_name") and fmt == "netstat-linux":
        assert sock.process == record["program_name"].strip(), where
    if fmt == "ss" and "process_id" in record.get("opts", {}):
        pid, info = next(iter(record["opts"]["process_id"].items()))
        assert (sock.pid, sock.process) == (int(pid), info["user"]), where


def compare_lsof(sock: Socket, record: dict[str, Any]) -> None:
    where = (sock.line, record)
    assert (sock.pid, sock.process, sock.user) == (record["pid"], record["command"],
                                                   record["user"]), where
    assert sock.family == (6 if record["type"] == "IPv6" else 4), where
    local = str(record["name"]).split("->")[0].split(" (")[0]
    assert sock.local_port == port_of(local.rsplit(":", 1)[1], sock.proto), where
    assert same_address(sock.local_address, local.rsplit(":", 1)[0]), where


def compare_procnet(sock: Socket, record: dict[str, Any]) -> None:
    where = (sock.line, record)
    assert same_address(sock.local_address, record["local_address"]), where
    assert sock.local_port == record["local_port"], where
    assert sock.remote_port == (record["remote_port"] or None), where
    assert same_address(sock.remote_address, record["remote_address"]), where
    # include/net/tcp_states.h
    kernel = {1: "ESTABLISHED", 2: "SYN_SENT", 3: "SYN_RECV", 4: "FIN_WAIT1", 5: "FIN_WAIT2",
              6: "TIME_WAIT", 7: "CLOSE", 8: "CLOSE_WAIT", 9: "LAST_ACK", 10: "LISTEN",
              11: "CLOSING"}
    assert sock.state == kernel[int(record["state"], 16)], where
    assert (sock.uid, sock.inode) == (record["uid"], record["inode"] or None), where
