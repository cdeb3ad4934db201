"""The scenario library: every capture reads back exactly as its ground truth says.

Oracles: tshark (malformed packets, conversations, link layers and VLAN tags), dpkt
(the file formats and timestamps), and the truth each scenario states when it makes
the traffic; `analyzer.verdict.verify` must reproduce that truth flow by flow and
listener by listener.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import dpkt
import pytest
from floworacle import TSHARK, canonical_ip, tshark_conversations

from analyzer.cli import main
from analyzer.snapshot import load_snapshots
from analyzer.synth.scenarios import SCENARIOS
from analyzer.synth.scenarios.hostile import GARBAGE
from analyzer.synth.writer import CaptureOptions, write_scenario

pytestmark = pytest.mark.skipif(TSHARK is None, reason="tshark is not installed")

ALL = sorted(SCENARIOS)
MATRIX_SCENARIOS = ("seed-httpd", "udp-dns", "anomalies")
LINK_VLANS = [("ethernet", None), ("ethernet", 42), ("sll2", None), ("sll2", 7),
              ("raw", None), ("null", None)]
MATRIX = [(name, fmt, link, vlan) for name in MATRIX_SCENARIOS for fmt in ("pcap", "pcapng")
          for link, vlan in LINK_VLANS]
SERVER_ADDRESSES = {"192.0.2.10", "2001:db8::10"}
WARNING_SEVERITY = "6291456"
TSHARK_ENCAPSULATION = {"ethernet": "1", "sll2": "210", "raw": "7", "null": "15"}


def make(tmp_path: Path, name: str, fmt: str = "pcap", link: str = "ethernet",
         vlan: int | None = None, seed: int = 0, scale: int = 1) -> Path:
    out = tmp_path / f"{name}-{fmt}-{link}-{vlan}-{seed}-{scale}"
    traffic = SCENARIOS[name].make(seed=seed, scale=scale)
    write_scenario(traffic, out, CaptureOptions(fmt, link, vlan))
    return out


def capture_of(directory: Path) -> Path:
    (capture,) = directory.glob("capture.pcap*")
    return capture


def truth_of(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "truth.json").read_text())
    return data


def tshark_fields(capture: Path, *fields: str, display: str = "",
                  aggregator: str = ",") -> list[list[str]]:
    assert TSHARK is not None
    command = [TSHARK, "-n", "-r", str(capture), "-T", "fields", "-E",
               f"aggregator={aggregator}"]
    for field in fields:
        command += ["-e", field]
    if display:
        command += ["-Y", display]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    # tshark reads everything before a torn last record, then says so and exits 2.
    assert out.returncode == 0 or "cut short in the middle of a packet" in out.stderr, out
    return [line.split("\t") for line in out.stdout.splitlines()]


ERROR_SEVERITY = 8388608  # tshark's expert level "Error" (malformed packets among them)


def malformed_frames(rows: list[list[str]]) -> list[int]:
    """Frame numbers of rows (frame.number, _ws.malformed, _ws.expert.severity, ...) that
    tshark calls malformed or flags at error level."""
    return [int(row[0]) for row in rows
            if row[1] or any(int(level) >= ERROR_SEVERITY for level in row[2].split(",")
                             if level)]


CHECK_FIELDS = ("frame.number", "_ws.malformed", "_ws.expert.severity")


def address(text: str) -> str:
    return str(ipaddress.ip_address(text))


def flow_key(record: dict[str, Any]) -> tuple[str, str, int, str, int]:
    return (record["proto"], address(record["client"]), int(record["client_port"]),
            address(record["server"]), int(record["server_port"]))


def listener_key(record: dict[str, Any]) -> tuple[str, int, str, int]:
    return (record["proto"], int(record["family"]), address(record["local_address"]),
            int(record["local_port"]))


def verify_result(directory: Path, text: bool = False) -> dict[str, Any]:
    """analyzer.verdict.verify on the scenario's capture and snapshots, as JSON data."""
    try:
        from analyzer.verdict import verify
    except ImportError:
        pytest.skip("verify not yet available")
    from analyzer.flows import read_flows

    flows = read_flows([str(capture_of(directory))])
    snapshots = load_snapshots(directory / "snapshots.jsonl")
    if text:
        from analyzer.snapshot.importers import import_text

        pasted = directory / "snapshot.txt"
        snapshots = [import_text(pasted.read_text(), str(pasted), os_name=snapshots[0].os)]
    result: dict[str, Any] = verify(flows, snapshots).to_dict()
    return result


