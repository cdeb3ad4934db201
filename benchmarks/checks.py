"""Measured (not asserted) targets of issue 8 beyond speed: memory and compressed input.

- 10x capture, same concurrency: peak RssAnon of streaming flows (``iter_flow_batches``)
  on ``mem_10x`` within 10 % of ``mem_base``.
- 1 M concurrent flows: peak RssAnon of streaming flows and of ``read_flows`` (which
  also holds every finished flow's columns) on ``manyflows``, target < 300 MB; the
  ``read_flows`` peak is of a run without the flow fingerprint (reported beside it).
- zstd: reader + flows on the zstd copy of ``mixed`` (random payload, as encrypted traffic
  has) at least 0.5x the uncompressed speed.
- Batch over an archive, 2 workers vs 1: the batch engineer's benchmarks/bench_archive.py
  (called when present; target >= 1.8x).
Every run's flow count or fingerprint is checked too.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import datasets
from benchmarks.datagen import CaptureSpec
from benchmarks.datasets import Dataset
from benchmarks.measure import PageCacheLock, median, run_process

MIB = 1024
TEN_X_LIMIT = 1.10
CONCURRENT_LIMIT_MB = 300
ZSTD_TARGET = 0.5
ARCHIVE_TARGET = 1.8
BENCH_ARCHIVE = Path(__file__).resolve().parent / "bench_archive.py"


def child_run(tool: str, ds: Dataset, check: bool = True) -> dict[str, Any]:
    """One fresh-process run of a benchmarks.child tool; its output plus peak RssAnon.
    `check=False`: without the flow fingerprint (its arrays would count in the peak)."""
    env = None if check else {**os.environ, "DSBENCH_NO_CHECK": "1"}
    proc = run_process([sys.executable, "-m", "benchmarks.child", tool, str(ds.path)],
                       warm_paths=[ds.path], env=env)
    if proc.returncode != 0:
        return {"error": proc.stderr.strip()[-300:]}
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    found["peak_rss_anon_kib"] = max(proc.peak_rss_anon_kib, found.get("rss_anon_kib_end", 0))
    return found


def _flows_ok(found: dict[str, Any], ds: Dataset) -> bool:
    return found.get("flows") == ds.spec.flows


def ten_x(data: Any, specs: dict[str, CaptureSpec]) -> dict[str, Any]:
    sets = datasets.ensure(data, specs, ["mem_base", "mem_10x"], own_writer=True)
    runs = {}
    for name, ds in sets.items():
        with PageCacheLock([ds.path]):
            found = child_run("flows_stream", ds)
        runs[name] = {"capture": ds.describe(), "flows_ok": _flows_ok(found, ds), **found}
    base = runs["mem_base"].get("peak_rss_anon_kib", 0)
    big = runs["mem_10x"].get("peak_rss_anon_kib", 0)
    ratio = big / base if base else None
    return {"runs": runs, "ratio": ratio, "limit": TEN_X_LIMIT,
            "met": ratio is not None and ratio <= TEN_X_LIMIT}


def concurrent(data: Any, specs: dict[str, CaptureSpec]) -> dict[str, Any]:
    """Peak RssAnon of streaming flows and of read_flows on 1 M concurrent flows. The
    read_flows peak is of a run without the flow fingerprint (computed after the timed
    part, its arrays would count); a second run with it checks the flows."""
    ds = datasets.ensure(data, specs, ["manyflows"])["manyflows"]
    runs = {}
    with PageCacheLock([ds.path]):
        for tool in ("flows_stream", "flows"):
            found = child_run(tool, ds, check=tool == "flows_stream")
            kib = found.get("peak_rss_anon_kib", 0)
            mb = kib * 1024 / 1e6
            checked = found if tool == "flows_stream" else child_run(tool, ds)
            runs[tool] = {**checked, **found, "flows_ok": _flows_ok(checked, ds),
                          "peak_rss_anon_mib": round(kib / MIB, 1),
                          "peak_with_fingerprint_mib": round(
                              checked.get("peak_rss_anon_kib", 0) / MIB, 1),
                          "met": 0 < mb < CONCURRENT_LIMIT_MB}
    return {"capture": ds.describe(), "runs": runs, "limit_mb": CONCURRENT_LIMIT_MB}


def zstd_ratio(data: Any, specs: dict[str, CaptureSpec], runs: int) -> dict[str, Any]:
    plain = datasets.ensure(data, specs, ["mixed"], own_writer=True)["mixed"]
    packed = datasets.ensure_zstd(plain)
    times: dict[str, list[float]] = {"plain": [], "zstd": []}
    sums = {}
    with PageCacheLock([plain.path, packed.path]):
        for _ in range(runs):
            for label, ds in (("plain", plain), ("zstd", packed)):
                found = child_run("flows", ds)
                if "error" in found:
                    return {"error": f"{label}: {found['error']}"}
                times[label].append(found["seconds"])
                sums[label] = found.get("checksum")
    plain_s, zstd_s = median(times["plain"]), median(times["zstd"])
    return {
        "plain_s": round(plain_s, 4), "zstd_s": round(zstd_s, 4),
        "zstd_bytes": packed.bytes, "plain_bytes": plain.bytes,
        "ratio": round(plain_s / zstd_s, 3), "target": ZSTD_TARGET,
        "met": plain_s / zstd_s >= ZSTD_TARGET, "same_flows": sums["plain"] == sums["zstd"],
    }


def archive_speedup(specs: dict[str, CaptureSpec], runs: int) -> dict[str, Any]:
    """benchmarks/bench_archive.py on as many packets as the ``mixed`` capture has."""
    if not BENCH_ARCHIVE.exists():
        return {"error": "benchmarks/bench_archive.py not found"}
    mixed = specs["mixed"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "archive.json"
        proc = run_process([sys.executable, "-m", "benchmarks.bench_archive", "--packets",
                            str(mixed.packets), "--flows", str(mixed.flows), "--runs", str(runs),
                            "--json", str(out)])
        if proc.returncode != 0 or not out.exists():
            return {"error": f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}"}
        report: dict[str, Any] = json.loads(out.read_text())
    speedup = report.get("speedup_wall")
    report["met"] = speedup is not None and speedup >= ARCHIVE_TARGET
    return report


def run_checks(data: Any, specs: dict[str, CaptureSpec], *, runs: int) -> dict[str, Any]:
    print("memory, zstd and archive checks ...", file=sys.stderr, flush=True)
    return {"ten_x": ten_x(data, specs), "concurrent": concurrent(data, specs),
            "zstd": zstd_ratio(data, specs, runs), "archive": archive_speedup(specs, runs)}


def format_report(checks: dict[str, Any]) -> str:
    lines = ["### Memory and compressed input (measured, not asserted)", ""]
    tx = checks["ten_x"]
    b, x = tx["runs"]["mem_base"], tx["runs"]["mem_10x"]
    lines.append(
        f"- 10x capture, same concurrency (streaming flows): "
        f"{_mib(b)} MiB -> {_mib(x)} MiB peak RssAnon, ratio "
        f"{tx['ratio'] or float('nan'):.3f} (target <= {TEN_X_LIMIT}: "
        f"{'met' if tx['met'] else 'NOT met'}); flows right: {b['flows_ok']}/{x['flows_ok']}")
    cc = checks["concurrent"]
    for tool, r in cc["runs"].items():
        lines.append(
            f"- {cc['capture']}: {tool} peak RssAnon {r['peak_rss_anon_mib']} MiB "
            f"({r['peak_rss_anon_mib'] * 1.048576:.0f} MB) "
            f"(target < {CONCURRENT_LIMIT_MB} MB: {'met' if r['met'] else 'NOT met'})"
            f"{_with_fingerprint(tool, r)}; "
            f"flows right: {r['flows_ok']}{' ' + r['error'] if 'error' in r else ''}")
    z = checks["zstd"]
    if "error" in z:
        lines.append(f"- zstd: {z['error']}")
    else:
        lines.append(
            f"- zstd input ({z['zstd_bytes'] / 1e6:,.0f} MB for {z['plain_bytes'] / 1e6:,.0f} MB): "
            f"reader + flows {z['zstd_s']:.2f} s vs {z['plain_s']:.2f} s uncompressed, "
            f"{z['ratio']:.2f}x of the uncompressed speed (target >= {ZSTD_TARGET}: "
            f"{'met' if z['met'] else 'NOT met'}); same flows: {z['same_flows']}")
    a = checks.get("archive", {})
    if "error" in a:
        lines.append(f"- batch over an archive, 2 workers vs 1: {a['error']}")
    elif a:
        lines.append(
            f"- batch over an archive (benchmarks/bench_archive.py): 2 workers "
            f"{a.get('speedup_wall')}x one worker (target >= {ARCHIVE_TARGET}: "
            f"{'met' if a['met'] else 'NOT met'})")
    return "\n".join(lines)


def _mib(run: dict[str, Any]) -> str:
    return f"{run.get('peak_rss_anon_kib', 0) / MIB:.1f}"


def _with_fingerprint(tool: str, run: dict[str, Any]) -> str:
    if tool == "flows_stream":
        return ""
    return f" [fingerprint excluded; {run['peak_with_fingerprint_mib']} MiB with it]"
