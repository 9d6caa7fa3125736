"""What the engine reads from an article before it looks at the index, kept for reprints.

A ``Reading`` is everything ``DedupEngine.add`` derives from the article alone: flags,
language, MinHash signatures and the term frequencies of its TF-IDF vector. It is a pure
function of the title, the text and the declared language under one parameter set, and it
is about half of the engine's time an article (the analysis and the two MinHash signatures).
Wire copy arrives from many outlets within minutes, title and text unchanged, so
``RecentReadings`` keeps the readings of the last few distinct texts by a digest of those
three fields: an article whose exact title, text and language were read lately is not read
again. Nothing depends on the outlet, the id or the time, so the results are the same, to
the bit, whether or not a reading was found there.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from aggregator.dedup.features import DocInput, Features, term_ids
from aggregator.dedup.signatures import ArticleSignature

READINGS_KEPT = 256  # about 30 KB each (the term table): some 8 MB at most


@dataclass(frozen=True, slots=True)
class Reading:
    """The article-only part of an assignment; its arrays are read-only (shared by the
    reprints of one text)."""

    flags: frozenset[str]
    language: str
    signature: ArticleSignature | None  # without its vector; None when not clusterable
    term_ids: npt.NDArray[np.uint32]  # every content term, in the order of ``words``
    term_tf: npt.NDArray[np.float64]  # their sublinear term frequencies
    words: dict[int, str]  # term id -> word, for explanations


def term_table(
    feats: Features,
) -> tuple[npt.NDArray[np.uint32], npt.NDArray[np.float64], dict[int, str]]:
    """The ids, frequencies and words of the article's terms (ids in first-seen order)."""
    words = dict(zip(term_ids(feats.term_tf), feats.term_tf, strict=True))
    ids = np.fromiter(words, dtype=np.uint32, count=len(words))
    tf = np.fromiter(
        map(feats.term_tf.__getitem__, words.values()), dtype=np.float64, count=len(ids)
    )
    ids.flags.writeable = False
    tf.flags.writeable = False
    return ids, tf, words


def text_digest(doc: DocInput) -> bytes:
    """A 16-byte digest of what the reading depends on: title, text and declared language."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (doc.title, doc.text, doc.language or ""):
        encoded = part.encode("utf-8", "surrogatepass")
        digest.update(len(encoded).to_bytes(8, "little"))
        digest.update(encoded)
    return digest.digest()


class RecentReadings:
    """The readings of the last ``kept`` distinct texts; the oldest read goes first."""

    def __init__(self, kept: int = READINGS_KEPT) -> None:
        self.kept = kept
        self._readings: dict[bytes, Reading] = {}
        self.hits = 0

    def get(self, key: bytes) -> Reading | None:
        found = self._readings.get(key)
        if found is not None:
            self.hits += 1
        return found

    def put(self, key: bytes, reading: Reading) -> None:
        if self.kept <= 0:
            return
        if len(self._readings) >= self.kept:
            del self._readings[next(iter(self._readings))]
        self._readings[key] = reading

    def __len__(self) -> int:
        return len(self._readings)
