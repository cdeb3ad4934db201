"""Iterate a stream on a second thread, a few items ahead of its consumer.

The reader's and the flow table's loops release the GIL, and so does most of what turns
finished flows into output (numpy, the text and Community ID loops, Arrow's Parquet
writer): with the stages of a pipeline on different threads, reading the next packets,
preparing the flows that have finished and writing the ones prepared overlap on
several cores. Items arrive in the order they were produced; an error of the producer
is raised to the consumer after every item produced before it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# Items in flight per stage: enough to ride out a slow step, few enough to keep memory
# flat (a batch of finished flows is about 1 MB).
DEPTH = 4
# How often a producer waiting for room, or a consumer waiting for an item, checks
# whether the stage was closed.
POLL_S = 0.05


@dataclass(frozen=True)
class _End:
    """The end of the stream, with the producer's error if it failed."""

    error: BaseException | None = None


class InBackground(Generic[T]):
    """`items` iterated on a daemon thread, at most `depth` items ahead of the caller.
    `close()` (or leaving a `with` block) stops the producer early."""

    def __init__(self, items: Iterable[T], depth: int = DEPTH, name: str = "stage") -> None:
        self._queue: queue.Queue[T | _End] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._produce, args=(items,), name=name,
                                        daemon=True)
        self._thread.start()

    def _produce(self, items: Iterable[T]) -> None:
        end = _End()
        try:
            for item in items:
                if not self._offer(item):
                    return
        except BaseException as exc:  # raised again on the consuming thread
            end = _End(exc)
        self._offer(end)

    def _offer(self, item: T | _End) -> bool:
        """Queue `item`; False if the consumer stopped listening before there was room."""
        while not self._stop.is_set():
            with contextlib.suppress(queue.Full):
                self._queue.put(item, timeout=POLL_S)
                return True
        return False

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        while not self._ended:  # until the end, or close() from another thread
            try:
                item = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                continue
            if not isinstance(item, _End):
                return item
            self._ended = True
            self._thread.join()
            if item.error is not None:
                raise item.error
        raise StopIteration

    def close(self) -> None:
        """Stop listening. The producer ends when it next offers an item; its thread is
        not waited for (it may be in the middle of a long read)."""
        self._stop.set()
        self._ended = True

    def __enter__(self) -> InBackground[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
