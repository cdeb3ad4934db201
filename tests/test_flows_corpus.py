"""Flows of the third-party corpus against independent oracles.

- Per-flow packet counts per direction equal tshark's conversation tables
  (`-z conv,tcp -z conv,udp`), flows with the same endpoints summed: tshark 4.0 keeps one
  conversation per address/port pair, where we start a new flow on port reuse after
  FIN/RST or an idle timeout. Files where the two differ on purpose are listed in
  DIFFERENCES with the reason.
- Every flow's Community ID equals the `communityid` package's for the same tuple.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import CORPUS
from floworacle import TSHARK, flow_directions, tshark_conversations

from analyzer.errors import DualstackError
from analyzer.flows import FlowFrame, iter_flow_batches, read_flows

CAPTURES = sorted(
    p for p in (CORPUS / "captures").rglob("*")
    if p.is_file() and "results" not in p.parts and p.suffix not in (".tsv", ".txt", ".csv")
)

# capture (relative to captures/) -> why our flows differ from tshark's conversations.
# Most are the reader's decisions (what it decodes, what it counts as malformed); the flow
# table counts exactly the packets the reader hands it with status ok.
_ROUTED = ("tshark keys the conversation on the final destination of the IPv6 routing "
           "header / the home address option; we keep the addresses of the IPv6 header")
_NOT_DECODED = "tshark also counts the inner packets of a tunnel the reader does not decode: "
DIFFERENCES: dict[str, str] = {
    "dpkt/nb6-http.pcap": _NOT_DECODED + "IPv6 TCP in PPP in L2TP (we see the outer UDP)",
    "zeek/tunnels/ayiya3.pcap": _NOT_DECODED + "AYIYA (IPv6 in UDP)",
    "zeek/tunnels/gre-pptp.pcap": _NOT_DECODED + "PPTP (PPP in GRE)",
    "zeek/tunnels/gre-sample.pcap": _NOT_DECODED + "GRE",
    "tcpdump/ipv6-routing-header.pcap": _ROUTED,
    "zeek/chksums/ip6-hoa-tcp-good-chksum.pcap": _ROUTED,
    "zeek/chksums/ip6-route0-tcp-good-chksum.pcap": _ROUTED,
    "zeek/ipv6-hbh-routing0.pcap": _ROUTED,
    "zeek/ipv6-mobility-dst-opts.pcap": _ROUTED,
    "tcpdump/LINKTYPE_IPV4_invalid.pcap": (
        "IPv6 inside LINKTYPE_IPV4: the reader marks it bad_ip_version, tshark dissects it"),
    "tcpdump/ipv4_invalid_total_length.pcap": (
        "IPv4 total length beyond the frame: the reader marks it bad_ip_length, tshark "
        "still dissects the UDP header"),
    "zeek/ipv4/fragmented-1.pcap": (
        "two overlapping first fragments of one datagram (same IP id): we count each first "
        "fragment (the ports are in it), tshark counts the reassembled datagram once"),
    "zeek/tcp/truncated-header.pcap": (
        "a SYN whose TCP options are cut by the snaplen: tshark's TCP dissector stops "
        "before its conversation tap, we count the packet (ports and flags are complete)"),
}


def corpus_flows(path: Path) -> FlowFrame:
    """Every flow read before the end of the capture or its first error."""
    frames: list[FlowFrame] = []
    with contextlib.suppress(DualstackError):
        for frame in iter_flow_batches(str(path)):
            frames.append(frame)
    return FlowFrame.concat(frames)


def _params() -> list:
    params = []
    for path in CAPTURES:
        rel = str(path.relative_to(CORPUS / "captures"))
        marks = [pytest.mark.xfail(strict=True, reason=DIFFERENCES[rel])] if (
            rel in DIFFERENCES) else []
        params.append(pytest.param(path, id=rel, marks=marks))
    return params


@pytest.mark.skipif(TSHARK is None, reason="needs tshark")
@pytest.mark.parametrize("capture", _params())
def test_packet_counts_per_direction_equal_tshark(capture: Path) -> None:
    ours = flow_directions(corpus_flows(capture).to_records())
    assert ours == tshark_conversations(capture)


def test_community_id_equals_communityid_package() -> None:
    communityid = pytest.importorskip("communityid")
    oracle = communityid.CommunityID()
    checked = 0
    for capture in CAPTURES:
        for flow in corpus_flows(capture).to_records():
            proto = communityid.PROTO_TCP if flow["proto"] == "tcp" else communityid.PROTO_UDP
            expected = oracle.calc(communityid.FlowTuple(
                proto, flow["client"], flow["server"], flow["client_port"],
                flow["server_port"]))
            assert flow["community_id"] == expected, (capture, flow)
            checked += 1
    assert checked > 500


# Zeek's own expectation for these traces: testing/btest/Baseline/
# scripts.base.protocols.conn.conn_state-RST-behavior/out (zeek/zeek), "history, conn_state"
ZEEK_CONN_STATE = {
    "zeek/tcp/single-rst.pcap": "OTH",            # R
    "zeek/tcp/syn-then-rst.pcap": "RSTOS0",       # SR
    "zeek/tcp/syn-then-ack-then-rst.pcap": "RSTOS0",  # SaR
}


@pytest.mark.parametrize(("rel", "state"), ZEEK_CONN_STATE.items())
def test_conn_state_equals_zeek_baseline(rel: str, state: str) -> None:
    flows = corpus_flows(CORPUS / "captures" / rel)
    assert flows.columns["conn_state"].tolist() == [state]


@pytest.mark.skipif(TSHARK is None or shutil.which("editcap") is None,
                    reason="needs tshark and editcap")
def test_several_captures_read_as_one_stream(tmp_path: Path) -> None:
    """A capture split in three (editcap) gives the whole capture's conversations."""
    whole = CORPUS / "captures" / "nfstream" / "http_ipv6.pcap"
    subprocess.run(["editcap", "-c", "70", str(whole), str(tmp_path / "part.pcap")],
                   check=True, capture_output=True)
    parts = sorted(str(p) for p in tmp_path.glob("part*.pcap"))
    assert len(parts) == 3
    flows = read_flows(list(reversed(parts)))
    assert flow_directions(flows.to_records()) == tshark_conversations(whole)
