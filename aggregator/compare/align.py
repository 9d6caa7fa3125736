"""Sentence-level alignment: which sentences an outlet shares with others, which are its own.

Two sentences of different outlets match when their word trigrams (lower case, punctuation
ignored) have a Jaccard similarity of at least ``sentence_jaccard`` (at least 0.6 when one has
under 8 words): ``near``, or ``identical`` when the words are the same; or when the shorter one
(6+ words) has at least ``sentence_containment`` of its trigrams inside the longer one
(``contained``: a trimmed or extended sentence). Sentences under 3 words are ``short``:
neither shared nor unique.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial
from typing import Any

from aggregator.compare.analysis import Doc
from aggregator.compare.model import CompareOptions
from aggregator.compare.text import read_once, rounded, word_ngrams

MIN_WORDS = 3
MIN_CONTAINED_WORDS = 6
SHORT_SENTENCE_WORDS = 8  # below this, one changed word moves the Jaccard a lot:
SHORT_SENTENCE_JACCARD = 0.6  # "America is not a circus." is not "... a clown show."


@dataclass(frozen=True, slots=True)
class _Unit:
    doc: int
    index: int
    outlet: str
    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Sentence:
    """A distinct sentence of the cluster: its words and their trigrams."""

    words: tuple[str, ...]
    grams: frozenset[tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class _Match:
    """The best match of a sentence in one other outlet: the earliest sentence scoring best."""

    score: float
    kind: str
    unit: _Unit


def align_sentences(docs: list[Doc], options: CompareOptions) -> dict[str, Any]:
    units = _units(docs)
    best = _match(units, options)
    shared: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    outlets: dict[str, dict[str, Any]] = {}
    pairs: dict[str, Counter[str]] = defaultdict(Counter)
    for unit in units:
        doc = docs[unit.doc]
        found = shared.get(unit.words)
        if found is None:
            found = shared[unit.words] = _shared_with(best.get(unit.words, {}), docs)
        entry = _entry(doc, unit, [m for m in found if m["outlet"] != unit.outlet])
        cell = outlets.setdefault(doc.outlet, {"articles": [], "sentences": []})
        if doc.id not in cell["articles"]:
            cell["articles"].append(doc.id)
        cell["sentences"].append(entry)
        for other in {m["outlet"] for m in entry["shared_with"]}:
            pairs[doc.outlet][other] += 1
    for cell in outlets.values():
        cell.update(_summary(cell["sentences"]))
    names = sorted(outlets)
    return {
        "outlets": {o: outlets[o] for o in names},
        "shared_counts": {a: {b: pairs[a][b] for b in names if b != a} for a in names},
    }


def _units(docs: list[Doc]) -> list[_Unit]:
    """Every sentence of every article; a text read word for word earlier shares its words."""
    by_text: dict[str, list[tuple[str, ...]]] = {}
    units: list[_Unit] = []
    for d, doc in enumerate(docs):
        sentences = read_once(by_text, doc.text, partial(_sentence_words, doc))
        units.extend(_Unit(d, i, doc.outlet, words) for i, words in enumerate(sentences))
    return units


def _sentence_words(doc: Doc) -> list[tuple[str, ...]]:
    return [tuple(t.lower for t in doc.tokens[first:last]) for first, last in doc.sentence_tokens]


def _match(units: list[_Unit], options: CompareOptions) -> dict[tuple[str, ...], dict[str, _Match]]:
    """For each distinct sentence (its words), its best match in each outlet.

    A sentence repeated word for word (a reprint's, an outlet's own repetition) is matched
    once: the score of two sentences depends on their words alone. Of the sentences of one
    outlet that score best, the earliest (in the cluster's time order) is the match; a unit
    never matches its own outlet, so the caller drops that outlet's entry.
    """
    first: dict[tuple[str, ...], dict[str, _Unit]] = {}
    for unit in units:
        first.setdefault(unit.words, {}).setdefault(unit.outlet, unit)
    keys = [_Sentence(words, frozenset(word_ngrams(list(words), 3))) for words in first]
    postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for k, key in enumerate(keys):
        for gram in key.grams:
            postings[gram].append(k)
    best: dict[tuple[str, ...], dict[str, _Match]] = {}
    for k, key in enumerate(keys):
        later: list[int] = []  # each posting list is in key order: its keys from k on
        for gram in key.grams:
            keys_of = postings[gram]
            later.extend(keys_of[bisect.bisect_left(keys_of, k) :])
        for j, shared in Counter(later).items():
            other = keys[j]
            kind, score = _kind(key, other, shared, options)
            if kind is not None:
                _keep_best(best.setdefault(key.words, {}), first[other.words], score, kind)
                if j != k:
                    _keep_best(best.setdefault(other.words, {}), first[key.words], score, kind)
    return best


def _keep_best(best: dict[str, _Match], units: dict[str, _Unit], score: float, kind: str) -> None:
    """Offer the earliest unit of each outlet in ``units``; keep the higher score, and on a tie
    the earlier unit."""
    for outlet, unit in units.items():
        current = best.get(outlet)
        if current is None or (score, _order(current.unit)) > (current.score, _order(unit)):
            best[outlet] = _Match(score, kind, unit)


def _order(unit: _Unit) -> tuple[int, int]:
    return unit.doc, unit.index


def _kind(
    a: _Sentence, b: _Sentence, shared: int, options: CompareOptions
) -> tuple[str | None, float]:
    jaccard = shared / (len(a.grams) + len(b.grams) - shared)
    if a.words == b.words:
        return "identical", 1.0
    threshold = options.sentence_jaccard
    if min(len(a.words), len(b.words)) < SHORT_SENTENCE_WORDS:
        threshold = max(threshold, SHORT_SENTENCE_JACCARD)
    if jaccard >= threshold:
        return "near", jaccard
    shorter = min(len(a.grams), len(b.grams))
    if shorter >= MIN_CONTAINED_WORDS - 2 and shared / shorter >= options.sentence_containment:
        return "contained", jaccard
    return None, jaccard


def _shared_with(best: dict[str, _Match], docs: list[Doc]) -> list[dict[str, Any]]:
    """A sentence's matches, one per outlet, by outlet (its own outlet's among them: each
    unit drops that one). The dicts are shared by the sentence's units: the result is read,
    not changed."""
    return [
        {
            "outlet": outlet,
            "article": docs[match.unit.doc].id,
            "i": match.unit.index,
            "score": rounded(match.score, 3),
            "kind": match.kind,
        }
        for outlet, match in sorted(best.items())
    ]


def _entry(doc: Doc, unit: _Unit, shared_with: list[dict[str, Any]]) -> dict[str, Any]:
    sentence = doc.sentences[unit.index]
    status = "unique"
    if shared_with:
        status = "shared"
    elif len(unit.words) < MIN_WORDS:
        status = "short"
    return {
        "article": doc.id,
        "i": unit.index,
        "paragraph": sentence.paragraph,
        "text": sentence.text,
        "words": len(unit.words),
        "status": status,
        "shared_with": shared_with,
    }


def _summary(sentences: list[dict[str, Any]]) -> dict[str, Any]:
    count = Counter(s["status"] for s in sentences)
    words_by: Counter[str] = Counter()
    for s in sentences:
        words_by[s["status"]] += s["words"]
    total = sum(words_by.values())
    return {
        "shared": count["shared"],
        "unique": count["unique"],
        "short": count["short"],
        "unique_share": rounded(words_by["unique"] / total) if total else 0.0,
    }
