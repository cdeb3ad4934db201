"""FlowColumns: the dict of a FlowFrame's columns, with the derived columns made on first use.

Address text, Community IDs, names and states cost more memory and time than the flow
table's own numbers, and a program that only counts or correlates flows never reads most
of them. They are computed the first time they are read (then kept), from the other
columns and from a few hidden inputs (the flow table's per-direction state bits);
everything else is a plain numpy array. Iteration, `in` and `len` see every column, made
or not, and never the hidden inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence

import numpy as np

Derive = Callable[["FlowColumns"], np.ndarray]


class FlowColumns(MutableMapping[str, np.ndarray]):
    def __init__(self, arrays: dict[str, np.ndarray], derived: Mapping[str, Derive],
                 order: tuple[str, ...], inputs: dict[str, np.ndarray] | None = None) -> None:
        self._arrays = arrays
        self._derived = {k: f for k, f in derived.items() if k not in arrays}
        self._order = order
        self._inputs = inputs or {}

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._arrays and name in self._derived:
            # Made, then stored, then forgotten how: a thread taking rows meanwhile
            # (`rows`) finds the column in one dict or both, never in neither.
            array = self._derived[name](self)
            self._arrays[name] = array
            self._derived.pop(name, None)
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

    def source(self, name: str) -> np.ndarray:
        """A hidden input of the derived columns, else the column `name`."""
        return self._inputs[name] if name in self._inputs else self[name]

    def made(self) -> dict[str, np.ndarray]:
        """The columns that exist as arrays now (nothing is computed)."""
        return dict(self._arrays)

    def pending(self) -> dict[str, Derive]:
        """The columns not made yet and how to make them."""
        return dict(self._derived)

    def inputs(self) -> dict[str, np.ndarray]:
        """The hidden inputs of the derived columns."""
        return dict(self._inputs)

    def rows(self, index: np.ndarray) -> FlowColumns:
        """The same columns for the rows at `index`; pending ones stay pending. Safe while
        another thread makes a column (pending is looked at first, made next)."""
        pending, made = self.pending(), self.made()
        return FlowColumns({n: a[index] for n, a in made.items()}, pending,
                           self._order, {n: a[index] for n, a in self._inputs.items()})


def made_columns(columns: MutableMapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays that exist now, of a FlowColumns or of a plain dict of columns."""
    return columns.made() if isinstance(columns, FlowColumns) else dict(columns)


def join_columns(parts: Sequence[MutableMapping[str, np.ndarray]],
                 derived: Mapping[str, Derive], order: tuple[str, ...],
                 rows: np.ndarray | None = None) -> FlowColumns:
    """The rows of all `parts` in sequence (then taken at `rows`, when given). When every
    part is a FlowColumns with the same hidden inputs, a `derived` column that some part
    has not made stays pending; otherwise every column is made in every part and joined."""
    made = [made_columns(p) for p in parts]
    hidden = [made_inputs(p) for p in parts]
    lazy = all(isinstance(p, FlowColumns) for p in parts) and len({tuple(h) for h in hidden}) == 1
    inputs = {name: _join([h[name] for h in hidden], rows) for name in hidden[0]} if lazy else {}
    arrays: dict[str, np.ndarray] = {}
    for name in parts[0]:
        if lazy and name in derived and not all(name in m for m in made):
            continue
        arrays[name] = _join([p[name] for p in parts], rows)
    return FlowColumns(arrays, derived if lazy else {}, order, inputs)


def made_inputs(columns: MutableMapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The hidden inputs of a FlowColumns ({} for a plain dict)."""
    return columns.inputs() if isinstance(columns, FlowColumns) else {}


def _join(arrays: list[np.ndarray], rows: np.ndarray | None) -> np.ndarray:
    joined = np.concatenate(arrays)
    return joined if rows is None else joined[rows]
