"""RawFlowStore: finished flows kept compactly until every flow of the input is known.

`read_flows` holds every finished flow while the flow table still holds the live ones;
with a million live flows the two together are most of its memory. Once the store holds
NARROW_FROM flows, each batch of raw flow-table columns is kept with its integer columns
in the smallest type that holds the batch's values (the packet and byte counts of a
batch rarely need 64 bits), and widened back once the table is gone, one column at a
time: the same values, in the same types, sorted by first packet.

All of it is fresh memory. `read_flows` takes the flow table's batches a huge page at a
time (analyzer.hugepages), and the final columns (12 MB at 100 k flows) are made in one
mapping. Narrowed batches are copies in ordinary memory: each column of each batch is let
go of as soon as it is joined, which keeps the peak for 1 M flows under 300 MB.
"""

from __future__ import annotations

import numpy as np

from analyzer._flowtable import RAW_FLOW_COLUMNS
from analyzer.hugepages import array_bytes, bytes_as, huge_page_array, huge_page_arrays

# flows kept as the flow table gives them before the store narrows them: below, the
# narrowing (a pass and a copy of every column) costs more time than its memory is worth
# (at 100 k flows it was 3-4 ms of read_flows' ~110 ms; 1 M flows keep the peak under 300 MB)
NARROW_FROM = 1 << 18
# the most bytes any raw column takes per flow (the addresses')
WIDEST_ROW = max(array_bytes(dt, shape) for dt, shape in RAW_FLOW_COLUMNS.values())


class RawFlowStore:
    def __init__(self, narrow_from: int = NARROW_FROM) -> None:
        self._batches: list[dict[str, np.ndarray]] = []
        self._narrow_from = narrow_from
        self._narrowed = 0  # the batches before this one are narrowed

    def __len__(self) -> int:
        return sum(len(batch["first_ts_ns"]) for batch in self._batches)

    def add(self, raw: dict[str, np.ndarray]) -> None:
        """Keep a batch of raw flow-table columns (RAW_FLOW_COLUMNS); once the store holds
        `narrow_from` flows, every batch is kept narrowed."""
        self._batches.append({name: raw[name] for name in RAW_FLOW_COLUMNS})
        if len(self) >= self._narrow_from:
            for batch in self._batches[self._narrowed:]:
                for name, values in batch.items():
                    # a copy even when no narrower: the batch's columns may share one
                    # mapping (a huge page), which is freed only when none is left in it
                    batch[name] = values.astype(narrowest_type(values))
            self._narrowed = len(self._batches)

    def take_all(self) -> dict[str, np.ndarray] | None:
        """Every flow kept, as raw columns in their own types and in first-packet order
        (None when there is none); the store is empty afterwards."""
        if not self._batches:
            return None
        rows = len(self)
        columns = huge_page_arrays(rows, RAW_FLOW_COLUMNS)
        # each column is joined in a scratch area, then copied, in order, into its own
        scratch = huge_page_array(rows, np.uint8, (WIDEST_ROW,))
        first = self._join("first_ts_ns", _scratch_for(scratch, columns["first_ts_ns"]))
        order = None if np.all(first[1:] >= first[:-1]) else np.argsort(first, kind="stable")
        _put(first, order, columns["first_ts_ns"])
        for name, out in columns.items():
            if name != "first_ts_ns":
                _put(self._join(name, _scratch_for(scratch, out)), order, out)
        self._batches.clear()
        return columns

    def _join(self, name: str, out: np.ndarray) -> np.ndarray:
        """Column `name` of every batch, written into `out` in its raw type; the batches
        let go of it."""
        parts = [batch.pop(name) for batch in self._batches]
        return np.concatenate(parts, out=out, casting="safe")


def narrowest_type(values: np.ndarray) -> np.dtype:
    """The smallest integer type that holds every value of `values` (its own type when
    that is no smaller, or when it holds no integers)."""
    if values.ndim != 1 or values.dtype.kind not in "iu" or not len(values):
        return values.dtype
    small = np.result_type(np.min_scalar_type(values.min()), np.min_scalar_type(values.max()))
    return small if small.kind in "iu" and small.itemsize < values.itemsize else values.dtype


def _put(values: np.ndarray, order: np.ndarray | None, out: np.ndarray) -> None:
    """values[order] (values when order is None) into out."""
    if order is None:
        np.copyto(out, values)
    else:
        np.take(values, order, axis=0, out=out)


def _scratch_for(scratch: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The first bytes of `scratch` as an array of like's type and shape."""
    return bytes_as(scratch, like.dtype, like.shape)
