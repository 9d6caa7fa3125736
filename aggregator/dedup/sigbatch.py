"""Many stored signatures decoded at once (start-up), with numpy instead of one
``ArticleSignature.from_bytes`` per article.

The payloads are joined into one buffer; every header is read in one structured view, every
array by one gather of its element offsets. The result holds exactly what
``ArticleSignature.from_bytes`` and ``check`` would give article by article, up to the first
payload that they would refuse (``count``): the caller restores the good ones, then decodes
that one alone to raise its error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aggregator.dedup.params import DedupParams
from aggregator.dedup.signatures import HEADER_SIZE, MAGIC

U8 = npt.NDArray[np.uint8]
U32 = npt.NDArray[np.uint32]
I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
F16 = npt.NDArray[np.float16]

_HEAD = np.dtype(
    [
        ("magic", "S4"),
        ("seed", "<u4"),
        ("n_copy", "<u2"),
        ("n_story", "<u2"),
        ("k", "<u2"),
        ("n_terms", "<u4"),
        ("shingles", "<u4"),
        ("body_key", "<u4"),
        ("bits", "<u2"),
        ("n_lang", "u1"),
    ]
)
assert _HEAD.itemsize == HEADER_SIZE
_PADS = (b"", b"\0", b"\0\0", b"\0\0\0")


@dataclass(slots=True)
class SignatureBatch:
    """The first ``count`` payloads, decoded and checked, as columns."""

    count: int
    languages: list[str]
    shingles: I32
    body_key: U32
    has_copy: npt.NDArray[np.bool_]
    copy: U32  # (count, copy_num_perm), zero rows where there is no copy signature
    story: U32  # (count, story_num_perm)
    vec_ids: U32  # (count, vector_terms), zero past vec_len
    vec_tf: F16
    vec_len: U8
    terms: U32  # every article's distinct term ids, concatenated
    term_starts: I64  # (count + 1): article i's terms are terms[term_starts[i]:term_starts[i+1]]


class _Buffer:
    """The payloads joined, each padded in front so that its arrays start on a 4-byte
    boundary; values of any little-endian dtype can be read at any byte offset."""

    def __init__(self, payloads: Sequence[bytes]) -> None:
        pieces: list[bytes] = []
        starts: list[int] = []
        at = 0
        for payload in payloads:
            pad = -(at + HEADER_SIZE + payload[HEADER_SIZE - 1]) % 4  # n_lang is the last byte
            pieces.append(_PADS[pad])
            starts.append(at + pad)
            pieces.append(payload)
            at += pad + len(payload)
        self.raw = b"".join(pieces)
        self.starts = np.asarray(starts, dtype=np.int64)
        self.bytes = np.frombuffer(self.raw, dtype=np.uint8)
        self._views: dict[tuple[str, int], npt.NDArray[np.generic]] = {}

    def _view(self, dtype: str, skew: int) -> npt.NDArray[np.generic]:
        view = self._views.get((dtype, skew))
        if view is None:
            size = np.dtype(dtype).itemsize
            count = (len(self.raw) - skew) // size
            view = np.frombuffer(self.raw, dtype=dtype, offset=skew, count=count)
            self._views[dtype, skew] = view
        return view

    def gather(self, offsets: I64, dtype: str) -> npt.NDArray[np.generic]:
        """The values of ``dtype`` starting at each byte offset (one view per misalignment,
        so each value is one indexed read)."""
        size = np.dtype(dtype).itemsize
        shift = offsets % size
        if not shift.any():
            return self._view(dtype, 0)[offsets // size]
        out = np.empty(len(offsets), dtype=dtype)
        for skew in range(size):
            pick = shift == skew
            if pick.any():
                out[pick] = self._view(dtype, skew)[(offsets[pick] - skew) // size]
        return out

    def matrix(self, starts: I64, width: int, dtype: str) -> npt.NDArray[np.generic]:
        """``width`` consecutive values from each start: (len(starts), width)."""
        size = np.dtype(dtype).itemsize
        if not (starts % size).any():
            index = (starts // size)[:, None] + np.arange(width, dtype=np.int64)
            values: npt.NDArray[np.generic] = self._view(dtype, 0)[index]
            return values
        offsets = starts[:, None] + size * np.arange(width, dtype=np.int64)
        return self.gather(offsets.ravel(), dtype).reshape(len(starts), width)

    def ragged(self, starts: I64, counts: I64, dtype: str) -> npt.NDArray[np.generic]:
        """``counts[i]`` consecutive values from each ``starts[i]``, concatenated."""
        size = np.dtype(dtype).itemsize
        first = np.cumsum(counts) - counts
        within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(first, counts)
        return self.gather(np.repeat(starts, counts) + size * within, dtype)


def decode_many(payloads: Sequence[bytes], params: DedupParams) -> SignatureBatch:
    """Decode and check ``payloads`` up to the first one that ``from_bytes`` or ``check``
    would refuse."""
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=len(payloads))
    short = np.flatnonzero(lengths < HEADER_SIZE)
    usable = int(short[0]) if len(short) else len(payloads)
    buffer = _Buffer(payloads[:usable])
    starts = buffer.starts
    head = buffer.bytes[starts[:, None] + np.arange(HEADER_SIZE)].view(_HEAD).ravel()
    n_copy, n_story, k, n_terms, n_lang = (
        head[name].astype(np.int64) for name in ("n_copy", "n_story", "k", "n_terms", "n_lang")
    )
    need = HEADER_SIZE + n_lang + 4 * (n_copy + n_story + k + n_terms) + 2 * k
    good = (
        (head["magic"] == MAGIC)
        & (need == lengths[:usable])
        & (head["seed"] == params.seed)
        & (n_story == params.story_num_perm)
        & ((n_copy == 0) | (n_copy == params.copy_num_perm))
    )
    bad = np.flatnonzero(~good)
    count = int(bad[0]) if len(bad) else usable
    head, starts = head[:count], starts[:count]
    n_copy, k, n_terms, n_lang = n_copy[:count], k[:count], n_terms[:count], n_lang[:count]
    at_copy = starts + HEADER_SIZE + n_lang
    at_story = at_copy + 4 * n_copy
    at_ids = at_story + 4 * params.story_num_perm
    at_tf = at_ids + 4 * k
    at_terms = at_tf + 2 * k
    has_copy = n_copy > 0
    copy = np.zeros((count, params.copy_num_perm), dtype=np.uint32)
    copy[has_copy] = buffer.matrix(at_copy[has_copy], params.copy_num_perm, "<u4")
    vec_ids, vec_tf, vec_len = _vectors(buffer, at_ids, at_tf, k, params.vector_terms)
    return SignatureBatch(
        count=count,
        languages=_languages(payloads, n_lang),
        shingles=head["shingles"].astype(np.int32),
        body_key=head["body_key"].astype(np.uint32),
        has_copy=has_copy,
        copy=copy,
        story=buffer.matrix(at_story, params.story_num_perm, "<u4").astype(np.uint32),
        vec_ids=vec_ids,
        vec_tf=vec_tf,
        vec_len=vec_len,
        terms=buffer.ragged(at_terms, n_terms, "<u4").astype(np.uint32),
        term_starts=np.concatenate([[0], np.cumsum(n_terms)]).astype(np.int64),
    )


def _vectors(buffer: _Buffer, at_ids: I64, at_tf: I64, k: I64, width: int) -> tuple[U32, F16, U8]:
    """The top terms as padded (count, width) matrices (a row keeps at most ``width``)."""
    kept = np.minimum(k, width)
    owners = np.repeat(np.arange(len(k), dtype=np.int64), kept)
    position = np.arange(int(kept.sum()), dtype=np.int64) - np.repeat(np.cumsum(kept) - kept, kept)
    ids = np.zeros((len(k), width), dtype=np.uint32)
    tf = np.zeros((len(k), width), dtype=np.float16)
    ids[owners, position] = buffer.ragged(at_ids, kept, "<u4")
    tf[owners, position] = buffer.ragged(at_tf, kept, "<f2")
    return ids, tf, kept.astype(np.uint8)


def _languages(payloads: Sequence[bytes], n_lang: I64) -> list[str]:
    known: dict[bytes, str] = {}
    out: list[str] = []
    for payload, size in zip(payloads[: len(n_lang)], n_lang.tolist(), strict=True):
        raw = payload[HEADER_SIZE : HEADER_SIZE + size]
        name = known.get(raw)
        if name is None:
            name = known[raw] = raw.decode("utf-8", errors="replace")
        out.append(name)
    return out