def verified(directory: Path, text: bool = False) -> tuple[dict[Any, str], dict[Any, Any]]:
    """Flow classes and listener verdicts from analyzer.verdict.verify (from the
    scenario's snapshot.txt, imported as the user's pasted text, with ``text``)."""
    result = verify_result(directory, text)
    classes = {flow_key(item): item["class"] for item in result["flows"]}
    listeners = {listener_key(item): item["accepts_ipv4"] for item in result["listeners"]}
    return classes, listeners


def expected(directory: Path) -> tuple[dict[Any, str], dict[Any, Any]]:
    truth = truth_of(directory)
    classes = {flow_key(item): item["class"] for item in truth["flows"]}
    listeners = {listener_key(item): item["accepts_ipv4"] for item in truth["listeners"]}
    assert len(classes) == len(truth["flows"]), "truth names a flow twice"
    return classes, listeners


def assert_verify_matches_truth(directory: Path, text: bool = False) -> None:
    got_flows, got_listeners = verified(directory, text)
    want_flows, want_listeners = expected(directory)
    assert got_flows == want_flows
    assert got_listeners == want_listeners


# ------------------------------------------------------------------ the whole library


@pytest.mark.parametrize("name", ALL)
def test_verify_gives_the_ground_truth(tmp_path: Path, name: str) -> None:
    assert_verify_matches_truth(make(tmp_path, name))


TEXT_SCENARIOS = sorted(name for name in ALL if SCENARIOS[name].make().text_format)


def test_text_snapshots_cover_every_tool_format() -> None:
    formats = {SCENARIOS[name].make().text_format for name in TEXT_SCENARIOS}
    assert formats == {"netstat-linux", "netstat-windows", "netstat-bsd", "ss"}


@pytest.mark.parametrize("name", TEXT_SCENARIOS)
def test_verify_gives_the_ground_truth_from_pasted_text(tmp_path: Path, name: str) -> None:
    directory = make(tmp_path, name)
    assert (directory / "snapshot.txt").read_text().count("\n") > 2
    assert_verify_matches_truth(directory, text=True)


@pytest.mark.parametrize("name", ALL)
def test_verify_names_the_anomalies_of_the_truth(tmp_path: Path, name: str) -> None:
    directory = make(tmp_path, name)
    result = verify_result(directory)
    got = {(item["kind"], flow_key(result["flows"][index]))
           for item in result["anomalies"] for index in item["flows"]}
    want = {(item["kind"], flow_key(item)) for item in truth_of(directory)["anomalies"]}
    assert got == want


@pytest.mark.parametrize("seed", [21, 22])
@pytest.mark.parametrize("name", ALL)
def test_verify_gives_the_ground_truth_for_other_seeds_at_scale(tmp_path: Path, name: str,
                                                                seed: int) -> None:
    assert_verify_matches_truth(make(tmp_path, name, seed=seed, scale=3))


@pytest.mark.parametrize("name", ALL)
def test_tshark_finds_no_malformed_packet_and_documentation_addresses_only(
        tmp_path: Path, name: str) -> None:
    rows = tshark_fields(capture_of(make(tmp_path, name)), *CHECK_FIELDS,
                         "ip.src", "ip.dst", "ipv6.src", "ipv6.dst")
    bad = malformed_frames(rows)
    if name == "hostile":
        # Exactly the deliberately broken frames, the last ones before the torn record.
        assert bad == list(range(len(rows) - len(GARBAGE) + 1, len(rows) + 1))
    else:
        assert bad == []
    documentation = [ipaddress.ip_network(n) for n in (
        "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")]
    # The anomalies carry documentation IPv4 inside a transition prefix on purpose.
    transition = [ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "64:ff9b::/96",
                                                    "2002::/16", "2001::/32", "::/128")]
    for row in rows:
        for text in ",".join(row[3:]).split(","):
            if text:
                ip = ipaddress.ip_address(text)
                assert any(ip in net for net in documentation + transition), text


@pytest.mark.parametrize("name", ALL)
def test_tshark_conversations_are_the_truth_flows(tmp_path: Path, name: str) -> None:
    directory = make(tmp_path, name)
    seen = {(proto, frozenset((a, b))) for proto, a, b in
            tshark_conversations(capture_of(directory))}
    truth = {(f["proto"], frozenset(((canonical_ip(f["client"]), f["client_port"]),
                                     (canonical_ip(f["server"]), f["server_port"]))))
             for f in truth_of(directory)["flows"]}
    if name == "hostile":
        seen.discard(("tcp", frozenset({("::", 0), ("2001:db8::10", 0)})))  # a garbage frame
    assert seen == truth


@pytest.mark.parametrize("name", ALL)
def test_snapshots_hold_every_truth_listener(tmp_path: Path, name: str) -> None:
    directory = make(tmp_path, name)
    snapshots = load_snapshots(directory / "snapshots.jsonl")
    listed = {listener_key(sock.to_dict()) for snap in snapshots for sock in snap.listeners()}
    assert listed == set(expected(directory)[1])
    times = [snap.taken_at_ns() for snap in snapshots]
    assert times == sorted(times)


