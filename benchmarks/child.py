"""One tool, one fresh process: ``python -m benchmarks.child TOOL FILE [--limit N]``.

Times the tool's work (imports and interpreter start-up excluded; the CLI and the C
loop are timed from outside instead), then, untimed, computes the flow fingerprint and
prints one JSON line. The parent (benchmarks/measure.py) samples the process's RssAnon
while it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import ours, peers
from benchmarks.measure import proc_status_kib

DEFAULT_SCAPY_LIMIT = 100_000


def _reader(path: Path, limit: int | None) -> dict[str, Any]:
    start = time.perf_counter()
    packets, flow_packets = ours.reader_packets(path)
    return {"seconds": time.perf_counter() - start, "packets": packets,
            "flow_packets": flow_packets}


def _flows(path: Path, limit: int | None) -> dict[str, Any]:
    start = time.perf_counter()
    cols = ours.read_flow_columns(path)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, **ours.summarize_flow_columns(cols).as_dict()}


def _flows_stream(path: Path, limit: int | None) -> dict[str, Any]:
    start = time.perf_counter()
    flows = ours.stream_flow_count(path)
    return {"seconds": time.perf_counter() - start, "flows": flows}


def _peer(run: Callable[..., peers.ToolResult]) -> Callable[[Path, int | None], dict[str, Any]]:
    def timed(path: Path, limit: int | None) -> dict[str, Any]:
        start = time.perf_counter()
        result = run(path) if limit is None else run(path, limit)
        seconds = time.perf_counter() - start
        return {"seconds": seconds, "packets": result.packets, **result.summary().as_dict()}

    return timed


def _scapy(path: Path, limit: int | None) -> dict[str, Any]:
    out = _peer(peers.scapy_flows)(path, limit or DEFAULT_SCAPY_LIMIT)
    # the same packets through the pure-Python loop: Scapy's subset is checked against it
    reference = peers.pure_python_flows(path, out["packets"]).summary()
    out["subset_reference"] = reference.as_dict()
    out["extrapolated"] = True
    return out


TOOLS: dict[str, Callable[[Path, int | None], dict[str, Any]]] = {
    "reader": _reader,
    "flows": _flows,
    "flows_stream": _flows_stream,
    "dpkt": _peer(peers.dpkt_flows),
    "pure_python": _peer(peers.pure_python_flows),
    "scapy": _scapy,
    "nfstream": _peer(peers.nfstream_flows),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("file", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    out = TOOLS[args.tool](args.file, args.limit)
    status = proc_status_kib("self")
    out["rss_anon_kib_end"] = status.get("RssAnon", 0)
    out["vm_hwm_kib"] = status.get("VmHWM", 0)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
