"""Signatures: datasketch MinHash via update_batch, and the compact stored form."""

from __future__ import annotations

import numpy as np
import pytest
from datasketch import MinHash
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.dedup.signatures import SCHEME, U32, ArticleSignature, MinHasher
from aggregator.errors import DedupError
from aggregator.types import Flag

u32 = st.lists(st.integers(0, 2**32 - 1), max_size=40).map(lambda v: np.array(v, dtype=np.uint32))


def test_batch_signature_equals_datasketch_per_value_updates() -> None:
    values = [7, 99, 2**31, 12345, 2**32 - 1]
    naive = MinHash(num_perm=64, seed=3, hashfunc=lambda v: v, scheme=SCHEME)
    for value in values:
        naive.update(value)
    hasher = MinHasher(64, 3)
    assert np.array_equal(hasher.signature(values), naive.hashvalues)
    assert np.array_equal(hasher.signatures([values])[0], naive.hashvalues)


@settings(max_examples=80, deadline=None)
@given(values=u32, num_perm=st.sampled_from([1, 16, 128]), seed=st.integers(0, 2**16))
def test_signature_equals_datasketch_update_batch(values: U32, num_perm: int, seed: int) -> None:
    sketch = MinHash(num_perm=num_perm, seed=seed, hashfunc=lambda v: v, scheme=SCHEME)
    sketch.update_batch(values.tolist())
    assert np.array_equal(MinHasher(num_perm, seed).signature(values), sketch.hashvalues)


def test_long_input_signature_equals_datasketch_update_batch() -> None:
    values = np.random.default_rng(5).integers(0, 2**32, size=10_000, dtype=np.uint32)
    sketch = MinHash(num_perm=128, seed=1, hashfunc=lambda v: v, scheme=SCHEME)
    sketch.update_batch(values.tolist())  # more values than one chunk of the numpy path
    assert np.array_equal(MinHasher(128, 1).signature(values), sketch.hashvalues)


def test_lean_minhash_estimates_jaccard() -> None:
    hasher = MinHasher(256, 1)
    a = hasher.signature(list(range(1000)))
    b = hasher.signature(list(range(500, 1500)))  # true Jaccard 1/3
    assert hasher.lean(a).jaccard(hasher.lean(b)) == pytest.approx(1 / 3, abs=0.08)


signatures = st.builds(
    ArticleSignature,
    seed=st.just(1),
    copy=u32,
    story=u32,
    vec_ids=u32,
    vec_tf=st.lists(st.floats(0, 60000, width=16), max_size=40).map(
        lambda v: np.array(v, dtype=np.float16)
    ),
    terms=u32,
    shingles=st.integers(0, 2**32 - 1),
    body_key=st.integers(0, 2**32 - 1),
    flags=st.sets(st.sampled_from([str(f) for f in Flag])).map(frozenset),
    language=st.text(max_size=20).filter(lambda t: len(t.encode()) <= 255),
)


@settings(max_examples=60, deadline=None)
@given(sig=signatures)
def test_signature_survives_a_storage_round_trip(sig: ArticleSignature) -> None:
    # the term arrays must pair up, as the engine makes them
    sig = ArticleSignature(
        sig.seed,
        sig.copy,
        sig.story,
        sig.vec_ids[: len(sig.vec_tf)],
        sig.vec_tf[: len(sig.vec_ids)],
        sig.terms,
        sig.shingles,
        sig.body_key,
        sig.flags,
        sig.language,
    )
    assert ArticleSignature.from_bytes(sig.to_bytes()) == sig


@pytest.mark.parametrize("payload", [b"", b"junk", b"NSG1" + b"\0" * 10])
def test_bad_payloads_raise_dedup_errors(payload: bytes) -> None:
    with pytest.raises(DedupError):
        ArticleSignature.from_bytes(payload)


def test_truncated_payload_is_refused() -> None:
    sig = ArticleSignature(
        1,
        np.arange(4, dtype=np.uint32),
        np.arange(2, dtype=np.uint32),
        np.zeros(0, np.uint32),
        np.zeros(0, np.float16),
        np.zeros(0, np.uint32),
        3,
        4,
        frozenset(),
        "en",
    )
    with pytest.raises(DedupError, match="expected"):
        ArticleSignature.from_bytes(sig.to_bytes()[:-2])
