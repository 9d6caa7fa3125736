"""Which rows are live, one flag a row in one array: the row store's only record of it.

The LSH candidates of an article are a few thousand rows spread over the whole window: at
a million articles, over some 250 chunks of the row store. Reading each chunk's own flags
took a Python loop over those chunks, a tenth of an article's time at that size and
growing with it; one array over the rows from the oldest chunk still held answers in a few
numpy calls whatever the spread. Rows before ``base`` (their chunks freed) are gone.
The row store's chunks keep no flags of their own (they did until 2026-12-01: two copies to
keep in step).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_FIRST = 4096


class LiveFlags:
    """A flag for each row from ``base`` on (False for rows never set)."""

    def __init__(self) -> None:
        self._flags = np.zeros(_FIRST, dtype=bool)
        self.base = 0

    def set(self, first: int, count: int, value: bool) -> None:
        """Rows ``first`` .. ``first + count - 1`` (none before ``base``) become ``value``."""
        end = first + count - self.base
        if end > len(self._flags):
            grown = np.zeros(max(end, 2 * len(self._flags)), dtype=bool)
            grown[: len(self._flags)] = self._flags
            self._flags = grown
        self._flags[first - self.base : end] = value

    def get(self, row: int) -> bool:
        """The flag of ``row`` (False before ``base`` and past the rows ever set)."""
        at = row - self.base
        return 0 <= at < len(self._flags) and bool(self._flags[at])

    def span(self, first: int, stop: int) -> npt.NDArray[np.bool_]:
        """The flags of rows ``first`` .. ``stop - 1``, a copy (False where ``get`` is)."""
        out = np.zeros(stop - first, dtype=bool)
        lo, hi = max(first, self.base), min(stop, self.base + len(self._flags))
        if lo < hi:
            out[lo - first : hi - first] = self._flags[lo - self.base : hi - self.base]
        return out

    def many(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """The flags of ``rows`` (rows before ``base``: False)."""
        at = rows - self.base
        if len(at) == 0 or at.min() >= 0:
            found: npt.NDArray[np.bool_] = self._flags[at]
            return found
        out = np.zeros(len(rows), dtype=bool)
        inside = at >= 0
        out[inside] = self._flags[at[inside]]
        return out

    def forget_before(self, row: int) -> None:
        """Rows before ``row`` are all gone: their flags are dropped once they are a quarter
        of the array (so the copy is rare), and the array never grows with rows long gone."""
        drop = row - self.base
        if drop > 0 and 4 * drop >= len(self._flags):
            self._flags = self._flags[drop:].copy()
            self.base = row

    @property
    def nbytes(self) -> int:
        return int(self._flags.nbytes)
