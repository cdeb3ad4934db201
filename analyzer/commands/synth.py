"""Write synthetic traffic with known answers: a scenario, or a big capture for benchmarks.

    dualstack synth --list
    dualstack synth SCENARIO -o DIR [--seed N] [--format pcap|pcapng]
                    [--link ethernet|sll2|raw|null] [--vlan ID] [--scale N]
    dualstack synth all -o DIR            (every scenario, one subdirectory each)
    dualstack synth bulk -o FILE|- --packets N --flows M [--mix ipv6=0.4,udp=0.25,...]
                    [--small] [--seed N] [--concurrency C] [--chunk-gap S] [--nano]

A scenario directory holds capture.pcap (or .pcapng), snapshots.jsonl and truth.json,
the class every flow must get and the verdict every listener must get; check them
with `dualstack verify DIR/capture.pcap --snapshot DIR/snapshots.jsonl`. Scenarios
whose snapshot came from netstat or ss text also write it as snapshot.txt (verify
takes it too, with --os for BSD netstat). The same seed always gives the same bytes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from analyzer.errors import UsageError

NAME = "synth"
HELP = "write synthetic captures with ground truth (scenarios) or big benchmark captures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("scenario", nargs="?", metavar="SCENARIO",
                        help="scenario name (see --list), 'all', or 'bulk'")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="output directory (scenarios) or capture file (bulk)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    scenario = parser.add_argument_group("scenario options")
    scenario.add_argument("--format", choices=("pcap", "pcapng"), default="pcap",
                          help="capture file format (default pcap)")
    scenario.add_argument("--link", choices=("ethernet", "sll2", "raw", "null"),
                          default="ethernet", help="link layer (default ethernet)")
    scenario.add_argument("--vlan", type=int, metavar="ID",
                          help="tag every frame with this 802.1Q VLAN id (ethernet, sll2)")
    scenario.add_argument("--scale", type=int, default=1, metavar="N",
                          help="N times the clients and flows (default 1)")
    bulk = parser.add_argument_group("bulk options")
    bulk.add_argument("--packets", type=int, metavar="N", help="exact number of packets")
    bulk.add_argument("--flows", type=int, metavar="M", help="exact number of flows")
    bulk.add_argument("--mix", default="", metavar="KEY=FRACTION,...",
                      help="fractions of flows: ipv6, udp, vlan, refused, unanswered")
    bulk.add_argument("--small", action="store_true", help="tiny payloads (~80-byte packets)")
    bulk.add_argument("--concurrency", type=int, default=10_000, metavar="C",
                      help="flows open at the same time (default 10000)")
    bulk.add_argument("--chunk-gap", type=float, default=0.0, metavar="SECONDS",
                      help="silence between groups of --concurrency flows (default 0)")
    bulk.add_argument("--nano", action="store_true", help="nanosecond pcap timestamps")


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not args.scenario:
        raise UsageError("name a scenario (see --list), 'all' or 'bulk'")
    if not args.output:
        raise UsageError("-o PATH is required")
    if args.scenario == "bulk":
        return _bulk(args)
    return _scenarios(args)


def _list() -> int:
    from analyzer.synth.scenarios import SCENARIOS

    width = max(len(name) for name in SCENARIOS)
    for name in sorted(SCENARIOS):
        item = SCENARIOS[name]
        print(f"{name:<{width}}  {item.os:<8} {item.summary}")
    return 0


def _scenarios(args: argparse.Namespace) -> int:
    from analyzer.synth.scenarios import SCENARIOS, get_scenario
    from analyzer.synth.writer import CaptureOptions, write_scenario

    options = CaptureOptions(format=args.format, link=args.link, vlan=args.vlan)
    out = Path(args.output)
    if args.scenario == "all":
        chosen = [(SCENARIOS[name], out / name) for name in sorted(SCENARIOS)]
    else:
        chosen = [(get_scenario(args.scenario), out)]
    for item, directory in chosen:
        files = write_scenario(item.make(seed=args.seed, scale=args.scale), directory, options)
        print(f"{item.name}: {files.packets} packets -> {files.capture}, {files.snapshots.name}, "
              f"{files.truth.name}", file=sys.stderr)
    return 0


def _bulk(args: argparse.Namespace) -> int:
    from analyzer.synth.bulk import write_bulk

    if args.packets is None or args.flows is None:
        raise UsageError("bulk needs --packets N and --flows M")
    started = time.perf_counter()
    result = write_bulk(args.output, args.packets, args.flows, small=args.small,
                        seed=args.seed, mix=args.mix, concurrency=args.concurrency,
                        nano=args.nano, chunk_gap_s=args.chunk_gap)
    seconds = time.perf_counter() - started
    print(f"{args.output}: {result.packets} packets, {result.flows} flows, "
          f"{result.bytes} bytes in {seconds:.1f} s", file=sys.stderr)
    return 0
