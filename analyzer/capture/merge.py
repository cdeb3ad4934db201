"""Several captures as one stream in timestamp order (a k-way merge of batches).

Each source keeps its own order; its sort key is the running maximum of its
timestamps, so a capture with a few out-of-order packets is never reordered
internally. Equal keys go in source order (stable). Rows are released only once no
source can still produce an earlier (or equal, from an earlier source) key.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np

from analyzer.capture.batch import PacketBatch
from analyzer.errors import CaptureError


class _Head:
    """The buffered, not yet released rows of one source."""

    def __init__(self, index: int, batches: Iterator[PacketBatch]) -> None:
        self.index = index
        self.batches = batches
        self.columns: dict[str, np.ndarray] | None = None
        self.keys = np.empty(0, dtype=np.int64)
        self.carry = np.iinfo(np.int64).min
        self.exhausted = False
        self.error: CaptureError | None = None

    def fill(self) -> None:
        """Fetch the next non-empty batch if nothing is buffered."""
        while len(self.keys) == 0 and not self.exhausted:
            try:
                batch = next(self.batches)
            except StopIteration:
                self.exhausted = True
                return
            except CaptureError as exc:
                self.error, self.exhausted = exc, True
                return
            if len(batch) == 0:
                continue
            keys = np.maximum.accumulate(np.maximum(batch.columns["ts_ns"], self.carry))
            self.carry = int(keys[-1])
            self.columns, self.keys = batch.columns, keys

    def take(self, count: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
        assert self.columns is not None
        taken = {name: array[:count] for name, array in self.columns.items()}
        keys = self.keys[:count]
        self.columns = {name: array[count:] for name, array in self.columns.items()}
        self.keys = self.keys[count:]
        return taken, keys


def _release_round(heads: list[_Head]) -> list[tuple[int, dict[str, np.ndarray], np.ndarray]]:
    """Rows every source may release now, as (source, columns, keys)."""
    live = [h for h in heads if not h.exhausted]
    if live:
        frontier = min(int(h.keys[-1]) for h in live)
        first_at_frontier = min(h.index for h in live if int(h.keys[-1]) == frontier)
    pieces = []
    for head in heads:
        if len(head.keys) == 0:
            continue
        if not live:
            count = len(head.keys)
        else:
            side: Literal["left", "right"] = (
                "right" if head.index <= first_at_frontier else "left"
            )
            count = int(np.searchsorted(head.keys, frontier, side=side))
        if count:
            pieces.append((head.index, *head.take(count)))
    return pieces


def _combine(pieces: list[tuple[int, dict[str, np.ndarray], np.ndarray]]
             ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    keys = np.concatenate([keys for _i, _c, keys in pieces])
    order = np.argsort(keys, kind="stable")
    names = pieces[0][1].keys()
    columns = {
        name: np.ascontiguousarray(np.concatenate([c[name] for _i, c, _k in pieces])[order])
        for name in names
    }
    index = np.concatenate(
        [np.full(len(keys), i, dtype=np.int32) for i, _c, keys in pieces]
    )[order]
    return columns, index


def merge_by_time(streams: Sequence[Iterator[PacketBatch]], names: Sequence[str],
                  batch_size: int) -> Iterator[PacketBatch]:
    """One stream of batches (about batch_size rows) in timestamp order across sources.

    A CaptureError of one source is raised after every other packet was delivered.
    """
    heads = [_Head(i, stream) for i, stream in enumerate(streams)]
    pending: list[tuple[dict[str, np.ndarray], np.ndarray]] = []
    pending_rows = 0
    while True:
        for head in heads:
            head.fill()
        pieces = _release_round(heads)
        if pieces:
            pending.append(_combine(pieces))
            pending_rows += len(pending[-1][1])
        done = all(h.exhausted and len(h.keys) == 0 for h in heads)
        if pending and (pending_rows >= batch_size or done):
            yield from _emit(pending, names, batch_size)
            pending, pending_rows = [], 0
        if done:
            break
    errors = [h.error for h in heads if h.error is not None]
    if errors:
        raise errors[0]


def _emit(pending: list[tuple[dict[str, np.ndarray], np.ndarray]], names: Sequence[str],
          batch_size: int) -> Iterator[PacketBatch]:
    columns = {
        name: np.concatenate([c[name] for c, _i in pending]) for name in pending[0][0]
    }
    index = np.concatenate([i for _c, i in pending])
    for start in range(0, len(index), batch_size):
        stop = start + batch_size
        yield PacketBatch(
            {name: array[start:stop] for name, array in columns.items()}, names, index[start:stop]
        )
