"""One tool, one fresh process: ``python -m benchmarks.child TOOL FILE [--limit N]``.

Times the tool's work (imports and interpreter start-up excluded; the CLI and the C
loop are timed from outside instead), then, untimed, computes the flow fingerprint and
prints one JSON line. The parent (benchmarks/measure.py) samples the process's RssAnon
while it runs. Under ``perf record --control`` (benchmarks/profile.py) the timed part
alone is recorded: the fifos are named by DSBENCH_PERF_CTL and DSBENCH_PERF_ACK.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

# numpy's OpenBLAS threads would spin beside the timed work (the CLI sets the same).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import ours, peers
from benchmarks.measure import proc_status_kib

DEFAULT_SCAPY_LIMIT = 100_000


class Stopwatch:
    """Times a block; tells a controlling ``perf record`` to sample only inside it."""

    seconds = 0.0
    cpu_seconds = 0.0   # of every thread of the process (the reader may run on its own)

    def __enter__(self) -> Stopwatch:
        _perf_control("enable")
        self._start = time.perf_counter()
        self._cpu_start = time.process_time()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = time.process_time() - self._cpu_start
        _perf_control("disable")


def _perf_control(command: str) -> None:
    ctl, ack = os.environ.get("DSBENCH_PERF_CTL"), os.environ.get("DSBENCH_PERF_ACK")
    if not ctl or not ack:
        return
    with open(ctl, "w") as f:
        f.write(command + "\n")
    with open(ack) as f:
        f.readline()


def _reader(path: Path, limit: int | None) -> dict[str, Any]:
    with Stopwatch() as watch:
        packets, flow_packets = ours.reader_packets(path)
    return {"seconds": watch.seconds, "packets": packets, "flow_packets": flow_packets}


CHECK = os.environ.get("DSBENCH_NO_CHECK") != "1"  # profiles leave the fingerprint out


def _flows(path: Path, limit: int | None, read_ahead: bool | None = None) -> dict[str, Any]:
    with Stopwatch() as watch:
        cols = ours.read_flow_columns(path, read_ahead)
    found = ours.summarize_flow_columns(cols).as_dict() if CHECK else {}
    return {"seconds": watch.seconds, "cpu_seconds": watch.cpu_seconds, **found}


def _flows_one_thread(path: Path, limit: int | None) -> dict[str, Any]:
    """read_flows with the reader on the calling thread, as the C loop runs."""
    return _flows(path, limit, read_ahead=False)


def _flows_stream(path: Path, limit: int | None) -> dict[str, Any]:
    with Stopwatch() as watch:
        flows = ours.stream_flow_count(path)
    return {"seconds": watch.seconds, "flows": flows}


def _peer(run: Callable[..., peers.ToolResult]) -> Callable[[Path, int | None], dict[str, Any]]:
    def timed(path: Path, limit: int | None) -> dict[str, Any]:
        with Stopwatch() as watch:
            result = run(path) if limit is None else run(path, limit)
        found = result.summary().as_dict() if CHECK else {}
        return {"seconds": watch.seconds, "packets": result.packets, **found}

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
    "flows_one_thread": _flows_one_thread,
    "flows_stream": _flows_stream,
    "dpkt": _peer(peers.dpkt_flows),
    "pure_python": _peer(peers.pure_python_flows),
    "scapy": _scapy,
    "nfstream": _peer(peers.nfstream_flows),
}


# imported before the clock starts: imports are start-up, not work
PRELOAD: dict[str, tuple[str, ...]] = {
    "reader": ("analyzer.capture",),
    "flows": ("analyzer.flows",),
    "flows_one_thread": ("analyzer.flows",),
    "flows_stream": ("analyzer.flows",),
    "dpkt": ("dpkt",),
    "scapy": ("scapy.layers.inet", "scapy.layers.inet6", "scapy.layers.l2", "scapy.utils"),
    "nfstream": ("nfstream",),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tool", choices=sorted(TOOLS))
    parser.add_argument("file", type=Path)
    parser.add_argument("--limit", type=int, default=None)
    args = parser.parse_args(argv)
    for module in PRELOAD.get(args.tool, ()):
        importlib.import_module(module)
    out = TOOLS[args.tool](args.file, args.limit)
    status = proc_status_kib("self")
    out["rss_anon_kib_end"] = status.get("RssAnon", 0)
    out["vm_hwm_kib"] = status.get("VmHWM", 0)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
