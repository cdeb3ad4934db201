"""Factorise a column of texts by hashing: distinct values and one int code per row.

Flow columns hold few distinct addresses, protocols and outcomes among millions of
rows; hashing them once is linear, where `np.unique` on strings sorts them.
"""

from __future__ import annotations

import numpy as np


def factorize(column: np.ndarray) -> tuple[list[str], np.ndarray]:
    """(distinct values in first-seen order, int64 code of each row)."""
    table: dict[str, int] = {}
    codes = np.fromiter((table.setdefault(str(value), len(table)) for value in column.tolist()),
                        dtype=np.int64, count=len(column))
    return list(table), codes
