"""Text similarity between outlets, copy groups, and each article's share of reprinted copy.

- ``cosine``: cosine similarity of the outlets' content-word counts (shared vocabulary; high
  for two outlets telling the same story, even in their own words);
- ``shared_text[a][b]``: the share of outlet ``a``'s words that lie in a run of
  ``copy_ngram`` (default 8) consecutive words that outlet ``b`` also printed; asymmetric
  (a short reprint is all inside the original, not the reverse);
- ``wire_share`` of an article: the share of its words outside direct quotations that lie in
  such a run printed by another outlet. Quotations are left out because outlets quoting the
  same speech share them without copying each other; ``shared_share`` counts them too;
- copy groups: the dedup engine's ``copy_group`` of each article, joined with pairs of
  articles where one carries at least ``copy_containment`` of the other's word runs.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import partial
from typing import Any

import numpy as np

from aggregator.compare.analysis import Doc
from aggregator.compare.model import CompareOptions
from aggregator.compare.text import is_content_word, read_once, rounded, word_ngrams


class _Shingles:
    """Word n-grams of every article as integer ids (0 .. ``size`` - 1).

    Articles with the same text (reprints word for word) share one reading: ``text[i]`` is
    the first article with article ``i``'s text, and what is computed from a text alone
    (its n-grams, their coverage by a mask, its containment in another text) is computed for
    that article only.
    """

    def __init__(self, docs: list[Doc], n: int) -> None:
        ids: dict[tuple[str, ...], int] = {}
        first: dict[str, int] = {}
        self.n = n
        self.text = [first.setdefault(doc.text, i) for i, doc in enumerate(docs)]
        self.arrays: list[np.ndarray[Any, Any]] = []
        self.sets: list[set[int]] = []
        for i, doc in enumerate(docs):
            if self.text[i] != i:
                self.arrays.append(self.arrays[self.text[i]])
                self.sets.append(self.sets[self.text[i]])
                continue
            grams = word_ngrams([t.lower for t in doc.tokens], n)
            self.arrays.append(np.array([ids.setdefault(g, len(ids)) for g in grams], dtype=int))
            self.sets.append(set(self.arrays[-1].tolist()))
        self.size = len(ids)
        self._contained: dict[tuple[int, int], float] = {}
        self._covered: dict[tuple[int, object], np.ndarray[Any, Any]] = {}

    def texts(self, members: list[int]) -> tuple[int, ...]:
        """The distinct texts of ``members``: what decides their ``mask``."""
        return tuple(sorted({self.text[i] for i in members}))

    def mask(self, members: list[int]) -> np.ndarray[Any, Any]:
        """True for each n-gram id that some article of ``members`` has."""
        found = np.zeros(self.size, dtype=bool)
        for i in self.texts(members):
            found[self.arrays[i]] = True
        return found

    def coverage(
        self, i: int, found: np.ndarray[Any, Any], length: int, key: object
    ) -> np.ndarray[Any, Any]:
        """Which words of article ``i`` lie in an n-gram ``found`` marks (see ``mask``);
        ``key`` names ``found``: equal keys, equal masks. The array is shared: read only."""
        memo = (self.text[i], key)
        covered = self._covered.get(memo)
        if covered is None:
            covered = self._covered[memo] = self._coverage(i, found, length)
        return covered

    def _coverage(self, i: int, found: np.ndarray[Any, Any], length: int) -> np.ndarray[Any, Any]:
        if length == 0 or self.arrays[i].size == 0:
            return np.zeros(length, dtype=bool)
        starts = found[self.arrays[i]].astype(int)
        return np.convolve(starts, np.ones(self.n, dtype=int))[:length] > 0

    def containment(self, i: int, j: int) -> float:
        """The share of article ``i``'s n-grams that article ``j`` has."""
        memo = (self.text[i], self.text[j])
        found = self._contained.get(memo)
        if found is None:
            own = self.sets[i]
            found = self._contained[memo] = len(own & self.sets[j]) / len(own) if own else 0.0
        return found


def compare_texts(docs: list[Doc], options: CompareOptions) -> dict[str, Any]:
    outlets = sorted({d.outlet for d in docs})
    shingles = _Shingles(docs, options.copy_ngram)
    rows = {o: [i for i, d in enumerate(docs) if d.outlet == o] for o in outlets}
    by_outlet = {o: shingles.mask(rows[o]) for o in outlets}
    texts_of = {o: shingles.texts(rows[o]) for o in outlets}  # names each outlet's mask
    groups, best = _copy_groups(docs, shingles, options)
    group_of = {a: g["id"] for g in groups for a in g["articles"]}
    articles = {}
    outlets_with = np.sum([by_outlet[o] for o in outlets], axis=0, dtype=int)
    elsewhere = {o: outlets_with > by_outlet[o] for o in outlets}  # in some other outlet
    for i, doc in enumerate(docs):
        key = ("elsewhere", texts_of[doc.outlet])
        covered = shingles.coverage(i, elsewhere[doc.outlet], len(doc.tokens), key)
        articles[doc.id] = {
            "outlet": doc.outlet,
            **_shares(covered, np.array(doc.in_quote, dtype=bool)),
            "copy_group": group_of.get(doc.id),
            "best_match": best.get(doc.id),
        }
    return {
        "outlets": outlets,
        "cosine": _cosine(docs, outlets),
        "shared_text": _shared_matrix(docs, rows, shingles, (by_outlet, texts_of)),
        "copy_groups": groups,
        "articles": articles,
    }


