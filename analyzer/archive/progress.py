"""Progress of a batch job on standard error: files and packets done, rate, ETA.

On a terminal the line is redrawn in place; otherwise (a log file, a pipe) a line is
written at most every ``interval`` seconds and once at the end. The ETA comes from the
bytes of input still to read at the byte rate seen so far.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Counts finished inputs and reports them; `done()` for each, `close()` at the end."""

    def __init__(
        self,
        total_files: int,
        total_bytes: int,
        *,
        stream: TextIO | None = None,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total_files = total_files
        self.total_bytes = total_bytes
        self.files = 0
        self.failed = 0
        self.packets = 0
        self.bytes = 0
        self._stream = stream if stream is not None else sys.stderr
        self._tty = self._stream.isatty()
        self._interval = 0.2 if self._tty else interval
        self._clock = clock
        self._start = self._now()
        self._last_shown = float("-inf")

    def _now(self) -> float:
        return self._clock()

    def skip(self, size: int) -> None:
        """An input that need not be read (resumed): it leaves the work to do."""
        self.total_files -= 1
        self.total_bytes -= size

    def done(self, *, packets: int, size: int, failed: bool) -> None:
        self.files += 1
        self.failed += int(failed)
        self.packets += packets
        self.bytes += size
        now = self._now()
        if now - self._last_shown >= self._interval:
            self._show(now)

    def close(self) -> None:
        self._show(self._now())
        if self._tty:
            self._stream.write("\n")
        self._stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self._start, 1e-9)
        packet_rate = self.packets / elapsed
        byte_rate = self.bytes / elapsed
        parts = [
            f"files {self.files}/{self.total_files}",
            f"packets {self.packets:,}",
            f"{packet_rate:,.0f} pkt/s",
            f"{byte_rate / 1e6:.1f} MB/s",
        ]
        if self.failed:
            parts.append(f"{self.failed} failed")
        remaining = self.total_bytes - self.bytes
        if remaining > 0 and byte_rate > 0:
            parts.append(f"ETA {_duration(remaining / byte_rate)}")
        return "batch: " + ", ".join(parts)

    def _show(self, now: float) -> None:
        self._last_shown = now
        end = "\x1b[K\r" if self._tty else "\n"  # on a terminal: erase the rest, redraw
        self._stream.write(self.line(now) + end)
        self._stream.flush()


def _duration(seconds: float) -> str:
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
