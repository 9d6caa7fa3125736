"""A compact banded LSH index over MinHash signatures, in numpy.

datasketch's MinHashLSH keeps a Python ``bytes`` key and a set per band and entry, several
hundred bytes per article and band (measured in docs/dedup.md); at a million articles that
does not fit. Here each (band, article) entry is one uint64: the band's 32-bit key in the
high half, the 32-bit row number in the low half. Entries live in sorted, immutable segments
(a log-structured merge: new rows collect in a small dict, are sealed into a sorted segment,
and segments of similar size are merged, up to ``max_segment_rows`` rows: a merge holds the
old segments and the new one at once, which at a million rows lifted the peak by hundreds of
MB, and a big segment is dropped whole only when all its rows are gone), so a query is one
``searchsorted`` per segment.
Rows are numbered in insertion order; removal is by row range and is lazy: a segment whose
rows are all gone is dropped, a mostly-empty one is compacted. ``insert_many`` (start-up)
seals whole groups of rows straight from arrays; the index it builds is the one row-by-row
inserts build (same segments, same open rows), so queries answer alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aggregator.dedup.arrays import distinct_counts

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

_LOW = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)
_PRIME = np.uint64(0x100000001B3)
_NONE: list[int] = []  # the open rows of a key that has none
_MIX = np.uint64(0xFF51AFD7ED558CCD)
SEAL_ROWS = 2048
FANOUT = 4  # merge when this many segments share a size tier
MAX_SEGMENT_ROWS = 1 << 17  # a segment that spans this many rows is never merged again
COMPACT_BLOCK = 1 << 18  # entries whose liveness a compaction reads at once (2 MB of rows)


@dataclass(slots=True)
class _Segment:
    entries: U64  # sorted (key << 32 | row)
    first_row: int
    last_row: int
    # the share of its row range that was live when its entries were last chosen (1.0 when
    # sealed; after a compaction, what was live then): it is compacted again only when
    # half of what it holds has gone since
    held: float = 1.0


def band_keys(signature: U32, bands: int, rows: int) -> U32:
    """One 32-bit key per band; the band number is mixed in, so bands never collide."""
    values = signature[: bands * rows].astype(np.uint64).reshape(bands, rows)
    acc = np.arange(1, bands + 1, dtype=np.uint64) * _MIX
    for column in range(rows):
        acc = (acc ^ values[:, column]) * _PRIME
    acc ^= acc >> np.uint64(33)
    acc *= _MIX
    keys: U32 = (acc >> _SHIFT).astype(np.uint32)
    return keys


def band_keys_many(signatures: U32, bands: int, rows: int) -> U32:
    """``band_keys`` of every row of a (n, num_perm) matrix at once: (n, bands)."""
    count = len(signatures)
    values = signatures[:, : bands * rows].astype(np.uint64).reshape(count, bands, rows)
    acc = np.broadcast_to(np.arange(1, bands + 1, dtype=np.uint64) * _MIX, (count, bands))
    for column in range(rows):
        acc = (acc ^ values[:, :, column]) * _PRIME
    acc = acc ^ (acc >> np.uint64(33))
    acc = acc * _MIX
    keys: U32 = (acc >> _SHIFT).astype(np.uint32)
    return keys


class BandIndex:
    """Rows (non-negative ints below 2**32) indexed by their band keys."""

    def __init__(
        self,
        max_bucket: int,
        seal_rows: int = SEAL_ROWS,
        max_segment_rows: int = MAX_SEGMENT_ROWS,
        compact_block: int = COMPACT_BLOCK,
    ) -> None:
        self.max_bucket = max_bucket
        self.seal_rows = seal_rows
        self.max_segment_rows = max_segment_rows
        self.compact_block = compact_block
        self._open: dict[int, list[int]] = {}
        self._open_rows: list[int] = []
        self._segments: list[_Segment] = []
        # rows given to insert_many and not sealed yet: (rows, keys) arrays, fewer than
        # seal_rows - len(_open_rows) rows in all; they join _open before anything reads it
        self._pending: list[tuple[I64, U32]] = []
        self._pending_rows = 0

    def __len__(self) -> int:
        self._settle()
        sealed = sum(len(s.entries) for s in self._segments)
        return sealed + sum(len(v) for v in self._open.values())

    @property
    def nbytes(self) -> int:
        return sum(s.entries.nbytes for s in self._segments)

    def insert(self, row: int, keys: U32) -> None:
        self._settle()
        self._insert_one(row, keys)

    def insert_many(self, rows: I64, keys: U32) -> None:
        """Insert ``rows`` (ascending) with their band keys, a (len(rows), bands) matrix, as
        that many ``insert`` calls would: whole groups of ``seal_rows`` rows are sealed from
        the arrays; the rest waits (as arrays) for the next group or the next reader."""
        if len(rows) == 0:
            return
        self._pending.append((rows, keys))
        self._pending_rows += len(rows)
        if len(self._open_rows) + self._pending_rows < self.seal_rows:
            return
        all_rows = np.concatenate([r for r, _ in self._pending])
        all_keys = np.concatenate([k for _, k in self._pending])
        self._pending, self._pending_rows = [], 0
        at = self.seal_rows - len(self._open_rows) if self._open_rows else 0
        for row, row_keys in zip(all_rows[:at].tolist(), all_keys[:at], strict=True):
            self._insert_one(row, row_keys)  # fills the open rows up: they are sealed
        while len(all_rows) - at >= self.seal_rows:
            stop = at + self.seal_rows
            self._seal_arrays(all_rows[at:stop], all_keys[at:stop])
            at = stop
        if at < len(all_rows):
            self._pending = [(all_rows[at:], all_keys[at:])]
            self._pending_rows = len(all_rows) - at

    def _settle(self) -> None:
        """Move rows waiting as arrays into the open rows (they never fill a segment)."""
        if not self._pending:
            return
        pending, self._pending, self._pending_rows = self._pending, [], 0
        for rows, keys in pending:
            for row, row_keys in zip(rows.tolist(), keys, strict=True):
                self._insert_one(row, row_keys)

    def _insert_one(self, row: int, keys: U32) -> None:
        for key in keys.tolist():
            self._open.setdefault(key, []).append(row)
        self._open_rows.append(row)
        if len(self._open_rows) >= self.seal_rows:
            self._seal()

    def query(self, keys: U32) -> tuple[I64, I64]:
        """Rows sharing at least one band key, and how many bands each shares. A bucket
        holding more than ``max_bucket`` rows in the whole index (open rows and every
        segment together) is skipped as uninformative."""
        self._settle()
        ordered = np.sort(keys)  # the order of the needles' buckets
        opened = [self._open.get(key, _NONE) for key in ordered.tolist()]
        sizes = np.fromiter((len(hit) for hit in opened), dtype=np.int64, count=len(opened))
        spans = self._spans(ordered)
        for lo, hi in spans:
            sizes += hi - lo
        kept = (sizes > 0) & (sizes <= self.max_bucket)
        found: list[npt.NDArray[np.int64]] = []
        rows = [row for at in kept.nonzero()[0].tolist() for row in opened[at]]
        if rows:
            found.append(np.array(rows, dtype=np.int64))
        for segment, (lo, hi) in zip(self._segments, spans, strict=True):
            for at in (kept & (hi > lo)).nonzero()[0].tolist():
                found.append((segment.entries[lo[at] : hi[at]] & _LOW).astype(np.int64))
        if not found:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return distinct_counts(np.concatenate(found))

    def _spans(self, ordered: U32) -> list[tuple[I64, I64]]:
        """Where each of the sorted keys' buckets starts and ends in each segment."""
        needles = self._needles(ordered)
        wrapped = int((ordered == _LOW).sum())  # their end needles wrapped to 0, sorted last
        spans: list[tuple[I64, I64]] = []
        for segment in self._segments:
            bounds = segment.entries.searchsorted(needles)
            lo, hi = bounds[0::2], bounds[1::2]
            if wrapped:  # the top key's bucket runs to the end of the segment
                hi[-wrapped:] = len(segment.entries)
            spans.append((lo, hi))
        return spans

    @staticmethod
    def _needles(ordered: U32) -> U64:
        """Where each of the sorted keys' buckets starts and ends, as sorted entries: ``key
        << 32`` and ``(key + 1) << 32``, interleaved (one binary search for both, near each
        other; sorted needles: numpy's binary search starts from the last one's place)."""
        wide = ordered.astype(np.uint64)
        needles = np.empty(2 * len(wide), dtype=np.uint64)
        needles[0::2] = wide << _SHIFT
        needles[1::2] = (wide + np.uint64(1)) << _SHIFT
        return needles

    def remove(
        self, gone_share: Callable[[int, int], float], alive: Callable[[I64], npt.NDArray[np.bool_]]
    ) -> None:
        """Drop rows the store says are gone: ``gone_share(first, last)`` is the share of
        rows gone in that range (1.0: all, the segment is dropped; when fewer than half of
        the rows it holds are live, it is compacted with ``alive(rows)``, a mask of the rows
        still live). A segment compacted once is not copied again at every sweep, only each
        time its live rows have halved again: a sweep every 1.75 hours of a week's window
        would otherwise copy the oldest segment up to seven times as it empties."""
        kept: list[_Segment] = []
        for segment in self._segments:
            live = 1.0 - gone_share(segment.first_row, segment.last_row)
            if live <= 0.0:
                continue
            kept.append(self._compact(segment, alive, live) if live < segment.held / 2 else segment)
        self._segments = kept

    def _compact(
        self, segment: _Segment, alive: Callable[[I64], npt.NDArray[np.bool_]], live: float
    ) -> _Segment:
        """The segment without its dead rows. The liveness of its entries is read
        ``compact_block`` entries at a time: the row numbers of a whole full segment (a
        uint64 copy and an int64 one, 34 MB each) lifted the peak RSS of a running engine
        by 68 MB the first time its window was full."""
        entries = segment.entries
        mask = np.empty(len(entries), dtype=bool)
        step = self.compact_block
        for start in range(0, len(entries), step):
            block = entries[start : start + step]
            mask[start : start + len(block)] = alive((block & _LOW).view(np.int64))
        return _Segment(entries[mask], segment.first_row, segment.last_row, live)

    def _seal(self) -> None:
        if not self._open_rows:
            return
        keys = np.fromiter(
            (k for k, rows in self._open.items() for _ in rows), dtype=np.uint64, count=-1
        )
        rows = np.fromiter((r for v in self._open.values() for r in v), dtype=np.uint64, count=-1)
        entries = np.sort((keys << _SHIFT) | rows)
        first, last = min(self._open_rows), max(self._open_rows)
        self._segments.append(_Segment(entries, first, last))
        self._open, self._open_rows = {}, []
        self._merge_tiers()

    def _seal_arrays(self, rows: I64, keys: U32) -> None:
        """Seal rows that never were open: the segment ``_seal`` would have made of them."""
        wide = (keys.astype(np.uint64) << _SHIFT) | rows.astype(np.uint64)[:, None]
        entries = np.sort(wide.ravel())
        self._segments.append(_Segment(entries, int(rows.min()), int(rows.max())))
        self._merge_tiers()

    def _merge_tiers(self) -> None:
        while True:
            tiers: dict[int, list[int]] = {}
            for i, segment in enumerate(self._segments):
                span = segment.last_row - segment.first_row + 1
                if span < self.max_segment_rows:
                    tiers.setdefault(max(0, int(np.log2(max(1, span))) // 2), []).append(i)
            full = [ids for ids in tiers.values() if len(ids) >= FANOUT]
            if not full:
                return
            chosen = set(full[0])
            group = [self._segments[i] for i in sorted(chosen)]
            entries = np.concatenate([s.entries for s in group])
            # in place and unstable: entries are unique (one row, one band key), so any sort
            # gives the same array, and this one takes no buffer, where timsort's merge of the
            # sorted runs took up to half the array more (17 MB when a segment fills)
            entries.sort()
            first, last = min(s.first_row for s in group), max(s.last_row for s in group)
            held = sum(s.held * (s.last_row - s.first_row + 1) for s in group)
            merged = _Segment(entries, first, last, min(1.0, held / (last - first + 1)))
            rest = [s for i, s in enumerate(self._segments) if i not in chosen]
            self._segments = [*rest, merged]

    def flush(self) -> None:
        """Seal the open rows now (before measuring memory, say)."""
        self._settle()
        self._seal()
