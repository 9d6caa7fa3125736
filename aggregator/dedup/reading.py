"""What the engine reads from an article before it looks at the index, kept for reprints.

A ``Reading`` is everything ``DedupEngine.add`` derives from the article alone: flags,
language, MinHash signatures and the term frequencies of its TF-IDF vector. It is a pure
function of the title, the text and the declared language under one parameter set, and it
is about half of the engine's time an article (the analysis and the two MinHash signatures).
Wire copy arrives from many outlets within minutes, title and text unchanged, so
``RecentReadings`` keeps the readings of the last few distinct texts by a digest of those
three fields (at most 256 texts, about 8 KB each, and 65,536 terms in all): an article
whose exact title, text and language were read lately is not read again. Nothing in a
reading depends on the outlet, the id or the time, so the results are the same, to the bit,
whether or not a reading was found there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aggregator.dedup.features import DocInput, Features, term_ids
from aggregator.dedup.signatures import ArticleSignature

READINGS_KEPT = 256
TERMS_KEPT = 1 << 16  # terms of the readings kept, all told


@dataclass(frozen=True, slots=True)
class Reading:
    """The article-only part of an assignment; its arrays are read-only (shared by the
    reprints of one text)."""

    flags: frozenset[str]
    language: str
    signature: ArticleSignature | None  # without its vector; None when not clusterable
    term_ids: npt.NDArray[np.uint32]  # every content term's id, in first-seen order
    term_tf: npt.NDArray[np.float64]  # their sublinear term frequencies
    term_words: str  # the terms themselves, NUL-separated (one string: a dict of them would
    # hold five times the memory)

    def words_of(self, ids: Sequence[int]) -> tuple[str, ...]:
        """The words of these term ids, in their order (an id it does not hold is skipped);
        for explanations, which name a handful."""
        if not ids:
            return ()
        held = self.term_ids.tolist()
        wanted = set(ids).intersection(held)
        if not wanted:
            return ()
        pieces = self.term_words.split("\0")
        return tuple(pieces[held.index(term)] for term in ids if term in wanted)


def term_table(
    feats: Features,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], str]:
    """The ids, frequencies and words (NUL-separated) of the article's distinct term ids,
    in first-seen order (of two terms whose ids collide, the later one's word is kept)."""
    words = dict(zip(term_ids(feats.term_tf), feats.term_tf, strict=True))
    ids = np.fromiter(words, dtype=np.uint32, count=len(words))
    tf = np.fromiter(
        map(feats.term_tf.__getitem__, words.values()), dtype=np.float64, count=len(ids)
    )
    ids.flags.writeable = False
    tf.flags.writeable = False
    return ids, tf, "\0".join(words.values())


def text_digest(doc: DocInput) -> bytes:
    """A 16-byte digest of what the reading depends on: title, text and declared language."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (doc.title, doc.text, doc.language or ""):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.digest()


class RecentReadings:
    """The readings of the last ``kept`` distinct texts, of ``terms_kept`` terms in all (a
    gigantic text holds thousands); the one read longest ago goes first."""

    def __init__(self, kept: int = READINGS_KEPT, terms_kept: int = TERMS_KEPT) -> None:
        self.kept, self.terms_kept = kept, terms_kept
        self._readings: dict[bytes, Reading] = {}
        self._terms = 0
        self.hits = 0

    def get(self, key: bytes) -> Reading | None:
        found = self._readings.get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: bytes, reading: Reading) -> None:
        if self.kept <= 0 or len(reading.term_ids) > self.terms_kept or key in self._readings:
            return
        self._readings[key] = reading
        self._terms += len(reading.term_ids)
        while len(self._readings) > self.kept or self._terms > self.terms_kept:
            oldest = self._readings.pop(next(iter(self._readings)))
            self._terms -= len(oldest.term_ids)

    def __len__(self) -> int:
        return len(self._readings)
