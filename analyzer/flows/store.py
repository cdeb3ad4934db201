"""RawFlowStore: finished flows kept compactly until every flow of the input is known.

`read_flows` holds every finished flow while the flow table still holds the live ones;
with a million live flows the two together are most of its memory. Each batch of raw
flow-table columns is kept with its integer columns in the smallest type that holds the
batch's values (the packet and byte counts of a batch rarely need 64 bits), and widened
back once the table is gone, one column at a time: the same values, in the same types,
sorted by first packet.
"""

from __future__ import annotations

import numpy as np

from analyzer._flowtable import RAW_FLOW_COLUMNS


class RawFlowStore:
    def __init__(self) -> None:
        self._batches: list[dict[str, np.ndarray]] = []

    def __len__(self) -> int:
        return sum(len(batch["first_ts_ns"]) for batch in self._batches)

    def add(self, raw: dict[str, np.ndarray]) -> None:
        """Keep a batch of raw flow-table columns (RAW_FLOW_COLUMNS)."""
        self._batches.append({name: narrowed(raw[name]) for name in RAW_FLOW_COLUMNS})

    def take_all(self) -> dict[str, np.ndarray] | None:
        """Every flow kept, as raw columns in their own types and in first-packet order
        (None when there is none); the store is empty afterwards."""
        if not self._batches:
            return None
        first = self._join("first_ts_ns")
        order = None if np.all(first[1:] >= first[:-1]) else np.argsort(first, kind="stable")
        columns = {"first_ts_ns": first}
        for name in RAW_FLOW_COLUMNS:
            column = columns.get(name)
            if column is None:
                column = self._join(name)
            columns[name] = column if order is None else column[order]
        self._batches.clear()
        return columns

    def _join(self, name: str) -> np.ndarray:
        """Column `name` of every batch in its raw type; the batches let go of it."""
        parts = [batch.pop(name) for batch in self._batches]
        return np.concatenate(parts, dtype=RAW_FLOW_COLUMNS[name][0], casting="safe")


def narrowed(values: np.ndarray) -> np.ndarray:
    """The same integers in the smallest integer type that holds them all (the array
    itself when that is no smaller)."""
    if values.ndim != 1 or values.dtype.kind not in "iu" or not len(values):
        return values
    small = np.result_type(np.min_scalar_type(values.min()), np.min_scalar_type(values.max()))
    if small.kind in "iu" and small.itemsize < values.itemsize:
        return values.astype(small)
    return values
