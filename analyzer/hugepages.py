"""Arrays in fresh memory backed by transparent huge pages.

Memory a process touches for the first time costs a page fault per 4 KiB page, and the
kernel zeroes each page in that fault: on this kind of VM ~2-3 us a page, which for
`read_flows` on 2 M small packets was 10-15 % of its time (benchmarks/README.md,
session 9). A private anonymous mapping that starts on a 2 MiB boundary and is advised
MADV_HUGEPAGE takes one fault per 2 MiB instead (with THP in `madvise` or `always` mode;
elsewhere the advice is ignored and the arrays are ordinary memory).

`huge_page_arrays` carves several arrays out of one such mapping. It lives as long as
any of them does, so it suits arrays made and dropped together, as the final flow
columns of `read_flows`; `huge_page_array` gives one array a mapping of its own, as each
array of the record ring (a consumer may hold one of them longer than the others).
"""

from __future__ import annotations

import mmap
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

HUGE_PAGE = 2 << 20
ALIGN = 64  # each array starts on a cache line

Shape = tuple[int, ...]


def huge_page_arrays(rows: int, layout: Mapping[str, tuple[npt.DTypeLike, Shape]]
                     ) -> dict[str, np.ndarray]:
    """Uninitialised arrays of shape (rows, *shape) for each name of `layout`
    (name -> (dtype, shape)), one after another in one mapping."""
    sizes = {name: rows * array_bytes(dt, shape) for name, (dt, shape) in layout.items()}
    block = _mapping(sum(_padded(size) for size in sizes.values()))
    arrays, at = {}, 0
    for name, (dt, shape) in layout.items():
        arrays[name] = bytes_as(block[at:], dt, (rows, *shape))
        at += _padded(sizes[name])
    return arrays


def rows_per_huge_page(layout: Mapping[str, tuple[npt.DTypeLike, Shape]]) -> int:
    """The most rows of `layout` that huge_page_arrays fits in one huge page."""
    row = sum(array_bytes(dt, shape) for dt, shape in layout.values())
    return (HUGE_PAGE - ALIGN * len(layout)) // row


def array_bytes(dtype: npt.DTypeLike, shape: Shape) -> int:
    """The bytes an array of `dtype` and `shape` takes (one row's: the row's shape)."""
    return np.dtype(dtype).itemsize * int(np.prod(shape))


def bytes_as(block: np.ndarray, dtype: npt.DTypeLike, shape: Shape) -> np.ndarray:
    """The first bytes of the byte array `block` seen as an array of `dtype` and `shape`
    (no copy)."""
    return block.reshape(-1)[:array_bytes(dtype, shape)].view(dtype).reshape(shape)


def huge_page_array(rows: int, dtype: npt.DTypeLike, shape: Shape = ()) -> np.ndarray:
    """One uninitialised array of shape (rows, *shape) in a mapping of its own."""
    return huge_page_arrays(rows, {"": (dtype, shape)})[""]


def _padded(size: int) -> int:
    return -(-size // ALIGN) * ALIGN


def _mapping(size: int) -> np.ndarray:
    """At least `size` bytes of fresh memory: from half a huge page up, a private
    anonymous mapping advised for huge pages, from a 2 MiB boundary on."""
    if size < HUGE_PAGE // 2:   # a huge page would be mostly zeroes
        return np.empty(max(size, 1), dtype=np.uint8)
    whole = -(-size // HUGE_PAGE) * HUGE_PAGE
    region = mmap.mmap(-1, whole + HUGE_PAGE, flags=mmap.MAP_PRIVATE)
    if hasattr(mmap, "MADV_HUGEPAGE"):
        region.madvise(mmap.MADV_HUGEPAGE)
    base = np.frombuffer(region, dtype=np.uint8)
    start = -base.ctypes.data % HUGE_PAGE
    return base[start:start + whole]
