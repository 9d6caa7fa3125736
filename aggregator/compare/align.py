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
from typing import Any

from aggregator.compare.analysis import Doc
from aggregator.compare.model import CompareOptions
from aggregator.compare.text import rounded, word_ngrams

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
    grams: frozenset[tuple[str, ...]]


def align_sentences(docs: list[Doc], options: CompareOptions) -> dict[str, Any]:
    units = [
        _Unit(d, i, doc.outlet, tuple(ws), frozenset(word_ngrams(ws, 3)))
        for d, doc in enumerate(docs)
        for i, ws in enumerate(
            [t.lower for t in doc.tokens[first:last]] for first, last in doc.sentence_tokens
        )
    ]
    matches = _match(units, options)
    outlets: dict[str, dict[str, Any]] = {}
    pairs: dict[str, Counter[str]] = defaultdict(Counter)
    for unit in units:
        doc = docs[unit.doc]
        entry = _entry(doc, unit, matches.get((unit.doc, unit.index), {}), docs)
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


def _match(
    units: list[_Unit], options: CompareOptions
) -> dict[tuple[int, int], dict[str, tuple[float, str, _Unit]]]:
    """For each sentence, its best match in each other outlet: (score, kind, unit)."""
    postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for u, unit in enumerate(units):
        for gram in unit.grams:
            postings[gram].append(u)
    best: dict[tuple[int, int], dict[str, tuple[float, str, _Unit]]] = defaultdict(dict)
    for u, unit in enumerate(units):
        later: list[int] = []  # each posting list is in unit order: its units after u
        for gram in unit.grams:
            units_of = postings[gram]
            later.extend(units_of[bisect.bisect_right(units_of, u) :])
        for v, count in Counter(later).items():
            other = units[v]
            if other.outlet == unit.outlet:
                continue
            kind, score = _kind(unit, other, count, options)
            if kind is not None:
                _keep_best(best, unit, other, (score, kind))
                _keep_best(best, other, unit, (score, kind))
    return best


def _keep_best(
    best: dict[tuple[int, int], dict[str, tuple[float, str, _Unit]]],
    unit: _Unit,
    other: _Unit,
    found: tuple[float, str],
) -> None:
    current = best[(unit.doc, unit.index)].get(other.outlet)
    if current is None or found[0] > current[0]:
        best[(unit.doc, unit.index)][other.outlet] = (found[0], found[1], other)


def _kind(a: _Unit, b: _Unit, shared: int, options: CompareOptions) -> tuple[str | None, float]:
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


def _entry(
    doc: Doc, unit: _Unit, best: dict[str, tuple[float, str, _Unit]], docs: list[Doc]
) -> dict[str, Any]:
    sentence = doc.sentences[unit.index]
    shared_with = [
        {
            "outlet": outlet,
            "article": docs[other.doc].id,
            "i": other.index,
            "score": rounded(score, 3),
            "kind": kind,
        }
        for outlet, (score, kind, other) in sorted(best.items())
    ]
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
