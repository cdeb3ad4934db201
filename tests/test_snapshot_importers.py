"""Importer edge cases written by hand from each tool's documented output format
(iproute2 ss.c, net-tools netstat.c, lsof's OUTPUT FOR OTHER PROGRAMS, proc(5)).
The real outputs are in test_snapshot_import_corpus.py and test_collect_netns.py."""

from __future__ import annotations

import pytest

from analyzer.errors import SnapshotError
from analyzer.snapshot.importers import import_text

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
