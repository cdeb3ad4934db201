"""FlowFrame: flows as one numpy array per column, with Arrow, pandas and record views."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from analyzer.flows.build import DERIVED, build_columns
from analyzer.flows.columns import ALL_COLUMNS, OUTPUT_COLUMNS
from analyzer.flows.columnset import FlowColumns, join_columns, made_columns

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped]
    import pyarrow  # type: ignore[import-untyped]


class FlowFrame:
    """Flows as columns (see analyzer.flows.columns). Rows are in first-packet order."""

    def __init__(self, columns: MutableMapping[str, np.ndarray]) -> None:
        missing = [name for name in ALL_COLUMNS if name not in columns]
        if missing:
            raise ValueError(f"FlowFrame: missing columns {missing}")
        lengths = {len(arr) for arr in made_columns(columns).values()}
        if len(lengths) > 1:
            raise ValueError(f"FlowFrame: columns of different lengths {sorted(lengths)}")
        self.columns = columns

    def __len__(self) -> int:
        return len(self.columns["proto_num"])

    def __repr__(self) -> str:
        return f"FlowFrame({len(self)} flows)"

    @classmethod
    def empty(cls) -> FlowFrame:
        return cls(build_columns(None))

    @staticmethod
    def concat(frames: Sequence[FlowFrame]) -> FlowFrame:
        """One frame of all flows; columns not made yet in some frame stay pending."""
        if not frames:
            return FlowFrame.empty()
        if len(frames) == 1:
            return frames[0]
        return FlowFrame(join_columns([f.columns for f in frames], DERIVED, ALL_COLUMNS))

    def take(self, rows: np.ndarray) -> FlowFrame:
        """The flows at `rows` (indices or a boolean mask)."""
        if isinstance(self.columns, FlowColumns):
            return FlowFrame(self.columns.rows(rows))
        return FlowFrame({name: arr[rows] for name, arr in self.columns.items()})

    def to_arrow(self, extras: bool = True) -> pyarrow.Table:
        import pyarrow as pa  # type: ignore[import-untyped]

        names = ALL_COLUMNS if extras else tuple(OUTPUT_COLUMNS)
        arrays = [_to_arrow_array(pa, self.columns[name]) for name in names]
        return pa.table(arrays, names=list(names))

    def to_pandas(self, extras: bool = True) -> pandas.DataFrame:
        return self.to_arrow(extras).to_pandas()

    def to_records(self, extras: bool = False) -> list[dict[str, Any]]:
        """JSON-ready dicts (plain Python values), output columns only unless `extras`."""
        names = ALL_COLUMNS if extras else tuple(OUTPUT_COLUMNS)
        lists = {name: _to_pylist(self.columns[name]) for name in names}
        return [dict(zip(names, row, strict=True)) for row in zip(*lists.values(), strict=True)]


def _to_pylist(arr: np.ndarray) -> list[Any]:
    if arr.ndim == 2:
        return [bytes(row).hex() for row in arr]
    return arr.tolist()


def _to_arrow_array(pa: Any, arr: np.ndarray) -> Any:
    """An Arrow array over the numpy column. Built from buffers: `pa.array` on a numpy
    array imports pandas (a third of a second) to check for pandas types."""
    if arr.ndim == 2:
        flat = np.ascontiguousarray(arr).view(np.uint8)
        return pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(arr.shape[1]), len(arr), [None, pa.py_buffer(flat)]
        )
    if arr.dtype.kind == "U":
        return _string_array(pa, arr)
    if arr.dtype == np.bool_:
        bits = np.packbits(arr, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(arr), [None, pa.py_buffer(bits)])
    if arr.dtype.kind in "iuf":
        data = np.ascontiguousarray(arr)
        return pa.Array.from_buffers(pa.from_numpy_dtype(data.dtype), len(data),
                                     [None, pa.py_buffer(data)])
    return pa.array(arr)


def _string_array(pa: Any, arr: np.ndarray) -> Any:
    """A utf8 Arrow array of a numpy unicode column: ASCII (as every flow text column
    is: addresses, Community IDs, names) narrowed to Arrow's layout in one C pass
    (`astype("S")` encodes element by element, ~10x slower); else pyarrow converts."""
    from analyzer._flowtable import narrow_ascii

    narrowed = narrow_ascii(np.ascontiguousarray(arr, dtype=f"=U{arr.dtype.itemsize // 4}"))
    if narrowed is None:
        return pa.array(arr, type=pa.string())
    offsets, data = narrowed
    return pa.StringArray.from_buffers(len(arr), pa.py_buffer(offsets), pa.py_buffer(data))
