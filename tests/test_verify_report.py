"""`dualstack verify` on the bundled demo (a real capture and real netstat text of
Apache httpd on :::80): counts checked against tshark, every output format, the HTML
report rendered in real headless Chromium, and the exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analyzer import cli
from analyzer.commands.verify import demo_inputs, load_snapshot_file, read_capture_flows
from analyzer.verdict import verify
from analyzer.verdict.report import render

DEMO = Path(__file__).resolve().parents[1] / "captures" / "demo"


def tshark_count(capture: Path, display_filter: str) -> int:
    out = subprocess.run(["tshark", "-n", "-r", str(capture), "-Y", display_filter],
                         capture_output=True, text=True, check=True).stdout
    return len(out.splitlines())


@pytest.fixture(scope="module")
def demo_verdicts():
    captures, snapshot_files = demo_inputs()
    flows, error = read_capture_flows(captures)
    assert error is None
    snapshots = [s for path in snapshot_files for s in load_snapshot_file(path, None)]
    return verify(flows, snapshots)


@pytest.fixture(scope="module")
def demo_text():
    return (DEMO / "netstat-tlnp.txt").read_text()


def test_demo_is_small_and_real(demo_text):
    assert (DEMO / "demo.pcap").stat().st_size < 100_000
    assert re.search(r"^tcp6 .* :::80 .* LISTEN +\d+/apache2", demo_text, re.M)
    assert not re.search(r"^tcp +\d+ +\d+ 0\.0\.0\.0:80 ", demo_text, re.M)


@pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")
def test_demo_classes_match_tshark(demo_verdicts):
    """The only listener on port 80 is AF_INET6 (netstat), so every IPv4 SYN-ACK from
    port 80 is an IPv4 connection through the IPv6 socket."""
    pcap = DEMO / "demo.pcap"
    synack = "tcp.flags.syn==1 && tcp.flags.ack==1 && tcp.srcport==80"
    classes = demo_verdicts.class_counts()
    assert classes["v4-via-v6"] == tshark_count(pcap, f"ip && {synack}") > 0
    assert classes["v6-native"] == tshark_count(pcap, f"ipv6 && {synack}") > 0
    assert classes["refused"] == tshark_count(pcap, "tcp.flags.reset==1") == 1
    apache = demo_verdicts.listeners[0]
    assert (apache.process, apache.local_address, apache.local_port) == ("apache2", "::", 80)
    assert apache.knowledge.accepts_ipv4 is True
    assert "IPv4 is served through this IPv6 socket" in apache.finding
    held = [c for c in demo_verdicts.connections if c.socket["state"] == "ESTABLISHED"]
    assert len(held) == 1 and len(held[0].flows) == 1  # netstat -antp's tcp6 row, matched


def test_json_shape(demo_verdicts):
    data = json.loads(render(demo_verdicts, "json"))
    assert set(data) >= {"listeners", "flows", "anomalies", "summary"}
    flow = data["flows"][0]
    for key in ("proto", "client", "server_port", "wire_family", "outcome", "community_id",
                "class", "listener", "reason"):
        assert key in flow
    listener = data["listeners"][0]
    for key in ("proto", "family", "local_address", "local_port", "v6only", "pid", "process",
                "accepts_ipv4", "known_from", "ipv4_accepted", "ipv4_accepted_flows",
                "finding"):
        assert key in listener
    assert listener["ipv4_accepted"] == len(listener["ipv4_accepted_flows"])
    assert data["summary"]["classes"]["v4-via-v6"] == listener["ipv4_accepted"]


def test_table_and_markdown(demo_verdicts):
    table = render(demo_verdicts, "table")
    assert table.index("Listeners") < table.index("Flows per class") < table.index(
        "Flows that matter")
    assert "tcp6 :::80" in table and "v4-via-v6" in table
    markdown = render(demo_verdicts, "markdown")
    assert "| listener | process |" in markdown and "## Findings" in markdown


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs chromium")
def test_html_renders_in_headless_chromium(demo_verdicts, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render(demo_verdicts, "html"))
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page.read_text())
    base = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*base, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert demo_verdicts.listeners[0].finding.split(";")[0] in dom
    assert dom.count('class="flow ') == len(demo_verdicts)
    assert dom.count('class="flow v4-via-v6"') == demo_verdicts.class_counts()["v4-via-v6"]
    assert "<svg" in dom and 'class="listeners"' in dom
    shot = tmp_path / "report.png"
    subprocess.run([*base, f"--screenshot={shot}", "--window-size=1100,1400", page.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_cli_demo_without_arguments(capsys):
    assert cli.main(["verify"]) == 0
    out = capsys.readouterr()
    assert "tcp6 :::80" in out.out and "demo" in out.err


def test_cli_output_file_and_formats(tmp_path):
    target = tmp_path / "v.json"
    args = ["verify", str(DEMO / "demo.pcap"), "--snapshot", str(DEMO / "netstat-tlnp.txt"),
            "--host-addr", "192.0.2.1", "--host-addr", "2001:db8::1", "--format", "json",
            "-o", str(target)]
    assert cli.main(args) == 0
    data = json.loads(target.read_text())
    assert data["summary"]["hosts"][0]["addresses_from"] == "--host-addr"
    assert data["listeners"][0]["known_from"] == "capture"


def test_cli_missing_input_is_usage_error(tmp_path, capsys):
    assert cli.main(["verify", str(tmp_path / "none.pcap"), "--snapshot",
                     str(DEMO / "netstat-tlnp.txt")]) == 2
    assert "none.pcap" in capsys.readouterr().err
    assert cli.main(["verify", str(DEMO / "demo.pcap")]) == 2


def test_cli_bad_snapshot_names_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text((DEMO / "netstat-tlnp.txt").read_text() + "tcp6 0 0 garbage here\n")
    assert cli.main(["verify", str(DEMO / "demo.pcap"), "--snapshot", str(bad)]) == 2
    assert re.search(r"bad\.txt.*line 4", capsys.readouterr().err)


def record_offsets(pcap: bytes) -> list[int]:
    """Byte offsets of the records of a little-endian classic pcap."""
    offsets, position = [], 24
    while position + 16 <= len(pcap):
        offsets.append(position)
        position += 16 + int.from_bytes(pcap[position + 8:position + 12], "little")
    return offsets


def test_cli_broken_capture_reports_what_was_read(tmp_path, capsys):
    data = bytearray((DEMO / "demo.pcap").read_bytes())
    assert data[:4] == bytes.fromhex("d4c3b2a1")
    last = record_offsets(bytes(data))[-1]
    data[last + 8:last + 12] = (0x7FFFFFFF).to_bytes(4, "little")  # absurd caplen
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(bytes(data))
    code = cli.main(["verify", str(broken), "--snapshot", str(DEMO / "netstat-tlnp.txt"),
                     "--format", "json"])
    out = capsys.readouterr()
    assert code == 1 and "broken.pcap" in out.err and str(last) in out.err
    assert json.loads(out.out)["summary"]["flows"] >= 6


def test_cli_truncated_capture_warns_and_exits_1(tmp_path, capsys):
    data = (DEMO / "demo.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) - 30])
    assert cli.main(["verify", str(cut), "--snapshot", str(DEMO / "netstat-tlnp.txt")]) == 1
    assert "truncated" in capsys.readouterr().err


def test_cli_reads_our_snapshot_json_like_the_text(tmp_path, capsys):
    from analyzer.snapshot import dump_snapshots

    snapshots = load_snapshot_file(str(DEMO / "netstat-tlnp.txt"), "linux")
    stored = tmp_path / "snap.json"
    dump_snapshots(snapshots, stored)
    results = []
    for source in (stored, DEMO / "netstat-tlnp.txt"):
        assert cli.main(["verify", str(DEMO / "demo.pcap"), "--snapshot", str(source),
                         "--format", "json"]) == 0
        data = json.loads(capsys.readouterr().out)
        results.append([flow["class"] for flow in data["flows"]])
    assert results[0] == results[1] and "v4-via-v6" in results[0]


@pytest.mark.parametrize("fmt", ["table", "json", "markdown", "html"])
def test_empty_inputs_render(fmt):
    """No flows and no listeners: every format still renders, with zero counts."""
    from analyzer.flows import FlowFrame

    verdicts = verify(FlowFrame.empty(), [])
    text = render(verdicts, fmt)
    assert "v4-via-v6" in text
    if fmt == "json":
        assert json.loads(text)["summary"]["flows"] == 0


def test_cli_stdin_once(capsys):
    assert cli.main(["verify", "-", "--snapshot", "-"]) == 2
    assert "once" in capsys.readouterr().err


@pytest.mark.parametrize("limit", [1, 3, 40, 10**6])
def test_report_lists_the_flows_that_matter_in_order(demo_verdicts, limit):
    """The flows a report lists: by class (MATTERING's order), then flows only an anomaly
    names, each in id order, cut at `limit` with the rest counted. The expected list is
    made here row by row; one anomaly names listed and unlisted flows alike."""
    from dataclasses import replace

    from analyzer.verdict.anomalies import Anomaly
    from analyzer.verdict.report.rows import MATTERING, mattering_flows

    classes = demo_verdicts.flow_class.tolist()
    plain = [row for row, name in enumerate(classes) if name not in MATTERING]
    assert plain and any(name in MATTERING for name in classes)
    marked = [*plain[::2], classes.index("refused")]
    verdicts = replace(demo_verdicts, anomalies=[Anomaly("k", "d", "s", marked[::-1])])
    expected = [row for name in MATTERING for row, got in enumerate(classes) if got == name]
    expected += sorted(set(marked) - set(expected))
    assert mattering_flows(verdicts, limit) == (expected[:limit],
                                                max(0, len(expected) - limit))


def test_report_flow_rows_show_each_listed_flow(demo_verdicts):
    """A listed flow's row shows that flow's own columns (taken for the listed flows only),
    whatever the order of the ids."""
    from analyzer.verdict.report.rows import flow_rows

    columns = demo_verdicts.flow_columns
    ids = list(range(len(demo_verdicts.flow_class)))[::-3]
    assert len({str(columns["server"][i]) for i in ids}) > 1
    expected = [[str(i), str(demo_verdicts.flow_class[i]), str(columns["proto"][i]),
                 f"{columns['client'][i]}:{columns['client_port'][i]}",
                 str(columns["server"][i]), str(columns["server_port"][i]),
                 str(columns["outcome"][i]), str(demo_verdicts.flow_reason[i])] for i in ids]
    assert flow_rows(demo_verdicts, ids) == expected


def test_json_report_is_to_dict_with_a_flow_a_line(demo_verdicts):
    """The JSON format parses to exactly Verdicts.to_dict() (through the json module), and
    each flow, listener and summary field is a line of its own."""
    import json

    text = render(demo_verdicts, "json")
    expected = json.loads(json.dumps(demo_verdicts.to_dict(), ensure_ascii=False))
    assert json.loads(text) == expected
    lines = text.splitlines()
    start = lines.index(' "flows": [') + 1
    flow_lines = lines[start:start + len(expected["flows"])]
    assert [json.loads(line.rstrip(",")) for line in flow_lines] == expected["flows"]
    assert lines[start + len(expected["flows"])] == " ],"
    assert sum(line.startswith("  \"") for line in lines) == len(expected["summary"])


def test_flow_records_made_chunk_by_chunk_equal_each_flow_record(demo_verdicts, monkeypatch):
    """Records are made a chunk of rows at a time (here 2, so the demo's flows span
    chunks); each equals the flow's own record, and the JSON command writes them as
    made (its pieces join to the rendered text)."""
    from analyzer.verdict import results
    from analyzer.verdict.report import render_chunks

    monkeypatch.setattr(results, "RECORD_CHUNK", 2)
    records = list(demo_verdicts.iter_flow_records())
    assert len(records) == len(demo_verdicts) > 2
    assert records == [demo_verdicts.flow_record(i) for i in range(len(demo_verdicts))]
    pieces = list(render_chunks(demo_verdicts, "json"))
    assert len(pieces) > len(demo_verdicts)
    assert "".join(pieces) == render(demo_verdicts, "json")
