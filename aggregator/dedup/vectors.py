"""Sparse term vectors (sorted uint32 term ids, float64 weights) and the IDF table.

The IDF is learned as articles arrive: document frequencies of every article seen are counted
in 2**k hashed counters (memory does not grow with the vocabulary; a rare term that shares a
counter with another gets a slightly lower IDF), in steps (``IdfTable``). The counts outlive
the index window, since a term's rarity changes slowly; ``IdfTable.to_bytes`` lets the
service keep them across restarts, and a restart without them rebuilds the counts from the
replayed window.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import numpy.typing as npt

from aggregator.dedup.arrays import distinct, distinct_inverse
from aggregator.errors import DedupError

WARM_UP = 100  # documents counted one step each
U32 = npt.NDArray[np.uint32]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SparseVec:
    ids: U32  # sorted, unique
    weights: F64

    @classmethod
    def empty(cls) -> SparseVec:
        return cls(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.float64))

    def __len__(self) -> int:
        return len(self.ids)

    def normalized(self) -> SparseVec:
        norm = math.sqrt(self.weights.dot(self.weights))
        if norm == 0.0:
            return self
        return SparseVec(self.ids, self.weights / norm)


def from_terms(ids: U32, weights: npt.NDArray[np.floating]) -> SparseVec:
    """A vector from possibly repeated ids (repeats add up)."""
    if len(ids) == 0:
        return SparseVec.empty()
    unique, inverse = distinct_inverse(ids)
    summed = np.bincount(inverse, weights=weights.astype(np.float64), minlength=len(unique))
    return SparseVec(unique.astype(np.uint32), summed.astype(np.float64))


def dot(a: SparseVec, b: SparseVec) -> float:
    if len(a.ids) > len(b.ids):
        a, b = b, a
    ia, ib = _common(a, b)
    return float(a.weights[ia].dot(b.weights[ib])) if len(ia) else 0.0


def add(vectors: Sequence[SparseVec], signs: Sequence[float] | None = None) -> SparseVec:
    """The sum of ``vectors`` (each times its sign, if given)."""
    if not vectors:
        return SparseVec.empty()
    ids = np.concatenate([v.ids for v in vectors])
    if signs is None:
        weights = np.concatenate([v.weights for v in vectors])
    else:
        weights = np.concatenate([v.weights * s for v, s in zip(vectors, signs, strict=True)])
    return from_terms(ids, weights)


def shared_terms(a: SparseVec, b: SparseVec, count: int) -> list[int]:
    """Ids of the terms that add most to ``dot(a, b)``, best first."""
    ia, ib = _common(a, b)
    if len(ia) == 0:
        return []
    common = a.ids[ia]
    contribution = a.weights[ia] * b.weights[ib]
    order = (-contribution).argsort(kind="stable")[:count]
    return [int(common[i]) for i in order if contribution[i] > 0]


def _common(a: SparseVec, b: SparseVec) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Where the ids both hold sit in ``a`` and in ``b``, in ascending id order (what
    ``np.intersect1d(..., return_indices=True)`` gives, by a binary search instead of a
    sort of both)."""
    if len(a.ids) == 0 or len(b.ids) == 0:
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    at = b.ids.searchsorted(a.ids)
    at[at == len(b.ids)] = 0
    hit = b.ids[at] == a.ids
    return hit.nonzero()[0], at[hit]


