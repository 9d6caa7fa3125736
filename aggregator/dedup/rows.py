"""Column store of the articles the engine holds, in fixed-size numpy chunks.

A row is an int, given in insertion order. Per row: external id, time, language and outlet
codes, story cluster, copy group, the copy MinHash (the low 8 bits of each value: b-bit
MinHash, corrected for chance matches, enough to estimate Jaccard), and the top TF-IDF
terms. A chunk whose rows are all gone is freed, so memory follows the time window.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from aggregator.dedup.idtable import IdTable
from aggregator.dedup.liveflags import LiveFlags

CHUNK_BITS = 12
CHUNK = 1 << CHUNK_BITS
_GATHER_FROM = 48  # more rows than this: read a column with numpy, not row by row
_MASK = CHUNK - 1

U8 = npt.NDArray[np.uint8]
BBIT_CHANCE = 1 / 256  # two different minima share their low 8 bits this often
U32 = npt.NDArray[np.uint32]
F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I32 = npt.NDArray[np.int32]


@dataclass(slots=True)
class RowData:
    id: str
    time: float  # NaN when unknown
    language: int
    outlet: int
    cluster: int
    copy_group: int
    shingles: int
    body_key: int
    copy: U32  # empty when none
    vec_ids: U32
    vec_tf: npt.NDArray[np.floating]


@dataclass(slots=True)
class RowBatch:
    """Many rows at once, as columns (start-up): what ``append`` stores, row by row."""

    ids: list[str]
    time: F64  # NaN when unknown
    language: I32
    outlet: I32
    cluster: I32
    copy_group: I32
    shingles: I32
    body_key: U32
    has_copy: npt.NDArray[np.bool_]
    copy: U8  # (len(ids), copy_perm): the low 8 bits of each minimum, zero when none
    vec_ids: U32  # (len(ids), terms), zero past vec_len
    vec_tf: npt.NDArray[np.float16]
    vec_len: U8


class _Chunk:
    __slots__ = (
        "body_key",
        "cluster",
        "copy",
        "copy_group",
        "has_copy",
        "id_bytes",
        "id_ends",
        "language",
        "outlet",
        "shingles",
        "time",
        "vec_ids",
        "vec_len",
        "vec_tf",
    )

    def __init__(self, copy_perm: int, terms: int) -> None:
        # the external ids, UTF-8, one after another: 4 bytes and the id's length a row, where
        # a list of str objects held 60 bytes and more (``id``)
        self.id_bytes = bytearray()
        self.id_ends = array("I")
        self.time = np.full(CHUNK, np.nan)
        self.language = np.zeros(CHUNK, dtype=np.int32)
        self.outlet = np.zeros(CHUNK, dtype=np.int32)
        self.cluster = np.zeros(CHUNK, dtype=np.int32)
        self.copy_group = np.zeros(CHUNK, dtype=np.int32)
        self.shingles = np.zeros(CHUNK, dtype=np.int32)
        self.body_key = np.zeros(CHUNK, dtype=np.uint32)
        self.has_copy = np.zeros(CHUNK, dtype=bool)
        self.copy = np.zeros((CHUNK, copy_perm), dtype=np.uint8)
        self.vec_ids = np.zeros((CHUNK, terms), dtype=np.uint32)
        self.vec_tf = np.zeros((CHUNK, terms), dtype=np.float16)
        self.vec_len = np.zeros(CHUNK, dtype=np.uint8)


def _add_ids(chunk: _Chunk, ids: Sequence[str]) -> None:
    for article_id in ids:
        chunk.id_bytes += article_id.encode()
        chunk.id_ends.append(len(chunk.id_bytes))


def bbit(signature: U32) -> U8:
    """The low 8 bits of each MinHash value (b-bit MinHash)."""
    low: U8 = (signature & 0xFF).astype(np.uint8)
    return low


def bbit_jaccard(matches: npt.NDArray[np.floating]) -> npt.NDArray[np.floating]:
    """Jaccard from the share of equal 8-bit minima: equal minima always match, different
    ones by chance (1/256), so J = (share - 1/256) / (1 - 1/256)."""
    estimate: npt.NDArray[np.floating] = np.clip(
        (matches - BBIT_CHANCE) / (1 - BBIT_CHANCE), 0.0, 1.0
    )
    return estimate


class RowStore:
    """Rows by number; ``row_of`` maps external ids of live rows to row numbers."""

    def __init__(self, copy_perm: int, terms: int) -> None:
        if terms > 255:
            raise ValueError("at most 255 terms per row")
        self._copy_perm = copy_perm
        self._terms = terms
        self._chunks: dict[int, _Chunk] = {}
        self.next_row = 0
        self.row_of = IdTable(self.id)
        self._live_flags = LiveFlags()  # which rows are live, for all chunks at once
        self.live = 0

    def append(self, data: RowData) -> int:
        row = self.next_row
        index = row >> CHUNK_BITS
        chunk = self._chunks.get(index)
        if chunk is None:
            chunk = self._chunks[index] = _Chunk(self._copy_perm, self._terms)
        at = row & _MASK
        _add_ids(chunk, [data.id])
        chunk.time[at] = data.time
        chunk.language[at] = data.language
        chunk.outlet[at] = data.outlet
        chunk.cluster[at] = data.cluster
        chunk.copy_group[at] = data.copy_group
        self._live_flags.set(row, 1, True)
        chunk.shingles[at] = data.shingles
        chunk.body_key[at] = data.body_key
        if len(data.copy):
            chunk.has_copy[at] = True
            chunk.copy[at] = bbit(data.copy)
        n = min(len(data.vec_ids), self._terms)
        chunk.vec_ids[at, :n] = data.vec_ids[:n]
        chunk.vec_tf[at, :n] = data.vec_tf[:n]
        chunk.vec_len[at] = n
        self.row_of[data.id] = row
        self.next_row += 1
        self.live += 1
        return row

    def append_many(self, batch: RowBatch) -> int:
        """Append the batch's rows, as ``append`` would one by one; returns the first row."""
        first = self.next_row
        count = len(batch.ids)
        done = 0
        while done < count:
            row = first + done
            index = row >> CHUNK_BITS
            chunk = self._chunks.get(index)
            if chunk is None:
                chunk = self._chunks[index] = _Chunk(self._copy_perm, self._terms)
            at = row & _MASK
            take = min(count - done, CHUNK - at)
            part, dest = slice(done, done + take), slice(at, at + take)
            _add_ids(chunk, batch.ids[part])
            chunk.time[dest] = batch.time[part]
            chunk.language[dest] = batch.language[part]
            chunk.outlet[dest] = batch.outlet[part]
            chunk.cluster[dest] = batch.cluster[part]
            chunk.copy_group[dest] = batch.copy_group[part]
            self._live_flags.set(row, take, True)
            chunk.shingles[dest] = batch.shingles[part]
            chunk.body_key[dest] = batch.body_key[part]
            chunk.has_copy[dest] = batch.has_copy[part]
            chunk.copy[dest] = batch.copy[part]
            chunk.vec_ids[dest] = batch.vec_ids[part]
            chunk.vec_tf[dest] = batch.vec_tf[part]
            chunk.vec_len[dest] = batch.vec_len[part]
            done += take
        self.row_of.update(zip(batch.ids, range(first, first + count), strict=True))
        self.next_row += count
        self.live += count
        return first

    # the one-field readers below are called a few hundred times an article: they index the
    # chunk themselves rather than through _at's call and tuple
    def _at(self, row: int) -> tuple[_Chunk, int]:
        return self._chunks[row >> CHUNK_BITS], row & _MASK

    def alive(self, row: int) -> bool:
        return self._live_flags.get(row)

    def id(self, row: int) -> str:
        chunk, at = self._at(row)
        ends = chunk.id_ends
        return chunk.id_bytes[ends[at - 1] if at else 0 : ends[at]].decode()

    def time(self, row: int) -> float:
        return float(self._chunks[row >> CHUNK_BITS].time[row & _MASK])

    def language(self, row: int) -> int:
        return int(self._chunks[row >> CHUNK_BITS].language[row & _MASK])

    def outlet(self, row: int) -> int:
        chunk, at = self._at(row)
        return int(chunk.outlet[at])

    def cluster(self, row: int) -> int:
        return int(self._chunks[row >> CHUNK_BITS].cluster[row & _MASK])

    def set_cluster(self, row: int, cluster: int) -> None:
        chunk, at = self._at(row)
        chunk.cluster[at] = cluster

    def copy_group(self, row: int) -> int:
        return int(self._chunks[row >> CHUNK_BITS].copy_group[row & _MASK])

    def set_copy_group(self, row: int, group: int) -> None:
        chunk, at = self._at(row)
        chunk.copy_group[at] = group

    def shingles(self, row: int) -> int:
        return int(self._chunks[row >> CHUNK_BITS].shingles[row & _MASK])

    def body_key(self, row: int) -> int:
        chunk, at = self._at(row)
        return int(chunk.body_key[at])

    def copy_sig(self, row: int) -> U8 | None:
        chunk, at = self._at(row)
        return chunk.copy[at] if chunk.has_copy[at] else None

    def terms(self, row: int) -> int:
        """How many terms the row's vector holds."""
        chunk, at = self._at(row)
        return int(chunk.vec_len[at])

    def vector(self, row: int) -> tuple[U32, F32]:
        """The row's term ids and sublinear term frequencies."""
        chunk, at = self._at(row)
        n = int(chunk.vec_len[at])
        return chunk.vec_ids[at, :n], chunk.vec_tf[at, :n].astype(np.float32)

    def kill(self, row: int) -> None:
        if self._live_flags.get(row):
            self._live_flags.set(row, 1, False)
            self.live -= 1
            self.row_of.pop(self.id(row), None)

    def gone_share(self, first: int, last: int) -> float:
        """Share of rows in [first, last] that are gone."""
        total = last + 1 - first
        if total <= 0:
            return 1.0
        gone = total - int(np.count_nonzero(self._live_flags.span(first, last + 1)))
        return gone / total

    def alive_many(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        """Which of ``rows`` are live."""
        return self._live_flags.many(rows)

    def terms_total(self, rows: Sequence[int]) -> int:
        """The summed vector lengths of ``rows`` (a cluster's members)."""
        if len(rows) <= _GATHER_FROM:
            return sum(self.terms(row) for row in rows)
        return int(self._gather(np.asarray(rows, dtype=np.int64), "vec_len", np.int64).sum())

    def vectors(self, rows: Sequence[int]) -> tuple[U32, F32, npt.NDArray[np.int64]]:
        """``vector`` of each of ``rows`` (row by row up to ``_GATHER_FROM`` rows, by column
        beyond): the term ids and the term frequencies of one row after another, and how
        many each row has."""
        if len(rows) == 0:
            return np.zeros(0, np.uint32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        if len(rows) <= _GATHER_FROM:
            return self._vectors_row_by_row(rows)
        at = np.asarray(rows, dtype=np.int64)
        lengths = self._gather(at, "vec_len", np.int64)
        held = np.arange(self._terms) < lengths[:, None]
        ids = self._gather(at, "vec_ids", np.uint32, self._terms)[held]
        tf = self._gather(at, "vec_tf", np.float16, self._terms)[held].astype(np.float32)
        return ids, tf, lengths

    def _vectors_row_by_row(self, rows: Sequence[int]) -> tuple[U32, F32, npt.NDArray[np.int64]]:
        ids: list[U32] = []
        tf: list[npt.NDArray[np.float16]] = []
        lengths: list[int] = []
        for row in rows:
            chunk = self._chunks[row >> CHUNK_BITS]
            at = row & _MASK
            n = int(chunk.vec_len[at])
            ids.append(chunk.vec_ids[at, :n])
            tf.append(chunk.vec_tf[at, :n])
            lengths.append(n)
        return (
            np.concatenate(ids),
            np.concatenate(tf).astype(np.float32),
            np.array(lengths, dtype=np.int64),
        )

    def _gather(
        self, rows: npt.NDArray[np.int64], name: str, dtype: Any, width: int = 0
    ) -> npt.NDArray[Any]:
        """A per-row column's values at ``rows`` (zero for rows of freed chunks; ``width``
        values a row for the 2-D columns), vectorised per chunk: rows grouped by chunk with a
        stable sort, linear when they come sorted."""
        out = np.zeros((len(rows), width) if width else len(rows), dtype=dtype)
        if len(rows) == 0:
            return out
        chunks = rows >> CHUNK_BITS
        order = np.argsort(chunks, kind="stable")
        ordered = chunks[order]
        bounds = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
        starts = [0, *bounds.tolist()]
        for start, stop in zip(starts, [*starts[1:], len(rows)], strict=True):
            chunk = self._chunks.get(int(ordered[start]))
            if chunk is not None:
                pick = order[start:stop]
                out[pick] = getattr(chunk, name)[rows[pick] & _MASK]
        return out

    def free_dead_chunks(self) -> None:
        for index in list(self._chunks):
            if (index + 1) << CHUNK_BITS <= self.next_row and not self._alive_in(index).any():
                del self._chunks[index]
        oldest = min(self._chunks, default=self.next_row >> CHUNK_BITS)
        self._live_flags.forget_before(oldest << CHUNK_BITS)

    def rows_older_than(self, cutoff: float) -> list[int]:
        """Live rows whose known time is before ``cutoff``."""
        found: list[int] = []
        for index, chunk in self._chunks.items():
            hits = np.flatnonzero(self._alive_in(index) & (chunk.time < cutoff))
            found.extend((index << CHUNK_BITS) + int(h) for h in hits)
        return found

    def live_rows(self) -> list[int]:
        found: list[int] = []
        for index in sorted(self._chunks):
            hits = np.flatnonzero(self._alive_in(index))
            found.extend((index << CHUNK_BITS) + int(h) for h in hits)
        return found

    def _alive_in(self, index: int) -> npt.NDArray[np.bool_]:
        """The live flags of chunk ``index``'s rows."""
        return self._live_flags.span(index << CHUNK_BITS, (index + 1) << CHUNK_BITS)

    @property
    def nbytes(self) -> int:
        total = 0
        for chunk in self._chunks.values():
            for name in _Chunk.__slots__:
                value = getattr(chunk, name)
                total += value.nbytes if isinstance(value, np.ndarray) else 0
        return total + self._live_flags.nbytes
