"""Reader benchmark: our reader vs dpkt on a generated capture of at least 1 GB.

    .venv/bin/python -m benchmarks.bench_reader [--runs 3] [--dpkt-runs 3]

Generates benchmarks/data/reader_mixed.pcap if missing (the suite's numpy writer,
benchmarks/datagen.py: Ethernet, 802.1Q, IPv4/IPv6, TCP/UDP, realistic size mix),
then times, in one run and on the same file, our reader (read_batches, every column
filled) and dpkt (pcap.Reader + Ethernet decode down to the ports). Every timed run
first reads the whole file (the machine reclaims idle page-cache pages); medians are
reported as packets/s and MB/s. Both must see the same number of IP packets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.datagen import CaptureSpec, write_capture

DATA = Path(__file__).resolve().parent / "data"
CAPTURE = DATA / "reader_mixed.pcap"
SPEC = CaptureSpec(packets=1_700_000, flows=100_000, small=False, seed=11)
MIN_BYTES = 1 << 30


def ensure_capture(path: Path = CAPTURE, spec: CaptureSpec = SPEC) -> Path:
    """Generate the capture unless a large enough one is there."""
    if not path.exists() or path.stat().st_size < MIN_BYTES:
        path.parent.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_capture(path, spec)
        print(f"generated {path} ({path.stat().st_size / 1e9:.2f} GB) in "
              f"{time.perf_counter() - started:.1f} s")
    return path


def touch(path: Path) -> None:
    """Read the file once so its pages are in the page cache for the timed run."""
    with path.open("rb", buffering=0) as handle:
        buffer = bytearray(16 << 20)
        while handle.readinto(buffer):
            pass


def count_ours(path: Path) -> int:
    """IP packets, as our reader sees them (all columns are filled regardless)."""
    from analyzer.capture import read_batches

    return sum(int((batch.columns["wire_family"] != 0).sum())
               for batch in read_batches(path, reuse_buffers=True))


def count_dpkt(path: Path) -> int:
    """IP packets via dpkt: pcap.Reader + Ethernet decode, touching addresses and ports."""
    import dpkt

    seen = 0
    with path.open("rb") as handle:
        for _ts, buf in dpkt.pcap.Reader(handle):
            ip = dpkt.ethernet.Ethernet(buf).data
            if isinstance(ip, dpkt.ip.IP | dpkt.ip6.IP6):
                l4 = ip.data
                _ = (ip.src, ip.dst, getattr(l4, "sport", 0), getattr(l4, "dport", 0))
                seen += 1
    return seen


def timed_runs(path: Path, count: Callable[[Path], int], runs: int) -> tuple[list[float], int]:
    times, packets = [], 0
    for _ in range(runs):
        touch(path)
        started = time.perf_counter()
        packets = count(path)
        times.append(time.perf_counter() - started)
    return times, packets


def total_packets(path: Path) -> int:
    from analyzer.capture import CaptureStats, read_batches

    stats = CaptureStats()
    for _batch in read_batches(path, stats=stats):
        pass
    return stats.packets


def run(path: Path, runs: int, dpkt_runs: int) -> dict[str, dict[str, float]]:
    size_mb = path.stat().st_size / 1e6
    packets = total_packets(path)
    results = {}
    for name, count, n in (("ours", count_ours, runs), ("dpkt", count_dpkt, dpkt_runs)):
        if n <= 0:
            continue
        times, ip_packets = timed_runs(path, count, n)
        median = statistics.median(times)
        results[name] = {"seconds": median, "packets_per_s": packets / median,
                         "mb_per_s": size_mb / median, "ip_packets": ip_packets,
                         "runs": len(times)}
    if "dpkt" in results:
        assert results["ours"]["ip_packets"] == results["dpkt"]["ip_packets"], results
        results["ours"]["x_dpkt"] = results["dpkt"]["seconds"] / results["ours"]["seconds"]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, default=CAPTURE)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dpkt-runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    path = ensure_capture(args.capture)
    results = run(path, args.runs, args.dpkt_runs)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{path.name}: {path.stat().st_size / 1e9:.2f} GB, medians")
    print(f"{'reader':<8}{'packets/s':>14}{'MB/s':>10}{'seconds':>10}")
    for name, r in results.items():
        print(f"{name:<8}{r['packets_per_s']:>14,.0f}{r['mb_per_s']:>10,.0f}"
              f"{r['seconds']:>10.2f}")
    if "dpkt" in results:
        print(f"ours is {results['ours']['x_dpkt']:.1f}x dpkt")


if __name__ == "__main__":
    main()
