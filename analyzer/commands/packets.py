"""Print the packets of captures, one line each (like tshark) or as JSON Lines.

Text: number, time (epoch seconds), addresses, protocol, ports, TCP flags, payload
length, and notes (VLAN, tunnel, fragment, ICMP quoted header, status). JSON Lines
keys: ts_ns, iface, wire_family, src, dst, sport, dport, proto, tcp_flags, ip_len,
payload_len, vlan, tunnel, status.

Exit codes: 0 success; 1 the input was damaged (an error or warning on stderr) after
every readable packet was printed; 2 usage error or not a capture.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from analyzer.capture import CaptureStats, PacketBatch, read_batches
from analyzer.capture.diagnostics import add_capture_arguments, report_warnings
from analyzer.capture.status import status_label
from analyzer.capture.text import protocol_name, tcp_flags_text, timestamp_text, tunnel_name
from analyzer.errors import UsageError

NAME = "packets"
HELP = "print the packets of captures (text like tshark, or JSON Lines)"
JSONL_KEYS = ("ts_ns", "iface", "wire_family", "src", "dst", "sport", "dport", "proto",
              "tcp_flags", "ip_len", "payload_len", "vlan", "tunnel", "status")
ROW_COLUMNS = ("ts_ns", "iface", "wire_family", "sport", "dport", "proto", "tcp_flags",
               "ip_len", "payload_len", "vlan", "tunnel", "status", "frag", "icmp_type",
               "icmp_code", "q_proto", "q_sport", "q_dport")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_capture_arguments(parser)
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="output format (default: text)")
    parser.add_argument("-c", "--count", type=int, default=None, metavar="COUNT",
                        help="stop after COUNT packets")


def batch_rows(batch: PacketBatch) -> Iterator[dict[str, Any]]:
    """One dict per packet, addresses as text (dotted IPv4 when IPv4 was on the wire)."""
    values = {name: batch.columns[name].tolist() for name in ROW_COLUMNS}
    texts = {name: batch.address_text(name) for name in ("src", "dst", "q_src", "q_dst")}
    for i in range(len(batch)):
        row = {name: column[i] for name, column in values.items()}
        row.update({name: column[i] for name, column in texts.items()})
        yield row


def jsonl_line(row: dict[str, Any]) -> str:
    record = {key: row[key] for key in JSONL_KEYS}
    ip = row["wire_family"] != 0
    record["src"] = row["src"] if ip else None
    record["dst"] = row["dst"] if ip else None
    record["vlan"] = row["vlan"] if row["vlan"] >= 0 else None
    record["tunnel"] = tunnel_name(row["tunnel"])
    record["status"] = status_label(row["status"])
    return json.dumps(record, separators=(",", ":"))


def _endpoint(address: str, port: int, with_port: bool) -> str:
    if not with_port:
        return address
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def text_line(number: int, row: dict[str, Any]) -> str:
    head = f"{number:7d} {timestamp_text(row['ts_ns'])} "
    if row["wire_family"] == 0:
        return head + f"({status_label(row['status'])})"
    with_ports = row["proto"] in (6, 17, 132) and not (row["frag"] == 2 and row["sport"] == 0)
    parts = [_endpoint(row["src"], row["sport"], with_ports), "->",
             _endpoint(row["dst"], row["dport"], with_ports), protocol_name(row["proto"])]
    if row["proto"] == 6:
        parts.append(f"[{tcp_flags_text(row['tcp_flags'])}]")
    if row["proto"] in (1, 58):
        parts.append(f"type={row['icmp_type']} code={row['icmp_code']}")
    parts.append(f"len={row['payload_len']}")
    parts += _notes(row)
    return head + " ".join(parts)


def _notes(row: dict[str, Any]) -> list[str]:
    notes = []
    if row["q_proto"]:
        quoted = (f"{_endpoint(row['q_src'], row['q_sport'], bool(row['q_sport']))} -> "
                  f"{_endpoint(row['q_dst'], row['q_dport'], bool(row['q_dport']))}")
        notes.append(f"quoting {protocol_name(row['q_proto'])} {quoted}")
    if row["vlan"] >= 0:
        notes.append(f"vlan={row['vlan']}")
    if row["tunnel"]:
        notes.append(f"tunnel={tunnel_name(row['tunnel'])}")
    if row["frag"]:
        notes.append("fragment=first" if row["frag"] == 1 else "fragment=later")
    if row["status"]:
        notes.append(f"({status_label(row['status'])})")
    return notes


def run(args: argparse.Namespace) -> int:
    if args.count is not None and args.count < 0:
        raise UsageError("-c COUNT must not be negative")
    stats = CaptureStats()
    out = sys.stdout
    number = 0
    batches = read_batches(args.captures, resync=args.resync, stats=stats)
    try:
        for batch in batches:
            if args.count is not None and number + len(batch) >= args.count:
                batch = batch.head(args.count - number)
            lines = []
            for row in batch_rows(batch):
                number += 1
                lines.append(jsonl_line(row) if args.format == "jsonl" else text_line(number, row))
            if lines:
                out.write("\n".join(lines) + "\n")
                out.flush()  # a batch at a time: a live input's packets show as they come
            if args.count is not None and number >= args.count:
                break
    finally:
        out.flush()
        batches.close()
    return report_warnings(NAME, stats)
