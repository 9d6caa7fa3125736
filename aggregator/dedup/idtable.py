"""External article ids -> row numbers, in two flat arrays (the row store's ``row_of``).

A ``dict[str, int]`` of a million ids costs about 60 MiB (its slots, an int object a row)
beside the id strings the row store keeps, about 70 MiB more; at a week of a large
deployment that was a tenth of the engine. Here a slot is 12 bytes: the low 32 bits of the
id's hash and its row, in open addressing with linear probing, at most two thirds full and
rebuilt at most 55 % full (a million ids: 2^21 slots, 24 MiB). The id itself is not stored: a
slot whose hash bits match is confirmed by reading the id of its row from the row store
(``id_of``), so two ids whose hashes share 32 bits are told apart, as a dict tells them apart.

Python's ``hash`` of a string is salted per process: slot order is not stable across runs and
nothing reads it (``items`` is for tests and comparisons, which sort or build a dict).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable, Iterator

_EMPTY = 0
_GONE = 1  # a removed id's slot: searches go on past it, an insertion may reuse it
_FIRST_CAPACITY = 64
_LOW_32 = 0xFFFF_FFFF


def _key(article_id: str) -> int:
    """The slot key of an id: 32 hash bits, never one of the two marks."""
    key = hash(article_id) & _LOW_32
    return key if key > _GONE else key + 2


class IdTable:
    """A mapping from ids to rows with the dict methods the engine uses."""

    def __init__(self, id_of: Callable[[int], str]) -> None:
        self._id_of = id_of
        self._keys = array("I", bytes(4 * _FIRST_CAPACITY))
        self._rows = array("q", bytes(8 * _FIRST_CAPACITY))
        self._mask = _FIRST_CAPACITY - 1
        self._live = 0
        self._filled = 0  # live slots and removed ones: what probing walks through

    def __len__(self) -> int:
        return self._live

    def __contains__(self, article_id: object) -> bool:
        return isinstance(article_id, str) and self._find(article_id) >= 0

    def __getitem__(self, article_id: str) -> int:
        slot = self._find(article_id)
        if slot < 0:
            raise KeyError(article_id)
        return self._rows[slot]

    def get(self, article_id: str, default: int | None = None) -> int | None:
        slot = self._find(article_id)
        return self._rows[slot] if slot >= 0 else default

    def __setitem__(self, article_id: str, row: int) -> None:
        key, slot = _key(article_id), self._find(article_id)
        if slot >= 0:
            self._rows[slot] = row
            return
        if 3 * (self._filled + 1) > 2 * len(self._keys):
            self._rebuild(self._live + 1)
        slot = self._free_slot(key)
        if self._keys[slot] == _EMPTY:
            self._filled += 1
        self._keys[slot], self._rows[slot] = key, row
        self._live += 1

    def update(self, pairs: Iterable[tuple[str, int]]) -> None:
        for article_id, row in pairs:
            self[article_id] = row

    def pop(self, article_id: str, default: int | None = None) -> int | None:
        slot = self._find(article_id)
        if slot < 0:
            return default
        self._keys[slot] = _GONE
        self._live -= 1
        return self._rows[slot]

    def items(self) -> Iterator[tuple[str, int]]:
        """Every (id, row), in no particular order."""
        for key, row in zip(self._keys, self._rows, strict=True):
            if key > _GONE:
                yield self._id_of(row), row

    def values(self) -> Iterator[int]:
        """Every row, in no particular order."""
        return (row for key, row in zip(self._keys, self._rows, strict=True) if key > _GONE)

    @property
    def nbytes(self) -> int:
        return self._keys.itemsize * len(self._keys) + self._rows.itemsize * len(self._rows)

    def _find(self, article_id: str) -> int:
        """The slot holding ``article_id``, or -1."""
        key, keys, mask = _key(article_id), self._keys, self._mask
        slot = key & mask
        while (found := keys[slot]) != _EMPTY:
            if found == key and self._id_of(self._rows[slot]) == article_id:
                return slot
            slot = (slot + 1) & mask
        return -1

    def _free_slot(self, key: int) -> int:
        """The first empty or removed slot on ``key``'s probe path (the id is not there)."""
        keys, mask = self._keys, self._mask
        slot = key & mask
        while keys[slot] > _GONE:
            slot = (slot + 1) & mask
        return slot

    def _rebuild(self, live: int) -> None:
        """Slots for ``live`` ids at most 55 % full (room for removals before the next
        rebuild at two thirds); removed slots are dropped."""
        capacity = _FIRST_CAPACITY
        while 11 * capacity < 20 * live:
            capacity *= 2
        old = zip(self._keys, self._rows, strict=True)
        self._keys = array("I", bytes(4 * capacity))
        self._rows = array("q", bytes(8 * capacity))
        self._mask = capacity - 1
        self._filled = 0
        for key, row in old:
            if key > _GONE:
                slot = self._free_slot(key)
                self._keys[slot], self._rows[slot] = key, row
                self._filled += 1
