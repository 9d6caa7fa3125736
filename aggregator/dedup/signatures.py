"""MinHash signatures (datasketch's ``affine32`` scheme over pre-hashed values, computed with
numpy) and the compact byte form an article's signature is stored in.

Stored layout (little-endian): a fixed header, the language code, then the arrays: copy
MinHash (uint32), story MinHash (uint32), top term ids (uint32) and their sublinear term
frequencies (float16), and the ids of every distinct content term (uint32, for the IDF).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from datasketch import LeanMinHash, MinHash

from aggregator.dedup.params import DedupParams
from aggregator.errors import DedupError
from aggregator.types import Flag

U32 = npt.NDArray[np.uint32]
F16 = npt.NDArray[np.float16]

SCHEME = "affine32"
_MAGIC = b"NSG1"
_HEADER = struct.Struct("<4sIHHHIIIHB")
MAGIC = _MAGIC
HEADER_SIZE = _HEADER.size
_FLAG_BITS = tuple(Flag)


_CHUNK = 4096
_FMIX32 = tuple(np.uint32(c) for c in (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16))


def _identity(value: int) -> int:
    return value


def _fmix32(values: U32) -> U32:
    """MurmurHash3's 32-bit finalizer, which the ``affine32`` scheme applies to each value
    before its permutations (multiplication wraps modulo 2^32, as intended)."""
    shift_a, mul_a, shift_b, mul_b, shift_c = _FMIX32
    values = values ^ (values >> shift_a)
    values = values * mul_a
    values = values ^ (values >> shift_b)
    values = values * mul_b
    mixed: U32 = values ^ (values >> shift_c)
    return mixed


class MinHasher:
    """MinHash of pre-hashed 32-bit values with one seed and permutation count.

    The permutations are datasketch's (drawn once, by ``MinHash(seed=..., scheme=SCHEME)``);
    a signature is what ``MinHash.update_batch`` makes of the values, computed over the value
    array in numpy: ``update_batch`` first calls its hash function once per value in Python,
    which here (values already hashed) was two thirds of its cost. ``tests/test_dedup_
    signatures.py`` holds the two equal on random inputs."""

    def __init__(self, num_perm: int, seed: int) -> None:
        self.num_perm = num_perm
        self.seed = seed
        self._template = MinHash(num_perm=num_perm, seed=seed, hashfunc=_identity, scheme=SCHEME)
        a, b = self._template.permutations
        self._a: U32 = np.asarray(a, dtype=np.uint32)
        self._b: U32 = np.asarray(b, dtype=np.uint32)
        self._empty: U32 = np.asarray(self._template.hashvalues, dtype=np.uint32)

    def signature(self, values: Sequence[int] | U32) -> U32:
        hashed = np.asarray(values, dtype=np.uint32)
        digest = self._empty.copy()
        for start in range(0, len(hashed), _CHUNK):  # bounds the values x permutations table
            mixed = _fmix32(hashed[start : start + _CHUNK]).reshape(-1, 1)
            np.minimum(digest, (mixed * self._a + self._b).min(axis=0), out=digest)
        return digest

    def signatures(self, batches: Iterable[Sequence[int]]) -> list[U32]:
        """Many signatures at once through ``MinHash.bulk``."""
        sketches = MinHash.bulk(
            [list(b) for b in batches],
            num_perm=self.num_perm,
            seed=self.seed,
            hashfunc=_identity,
            scheme=SCHEME,
        )
        return [np.asarray(s.hashvalues, dtype=np.uint32) for s in sketches]

    def lean(self, digest: U32) -> LeanMinHash:
        return LeanMinHash(seed=self.seed, hashvalues=digest, scheme=SCHEME)


@dataclass(frozen=True, slots=True, eq=False)
class ArticleSignature:
    """What the engine needs to put an article back into its index without its text."""

    seed: int
    copy: U32  # empty when the body is too short for copy detection
    story: U32
    vec_ids: U32
    vec_tf: F16
    terms: U32
    shingles: int
    body_key: int
    flags: frozenset[str]
    language: str

    def to_bytes(self) -> bytes:
        lang = self.language.encode("utf-8")[:255]
        head = _HEADER.pack(
            _MAGIC,
            self.seed,
            len(self.copy),
            len(self.story),
            len(self.vec_ids),
            len(self.terms),
            self.shingles,
            self.body_key,
            _flag_bits(self.flags),
            len(lang),
        )
        arrays = (
            self.copy.astype("<u4"),
            self.story.astype("<u4"),
            self.vec_ids.astype("<u4"),
            self.vec_tf.astype("<f2"),
            self.terms.astype("<u4"),
        )
        return head + lang + b"".join(a.tobytes() for a in arrays)

    @classmethod
    def from_bytes(cls, payload: bytes) -> ArticleSignature:
        if len(payload) < _HEADER.size or payload[:4] != _MAGIC:
            raise DedupError("not a newsagg signature", code="bad_signature")
        magic, seed, n_copy, n_story, k, n_terms, shingles, key, bits, n_lang = _HEADER.unpack_from(
            payload
        )
        del magic
        need = _HEADER.size + n_lang + 4 * (n_copy + n_story + k + n_terms) + 2 * k
        if len(payload) != need:
            raise DedupError(
                f"signature is {len(payload)} bytes, expected {need}", code="bad_signature"
            )
        at = _HEADER.size
        language = payload[at : at + n_lang].decode("utf-8", errors="replace")
        at += n_lang
        parts: list[npt.NDArray[np.generic]] = []
        for count, dtype in (
            (n_copy, "<u4"),
            (n_story, "<u4"),
            (k, "<u4"),
            (k, "<f2"),
            (n_terms, "<u4"),
        ):
            size = count * np.dtype(dtype).itemsize
            parts.append(np.frombuffer(payload, dtype=dtype, count=count, offset=at))
            at += size
        return cls(
            seed=seed,
            copy=parts[0].astype(np.uint32),
            story=parts[1].astype(np.uint32),
            vec_ids=parts[2].astype(np.uint32),
            vec_tf=parts[3].astype(np.float16),
            terms=parts[4].astype(np.uint32),
            shingles=shingles,
            body_key=key,
            flags=_flags_of(bits),
            language=language,
        )

    def check(self, params: DedupParams) -> None:
        """Raise DedupError unless this signature was made under ``params``' hashing."""
        if self.seed != params.seed or len(self.story) != params.story_num_perm:
            raise DedupError("signature made under other parameters", code="bad_signature")
        if len(self.copy) not in (0, params.copy_num_perm):
            raise DedupError("copy signature has the wrong length", code="bad_signature")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ArticleSignature):
            return NotImplemented
        same_arrays = all(
            np.array_equal(getattr(self, name), getattr(other, name))
            for name in ("copy", "story", "vec_ids", "vec_tf", "terms")
        )
        scalars = ("seed", "shingles", "body_key", "flags", "language")
        return same_arrays and all(getattr(self, n) == getattr(other, n) for n in scalars)

    __hash__ = None  # type: ignore[assignment]


def _flag_bits(flags: frozenset[str]) -> int:
    return sum(1 << i for i, flag in enumerate(_FLAG_BITS) if flag in flags)


def _flags_of(bits: int) -> frozenset[str]:
    return frozenset(str(flag) for i, flag in enumerate(_FLAG_BITS) if bits >> i & 1)
