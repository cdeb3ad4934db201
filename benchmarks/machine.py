"""The machine and the versions a result was measured with; the C loop compiled on the spot."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
from pathlib import Path
from typing import Any

C_SOURCE = Path(__file__).resolve().parent / "c_loop" / "flowloop.c"
C_FLAGS = ("-O2", "-Wall")
REPO = Path(__file__).resolve().parent.parent


def compile_c_loop(out_dir: Path) -> Path:
    """cc -O2 the reference loop into ``out_dir`` (it is part of every run)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / "flowloop"
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, *C_FLAGS, "-o", str(binary), str(C_SOURCE)], check=True)
    return binary


def describe() -> dict[str, Any]:
    """CPU model, cores, memory and kernel."""
    return {
        "cpu_model": _cpuinfo_field("model name"),
        "cores": os.cpu_count(),
        "mem_total_gib": round(_meminfo_kib("MemTotal") / 2**20, 1),
        "kernel": platform.release(),
        "hostname": platform.node(),
    }


def versions(compiled_c: Path | None = None) -> dict[str, str]:
    """Versions of everything timed, and the commit of our code."""
    out = {"python": platform.python_version(), "analyzer_commit": _git_commit()}
    for dist in ("dualstack-analyzer", "numpy", "dpkt", "scapy", "nfstream", "pyarrow",
                 "zstandard"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    out["tshark"] = _first_line(["tshark", "--version"])
    out["cc"] = _first_line([os.environ.get("CC", "cc"), "--version"]) + " " + " ".join(C_FLAGS)
    return out


def _git_commit() -> str:
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--",
                                "analyzer", "ext"], capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty.strip() else "")


def _first_line(argv: list[str]) -> str:
    if shutil.which(argv[0]) is None:
        return "not installed"
    proc = subprocess.run(argv, capture_output=True, text=True)
    return (proc.stdout or proc.stderr).splitlines()[0] if (proc.stdout or proc.stderr) else "?"


def _cpuinfo_field(name: str) -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(name):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _meminfo_kib(name: str) -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0
