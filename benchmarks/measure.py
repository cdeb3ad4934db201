"""Timing and memory of one tool run in a fresh process, with the capture in page cache.

- The machine reclaims file pages idle for ~30 s, so :func:`warm` reads the capture right
  before every timed run, and :class:`PageCacheLock` keeps it mlock()ed for the whole
  suite (when the kernel allows it).
- Peak anonymous memory: the parent samples ``RssAnon`` of the child and its
  descendants (nfstream's meters are processes) from ``/proc/PID/status`` every few
  milliseconds. RssAnon leaves out the mapped capture's pages (those are the page
  cache's), which VmHWM/maxrss would count.
- Several runs, the median reported (the machine is shared and noisy).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import mmap
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

SAMPLE_INTERVAL_S = 0.004
REPO = Path(__file__).resolve().parent.parent  # children run `-m benchmarks.child` from here
WARM_CHUNK = 8 << 20


@dataclass
class ProcessRun:
    """One finished child process."""

    wall_s: float
    peak_rss_anon_kib: int
    returncode: int
    stdout: str
    stderr: str


# An installed command runs from compiled bytecode (pip compiles it at install time);
# this machine's environment turns writing bytecode off (PYTHONDONTWRITEBYTECODE), so an
# editable checkout would compile its changed modules on every run (20-50 ms of a CLI's
# or batch driver's start-up).
CACHED_BYTECODE = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def proc_status_kib(pid: int | str) -> dict[str, int]:
    """The ``kB`` fields of /proc/PID/status (RssAnon, VmHWM, ...); {} when gone."""
    fields: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                name, _, value = line.partition(":")
                if value.endswith(" kB\n"):
                    fields[name] = int(value[:-4])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return fields


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids.extend(int(k) for k in f.read().split())
    return kids


def tree_rss_anon_kib(pid: int) -> int:
    """RssAnon of a process and all its descendants, in KiB."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += proc_status_kib(p).get("RssAnon", 0)
        todo.extend(_children(p))
    return total


def warm(paths: Iterable[Path]) -> None:
    """Read each file once so its pages are in the page cache right now."""
    buf = bytearray(WARM_CHUNK)
    view = memoryview(buf)
    for path in paths:
        with path.open("rb", buffering=0) as f:
            while f.readinto(view):
                pass


class PageCacheLock:
    """mlock() the files' pages for the life of the context (best effort: it needs root or
    a large RLIMIT_MEMLOCK; without it :func:`warm` before each run still helps).

    The files are mapped read-only and shared with libc's mmap, so locking them pins the
    page cache's pages and copies nothing."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = list(paths)
        self.locked_bytes = 0
        self._maps: list[tuple[int, int]] = []
        self._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        self._libc.mmap.restype = ctypes.c_void_p
        self._libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                                    ctypes.c_int, ctypes.c_int, ctypes.c_long]
        self._libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self._libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]

    def __enter__(self) -> PageCacheLock:
        for path in self.paths:
            size = path.stat().st_size
            with path.open("rb") as f:
                addr = self._libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, f.fileno(), 0)
            if addr in (None, ctypes.c_void_p(-1).value):
                continue
            self._maps.append((addr, size))
            if self._libc.mlock(addr, size) == 0:
                self.locked_bytes += size
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for addr, size in self._maps:
            self._libc.munmap(addr, size)  # drops the lock
        self._maps.clear()


def run_process(
    argv: Sequence[str],
    *,
    warm_paths: Iterable[Path] = (),
    env: dict[str, str] | None = None,
    timeout_s: float = 3600.0,
    sample: bool = True,
) -> ProcessRun:
    """Run ``argv`` in a fresh process, sampling its tree's RssAnon (unless not `sample`:
    the sampling takes a few % of a CPU, which a tool using both CPUs loses; peak 0 then);
    output via temp files (a pipe could fill up and stall the child while we sample)."""
    warm(warm_paths)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env, cwd=REPO)
        peak = _sample_until_exit(proc, start, timeout_s) if sample else 0
        try:
            proc.wait(timeout=max(0.0, timeout_s - (time.perf_counter() - start)))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return ProcessRun(
            wall, peak, proc.returncode, out.read().decode(), err.read().decode(errors="replace")
        )


def _sample_until_exit(proc: subprocess.Popen[bytes], start: float, timeout_s: float) -> int:
    """The peak RssAnon (KiB) of the process tree, sampled until it exits or times out."""
    peak = 0
    while proc.poll() is None and time.perf_counter() - start <= timeout_s:
        peak = max(peak, tree_rss_anon_kib(proc.pid))
        time.sleep(SAMPLE_INTERVAL_S)
    return peak


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))
