"""Factorise a column: distinct values (as text) and one int code per row.

Flow columns hold few distinct addresses, protocols and outcomes among millions of
rows. Fixed-width numpy columns (``<U10``, integers) are factorised by numpy;
object columns by hashing each value once. Either way codes follow first-seen order.
"""

from __future__ import annotations

import numpy as np


def factorize(column: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(distinct values in first-seen order, int64 code of each row)."""
    column = np.asarray(column)
    if column.dtype.kind in "USiub" and column.ndim == 1:
        return _factorize_fixed(column)
    table: dict[str, int] = {}
    codes = np.fromiter((table.setdefault(str(value), len(table)) for value in column.tolist()),
                        dtype=np.int64, count=len(column))
    return list(table), codes


def _factorize_fixed(column: np.ndarray) -> tuple[list[str], np.ndarray]:
    if not len(column):
        return [], np.empty(0, dtype=np.int64)
    unique, first, inverse = np.unique(column, return_index=True, return_inverse=True)
    order, codes = first_seen(first, inverse)
    return [str(value) for value in unique[order].tolist()], codes


def first_seen(first: np.ndarray, inverse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique`'s sorted distinct values renumbered in first-seen order: (the sorted
    positions in first-seen order, each row's new code). `first` and `inverse` are
    np.unique's return_index and return_inverse."""
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return order, rank[inverse.reshape(-1)]
