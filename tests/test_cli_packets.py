"""`dualstack packets` and `dualstack stats`: output checked against dpkt and tshark,
exit codes 0/1/2, stdin, -c, --resync."""

from __future__ import annotations

import csv
import json
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import dpkt
import pytest
from conftest import CORPUS
from reader_oracles import eth
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q
from scapy.utils import RawPcapWriter

from analyzer.cli import main

ROOT = Path(__file__).resolve().parents[1]
CAPTURES = ROOT.parent / "shared" / "corpus" / "captures"
JSONL_KEYS = ["ts_ns", "iface", "wire_family", "src", "dst", "sport", "dport", "proto",
              "tcp_flags", "ip_len", "payload_len", "vlan", "tunnel", "status"]


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    packets = [
        IP(src="192.0.2.1", dst="192.0.2.2") / TCP(sport=40000, dport=80, flags="S"),
        IPv6(src="2001:db8::2", dst="2001:db8::1") / UDP(sport=53, dport=33000) / b"answer",
        IP(src="198.51.100.1", dst="198.51.100.2") / IPv6(src="2001:db8::a", dst="2001:db8::b")
        / TCP(sport=1, dport=2, flags="PA") / b"xyz",
    ]
    path = tmp_path / "cli.pcap"
    with RawPcapWriter(str(path), linktype=1, sync=True) as writer:
        writer.write_header(None)
        for i, pkt in enumerate(packets):
            frame = eth() / (Dot1Q(vlan=42) / pkt if i == 1 else pkt)
            writer.write_packet(bytes(frame), sec=1_700_000_000 + i, usec=250_000)
    return path


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_keys_and_values_match_dpkt(capture: Path, capsys: pytest.CaptureFixture[str]
                                          ) -> None:
    code, out, err = run_cli(["packets", "--format", "jsonl", str(capture)], capsys)
    assert code == 0 and err == ""
    records = [json.loads(line) for line in out.splitlines()]
    assert [list(r) for r in records] == [JSONL_KEYS] * 3
    with capture.open("rb") as handle:
        decoded = [(ts, dpkt.ethernet.Ethernet(buf)) for ts, buf in dpkt.pcap.Reader(handle)]
    for record, (ts, frame) in zip(records, decoded, strict=True):
        ip = frame.data
        tunnel = isinstance(ip.data, dpkt.ip6.IP6)
        inner = ip.data if tunnel else ip
        assert record["ts_ns"] == round(ts * 1e6) * 1000
        assert record["src"] == (dpkt.utils.inet_to_str(inner.src))
        assert record["dst"] == (dpkt.utils.inet_to_str(inner.dst))
        assert (record["sport"], record["dport"]) == (inner.data.sport, inner.data.dport)
        assert record["proto"] == inner.p
        assert record["payload_len"] == len(inner.data.data)
        assert record["wire_family"] == (6 if isinstance(inner, dpkt.ip6.IP6) else 4)
        assert record["tunnel"] == ("6in4" if tunnel else None)
        tags = getattr(frame, "vlan_tags", None)
        assert record["vlan"] == (tags[0].id if tags else None)
        assert record["status"] == "ok"
    assert records[0]["tcp_flags"] == 2 and records[2]["tcp_flags"] == 0x18


def test_text_lines_and_count(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(["packets", "-c", "2", str(capture)], capsys)
    lines = out.splitlines()
    assert code == 0 and len(lines) == 2
    assert "192.0.2.1:40000 -> 192.0.2.2:80 TCP [SYN]" in lines[0]
    assert "[2001:db8::2]:53 -> [2001:db8::1]:33000 UDP" in lines[1] and "vlan=42" in lines[1]
    assert lines[0].split()[1] == "1700000000.250000000"


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_text_addresses_match_tshark_on_a_real_capture(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    path = CAPTURES / "nfstream" / "http_ipv6.pcap"
    code, out, _err = run_cli(["packets", "--format", "jsonl", str(path)], capsys)
    ours = [(r["src"], r["dst"]) for r in map(json.loads, out.splitlines())]
    fields = subprocess.run(["tshark", "-n", "-r", str(path), "-T", "fields", "-e", "ip.src",
                             "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst"],
                            capture_output=True, text=True, timeout=60).stdout
    theirs = [(f[0] or f[1], f[2] or f[3]) for f in
              (line.split("\t") for line in fields.splitlines())]
    assert code == 0 and ours == theirs


def test_stats_json(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(["stats", "--format", "json", str(capture)], capsys)
    report = json.loads(out)
    assert code == 0
    assert report["packets"] == 3
    assert report["families"] == {"4": 1, "6": 2}
    assert report["protocols"] == {"6": 2, "17": 1}
    assert report["tunnels"] == {"6in4": 1}
    assert report["span_ns"] == 2_000_000_000
    with capture.open("rb") as handle:
        assert report["bytes"] == sum(len(buf) for _ts, buf in dpkt.pcap.Reader(handle))


def test_stats_text(capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(["stats", str(capture)], capsys)
    assert code == 0
    assert "packets             3" in out
    assert "ETHERNET(1) 3" in out


def test_not_a_capture_exits_2_with_one_line(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    text = tmp_path / "x.txt"
    text.write_text("nope")
    code, out, err = run_cli(["packets", str(text)], capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and str(text) in err and "not a pcap or pcapng" in err


def test_broken_record_exits_1_after_output_and_resync_continues(
        capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = bytearray(capture.read_bytes())
    first_len = struct.unpack_from("<I", data, 24 + 8)[0]
    second = 24 + 16 + first_len
    struct.pack_into("<I", data, second + 8, 0x7FFFFFFF)
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(bytes(data))
    code, out, err = run_cli(["packets", "--format", "jsonl", str(broken)], capsys)
    assert code == 1 and len(out.splitlines()) == 1
    assert f"byte offset {second}" in err
    code, out, err = run_cli(["packets", "--resync", "--format", "jsonl", str(broken)], capsys)
    assert code == 1 and len(out.splitlines()) == 2 and "resynchronised" in err


def test_truncated_tail_keeps_packets_warns_and_exits_1(
        capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(capture.read_bytes()[:-5])
    code, out, err = run_cli(["stats", "--format", "json", str(cut)], capsys)
    assert code == 1 and json.loads(out)["packets"] == 2
    assert err.count("warning") == 1 and "byte offset" in err


def test_stdin_gzip_pipe(capture: Path) -> None:
    command = f"gzip -c {capture} | {sys.executable} -m analyzer packets --format jsonl -"
    result = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=ROOT,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert [json.loads(x)["sport"] for x in result.stdout.splitlines()] == [40000, 53, 1]


def corpus_index() -> list[dict[str, str]]:
    index = CORPUS / "captures" / "INDEX.tsv"
    if not index.exists():
        return []
    with index.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.parametrize("row", corpus_index(), ids=lambda row: row["path"])
def test_stats_counts_the_packets_capinfos_counts(row: dict[str, str],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`stats` reads packet records (its own tally in C): the packets of every corpus
    capture as capinfos counted them (INDEX.tsv); those capinfos refuses exit 2."""
    code, out, err = run_cli(["stats", "--format", "json", str(CORPUS / row["path"])], capsys)
    if row["packets"] == "ERR":
        assert code == 2 and out == "" and row["path"] in err
        return
    assert code in (0, 1)
    assert json.loads(out)["packets"] == int(row["packets"])
    assert (code == 1) == bool(err)     # a warning (cut short) is the only reason for 1