@pytest.mark.parametrize("name", ALL)
def test_tshark_warns_only_of_the_intended_resets(tmp_path: Path, name: str) -> None:
    """tshark's expert warnings: one RST per refused TCP flow; nothing else unplanned."""
    directory = make(tmp_path, name)
    rows = tshark_fields(capture_of(directory), "_ws.expert.severity", "_ws.expert.message",
                         display=f"_ws.expert.severity == {WARNING_SEVERITY}",
                         aggregator="|")
    warnings: Counter[str] = Counter()
    for levels, messages in rows:
        for level, message in zip(levels.split("|"), messages.split("|"), strict=True):
            if level == WARNING_SEVERITY:
                warnings[message.split(".")[0]] += 1
    refused_tcp = sum(1 for f in truth_of(directory)["flows"]
                      if f["proto"] == "tcp" and f["class"] == "refused")
    assert warnings.pop("Connection reset (RST)", 0) == refused_tcp
    allowed = {"DNS query retransmission"}  # the unanswered query's retry
    if name == "hostile":
        allowed.add("IPv6 payload length exceeds framing length (8 bytes)")
    assert set(warnings) <= allowed


def test_icmp_errors_quote_the_refused_datagrams(tmp_path: Path) -> None:
    directory = make(tmp_path, "udp-dns", scale=2)
    rows = tshark_fields(capture_of(directory), "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
                         "udp.srcport", "udp.dstport", display="icmp || icmpv6")
    quoted = set()
    for ip_src, ip_dst, ip6_src, ip6_dst, sport, dport in rows:
        # Outer header first, then the quoted one; the error goes back to the client.
        (reporter, quoted_src), (client, quoted_dst) = (
            (ip_src or ip6_src).split(","), (ip_dst or ip6_dst).split(","))
        assert (reporter, client) == (quoted_dst, quoted_src)
        quoted.add(("udp", address(quoted_src), int(sport), address(quoted_dst), int(dport)))
    refused = {flow_key(f) for f in truth_of(directory)["flows"]
               if f["proto"] == "udp" and f["class"] == "refused"}
    assert quoted == refused and len(rows) == len(refused)


# ------------------------------------------------------------------ options


@pytest.mark.parametrize(("name", "fmt", "link", "vlan"), MATRIX)
def test_every_format_link_and_vlan(tmp_path: Path, name: str, fmt: str, link: str,
                                    vlan: int | None) -> None:
    directory = make(tmp_path, name, fmt, link, vlan, seed=5)
    capture = capture_of(directory)
    assert_verify_matches_truth(directory)
    rows = tshark_fields(capture, *CHECK_FIELDS, "frame.encap_type", "vlan.id",
                         "sll.pkttype", "ip.dst", "ipv6.dst")
    assert malformed_frames(rows) == []
    assert {row[3] for row in rows} == {TSHARK_ENCAPSULATION[link]}
    assert {row[4] for row in rows} == {str(vlan) if vlan is not None else ""}
    if link == "sll2":  # packet type 0 "to us" towards the server host, 4 "outgoing" from it
        for row in rows:
            destination = (row[6] or row[7]).split(",")[0]
            assert row[5] == ("0" if destination in SERVER_ADDRESSES else "4"), row
    assert _dpkt_format(capture) == fmt


@pytest.mark.parametrize(("name", "inet6"), [("macos-tcp46", "30"), ("freebsd-v6only", "28"),
                                             ("openbsd-separate", "24")])
def test_bsd_null_link_carries_each_os_af_inet6(tmp_path: Path, name: str, inet6: str) -> None:
    directory = make(tmp_path, name, "pcapng", "null")
    rows = tshark_fields(capture_of(directory), *CHECK_FIELDS, "null.family", "ipv6.src")
    assert malformed_frames(rows) == []
    assert {(row[3], bool(row[4])) for row in rows} == {("2", False), (inet6, True)}
    assert_verify_matches_truth(directory)


def _dpkt_format(capture: Path) -> str:
    with capture.open("rb") as handle:
        try:
            reader: Any = dpkt.pcapng.Reader(handle)
            kind = "pcapng"
        except ValueError:
            handle.seek(0)
            reader = dpkt.pcap.Reader(handle)
            kind = "pcap"
        times = [ts for ts, _ in reader]
    assert times == sorted(times)
    return kind


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def digest(directory: Path) -> list[str]:
        return [hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())]

    for fmt in ("pcap", "pcapng"):
        first = make(tmp_path / "a", "timeseries", fmt, seed=11)
        again = make(tmp_path / "b", "timeseries", fmt, seed=11)
        other = make(tmp_path / "c", "timeseries", fmt, seed=12)
        assert digest(first) == digest(again)
        assert digest(first)[0] != digest(other)[0]


