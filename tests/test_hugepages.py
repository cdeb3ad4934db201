"""analyzer.hugepages: arrays carved from huge-page mappings hold their own values, and
fresh memory there costs far fewer page faults than ordinary arrays (when the kernel has
transparent huge pages)."""

from __future__ import annotations

import gc
import mmap
import resource
from pathlib import Path

import numpy as np
import pytest

from analyzer.hugepages import ALIGN, HUGE_PAGE, huge_page_arrays, rows_per_huge_page

THP = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def thp_available() -> bool:
    return THP.exists() and "[never]" not in THP.read_text()


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def test_arrays_of_one_mapping_do_not_overlap_and_start_on_cache_lines() -> None:
    layout = {"addr": (np.uint8, (16,)), "port": (np.uint16, ()), "ts": (np.int64, ()),
              "odd": (np.uint8, (3,))}
    rows = 200_001
    arrays = huge_page_arrays(rows, layout)
    for i, (name, arr) in enumerate(arrays.items()):
        dt, shape = layout[name]
        assert arr.shape == (rows, *shape) and arr.dtype == dt and arr.flags.writeable
        assert arr.ctypes.data % ALIGN == 0
        arr.view(np.uint8).reshape(-1)[:] = i + 1
    for i, arr in enumerate(arrays.values()):
        assert np.all(arr.view(np.uint8) == i + 1)
    first = min(a.ctypes.data for a in arrays.values())
    assert first % HUGE_PAGE == 0


def test_rows_per_huge_page_fill_one_huge_page() -> None:
    layout = {"addr": (np.uint8, (16,)), "port": (np.uint16, ()), "ts": (np.int64, ()),
              "odd": (np.uint8, (3,))}
    rows = rows_per_huge_page(layout)
    arrays = huge_page_arrays(rows, layout).values()
    start = min(a.ctypes.data for a in arrays)
    end = max(a.ctypes.data + a.nbytes for a in arrays)
    assert start % HUGE_PAGE == 0 and end - start <= HUGE_PAGE
    assert (rows + len(layout)) * 29 > HUGE_PAGE - ALIGN * len(layout)  # 29 bytes a row


def test_small_layouts_are_ordinary_arrays() -> None:
    arrays = huge_page_arrays(10, {"a": (np.uint32, ()), "b": (np.uint8, (16,))})
    assert arrays["a"].shape == (10,) and arrays["b"].shape == (10, 16)
    arrays["a"][:] = 7
    arrays["b"][:] = 9
    assert arrays["a"].sum() == 70 and arrays["b"].sum() == 9 * 160


def test_arrays_stay_valid_while_the_others_of_their_mapping_are_gone() -> None:
    arrays = huge_page_arrays(1 << 20, {"a": (np.uint64, ()), "b": (np.uint8, (16,))})
    arrays["b"][:] = 3
    kept = arrays.pop("b")
    del arrays
    gc.collect()
    np.empty(64 << 20, dtype=np.uint8).fill(9)   # memory that would reuse a freed mapping
    assert np.all(kept == 3)


@pytest.mark.skipif(not thp_available(), reason="transparent huge pages are off")
def test_fresh_huge_page_memory_takes_a_fault_per_huge_page() -> None:
    """48 MiB touched: about 24 faults (12 k in 4 KiB pages)."""
    size = 48 << 20
    before = minor_faults()
    huge = huge_page_arrays(size, {"a": (np.uint8, ())})["a"]
    huge.fill(1)
    assert minor_faults() - before <= size // HUGE_PAGE + 16
    assert huge.sum() == size


@pytest.mark.skipif("[madvise]" not in (THP.read_text() if THP.exists() else ""),
                    reason="transparent huge pages are not in madvise mode")
def test_without_the_advice_fresh_memory_takes_a_fault_per_small_page() -> None:
    """The contrast: the same memory in a mapping not advised (THP in madvise mode)."""
    size = 48 << 20
    region = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE)
    before = minor_faults()
    np.frombuffer(region, dtype=np.uint8).fill(1)
    assert minor_faults() - before > size // 4096 // 2
