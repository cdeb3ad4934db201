"""FlowColumns: the dict of a FlowFrame's columns, with the text columns made on first use.

Address text and Community IDs cost more to make than the rest of a flow together, and
a program that only counts or correlates flows never reads them. They are computed from
the other columns the first time they are read (then kept); everything else is a plain
numpy array. Iteration, `in` and `len` see every column, made or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping

import numpy as np

Derive = Callable[[Mapping[str, np.ndarray]], np.ndarray]


class FlowColumns(MutableMapping[str, np.ndarray]):
    def __init__(self, arrays: dict[str, np.ndarray], derived: dict[str, Derive],
                 order: tuple[str, ...]) -> None:
        self._arrays = arrays
        self._derived = {k: f for k, f in derived.items() if k not in arrays}
        self._order = order

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays and name in self._derived:
            self._arrays[name] = self._derived.pop(name)(self)
        return self._arrays[name]

    def __setitem__(self, name: str, value: np.ndarray) -> None:
        self._derived.pop(name, None)
        self._arrays[name] = value

    def __delitem__(self, name: str) -> None:
        if name in self._derived:
            del self._derived[name]
        else:
            del self._arrays[name]

    def __contains__(self, name: object) -> bool:
        return name in self._arrays or name in self._derived

    def __iter__(self) -> Iterator[str]:
        known = [n for n in self._order if n in self]
        extra = [n for n in self._arrays if n not in self._order]
        return iter(known + extra + [n for n in self._derived if n not in self._order])

    def __len__(self) -> int:
        return len(self._arrays) + len(self._derived)

    def made(self) -> dict[str, np.ndarray]:
        """The columns that exist as arrays now (nothing is computed)."""
        return dict(self._arrays)

    def pending(self) -> dict[str, Derive]:
        """The columns not made yet and how to make them."""
        return dict(self._derived)

    def rows(self, index: np.ndarray) -> FlowColumns:
        """The same columns for the rows at `index`; pending ones stay pending."""
        return FlowColumns({n: a[index] for n, a in self._arrays.items()}, self.pending(),
                           self._order)


def made_columns(columns: MutableMapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays that exist now, of a FlowColumns or of a plain dict of columns."""
    return columns.made() if isinstance(columns, FlowColumns) else dict(columns)
