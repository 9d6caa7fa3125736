"""The compact LSH index agrees with a brute-force band comparison."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.dedup.lsh import BandIndex, band_keys


def brute(sigs: dict[int, np.ndarray], query: np.ndarray, bands: int, rows: int) -> dict[int, int]:
    q = query.reshape(bands, rows)
    out: dict[int, int] = {}
    for row, sig in sigs.items():
        hits = int((sig.reshape(bands, rows) == q).all(axis=1).sum())
        if hits:
            out[row] = hits
    return out


def gone_share(gone: int) -> Callable[[int, int], float]:
    """Rows below ``gone`` are gone: the share of them in [first, last]."""

    def share(first: int, last: int) -> float:
        return sum(r < gone for r in range(first, last + 1)) / (last - first + 1)

    return share


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(0, 3), min_size=8, max_size=8), min_size=1, max_size=60),
    gone=st.integers(0, 60),
)
def test_live_rows_are_found_with_their_band_counts_after_seals_merges_and_removals(
    data: list[list[int]], gone: int
) -> None:
    index = BandIndex(max_bucket=10_000, seal_rows=4)  # seal and merge often
    sigs = {row: np.array(v, dtype=np.uint32) for row, v in enumerate(data)}
    for row, sig in sigs.items():
        index.insert(row, band_keys(sig, 4, 2))
    index.remove(gone_share(gone), lambda rows: rows >= gone)
    live = {r: s for r, s in sigs.items() if r >= gone}
    for sig in list(sigs.values())[:5]:
        rows, counts = index.query(band_keys(sig, 4, 2))
        found = {r: c for r, c in zip(rows.tolist(), counts.tolist(), strict=True) if r >= gone}
        assert found == brute(live, sig, 4, 2)  # removed rows may linger; the engine skips them


def test_removal_frees_whole_segments() -> None:
    index = BandIndex(max_bucket=10_000, seal_rows=4)
    for row in range(16):
        index.insert(row, band_keys(np.full(8, row, dtype=np.uint32), 4, 2))
    before = index.nbytes
    index.remove(gone_share(16), lambda rows: rows >= 16)
    assert before > 0 and index.nbytes == 0


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(1, 80),
    dead=st.sets(st.integers(0, 79)),
    block=st.integers(1, 40),
)
def test_compaction_read_in_blocks_keeps_exactly_the_live_entries(
    rows: int, dead: set[int], block: int
) -> None:
    """A mostly-dead segment is compacted whatever the block its liveness is read in: the
    entries left are the live rows' (the blocks' masks land where their entries are)."""
    index = BandIndex(max_bucket=10_000, seal_rows=rows, compact_block=block)
    keys = {row: band_keys(np.full(4, row % 7, dtype=np.uint32), 2, 2) for row in range(rows)}
    for row, row_keys in keys.items():
        index.insert(row, row_keys)
    gone = {r for r in dead if r < rows}
    index.remove(lambda first, last: 0.75 if gone else 0.0, lambda at: ~np.isin(at, list(gone)))
    for row, row_keys in keys.items():
        found, _ = index.query(row_keys)
        assert (row in found.tolist()) == (row not in gone)
    live_entries = sum(len(k) for r, k in keys.items() if r not in gone)
    assert len(index) == (live_entries if gone else len(keys) * 2)


def test_a_compacted_segment_is_compacted_again_only_when_its_live_rows_halve_again() -> None:
    index = BandIndex(max_bucket=10_000, seal_rows=20)
    for row in range(20):
        index.insert(row, band_keys(np.full(4, row, dtype=np.uint32), 2, 2))
    asked: list[int] = []

    def sweep(gone: int) -> None:
        def alive(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
            asked.append(gone)
            return rows >= gone

        index.remove(lambda first, last: gone / (last - first + 1), alive)

    for gone in (8, 12, 14, 15, 17, 19):  # live: 12, 8, 6, 5, 3, 1 of the 20 rows
        sweep(gone)
    assert asked == [12, 17, 19]  # under 10 live (half of 20), then under 4, then under 1.5
    assert len(index) == 2  # the last row's two band entries


def test_oversized_buckets_are_skipped() -> None:
    index = BandIndex(max_bucket=3)
    sig = np.array([1, 2], dtype=np.uint32)
    for row in range(5):
        index.insert(row, band_keys(sig, 2, 1))
    rows, _ = index.query(band_keys(sig, 2, 1))
    assert len(rows) == 0


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(0, 2), min_size=4, max_size=4), min_size=1, max_size=50),
    seal_rows=st.integers(2, 64),
    max_bucket=st.integers(1, 12),
)
def test_a_bucket_is_skipped_by_its_size_in_the_whole_index_however_it_is_segmented(
    data: list[list[int]], seal_rows: int, max_bucket: int
) -> None:
    """A bucket of more than ``max_bucket`` rows is skipped even when each segment and the
    open rows hold fewer; one of at most that many is read whole: what a query finds does
    not depend on how the rows were sealed and merged."""
    index = BandIndex(max_bucket=max_bucket, seal_rows=seal_rows, max_segment_rows=2 * seal_rows)
    sigs = {row: np.array(v, dtype=np.uint32) for row, v in enumerate(data)}
    keys = {row: band_keys(sig, 4, 1) for row, sig in sigs.items()}
    for row in sigs:
        index.insert(row, keys[row])
    sizes: dict[int, int] = {}
    for row_keys in keys.values():
        for key in row_keys.tolist():
            sizes[key] = sizes.get(key, 0) + 1
    for query in list(keys.values())[:5]:
        small = {k for k in query.tolist() if sizes[k] <= max_bucket}
        want: dict[int, int] = {}
        for row, row_keys in keys.items():
            hits = sum(k in small for k in row_keys.tolist())
            if hits:
                want[row] = hits
        rows, counts = index.query(query)
        assert dict(zip(rows.tolist(), counts.tolist(), strict=True)) == want


def test_band_keys_differ_per_band() -> None:
    keys = band_keys(np.zeros(8, dtype=np.uint32), 8, 1)
    assert len(set(keys.tolist())) == 8


def test_the_lowest_and_highest_keys_are_found_in_sealed_segments() -> None:
    index = BandIndex(max_bucket=10_000, seal_rows=2)
    top, bottom = np.uint32(0xFFFFFFFF), np.uint32(0)
    index.insert(0, np.array([top, bottom], dtype=np.uint32))
    index.insert(1, np.array([top, np.uint32(7)], dtype=np.uint32))
    index.insert(2, np.array([top, top], dtype=np.uint32))  # two bands alike: counted twice
    index.flush()
    rows, counts = index.query(np.array([top, bottom], dtype=np.uint32))
    assert dict(zip(rows.tolist(), counts.tolist(), strict=True)) == {0: 2, 1: 1, 2: 2}
    rows, counts = index.query(np.array([top, top], dtype=np.uint32))
    assert dict(zip(rows.tolist(), counts.tolist(), strict=True)) == {0: 2, 1: 2, 2: 4}


def test_segments_stop_growing_at_their_cap_and_queries_still_find_every_row() -> None:
    index = BandIndex(max_bucket=10_000, seal_rows=2, max_segment_rows=8)
    sigs = {row: np.array([row % 3, row % 5, 1, row], dtype=np.uint32) for row in range(40)}
    for row, sig in sigs.items():
        index.insert(row, band_keys(sig, 2, 2))
    index.flush()
    spans = [s.last_row - s.first_row + 1 for s in index._segments]
    assert max(spans) == 8 and sum(spans) == 40  # merged up to the cap, not beyond
    for sig in list(sigs.values())[::7]:
        rows, counts = index.query(band_keys(sig, 2, 2))
        found = dict(zip(rows.tolist(), counts.tolist(), strict=True))
        assert found == brute(sigs, sig, 2, 2)
