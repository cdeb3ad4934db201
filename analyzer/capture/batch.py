"""PacketBatch: one numpy array per PACKET_COLUMNS entry, no Python object per packet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from analyzer.capture.columns import PACKET_COLUMNS
from analyzer.capture.text import addresses_text

if TYPE_CHECKING:
    import pandas  # type: ignore[import-untyped]
    import pyarrow  # type: ignore[import-untyped]

ADDRESS_COLUMNS = frozenset({"src", "dst", "q_src", "q_dst"})


def allocate_columns(rows: int) -> dict[str, np.ndarray]:
    """Uninitialised arrays for `rows` packets, one per column (the reader fills them)."""
    return {
        name: np.empty((rows, *shape), dtype=dtype)
        for name, (dtype, shape, _meaning) in PACKET_COLUMNS.items()
    }


class PacketBatch:
    """Packets read from one capture (or merged from several), as columns.

    `columns` holds exactly the PACKET_COLUMNS keys and dtypes, C-contiguous, all of
    the same length. When several sources were merged, `sources` names them and
    `source_index` (an int array, or None for a single source) says whose each row is.
    """

    __slots__ = ("columns", "source", "source_index", "sources")

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        sources: Sequence[str],
        source_index: np.ndarray | None = None,
    ) -> None:
        self.columns = columns
        self.sources = tuple(sources)
        self.source = "+".join(self.sources)
        self.source_index = source_index

    def __len__(self) -> int:
        return len(self.columns["ts_ns"])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.columns[name]

    def __repr__(self) -> str:
        return f"PacketBatch({len(self)} packets from {self.source!r})"

    def head(self, rows: int) -> PacketBatch:
        """The first `rows` packets (views, no copy)."""
        index = None if self.source_index is None else self.source_index[:rows]
        return PacketBatch(
            {name: array[:rows] for name, array in self.columns.items()}, self.sources, index
        )

    def address_text(self, column: str = "src") -> list[str]:
        """An address column as text: dotted IPv4 where IPv4 was on the wire."""
        if column not in ADDRESS_COLUMNS:
            raise KeyError(f"{column!r} is not an address column")
        families = self.columns["wire_family"]
        if column.startswith("q_"):
            families = _quoted_families(self.columns[column], self.columns["q_proto"])
        return addresses_text(self.columns[column], families)

    def to_arrow(self) -> pyarrow.Table:
        """An Arrow table; addresses as fixed_size_binary(16), no copy of the arrays."""
        import pyarrow as pa

        arrays: dict[str, Any] = {}
        for name, array in self.columns.items():
            if name in ADDRESS_COLUMNS:
                arrays[name] = pa.FixedSizeBinaryArray.from_buffers(
                    pa.binary(16), len(array), [None, pa.py_buffer(array)]
                )
            else:
                arrays[name] = pa.array(array)
        return pa.table(arrays)

    def to_pandas(self) -> pandas.DataFrame:
        """A pandas DataFrame (through Arrow); addresses as 16-byte `bytes` values."""
        return self.to_arrow().to_pandas()


def _quoted_families(addresses: np.ndarray, quoted_proto: np.ndarray) -> np.ndarray:
    """Quoted headers carry no family column: an IPv4-mapped address means IPv4."""
    mapped = (addresses[:, :10] == 0).all(axis=1) & (addresses[:, 10] == 0xFF) & (
        addresses[:, 11] == 0xFF
    )
    present = addresses.any(axis=1) | (quoted_proto != 0)
    return np.where(present, np.where(mapped, 4, 6), 0).astype(np.uint8)
