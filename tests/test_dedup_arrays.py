"""The engine's replacements for ``np.unique`` and ``np.intersect1d`` give what numpy's give,
for any input (they are only faster; a difference would change stored signatures and
scores)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from aggregator.dedup.arrays import distinct, distinct_counts, distinct_inverse
from aggregator.dedup.vectors import SparseVec, dot, from_terms, shared_terms

# small ranges as well as the full one, so that repeats are common
VALUES = st.one_of(
    hnp.arrays(np.uint32, st.integers(0, 300), elements=st.integers(0, 20)),
    hnp.arrays(np.uint32, st.integers(0, 300)),
    hnp.arrays(np.int64, st.integers(0, 300), elements=st.integers(-(2**40), 2**40)),
)


@given(VALUES)
def test_distinct_is_np_unique(values: np.ndarray) -> None:
    got = distinct(values)
    assert got.dtype == values.dtype
    assert np.array_equal(got, np.unique(values))


@given(VALUES)
def test_distinct_counts_is_np_unique_with_counts(values: np.ndarray) -> None:
    got, counts = distinct_counts(values)
    want, want_counts = np.unique(values, return_counts=True)
    assert np.array_equal(got, want)
    assert np.array_equal(counts, want_counts)


@given(VALUES)
def test_distinct_inverse_is_np_unique_with_inverse(values: np.ndarray) -> None:
    got, inverse = distinct_inverse(values)
    want, want_inverse = np.unique(values, return_inverse=True)
    assert np.array_equal(got, want)
    assert np.array_equal(inverse, want_inverse)
    assert np.array_equal(got[inverse], values)


@given(hnp.arrays(np.uint32, st.integers(1, 200), elements=st.integers(0, 50)), st.data())
def test_vector_sums_are_bit_exact(ids: np.ndarray, data: st.DataObject) -> None:
    weights = data.draw(
        hnp.arrays(np.float64, len(ids), elements=st.floats(-1e3, 1e3, allow_nan=False))
    )
    vec = from_terms(ids, weights)
    unique, inverse = np.unique(ids, return_inverse=True)
    assert np.array_equal(vec.ids, unique)
    summed = np.bincount(inverse, weights=weights, minlength=len(unique))
    assert vec.weights.tobytes() == summed.tobytes()


def _vector(data: st.DataObject) -> SparseVec:
    """A sparse vector with sorted unique ids, often overlapping another drawn the same way."""
    ids = np.unique(
        data.draw(hnp.arrays(np.uint32, st.integers(0, 60), elements=st.integers(0, 80)))
    )
    weights = data.draw(
        hnp.arrays(np.float64, len(ids), elements=st.floats(-10, 10, allow_nan=False))
    )
    return SparseVec(ids, weights)


@given(st.data())
def test_dot_and_shared_terms_are_those_of_np_intersect1d(data: st.DataObject) -> None:
    a, b = _vector(data), _vector(data)
    common, ia, ib = np.intersect1d(a.ids, b.ids, assume_unique=True, return_indices=True)
    small, large = (a, b) if len(a.ids) <= len(b.ids) else (b, a)
    _, ism, ilg = np.intersect1d(small.ids, large.ids, assume_unique=True, return_indices=True)
    want_dot = float(np.dot(small.weights[ism], large.weights[ilg])) if len(common) else 0.0
    assert dot(a, b) == want_dot  # bit for bit: scores must not move
    contribution = a.weights[ia] * b.weights[ib]
    order = np.argsort(-contribution, kind="stable")[:5]
    assert shared_terms(a, b, 5) == [int(common[i]) for i in order if contribution[i] > 0]
