"""Page faults of a memory-mapped capture taken on a thread of their own.

Reading a mapped file, each first touch of a page traps into the kernel to map it (a
few pages at a time): on a 1.3 GB capture in page cache that is ~70 ms of the parser's
~350 ms. A `Prefaulter` touches the pages up to `AHEAD` bytes in front of the parser
on another thread (`analyzer._reader.fault_in` runs without the GIL), so the parser
finds them mapped. It never runs further ahead than that, so a capture larger than
memory is not read into the page cache all at once, and it stops (and is joined)
before the mapping is closed.
"""

from __future__ import annotations

import os
import threading

from analyzer._reader import fault_in

AHEAD = 64 << 20  # how far in front of the parser pages are touched
STEP = 8 << 20  # touched per call (the thread takes the GIL between calls)


def may_use_several_cpus() -> bool:
    """Whether this process may run on more than one CPU: only then does a thread of
    its own for the faults (or for the reader) gain anything."""
    return len(os.sched_getaffinity(0)) > 1


class Prefaulter:
    """Touches the pages of `view` ahead of the position given to `reached`."""

    def __init__(self, view: memoryview, ahead: int | None = None,
                 step: int | None = None) -> None:
        self._view = view  # bytes (format 'B'), held only during each fault_in call
        self._ahead = AHEAD if ahead is None else ahead
        self._step = STEP if step is None else step
        self._reached = 0
        self.touched = 0  # bytes of the view whose pages are touched so far
        self._stopped = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="prefault", daemon=True)
        self._thread.start()

    def reached(self, pos: int) -> None:
        """The parser is at byte `pos` of the view."""
        with self._wake:
            self._reached = pos
            self._wake.notify()

    def stop(self) -> None:
        """End the thread; the view may be released once this returns."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        size = len(self._view)
        while self.touched < size:
            target = self._next_target(self.touched, size)
            if target is None:
                return
            fault_in(self._view, self.touched, target)
            self.touched = target

    def _next_target(self, done: int, size: int) -> int | None:
        """Where to touch up to next, after waiting for the parser if it is far behind;
        None once stopped."""
        with self._wake:
            while not self._stopped and done >= self._reached + self._ahead:
                self._wake.wait()
            if self._stopped:
                return None
            return min(size, done + self._step, self._reached + self._ahead)
