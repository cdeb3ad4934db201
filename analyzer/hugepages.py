"""Arrays in fresh memory backed by transparent huge pages.

Memory a process touches for the first time costs a page fault per 4 KiB page, and the
kernel zeroes each page in that fault: on this kind of VM ~2-3 us a page, which for
`read_flows` on 2 M small packets was 10-15 % of its time (benchmarks/README.md,
session 9). A private anonymous mapping that starts on a 2 MiB boundary and is advised
MADV_HUGEPAGE takes one fault per 2 MiB instead (with THP in `madvise` or `always` mode;
elsewhere the advice is ignored and the arrays are ordinary memory).

An `Arena` carves arrays one after another out of such mappings. A mapping lives as
long as any array carved from it, so an arena suits arrays kept and dropped together:
the record ring, the finished flows of `read_flows`, its final columns.
"""

from __future__ import annotations

import mmap
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

HUGE_PAGE = 2 << 20
ALIGN = 64  # each array starts on a cache line

Shape = tuple[int, ...]


class Arena:
    """Uninitialised arrays carved from mappings of at least `block` bytes, each mapping
    twice the size of the one before it, up to `max_block` (one array larger than that
    gets a mapping of its own size)."""

    def __init__(self, block: int = HUGE_PAGE, max_block: int = 16 * HUGE_PAGE) -> None:
        self._next_block = block
        self._max_block = max_block
        self._free = np.empty(0, dtype=np.uint8)  # the current mapping's unused bytes

    def empty(self, shape: Shape, dtype: npt.DTypeLike) -> np.ndarray:
        dt = np.dtype(dtype)
        size = dt.itemsize * int(np.prod(shape))
        padded = -(-size // ALIGN) * ALIGN
        if padded > len(self._free):
            self._free = _mapping(max(padded, self._next_block))
            self._next_block = min(self._next_block * 2, self._max_block)
        data, self._free = self._free[:size], self._free[padded:]
        return data.view(dt).reshape(shape)

    def copy(self, values: np.ndarray, dtype: npt.DTypeLike | None = None) -> np.ndarray:
        """`values` (cast to `dtype`, which must hold them all) in the arena."""
        out = self.empty(values.shape, values.dtype if dtype is None else dtype)
        np.copyto(out, values, casting="unsafe")
        return out


def huge_page_arrays(rows: int, layout: Mapping[str, tuple[npt.DTypeLike, Shape]]
                     ) -> dict[str, np.ndarray]:
    """Uninitialised arrays of shape (rows, *shape) for each name of `layout`
    (name -> (dtype, shape)), all in one mapping."""
    total = sum(-(-rows * np.dtype(dt).itemsize * int(np.prod(shape)) // ALIGN) * ALIGN
                for dt, shape in layout.values())
    arena = Arena(block=max(total, ALIGN))
    return {name: arena.empty((rows, *shape), dt) for name, (dt, shape) in layout.items()}


def _mapping(size: int) -> np.ndarray:
    """At least `size` bytes of fresh memory: from half a huge page up, a private
    anonymous mapping advised for huge pages, from a 2 MiB boundary on."""
    if size < HUGE_PAGE // 2:   # a huge page would be mostly zeroes
        return np.empty(size, dtype=np.uint8)
    whole = -(-size // HUGE_PAGE) * HUGE_PAGE
    region = mmap.mmap(-1, whole + HUGE_PAGE, flags=mmap.MAP_PRIVATE)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        region.madvise(mmap.MADV_HUGEPAGE)
    base = np.frombuffer(region, dtype=np.uint8)
    start = -base.ctypes.data % HUGE_PAGE
    return base[start:start + whole]
