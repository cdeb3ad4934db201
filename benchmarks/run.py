"""The benchmark suite, one command: ``python benchmarks/run.py [--quick] [--data DIR]``.

Generates the captures if they are missing, compiles the C reference loop, then on the
same files and in one run times our reader, our reader + flow table, our CLI end to end,
dpkt, a pure-Python struct loop, Scapy (on a subset, extrapolated), nfstream and tshark
when installed, and the C loop. Each tool runs in a fresh process with the capture in
page cache; every tool's flows are checked against the C loop's (flow count, packets,
fingerprint over each flow's key and per-direction packets) before its time is shown.
Each run of a tool follows a run of the C loop, and the tool's ratio to the C loop is
the median of those pairs' ratios: the machine is shared, and its speed drifts between
the minutes one tool's runs and another's take (the C loop alone moved 16-24 M packets/s
on `small` from run to run). Prints a table, writes results/latest.json and appends to
results/history.jsonl.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import checks, datasets, machine, profile
from benchmarks.datasets import Dataset
from benchmarks.measure import CACHED_BYTECODE, PageCacheLock, ProcessRun, median, run_process
from benchmarks.ours import summarize_parquet
from benchmarks.peers import TSHARK, nfstream_available, parse_tshark_conv, tshark_command

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
FLOW_KEYS = ("flows", "flow_packets", "checksum")


@dataclass(frozen=True)
class Tool:
    """A row of the table: how to run it and what of its output must match the C loop."""

    name: str
    argv: Callable[[Dataset, Path], list[str]]
    parse: Callable[[ProcessRun, Path], dict[str, Any]]
    compare: tuple[str, ...] = FLOW_KEYS
    slow: bool = False  # fewer runs (the median of what was run)
    note: str = ""
    env: dict[str, str] | None = None  # the process environment (None: ours)
    warm_up: bool = False  # one untimed run first


@dataclass
class ToolRuns:
    """The runs of one tool on one capture: times, peak memory, what it found."""

    name: str
    note: str
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)   # where the tool reports them
    peak_rss_anon_kib: int = 0
    packets: int = 0  # packets the timed part covered
    found: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    paired_c_seconds: list[float] = field(default_factory=list)  # the C loop just before


def _child(tool: str, *extra: str) -> Callable[[Dataset, Path], list[str]]:
    return lambda ds, tmp: [sys.executable, "-m", "benchmarks.child", tool, str(ds.path), *extra]


def _json_output(proc: ProcessRun, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def _wall_and(parse: Callable[[ProcessRun, Path], dict[str, Any]]):
    def timed_outside(proc: ProcessRun, tmp: Path) -> dict[str, Any]:
        return {**parse(proc, tmp), "seconds": proc.wall_s}

    return timed_outside


def build_tools(scapy_limit: int, compiled_c: Path) -> list[Tool]:
    """Every tool the suite runs here, the C loop first (it is the reference)."""
    tools = [
        Tool("C loop (mmap, -O2, prefetch)", lambda ds, tmp: [str(compiled_c), str(ds.path)],
             _json_output, compare=("packets", *FLOW_KEYS)),
        Tool("ours: reader", _child("reader"), _json_output,
             compare=("packets", "flow_packets")),
        Tool("ours: reader + flows (read_flows)", _child("flows"), _json_output,
             note="reader on a thread of its own"),
        Tool("ours: reader + flows, one thread (read_flows)", _child("flows_one_thread"),
             _json_output, note="read_ahead=False"),
        Tool("ours: dualstack flows --format parquet (end to end)", _cli_argv,
             _wall_and(lambda proc, tmp: summarize_parquet(tmp / "flows.parquet").as_dict()),
             note="process wall time", env=CACHED_BYTECODE, warm_up=True),
        Tool("pure Python (mmap + struct)", _child("pure_python"), _json_output),
        Tool("dpkt (pcap.Reader + Ethernet + dict)", _child("dpkt"), _json_output, slow=True),
        Tool("Scapy (RawPcapReader + Ether)", _child("scapy", "--limit", str(scapy_limit)),
             _json_output, slow=True, note=f"extrapolated from {scapy_limit} packets"),
    ]
    if nfstream_available():
        tools.append(Tool("nfstream (no DPI, 1 meter)", _child("nfstream"), _json_output,
                          slow=True))
    if TSHARK is not None:
        tools.append(Tool("tshark -z conv,tcp -z conv,udp", lambda ds, tmp: tshark_command(ds.path),
                          _wall_and(lambda proc, tmp: parse_tshark_conv(proc.stdout).as_dict()),
                          slow=True, note="process wall time"))
    return tools


def _cli_argv(ds: Dataset, tmp: Path) -> list[str]:
    out = tmp / "flows.parquet"
    return [sys.executable, "-m", "analyzer", "flows", str(ds.path), "--format", "parquet",
            "-o", str(out)]


def run_tool(tool: Tool, ds: Dataset, runs: int, reference: dict[str, Any] | None,
             c_loop: Tool | None = None) -> ToolRuns:
    """Run a tool ``runs`` times, each run after one of `c_loop`; stop at the first
    failure or mismatch. Memory comes from a run watched for it: one more run, untimed,
    before the timed ones (sampling /proc every 4 ms takes a few % of a CPU, which a tool
    running on both CPUs loses, and the C loop's paired runs are never watched); a tool
    run once (the slow ones) is watched and timed in the same run."""
    result = ToolRuns(tool.name, tool.note)
    if tool.warm_up:
        with tempfile.TemporaryDirectory(prefix="dsbench-") as tmpdir:
            run_process(tool.argv(ds, Path(tmpdir)), warm_paths=[ds.path], env=tool.env)
    watched = -1 if runs > 1 else 0  # the index of the run watched for memory
    for index in range(watched, runs):
        timed = index >= 0
        if c_loop is not None and timed:
            result.paired_c_seconds.append(_c_loop_seconds(c_loop, ds))
        with tempfile.TemporaryDirectory(prefix="dsbench-") as tmpdir:
            tmp = Path(tmpdir)
            proc = run_process(tool.argv(ds, tmp), warm_paths=[ds.path], env=tool.env,
                               sample=index == watched)
            if proc.returncode != 0:
                result.error = f"exit {proc.returncode}: {_last_line(proc.stderr)}"
                return result
            found = tool.parse(proc, tmp)
        result.error = _mismatch(tool, found, reference)
        if result.error:
            return result
        result.found = found
        result.peak_rss_anon_kib = max(
            result.peak_rss_anon_kib, proc.peak_rss_anon_kib, int(found.get("rss_anon_kib_end", 0))
        )
        if not timed:
            continue
        result.seconds.append(float(found["seconds"]))
        if "cpu_seconds" in found:
            result.cpu_seconds.append(float(found["cpu_seconds"]))
        result.packets = int(found.get("packets") or ds.packets)
    return result


def _c_loop_seconds(c_loop: Tool, ds: Dataset) -> float:
    with tempfile.TemporaryDirectory(prefix="dsbench-") as tmpdir:
        tmp = Path(tmpdir)
        run = run_process(c_loop.argv(ds, tmp), warm_paths=[ds.path], sample=False)
        return float(c_loop.parse(run, tmp)["seconds"])


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][-300:] if lines else ""


def _mismatch(tool: Tool, found: dict[str, Any], reference: dict[str, Any] | None) -> str:
    """Why ``found`` differs from the reference flows ('' when it agrees)."""
    if "subset_reference" in found:  # Scapy: its subset against the pure-Python loop
        reference = found["subset_reference"]
    if reference is None:
        return ""
    diffs = [f"{k}: {found.get(k)} != {reference.get(k)}" for k in tool.compare
             if found.get(k) != reference.get(k)]
    return "flows differ from the C loop: " + "; ".join(diffs) if diffs else ""


def run_dataset(ds: Dataset, tools: Sequence[Tool], runs: int, slow_runs: int) -> list[ToolRuns]:
    """All tools on one capture; the C loop's flows are the reference."""
    results: list[ToolRuns] = []
    reference: dict[str, Any] | None = None
    with PageCacheLock([ds.path]):
        for tool in tools:
            print(f"  {tool.name} ...", file=sys.stderr, flush=True)
            c_loop = tools[0] if reference is not None else None
            res = run_tool(tool, ds, slow_runs if tool.slow else runs, reference, c_loop)
            if reference is None and not res.error:
                reference = res.found
            results.append(res)
    return results


def summarize(ds: Dataset, results: Sequence[ToolRuns]) -> list[dict[str, Any]]:
    """Rows with medians, rates and the ratio to the C loop (the median ratio of the
    tool's runs to the C loop's runs just before them; the C loop's own row is 1)."""
    rows = []
    for res in results:
        row: dict[str, Any] = {"tool": res.name, "note": res.note, "error": res.error,
                               "runs_s": [round(s, 4) for s in res.seconds]}
        if res.seconds and not res.error:
            sec = median(res.seconds)
            pps = res.packets / sec
            row |= {
                "median_s": round(sec, 4),
                "packets_per_s": round(pps),
                "mb_per_s": round(ds.bytes * res.packets / ds.packets / sec / 1e6, 1),
                "peak_rss_anon_mib": round(res.peak_rss_anon_kib / 1024, 1),
                "of_c": round(_paired_ratio(res, ds), 4),
                **{k: res.found.get(k) for k in FLOW_KEYS if k in res.found},
            }
            if res.paired_c_seconds:
                row["paired_c_loop_s"] = [round(s, 4) for s in res.paired_c_seconds]
            if res.cpu_seconds:
                row["median_cpu_s"] = round(median(res.cpu_seconds), 4)
        rows.append(row)
    return rows


def _paired_ratio(res: ToolRuns, ds: Dataset) -> float:
    """Median over the tool's runs of its packets/s over the C loop's just before."""
    if not res.paired_c_seconds:
        return 1.0  # the C loop itself
    return median([(res.packets / seconds) / (ds.packets / c_seconds) for seconds, c_seconds
                   in zip(res.seconds, res.paired_c_seconds, strict=False)])


# issue 8: (row name prefix, minimum ratio to the C loop, captures it applies to)
TARGETS = (
    ("ours: reader + flows", 0.7, ("mixed", "small")),
    ("ours: dualstack flows", 0.5, ("mixed",)),
)


def format_targets(dataset: str, rows: Sequence[dict[str, Any]]) -> str:
    """One line per issue-8 target that applies to this capture: met or not."""
    lines = []
    for prefix, minimum, where in TARGETS:
        row = next((r for r in rows if r["tool"].startswith(prefix)), None)
        if dataset not in where or row is None or "of_c" not in row:
            continue
        verdict = "met" if row["of_c"] >= minimum else "NOT met"
        lines.append(f"- target: {prefix} >= {minimum}x the C loop: {row['of_c']:.2f}x, {verdict}")
    return "\n".join(lines)


def _note(row: dict[str, Any]) -> str:
    """The row's note, and CPU seconds beside wall seconds where the tool reports them."""
    if "median_cpu_s" not in row:
        return str(row["note"])
    cpu = f"CPU {row['median_cpu_s']:.3f} s for {row['median_s']:.3f} s wall"
    return f"{row['note']}; {cpu}" if row["note"] else cpu


def format_table(title: str, rows: Sequence[dict[str, Any]]) -> str:
    lines = [f"### {title}", "",
             "| tool | packets/s | MB/s | peak RssAnon MiB | x of C | slower than C | note |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        if "median_s" not in r:
            lines.append(f"| {r['tool']} | - | - | - | - | - | {r['error'] or 'not run'} |")
            continue
        lines.append(
            f"| {r['tool']} | {r['packets_per_s'] / 1e6:.3f} M | {r['mb_per_s']:.0f} "
            f"| {r['peak_rss_anon_mib']:.0f} | {r['of_c']:.3f} | {1 / r['of_c']:.1f}x "
            f"| {_note(r)} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small captures (~150 MB), for development")
    p.add_argument("--scale", type=int, default=None,
                   help="divide every capture's packets and flows by this (--quick: 10)")
    p.add_argument("--data", type=Path, default=HERE / "data", help="where captures live")
    p.add_argument("--runs", type=int, default=None, help="runs per tool (default 3, quick 2)")
    p.add_argument("--slow-runs", type=int, default=None,
                   help="runs of the slow peers (default 2, quick 1)")
    p.add_argument("--only", nargs="*", default=None, help="datasets to run (default: all)")
    p.add_argument("--no-memory", action="store_true", help="skip the memory checks")
    p.add_argument("--profile", action="store_true",
                   help="also perf stat and callgrind our reader/flows and the C loop")
    p.add_argument("--no-history", action="store_true", help="do not append to history.jsonl")
    p.add_argument("--results", type=Path, default=RESULTS, help="where latest.json goes")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runs = args.runs or (2 if args.quick else 3)
    slow_runs = args.slow_runs or (1 if args.quick else 2)
    scale = args.scale or (10 if args.quick else 1)
    specs = datasets.specs(scale)
    timed = [name for name in datasets.TIMED if args.only is None or name in args.only]
    data = datasets.ensure(args.data, specs, timed)
    compiled_c = machine.compile_c_loop(args.data)
    tools = build_tools(datasets.scapy_limit(scale), compiled_c)
    report: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scale": scale, "runs": runs, "slow_runs": slow_runs, "machine": machine.describe(),
        "versions": machine.versions(compiled_c), "datasets": {}, "results": {},
    }
    tables = []
    for name in timed:
        ds = data[name]
        print(f"{name}: {ds.describe()}", file=sys.stderr, flush=True)
        rows = summarize(ds, run_dataset(ds, tools, runs, slow_runs))
        report["datasets"][name] = ds.as_dict()
        report["results"][name] = rows
        tables.append(format_table(f"{name}: {ds.describe()}", rows) + "\n\n"
                      + format_targets(name, rows))
        print(tables[-1] + "\n", flush=True)
    if not args.no_memory:
        report["memory"] = checks.run_checks(args.data, specs, runs=runs)
        tables.append(checks.format_report(report["memory"]))
        print(tables[-1] + "\n", flush=True)
    if args.profile:
        report["profile"] = profile.run(args.data, specs, compiled_c)
        print(profile.format_report(report["profile"]), flush=True)
    report["tables"] = tables
    save(report, args.results, history=not args.no_history)
    return 1 if any(r["error"] for rows in report["results"].values() for r in rows) else 0


def save(report: dict[str, Any], results: Path, *, history: bool) -> None:
    results.mkdir(parents=True, exist_ok=True)
    (results / "latest.json").write_text(json.dumps(report, indent=1) + "\n")
    if history:
        compact = {k: v for k, v in report.items() if k not in ("tables", "profile")}
        with (results / "history.jsonl").open("a") as f:
            f.write(json.dumps(compact, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