def _shares(covered: np.ndarray[Any, Any], quoted: np.ndarray[Any, Any]) -> dict[str, float]:
    own = ~quoted
    outside = int(own.sum())
    return {
        "wire_share": rounded(float((covered & own).sum()) / outside) if outside else 0.0,
        "shared_share": rounded(float(covered.mean())) if covered.size else 0.0,
    }


def _shared_matrix(
    docs: list[Doc],
    rows: dict[str, list[int]],
    shingles: _Shingles,
    masks: tuple[dict[str, np.ndarray[Any, Any]], dict[str, tuple[int, ...]]],
) -> dict[str, dict[str, float]]:
    by_outlet, texts_of = masks
    matrix: dict[str, dict[str, float]] = {}
    for a, members in rows.items():
        total = sum(len(docs[i].tokens) for i in members)
        matrix[a] = {}
        for b in rows:
            covered = sum(
                int(shingles.coverage(i, by_outlet[b], len(docs[i].tokens), texts_of[b]).sum())
                for i in members
            )
            matrix[a][b] = rounded(covered / total) if total else 0.0
    return matrix


def _cosine(docs: list[Doc], outlets: list[str]) -> dict[str, dict[str, float]]:
    index: dict[str, int] = {}  # columns in order of first use, as the words come
    rows: dict[str, dict[int, int]] = {o: defaultdict(int) for o in outlets}
    counted: dict[str, list[tuple[str, int]]] = {}  # a text's content words, counted once
    for doc in docs:
        for word, count in read_once(counted, doc.text, partial(_content_counts, doc)):
            rows[doc.outlet][index.setdefault(word, len(index))] += count
    matrix = np.zeros((len(outlets), max(1, len(index))))
    for r, outlet in enumerate(outlets):
        for column, count in rows[outlet].items():
            matrix[r, column] = count
    norms = np.linalg.norm(matrix, axis=1)
    norms[norms == 0] = 1.0
    unit = matrix / norms[:, None]
    sims = unit @ unit.T
    return {
        a: {b: rounded(sims[i, j]) for j, b in enumerate(outlets)} for i, a in enumerate(outlets)
    }


def _content_counts(doc: Doc) -> list[tuple[str, int]]:
    """The article's content words with their counts, in order of first use."""
    counts = Counter(token.lower for token in doc.tokens)
    return [(word, n) for word, n in counts.items() if is_content_word(word)]


def _copy_groups(
    docs: list[Doc], shingles: _Shingles, options: CompareOptions
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    parent = list(range(len(docs)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    text_linked: set[int] = set()
    best: dict[str, dict[str, Any]] = {}
    given: dict[str, int] = {}
    for i, doc in enumerate(docs):
        if doc.article.copy_group is not None:
            key = str(doc.article.copy_group)
            parent[find(i)] = find(given.setdefault(key, i))
    for i in range(len(docs)):
        for j in range(i + 1, len(docs)):
            c_ij, c_ji = shingles.containment(i, j), shingles.containment(j, i)
            _note_best(best, docs, i, j, c_ij)
            _note_best(best, docs, j, i, c_ji)
            if max(c_ij, c_ji) >= options.copy_containment:
                parent[find(j)] = find(i)
                text_linked.update((i, j))
    return _groups(docs, [find(i) for i in range(len(docs))], text_linked), best


def _note_best(best: dict[str, dict[str, Any]], docs: list[Doc], i: int, j: int, c: float) -> None:
    if docs[i].outlet == docs[j].outlet or c <= 0:
        return
    current = best.get(docs[i].id)
    if current is None or c > current["containment"]:
        best[docs[i].id] = {
            "article": docs[j].id,
            "outlet": docs[j].outlet,
            "containment": rounded(c),
        }


def _groups(docs: list[Doc], roots: list[int], text_linked: set[int]) -> list[dict[str, Any]]:
    members: dict[int, list[int]] = defaultdict(list)
    for i, root in enumerate(roots):
        members[root].append(i)
    groups: list[tuple[int, dict[str, Any]]] = []
    for items in members.values():
        if len(items) < 2:
            continue
        given = sorted(
            {
                str(docs[i].article.copy_group)
                for i in items
                if docs[i].article.copy_group is not None
            }
        )
        sources = (["dedup"] if given else []) + (["text"] if text_linked & set(items) else [])
        first = docs[items[0]]
        groups.append(
            (
                items[0],
                {
                    "id": given[0] if given else f"text:{first.id}",
                    "articles": [docs[i].id for i in items],
                    "outlets": sorted({docs[i].outlet for i in items}),
                    "source": "+".join(sources),
                    "earliest": first.id,
                    "earliest_outlet": first.outlet,
                },
            )
        )
    return [group for _, group in sorted(groups, key=lambda pair: pair[0])]
