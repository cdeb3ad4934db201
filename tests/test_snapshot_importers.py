"""Importer edge cases written by hand from each tool's documented output format
(iproute2 ss.c, net-tools netstat.c, lsof's OUTPUT FOR OTHER PROGRAMS, proc(5)).
The real outputs are in test_snapshot_import_corpus.py and test_collect_netns.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer.errors import SnapshotError
from analyzer.snapshot.importers import import_text
from analyzer.snapshot.schema import Snapshot

OLD_SS = """\
State      Recv-Q Send-Q        Local Address:Port     Peer Address:Port
LISTEN     0      128                       *:22                  *:*   users:(("sshd",1222,3))
LISTEN     0      128                      :::22                 :::*   users:(("sshd",1222,4))
LISTEN     0      128        ::ffff:10.0.2.15:9200               :::*   users:(("java",1722,125))
"""


def test_old_ss_spellings():
    snap = import_text(OLD_SS, "old-ss.txt")
    got = [(s.family, s.local_address, s.local_port, s.v6only, s.pid) for s in snap.sockets]
    assert got == [(4, "0.0.0.0", 22, None, 1222), (6, "::", 22, None, 1222),
                   (6, "::ffff:10.0.2.15", 9200, False, 1722)]
    assert "older ss" in snap.sockets[0].evidence


def test_netstat_cut_address_is_an_error_not_a_wrong_address():
    text = ("Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
            "tcp6       0      0 2001:db8:aaaa:bbbb::54776 :::*                    LISTEN\n")
    with pytest.raises(SnapshotError, match=r"cut\.txt: line 2: .*cut short"):
        import_text(text, "cut.txt")


def test_netstat_sections_and_raw_sockets_are_skipped_with_reasons():
    text = ("Active Internet connections (servers and established)\n"
            "Proto Recv-Q Send-Q Local Address           Foreign Address         State\n"
            "tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN\n"
            "raw6       0      0 :::58                   :::*                    7\n"
            "\n"
            "Active UNIX domain sockets (servers and established)\n"
            "Proto RefCnt Flags       Type       State         I-Node   Path\n"
            "unix  2      [ ACC ]     STREAM     LISTENING     18438    /run/x.sock\n")
    snap = import_text(text, "mixed.txt")
    assert snap.lines == {"total": 8, "socket": 1, "header": 4, "blank": 1, "skipped": 2,
                          "error": 0}
    assert snap.skipped == {"raw socket (no port)": 1,
                            "not an internet socket (UNIX domain section)": 1}


def test_lsof_fields_without_type_cannot_give_a_family():
    text = "p1\ncsshd\nf3\nPTCP\nn*:22\nTST=LISTEN\n"
    snap = import_text(text, "f.txt", fmt="lsof-F", keep_going=True)
    assert snap.sockets == [] and snap.errors[0].line == 3
    assert "t field" in snap.errors[0].message


def test_windows_bound_state_and_owner_lines():
    text = ("  Proto  Local Address          Foreign Address        State           PID\n"
            "  TCP    0.0.0.0:50000          0.0.0.0:0              BOUND           1234\n"
            " [chrome.exe]\n"
            "  UDP    [::]:5353              *:*                                    999\n")
    snap = import_text(text, "win.txt")
    bound, mdns = snap.sockets
    assert (bound.state, bound.pid, bound.process) == ("CLOSE", 1234, "chrome.exe")
    assert (mdns.family, mdns.state, mdns.v6only, mdns.pid) == (6, "UNCONN", None, 999)


def test_proc_net_needs_tcp_or_udp_from_name_or_format():
    text = ("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt"
            "   uid  timeout inode\n"
            "   0: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000"
            "   101        0 34000 2 0000000000000000 0\n")
    with pytest.raises(SnapshotError, match="procnet-udp"):
        import_text(text, "capture-7.txt")
    [sock] = import_text(text, "capture-7.txt", fmt="procnet-udp").sockets
    assert (sock.proto, sock.local_address, sock.local_port, sock.state, sock.inode) == (
        "udp", "127.0.0.1", 53, "UNCONN", 34000)


def test_unknown_text_is_refused_with_the_file_name():
    with pytest.raises(SnapshotError, match=r"notes\.txt: format not recognised"):
        import_text("hello\nworld\n", "notes.txt")


# OpenBSD `netstat -an`, written by hand from netdomainpr() in usr.bin/netstat/inet.c
# (openbsd/src, rev. 1.180 of 2024-02-05; the same "%-7.7s" Proto column since rev. 1.115):
# one section per family and socket type, AF_INET first, each with its own title and
# header; "tcp"/"udp" name AF_INET sockets and "tcp6"/"udp6" AF_INET6 ones; the TCP
# header names its state column "TCP-State", the UDP header has none. See also netstat(1)
# at https://man.openbsd.org/netstat.
OPENBSD_NETSTAT = (
    "Active Internet connections (including servers)\n"
    "Proto   Recv-Q Send-Q  Local Address          Foreign Address        TCP-State\n"
    "tcp          0      0  192.0.2.10.22          192.0.2.20.51234       ESTABLISHED\n"
    "tcp          0      0  *.80                   *.*                    LISTEN\n"
    "tcp          0      0  *.22                   *.*                    LISTEN\n"
    "Active Internet connections (including servers)\n"
    "Proto   Recv-Q Send-Q  Local Address          Foreign Address       \n"
    "udp          0      0  *.53                   *.*                   \n"
    "Active Internet connections (including servers)\n"
    "Proto   Recv-Q Send-Q  Local Address          Foreign Address        TCP-State\n"
    "tcp6         0      0  *.80                   *.*                    LISTEN\n"
    "tcp6         0      0  2001:db8::10.443       *.*                    LISTEN\n"
)
OPENBSD_ROWS = [("tcp", 4, "192.0.2.10", 22, None), ("tcp", 4, "0.0.0.0", 80, None),
                ("tcp", 4, "0.0.0.0", 22, None), ("udp", 4, "0.0.0.0", 53, None),
                ("tcp", 6, "::", 80, True), ("tcp", 6, "2001:db8::10", 443, True)]


def rows_of(snap: Snapshot) -> list[tuple[str, int, str, int | None, bool | None]]:
    return [(s.proto, s.family, s.local_address, s.local_port, s.v6only)
            for s in snap.sockets]


def test_openbsd_netstat_is_known_by_its_header_plain_tcp_is_ipv4_tcp6_v6only():
    snap = import_text(OPENBSD_NETSTAT, "openbsd.txt")
    assert snap.os == "openbsd" and snap.sources["os"].startswith("detected: OpenBSD")
    assert rows_of(snap) == OPENBSD_ROWS
    assert "never gives IPv4" in snap.sockets[-1].evidence
    assert "AF_INET" in snap.sockets[1].evidence
    assert import_text(OPENBSD_NETSTAT, "openbsd.txt", os_name="openbsd").sockets \
        == snap.sockets


def test_plain_tcp_wildcard_rows_need_the_os_when_the_header_does_not_say_it():
    # The same rows under the header every other BSD prints ("%-5.5s", "(state)").
    text = re.sub(r"(?m)^Proto .*$", "Proto Recv-Q Send-Q  Local Address          "
                  "Foreign Address        (state)", OPENBSD_NETSTAT)
    with pytest.raises(SnapshotError, match=r"plain\.txt: line 4: .*family cannot be told"):
        import_text(text, "plain.txt")
    with pytest.raises(SnapshotError, match=r"line 4: .*family cannot be told"):
        import_text(text, "plain.txt", os_name="freebsd")
    snap = import_text(text, "plain.txt", os_name="openbsd")
    assert snap.sources["os"] == "--os" and rows_of(snap) == OPENBSD_ROWS


def test_openbsd_never_prints_tcp46():
    text = OPENBSD_NETSTAT.replace("tcp6         0      0  *.80", "tcp46        0      0  *.80")
    with pytest.raises(SnapshotError, match=r"line 11: .*never tcp46: is this OpenBSD"):
        import_text(text, "openbsd.txt")


def test_netbsd_tcp6_wildcard_does_not_prove_v6only():
    # NetBSD's inet6.c ip6protopr0() names every AF_INET6 socket "tcp6" (no tcp46), and
    # its inet.c protopr() lists AF_INET sockets only, as "tcp".
    text = ("Active Internet connections (including servers)\n"
            "Proto Recv-Q Send-Q  Local Address          Foreign Address        State\n"
            "tcp        0      0  *.22                   *.*                    LISTEN\n"
            "tcp6       0      0  *.22                   *.*                    LISTEN\n")
    snap = import_text(text, "netbsd.txt", os_name="netbsd")
    assert rows_of(snap) == [("tcp", 4, "0.0.0.0", 22, None), ("tcp", 6, "::", 22, None)]
    assert "NetBSD" in snap.sockets[1].evidence


def test_hpux_netstat_f_inet_wildcards_taken_only_when_the_format_says_inet(corpus: Path):
    text = (corpus / "snapshots/inspec/cmd/hpux-netstat-inet").read_text()
    plain = import_text(text, "hpux-inet", keep_going=True)
    assert [issue.line for issue in plain.errors] == [3, 5, 6, 10]  # the '*.P' rows
    snap = import_text(text, "hpux-inet", fmt="netstat-bsd-inet")
    rows = [line for line in text.splitlines() if line.startswith(("tcp ", "udp "))]
    assert len(snap.sockets) == len(rows) == 8
    assert {s.family for s in snap.sockets} == {4}
    assert [(s.local_address, s.local_port, s.state) for s in snap.sockets[:3]] == [
        ("0.0.0.0", 515, "LISTEN"), ("16.147.37.141", 22, "ESTABLISHED"),
        ("0.0.0.0", 22, "LISTEN")]
    inet6 = (corpus / "snapshots/inspec/cmd/hpux-netstat-inet6").read_text()
    with pytest.raises(SnapshotError, match=r"line 3: .*tcp6 row in 'netstat -f inet'"):
        import_text(inet6, "hpux-inet6", fmt="netstat-bsd-inet")


# ------------------------------------------------ text encodings of saved command output

WINDOWS_NETSTAT = Path("snapshots/jc/windows/windows-10/netstat-aon.out")   # CRLF, ASCII


@pytest.mark.parametrize(("mark", "encoding"), [
    (b"", "utf-8"),
    (b"\xef\xbb\xbf", "utf-8"),          # Notepad, PowerShell 7 utf8BOM
    (b"\xff\xfe", "utf-16-le"),          # Windows PowerShell 5.1: netstat -ano > out.txt
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
])
def test_saved_windows_netstat_in_any_utf_reads_the_same(corpus: Path, tmp_path: Path,
                                                          mark: bytes, encoding: str):
    from analyzer.snapshot.inputs import load_snapshot_file

    original = (corpus / WINDOWS_NETSTAT).read_bytes()
    saved = tmp_path / "netstat.txt"
    saved.write_bytes(mark + original.decode("ascii").encode(encoding))
    expected = import_text(original.decode("ascii").replace("\r\n", "\n"), str(saved),
                           os_name="windows")
    (got,) = load_snapshot_file(str(saved), "windows")
    assert got.sockets == expected.sockets
    assert len(got.sockets) > 10


def test_text_broken_after_its_byte_order_mark_names_the_offset(tmp_path: Path):
    from analyzer.errors import InputError
    from analyzer.snapshot.inputs import read_text

    saved = tmp_path / "netstat.txt"
    saved.write_bytes(b"\xff\xfe" + "Active Connections\r\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(InputError, match=r"not UTF-16-LE text at byte offset 42"):
        read_text(str(saved))
    saved.write_bytes(b"Proto \xff Local\n")
    with pytest.raises(InputError, match=r"not UTF-8 text at byte offset 6"):
        read_text(str(saved))
