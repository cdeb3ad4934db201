"""Reading ahead: a batch generator runs in a background thread, a few batches ahead of
its consumer.

The reader's loop and the flow table's loop both release the GIL, so with the reader in
its own thread the two run on two cores: the next batch of packet records is decoded
while the flow table takes in the current one. Batches arrive in order; an exception
of the generator reaches the consumer after every batch yielded before it; when the
consumer stops early (break, close, Ctrl-C) the thread is told to stop and waited for.

The generator must not reuse a batch's memory for the `depth` + 1 batches after it (the
consumer holds one, the queue `depth`): `read_records` rotates `depth` + 2 arrays.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class _End(Generic[T]):
    """The last item of the queue: the generator's end, or the exception it raised."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


def read_ahead(batches: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
    """The items of `batches`, produced in a thread up to `depth` items ahead."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    items: queue.Queue[T | _End[T]] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    thread = threading.Thread(target=_produce, args=(batches, items, stop),
                              name="dualstack-read-ahead", daemon=True)
    thread.start()
    try:
        while not isinstance(item := items.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        if thread.is_alive():
            stop.set()
            while not isinstance(items.get(), _End):
                pass            # let the producer reach its end
        thread.join()


def _produce(batches: Iterator[T], items: queue.Queue[T | _End[T]],
             stop: threading.Event) -> None:
    end: _End[T] = _End()
    try:
        for batch in batches:
            items.put(batch)
            if stop.is_set():
                break
    except BaseException as exc:  # handed to the consumer, raised there
        end = _End(exc)
    finally:
        close = getattr(batches, "close", None)
        if close is not None:
            close()
        items.put(end)