class IdfTable:
    """Document frequencies of every article seen, in 2**k hashed counters, refreshed in
    steps: counted documents wait in a queue until the count reaches the next step, and
    ``idf`` answers from the counts of the last step. So the IDF any score used is a function
    of how many documents came before (not of when the engine last restarted), and a cluster's
    cached sum stays exact until the next step (``generation`` tells the steps apart).

    Steps: after every document up to ``warm_up`` (a small corpus's IDF moves with every
    article), then each time the count grew by a tenth, at most ``batch`` documents apart."""

    def __init__(self, buckets_log2: int, batch: int = 2000, warm_up: int = WARM_UP) -> None:
        self._mask = np.uint32((1 << buckets_log2) - 1)
        self._counts = np.zeros(1 << buckets_log2, dtype=np.uint32)
        self._queue: list[U32] = []  # each waiting document's distinct buckets
        self._batch, self._warm_up = batch, warm_up
        self.docs = 0  # documents in the counts ``idf`` answers from
        self.next_step = 1
        self.generation = 0

    @property
    def seen(self) -> int:
        """Documents counted, waiting ones included."""
        return self.docs + len(self._queue)

    def add(self, term_ids: U32) -> None:
        """Count one document with these distinct term ids."""
        self._queue.append(distinct(term_ids & self._mask))
        if self.seen >= self.next_step:
            self._apply(self._queue)
            self._queue = []

    def add_many(self, term_ids: U32, owners: npt.NDArray[np.int64], docs: int) -> None:
        """Count ``docs`` documents at once, as ``add`` would one by one: ``term_ids`` of
        every document, concatenated, ``owners`` the document (0 .. docs - 1) of each."""
        last = self.seen + docs
        step = self.docs
        while self.next_step <= last:
            step, self.next_step = self.next_step, self._after(self.next_step)
        done = step - self.seen  # documents of this call that reach the counts now
        buckets = term_ids & self._mask
        if done > 0:
            cut = int(np.searchsorted(owners, done))
            self._count_many(buckets[:cut], owners[:cut])
            self._apply(self._queue, extra=done)
            self._queue = []
            buckets, owners = buckets[cut:], owners[cut:] - done
        starts = np.searchsorted(owners, np.arange(docs - max(done, 0) + 1))
        for a, b in pairwise(starts.tolist()):
            self._queue.append(distinct(buckets[a:b]))

    def idf(self, term_ids: U32) -> F64:
        """Smoothed IDF: ln((N + 1) / (df + 1)) + 1, from the counts of the last step."""
        df = self._counts[term_ids & self._mask].astype(np.float64)
        result: F64 = np.log((self.docs + 1.0) / (df + 1.0)) + 1.0
        return result

    def to_bytes(self) -> bytes:
        """The table with its queue, compressed (to keep the IDF of more than the window
        across restarts)."""
        sizes = np.asarray([len(q) for q in self._queue], dtype="<u4")
        head = struct.pack("<QQQ", self.docs, self.next_step, len(sizes))
        waiting = np.concatenate([np.zeros(0, dtype=np.uint32), *self._queue]).astype("<u4")
        body = self._counts.astype("<u4").tobytes() + sizes.tobytes() + waiting.tobytes()
        return zlib.compress(head + body, 1)  # fast: the clusterer writes one every 2,000

    def load(self, payload: bytes) -> None:
        """Become the table ``to_bytes`` wrote; a payload that is not one of this size
        raises ``DedupError`` (code ``bad_idf``) and changes nothing."""
        try:
            raw = zlib.decompress(payload)
            docs, next_step, queued = struct.unpack_from("<QQQ", raw)
        except (zlib.error, struct.error) as exc:
            raise DedupError(f"not an IDF table: {exc}", code="bad_idf") from exc
        size = len(self._counts)
        if len(raw) < 24 + 4 * (size + queued) or next_step <= docs:
            raise DedupError("IDF table of another size", code="bad_idf")
        counts = np.frombuffer(raw, dtype="<u4", offset=24, count=size)
        sizes = np.frombuffer(raw, dtype="<u4", offset=24 + 4 * size, count=queued)
        waiting = np.frombuffer(raw, dtype="<u4", offset=24 + 4 * (size + queued))
        if len(waiting) != int(sizes.sum()):
            raise DedupError("IDF table of another size", code="bad_idf")
        self.docs, self.next_step = docs, next_step
        self._counts = counts.astype(np.uint32)
        bounds = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
        self._queue = [waiting[a:b].astype(np.uint32) for a, b in pairwise(bounds.tolist())]
        self.generation += 1

    def _after(self, step: int) -> int:
        if step < self._warm_up:
            return step + 1
        return step + max(1, min(step // 10, self._batch))

    def _apply(self, queue: list[U32], extra: int = 0) -> None:
        """Move ``queue`` (and ``extra`` documents already counted) into the counts: a step."""
        if queue:
            np.add.at(self._counts, np.concatenate(queue).astype(np.int64), np.uint32(1))
        self.docs += len(queue) + extra
        while self.next_step <= self.docs:
            self.next_step = self._after(self.next_step)
        self.generation += 1

    def _count_many(self, buckets: U32, owners: npt.NDArray[np.int64]) -> None:
        keys = np.sort((owners.astype(np.int64) << np.int64(32)) | buckets.astype(np.int64))
        first = np.ones(len(keys), dtype=bool)
        np.not_equal(keys[1:], keys[:-1], out=first[1:])  # each bucket once per document
        np.add.at(self._counts, keys[first] & np.int64(0xFFFFFFFF), np.uint32(1))

    @property
    def nbytes(self) -> int:
        return self._counts.nbytes
