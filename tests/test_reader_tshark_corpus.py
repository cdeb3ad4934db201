"""Differential test: our reader against tshark on every real capture of the corpus.

For each capture in ../shared/corpus/captures/INDEX.tsv, tshark (`-T fields`, IP
defragmentation off so every fragment stays a frame) and our reader must agree on
the packet count and, per packet, on the addresses, ports, protocol, outer VLAN id,
timestamp and (for ICMP errors) the quoted header. Which IP header we report is
derived from tshark's own protocol stack (`frame.protocols`): the first IP header,
or the second when it directly follows the first (IP-in-IP). Where we differ on
purpose, KNOWN_DIFFERENCES says why and the test checks our status reason instead.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from analyzer.capture import PacketStatus, read_batches
from analyzer.capture.stats import CaptureStats
from analyzer.errors import CaptureError, NotACaptureError

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")

CORPUS_CAPTURES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "captures"
FIELDS = (
    "frame.number", "frame.protocols", "frame.interface_id", "frame.time_epoch",
    "ip.src", "ip.dst", "ipv6.src", "ipv6.dst",
    "tcp.srcport", "tcp.dstport", "udp.srcport", "udp.dstport", "vlan.id", "ieee8021ad.id",
)
L4_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "icmpv6": 58}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"

# path -> (why we differ, the status we give those packets instead)
KNOWN_DIFFERENCES: dict[str, tuple[str, PacketStatus]] = {
    "tcpdump/LINKTYPE_IPV4_invalid.pcap": (
        "the link type promises IPv4 but the packet is IPv6: tshark decodes it by the "
        "version nibble, we refuse the mismatch",
        PacketStatus.BAD_IP_VERSION,
    ),
    "tcpdump/ipv4_invalid_hdr_length.pcap": (
        "IHL of 16 bytes: tshark shows no IPv4 fields at all, we keep the addresses",
        PacketStatus.BAD_IP_HEADER_LENGTH,
    ),
    "tcpdump/ipv6_invalid_length.pcap": (
        "the frame ends 39 bytes into the IPv6 header: tshark shows the source, we "
        "report no addresses from a header we could not read whole",
        PacketStatus.TRUNCATED_IP,
    ),
    "zeek/trunc/ip6-trunc.pcap": (
        "the frame ends inside the IPv6 header (as above)",
        PacketStatus.TRUNCATED_IP,
    ),
}
TS_SATURATED = 2**63 - 1
# path -> why timestamps are not compared with tshark's text
TIMESTAMPS_NOT_COMPARABLE = {
    "tcpdump/timestamp_invalid_micro.pcap": "tshark prints a fraction >= 1 s as "
    "'.1000000000'; we add the fraction arithmetically",
    "tcpdump/timestamp_invalid_nano.pcap": "as above, for nanoseconds",
    "nfstream/dhcp_big_endian.pcapng": "timestamps in the year ~152000 do not fit int64 "
    "nanoseconds: ours saturate (checked below)",
    "nfstream/dhcp_little_endian.pcapng": "as above (its little-endian twin)",
}
SATURATED_TIMESTAMPS = {"nfstream/dhcp_big_endian.pcapng", "nfstream/dhcp_little_endian.pcapng"}


def corpus_captures() -> list[str]:
    index = CORPUS_CAPTURES / "INDEX.tsv"
    if not index.exists():
        return []
    with index.open(newline="") as handle:
        return [row["path"].removeprefix("captures/") for row in csv.DictReader(handle,
                                                                                delimiter="\t")]


@dataclass
class Expected:
    """What tshark says we must report for one frame."""

    layer: tuple[str, str] | None
    ports: tuple[int, int] | None
    proto: int | None
    quoted: tuple[str, str] | None
    quoted_ports: tuple[int, int] | None
    vlan: int
    ts_ns: int | None


def _values(field: str) -> list[str]:
    return [v for v in field.split("|") if v]


def _ports(fields: dict[str, str], name: str | None) -> tuple[int, int] | None:
    if name not in ("tcp", "udp"):
        return None
    sport, dport = _values(fields[f"{name}.srcport"]), _values(fields[f"{name}.dstport"])
    return (int(sport[0]), int(dport[0])) if sport and dport else None


def _ip_layers(fields: dict[str, str]) -> list[tuple[int, tuple[str, str]]]:
    """(position in frame.protocols, (src, dst)) of every complete IP header."""
    stacks = {"ip": (_values(fields["ip.src"]), _values(fields["ip.dst"])),
              "ipv6": (_values(fields["ipv6.src"]), _values(fields["ipv6.dst"]))}
    used = {"ip": 0, "ipv6": 0}
    layers = []
    for position, proto in enumerate(fields["frame.protocols"].split(":")):
        if proto in stacks:
            srcs, dsts = stacks[proto]
            n = used[proto]
            used[proto] += 1
            if n < len(srcs) and n < len(dsts):
                layers.append((position, (srcs[n], dsts[n])))
    return layers


def _next_protocol(protocols: list[str], position: int) -> str | None:
    position += 1
    while position < len(protocols) and protocols[position].startswith("ipv6."):
        position += 1
    return protocols[position] if position < len(protocols) else None


def expected_from_tshark(fields: dict[str, str]) -> Expected:
    protocols = fields["frame.protocols"].split(":")
    layers = _ip_layers(fields)
    # the outermost tag: an 802.1ad service tag when there is one, else 802.1Q
    vlans = _values(fields["ieee8021ad.id"]) or _values(fields["vlan.id"])
    epoch = fields["frame.time_epoch"]
    ts_ns = int(Decimal(epoch) * 1_000_000_000) if epoch else None
    if not layers:
        return Expected(None, None, None, None, None, int(vlans[0]) if vlans else -1, ts_ns)
    chosen = 1 if len(layers) > 1 and layers[1][0] == layers[0][0] + 1 else 0
    position, layer = layers[chosen]
    nxt = _next_protocol(protocols, position)
    quoted = quoted_ports = None
    if nxt in ("icmp", "icmpv6") and len(layers) > chosen + 1:
        q_position, quoted = layers[chosen + 1]
        quoted_ports = _ports(fields, _next_protocol(protocols, q_position))
    return Expected(layer, _ports(fields, nxt), L4_NUMBERS.get(nxt or ""), quoted,
                    quoted_ports, int(vlans[0]) if vlans else -1, ts_ns)


def tshark_frames(path: Path) -> list[dict[str, str]]:
    command = ["tshark", "-n", "-r", str(path), "-o", "ip.defragment:FALSE",
               "-o", "ipv6.defragment:FALSE", "-T", "fields",
               "-E", "occurrence=a", "-E", "aggregator=|"]
    for field in FIELDS:
        command += ["-e", field]
    out = subprocess.run(command, capture_output=True, text=True, timeout=120).stdout
    frames = [dict(zip(FIELDS, line.split("\t"), strict=True)) for line in out.splitlines()]
    if path.read_bytes()[:4] == PCAPNG_MAGIC:
        # tshark 4 shows pcapng custom blocks as frames without an interface: not packets.
        frames = [f for f in frames if f["frame.interface_id"]]
    return frames


def our_rows(path: Path) -> tuple[list[dict], Exception | None, CaptureStats]:
    stats = CaptureStats()
    rows: list[dict] = []
    try:
        for batch in read_batches(path, stats=stats):
            text = {c: batch.address_text(c) for c in ("src", "dst", "q_src", "q_dst")}
            plain = {name: array.tolist() for name, array in batch.columns.items()
                     if array.ndim == 1}
            for i in range(len(batch)):
                row = {name: values[i] for name, values in plain.items()}
                row.update({c: text[c][i] for c in text})
                rows.append(row)
    except (CaptureError, NotACaptureError) as exc:
        return rows, exc, stats
    return rows, None, stats


def compare(frame: dict[str, str], row: dict, exp: Expected, times: bool) -> list[str]:
    problems = []
    got = (row["src"], row["dst"]) if row["wire_family"] else None
    if got != exp.layer:
        problems.append(f"addresses {got} != {exp.layer}")
    if exp.ports is not None and row["frag"] != 2 and (row["sport"], row["dport"]) != exp.ports:
        problems.append(f"ports {(row['sport'], row['dport'])} != {exp.ports}")
    if exp.proto is not None and row["proto"] != exp.proto:
        problems.append(f"proto {row['proto']} != {exp.proto}")
    if exp.quoted is not None and (row["q_src"], row["q_dst"]) != exp.quoted:
        problems.append(f"quoted {(row['q_src'], row['q_dst'])} != {exp.quoted}")
    if exp.quoted_ports is not None and (row["q_sport"], row["q_dport"]) != exp.quoted_ports:
        problems.append(f"quoted ports {(row['q_sport'], row['q_dport'])} != {exp.quoted_ports}")
    if row["vlan"] != exp.vlan:
        problems.append(f"vlan {row['vlan']} != {exp.vlan}")
    if times and exp.ts_ns is not None and row["ts_ns"] != exp.ts_ns:
        problems.append(f"ts_ns {row['ts_ns']} != {exp.ts_ns}")
    return [f"frame {frame['frame.number']} ({frame['frame.protocols']}): {p}" for p in problems]


@pytest.mark.slow
@pytest.mark.parametrize("name", corpus_captures())
def test_reader_agrees_with_tshark(name: str) -> None:
    path = CORPUS_CAPTURES / name
    frames = tshark_frames(path)
    rows, error, _stats = our_rows(path)
    if error is not None:
        # tshark refuses these too (invalid versions, reserved bits, corrupt SHB).
        assert not frames, f"we refused {name} ({error}) but tshark read {len(frames)} frames"
        return
    assert len(rows) == len(frames), f"{name}: {len(rows)} packets, tshark {len(frames)}"
    known = KNOWN_DIFFERENCES.get(name)
    problems = []
    for frame, row in zip(frames, rows, strict=True):
        found = compare(frame, row, expected_from_tshark(frame), name not in
                        TIMESTAMPS_NOT_COMPARABLE)
        if found and known is not None:
            assert row["status"] == known[1], f"{name}: {found} and status {row['status']}"
            continue
        problems += found
    assert not problems, f"{name}:\n" + "\n".join(problems[:20])
    if name in SATURATED_TIMESTAMPS:
        assert all(row["ts_ns"] == TS_SATURATED for row in rows)


def test_corpus_is_indexed() -> None:
    captures = corpus_captures()
    assert len(captures) > 100
    assert all((CORPUS_CAPTURES / c).exists() for c in captures)
