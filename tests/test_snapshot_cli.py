"""`dualstack snapshot import|show`: outputs, exit codes, messages naming file and line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from analyzer import cli
from analyzer.snapshot import load_snapshots

SS_NEW = """\
State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*     users:(("sshd",pid=7,fd=3))
LISTEN 0      128                *:80              *:*     users:(("httpd",pid=9,fd=4))
LISTEN 0      128             [::]:22           [::]:*     users:(("sshd",pid=7,fd=4))
"""
SS_AMBIGUOUS = """\
State  Recv-Q Send-Q Local Address:Port Peer Address:Port
LISTEN 0      128                *:80              *:*
"""


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    """cli.main with this issue's commands registered (the others may be unbuilt)."""
    monkeypatch.setattr(cli, "COMMANDS", ("collect", "snapshot"))
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(argv)


def test_import_writes_a_snapshot_document(corpus: Path, tmp_path: Path, monkeypatch, capsys):
    source = corpus / "snapshots/jc/generic/ss-wide.out"
    out = tmp_path / "snap.json"
    argv = ["snapshot", "import", str(source), "--host", "mail", "--taken-at",
            "2026-01-02T03:04:05+01:00", "-o", str(out)]
    assert run(argv, monkeypatch) == 0
    [snap] = load_snapshots(out)
    assert (snap.host, snap.os, snap.taken_at) == ("mail", "linux", "2026-01-02T02:04:05Z")
    assert snap.sources["sockets"] == "iproute2 ss text: ss-wide.out"
    assert len(snap.sockets) == 155


def test_strict_import_fails_with_file_and_line(corpus: Path, monkeypatch, capsys):
    source = corpus / "snapshots/inspec/cmd/ss-tulpen"
    assert run(["snapshot", "import", str(source)], monkeypatch) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{source}: line 10: " in captured.err


def test_keep_going_records_errors_and_exits_1(corpus: Path, monkeypatch, capsys):
    source = corpus / "snapshots/inspec/cmd/ss-tulpen"
    assert run(["snapshot", "import", "--keep-going", str(source)], monkeypatch) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["errors"][0]["line"] == 10 and len(data["sockets"]) == 8
    assert f"{source}: line 10: " in captured.err


def test_several_files_give_json_lines(corpus: Path, monkeypatch, capsys):
    files = [str(corpus / "snapshots" / name) for name in (
        "inspec/cmd/sockstat", "jc/windows/windows-10/netstat-aon.out")]
    assert run(["snapshot", "import", *files], monkeypatch) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["os"] for line in lines] == ["freebsd", "windows"]


def test_stdin_and_forced_ss_variant(monkeypatch, capsys):
    assert run(["snapshot", "import", "-"], monkeypatch, SS_AMBIGUOUS) == 2
    assert "--format" in capsys.readouterr().err
    assert run(["snapshot", "import", "--format", "ss-new", "-"], monkeypatch,
               SS_AMBIGUOUS) == 0
    [sock] = json.loads(capsys.readouterr().out)["sockets"]
    assert (sock["family"], sock["local_address"], sock["v6only"]) == (6, "::", False)
    assert run(["snapshot", "import", "--format", "ss-old", "-"], monkeypatch,
               SS_AMBIGUOUS) == 0
    [sock] = json.loads(capsys.readouterr().out)["sockets"]
    assert (sock["family"], sock["local_address"], sock["v6only"]) == (4, "0.0.0.0", None)


def test_new_ss_spellings_decide_family_and_v6only(monkeypatch, capsys):
    assert run(["snapshot", "import", "-"], monkeypatch, SS_NEW) == 0
    sockets = json.loads(capsys.readouterr().out)["sockets"]
    got = {(s["local_port"], s["family"], s["local_address"], s["v6only"], s["pid"])
           for s in sockets}
    assert got == {(22, 4, "0.0.0.0", None, 7), (80, 6, "::", False, 9),
                   (22, 6, "::", True, 7)}


def test_bad_taken_at_is_a_usage_error(corpus: Path, monkeypatch, capsys):
    source = corpus / "snapshots/inspec/cmd/sockstat"
    argv = ["snapshot", "import", str(source), "--taken-at", "yesterday"]
    assert run(argv, monkeypatch) == 2
    assert "--taken-at" in capsys.readouterr().err


def test_show_table_and_jsonl(monkeypatch, capsys, tmp_path: Path):
    path = tmp_path / "ss.txt"
    path.write_text(SS_NEW)
    snap_path = tmp_path / "snap.json"
    assert run(["snapshot", "import", str(path), "-o", str(snap_path)], monkeypatch) == 0
    assert run(["snapshot", "show", str(snap_path)], monkeypatch) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("# host ?; os linux")
    assert table[1].split()[:6] == ["PROTO", "LOCAL", "FAMILY", "V6ONLY", "TAKES", "BASIS"]
    assert len(table) == 5
    assert run(["snapshot", "show", "--format", "jsonl", str(snap_path)], monkeypatch) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    takes = {(row["local"], row["takes"], row["basis"]) for row in rows}
    assert takes == {("0.0.0.0:22", "IPv4", "socket"), ("[::]:80", "IPv4+IPv6", "flag"),
                     ("[::]:22", "IPv6", "flag")}


def test_show_refuses_a_broken_snapshot(tmp_path: Path, monkeypatch, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"schema_version": 1, "sockets": [{"proto": "sctp"}]}\n')
    assert run(["snapshot", "show", str(path)], monkeypatch) == 2
    assert f"{path}: line 1: sockets[0]" in capsys.readouterr().err


def test_show_imports_command_text_on_the_fly(tmp_path: Path, monkeypatch, capsys) -> None:
    """`show` on netstat/ss text says what `show` says of the imported JSON."""
    text = tmp_path / "ss.txt"
    text.write_text(SS_NEW)
    stored = tmp_path / "ss.json"
    assert run(["snapshot", "import", str(text), "--os", "linux", "-o", str(stored)],
               monkeypatch) == 0
    capsys.readouterr()
    assert run(["snapshot", "show", "--format", "json", str(stored)], monkeypatch) == 0
    from_json = json.loads(capsys.readouterr().out)
    assert run(["snapshot", "show", "--format", "json", "--os", "linux", str(text)],
               monkeypatch) == 0
    from_text = json.loads(capsys.readouterr().out)
    assert from_text["listeners"] == from_json["listeners"]
    assert {row["local"] for row in from_text["listeners"]} == {"0.0.0.0:22", "[::]:80", "[::]:22"}
