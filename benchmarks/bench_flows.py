"""Reader + flow table against dpkt + a dict, same capture, same run.

    .venv/bin/python -m benchmarks.bench_flows            # generates benchmarks/data/*.pcap
    .venv/bin/python -m benchmarks.bench_flows --runs 1 --skip-dpkt

Two generated captures (benchmarks/datagen.py): "mixed" (>= 1 GB, realistic sizes, 1 M+
flows spread over time) and "concurrent" (1 M flows all open at once: the memory case).
Each tool runs in a fresh process; we report packets/s (whole process and the timed part
alone), and peak RssAnon (the mapped capture's pages are the page cache's, not ours).
"ours" is read_flows (every flow kept, as columns); "stream" is iter_flow_batches with
each batch dropped after counting (the memory that live flows need).
Both tools must find the same flows (benchmarks/flowcheck.py fingerprint) before a time
is reported.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from benchmarks.datagen import CaptureSpec, write_capture
from benchmarks.measure import median, run_process

DATA = Path(__file__).resolve().parent / "data"
CAPTURES = {
    "mixed": CaptureSpec(packets=4_000_000, flows=1_000_000, small=False, concurrency=10_000),
    "concurrent": CaptureSpec(packets=2_500_000, flows=1_000_000, small=True,
                              concurrency=1_000_000),
}


def child(tool: str, path: Path) -> None:
    """Run one tool on `path`; print packets, flows, fingerprint and timed seconds."""
    start = time.perf_counter()
    if tool == "ours":
        from benchmarks.ours import read_flow_columns, summarize_flow_columns

        cols = read_flow_columns(path)
        elapsed = time.perf_counter() - start
        summary = summarize_flow_columns(cols)
    elif tool == "stream":
        from analyzer.flows import iter_flow_batches

        flows = packets = 0
        for frame in iter_flow_batches(str(path)):
            flows += len(frame)
            packets += int(frame.columns["packets_c2s"].sum() + frame.columns["packets_s2c"].sum())
        elapsed = time.perf_counter() - start
        print(json.dumps({"packets": packets, "elapsed_s": elapsed, "flows": flows,
                          "checksum": "-"}))
        return
    else:
        from benchmarks.peers import dpkt_flows

        result = dpkt_flows(path)
        elapsed = time.perf_counter() - start
        summary = result.summary()
    print(json.dumps({"packets": summary.packets, "elapsed_s": elapsed, **summary.as_dict()}))


def measure(tool: str, path: Path, runs: int) -> dict:
    argv = [sys.executable, "-m", "benchmarks.bench_flows", "--child", tool, str(path)]
    results = []
    for _ in range(runs):
        run = run_process(argv, warm_paths=[path])
        if run.returncode != 0:
            raise SystemExit(f"{tool} failed on {path}:\n{run.stderr}")
        out = json.loads(run.stdout.strip().splitlines()[-1])
        results.append((run.wall_s, out["elapsed_s"], run.peak_rss_anon_kib, out))
    wall = median(r[0] for r in results)
    timed = median(r[1] for r in results)
    out = results[-1][3]
    return {
        "tool": tool, "wall_s": wall, "timed_s": timed,
        "packets": out["packets"], "flows": out["flows"], "checksum": out["checksum"],
        "peak_rss_anon_mib": max(r[2] for r in results) / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-dpkt", action="store_true")
    parser.add_argument("--captures", nargs="*", default=list(CAPTURES), choices=list(CAPTURES))
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], Path(args.child[1]))
        return 0
    for name in args.captures:
        path = DATA / f"flows_{name}.pcap"
        if not path.exists():
            print(f"generating {path} ...", file=sys.stderr)
            write_capture(path, CAPTURES[name])
        size_mb = path.stat().st_size / 1e6
        rows = [measure("ours", path, args.runs), measure("stream", path, args.runs)]
        if not args.skip_dpkt:
            rows.append(measure("dpkt", path, 1))
        print(f"\n{name}: {path.name}, {size_mb:,.0f} MB")
        print(f"{'tool':6} {'packets':>10} {'flows':>9} {'Mpkt/s wall':>12} "
              f"{'Mpkt/s timed':>13} {'MB/s':>7} {'RssAnon MiB':>12}")
        for r in rows:
            print(f"{r['tool']:6} {r['packets']:>10,} {r['flows']:>9,} "
                  f"{r['packets'] / r['wall_s'] / 1e6:>12.2f} "
                  f"{r['packets'] / r['timed_s'] / 1e6:>13.2f} "
                  f"{size_mb / r['timed_s']:>7.0f} {r['peak_rss_anon_mib']:>12.0f}")
        if len(rows) == 3:
            same = (rows[0]["flows"], rows[0]["checksum"]) == (rows[2]["flows"],
                                                              rows[2]["checksum"])
            print(f"same flows as dpkt: {same}; speed-up (timed): "
                  f"{rows[2]['timed_s'] / rows[0]['timed_s']:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