def test_scale_multiplies_clients_and_keeps_the_truth(tmp_path: Path) -> None:
    one = make(tmp_path, "linux-bindv6only", scale=1)
    three = make(tmp_path, "linux-bindv6only", scale=3)
    assert len(truth_of(three)["flows"]) == 3 * len(truth_of(one)["flows"])
    assert_verify_matches_truth(three)


def test_timestamps_are_exact_microseconds(tmp_path: Path) -> None:
    pcap = make(tmp_path, "udp-dns", "pcap")
    pcapng = make(tmp_path, "udp-dns", "pcapng")
    epoch = [row[0] for row in tshark_fields(capture_of(pcap), "frame.time_epoch")]
    assert epoch == [row[0] for row in tshark_fields(capture_of(pcapng), "frame.time_epoch")]
    assert all(text.endswith("000") for text in epoch)  # microseconds, nothing rounded


# ------------------------------------------------------------------ command line


def test_cli_list_names_every_scenario_with_a_sentence(capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    assert main(["synth", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ALL
    assert all(line.rstrip().endswith((".", ")")) for line in lines)


def test_cli_writes_a_scenario_that_dualstack_verify_reads(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    out = tmp_path / "mapped"
    assert main(["synth", "mapped-bind", "-o", str(out), "--format", "pcapng",
                 "--link", "sll2", "--vlan", "3", "--seed", "4"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["capture.pcapng", "snapshot.txt",
                                                     "snapshots.jsonl", "truth.json"]
    capsys.readouterr()
    report = tmp_path / "report.json"
    code = main(["verify", str(out / "capture.pcapng"), "--snapshot",
                 str(out / "snapshots.jsonl"), "--format", "json", "-o", str(report)])
    assert code == 0
    result = json.loads(report.read_text())
    assert {flow_key(f): f["class"] for f in result["flows"]} == expected(out)[0]


def test_cli_verify_with_pasted_netstat_text(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "seed"
    assert main(["synth", "seed-httpd", "-o", str(out), "--seed", "2"]) == 0
    report = tmp_path / "report.json"
    assert main(["verify", str(out / "capture.pcap"), "--snapshot", str(out / "snapshot.txt"),
                 "--format", "json", "-o", str(report)]) == 0
    capsys.readouterr()
    result = json.loads(report.read_text())
    assert {flow_key(f): f["class"] for f in result["flows"]} == expected(out)[0]
    httpd = [item for item in result["listeners"] if item["local_port"] == 80]
    assert [(item["process"], item["accepts_ipv4"]) for item in httpd] == [("httpd", True)]


def verify_torn_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                        ) -> tuple[int, str, dict[str, Any], Path]:
    out = tmp_path / "hostile"
    assert main(["synth", "hostile", "-o", str(out)]) == 0
    report = tmp_path / "report.json"
    capsys.readouterr()
    code = main(["verify", str(out / "capture.pcap"), "--snapshot",
                 str(out / "snapshots.jsonl"), "--format", "json", "-o", str(report)])
    return code, capsys.readouterr().err, json.loads(report.read_text()), out


def test_cli_verify_reads_a_torn_capture_up_to_the_tear(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    _, err, result, out = verify_torn_capture(tmp_path, capsys)
    assert "truncated" in err and "byte offset" in err
    offset = int(err.split("byte offset ")[1].split(";")[0])
    assert 24 < offset < (out / "capture.pcap").stat().st_size
    assert {flow_key(f): f["class"] for f in result["flows"]} == expected(out)[0]


def test_cli_verify_exit_code_on_a_torn_capture(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _, _ = verify_torn_capture(tmp_path, capsys)
    assert code == 1


def test_cli_all_writes_every_scenario(tmp_path: Path) -> None:
    assert main(["synth", "all", "-o", str(tmp_path), "--format", "pcapng"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ALL
    for name in ALL:
        assert (tmp_path / name / "capture.pcapng").stat().st_size > 1000
        assert truth_of(tmp_path / name)["flows"]


@pytest.mark.parametrize("argv", [
    ["synth", "no-such-scenario", "-o", "x"],
    ["synth", "seed-httpd", "-o", "x", "--link", "raw", "--vlan", "5"],
    ["synth", "seed-httpd", "-o", "x", "--vlan", "4095"],
    ["synth", "seed-httpd", "-o", "x", "--scale", "0"],
    ["synth", "seed-httpd"],
    ["synth"],
])
def test_cli_usage_errors_exit_2(tmp_path: Path, argv: list[str],
                                 monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert "synth" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
