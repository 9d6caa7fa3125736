"""The compact LSH index agrees with a brute-force band comparison."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.dedup import lsh
from aggregator.dedup.lsh import BandIndex, band_keys


def brute(sigs: dict[int, np.ndarray], query: np.ndarray, bands: int, rows: int) -> dict[int, int]:
    q = query.reshape(bands, rows)
    out: dict[int, int] = {}
    for row, sig in sigs.items():
        hits = int((sig.reshape(bands, rows) == q).all(axis=1).sum())
        if hits:
            out[row] = hits
    return out


@settings(max_examples=25, deadline=None)
@given(
    data=st.lists(st.lists(st.integers(0, 3), min_size=8, max_size=8), min_size=1, max_size=60),
    gone=st.integers(0, 60),
)
def test_query_matches_brute_force_across_seals_merges_and_removals(
    data: list[list[int]], gone: int
) -> None:
    old = lsh.SEAL_ROWS
    lsh.SEAL_ROWS = 4  # seal and merge often
    try:
        index = BandIndex(max_bucket=10_000)
        sigs = {row: np.array(v, dtype=np.uint32) for row, v in enumerate(data)}
        for row, sig in sigs.items():
            index.insert(row, band_keys(sig, 4, 2))
        index.remove(
            lambda first, last: (
                1.0
                if last < gone
                else sum(r < gone for r in range(first, last + 1)) / (last - first + 1)
            )
        )
        live = {r: s for r, s in sigs.items() if r >= gone or r >= index_last_open(index)}
        for sig in list(sigs.values())[:5]:
            rows, counts = index.query(band_keys(sig, 4, 2))
            found = dict(zip(rows.tolist(), counts.tolist(), strict=True))
            expected = brute(live, sig, 4, 2)
            assert {r: c for r, c in found.items() if r >= gone} == {
                r: c for r, c in expected.items() if r >= gone
            }
    finally:
        lsh.SEAL_ROWS = old


def index_last_open(index: BandIndex) -> int:
    """Rows still in the open dict are not removed (only sealed segments are)."""
    return min(index._open_rows, default=10**9)


def test_oversized_buckets_are_skipped() -> None:
    index = BandIndex(max_bucket=3)
    sig = np.array([1, 2], dtype=np.uint32)
    for row in range(5):
        index.insert(row, band_keys(sig, 2, 1))
    rows, _ = index.query(band_keys(sig, 2, 1))
    assert len(rows) == 0


def test_band_keys_differ_per_band() -> None:
    keys = band_keys(np.zeros(8, dtype=np.uint32), 8, 1)
    assert len(set(keys.tolist())) == 8
