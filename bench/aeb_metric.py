"""The article-extraction-benchmark measure, written from its description and checked against
its published figures (scrapinghub/article-extraction-benchmark, ``evaluate.py``).

What reproduces the published trafilatura figure (F1 0.958, P 0.938, R 0.978) from
``output/trafilatura.json``:

- tokens: ``\\w+`` matches (Unicode, case kept), nothing else;
- shingles: every run of 4 consecutive tokens, counted as a **multiset** (a shingle that occurs
  twice must be matched twice); a text of 1-3 tokens is one short shingle, an empty text none;
- per page: tp = shingles in common (minimum of the counts), fp = predicted extra,
  fn = expected missing; precision tp/(tp+fp), recall tp/(tp+fn);
- a page enters the precision mean only if something was predicted (tp+fp > 0), and the recall
  mean only if something was expected (tp+fn > 0);
- macro average over pages, then F1 = harmonic mean of the two means (not a mean of per-page
  F1s).

Sets instead of multisets give 0.960 (P 0.943); lower-casing changes nothing at three decimals;
whitespace tokens give 0.942; the mean of per-page F1 is 0.950. None of these is the published
figure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import fmean

_TOKEN = re.compile(r"\w+")
SHINGLE = 4


@dataclass(frozen=True, slots=True)
class Scores:
    precision: float
    recall: float
    f1: float
    pages: int


def shingles(text: str | None, size: int = SHINGLE) -> Counter[tuple[str, ...]]:
    """The multiset of ``size``-token shingles of ``text``."""
    tokens = _TOKEN.findall(text or "")
    if len(tokens) <= size:
        return Counter([tuple(tokens)]) if tokens else Counter()
    return Counter(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def match(expected: str | None, predicted: str | None) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) over shingles of one page."""
    want, got = shingles(expected), shingles(predicted)
    common = sum((want & got).values())
    return common, got.total() - common, want.total() - common


def score(pairs: Iterable[tuple[str | None, str | None]]) -> Scores:
    """Macro precision, recall and their F1 over ``(expected, predicted)`` texts."""
    counts = [match(expected, predicted) for expected, predicted in pairs]
    precision = fmean([_ratio(tp, fp, fn) for tp, fp, fn in counts if tp + fp > 0] or [0.0])
    recall = fmean([_ratio(tp, fn, fp) for tp, fp, fn in counts if tp + fn > 0] or [0.0])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(precision, recall, f1, len(counts))


def score_outputs(truth: Mapping[str, str], predicted: Mapping[str, str | None]) -> Scores:
    """Score predicted article bodies by page id against the ground truth (every id counted)."""
    return score((body, predicted.get(key)) for key, body in truth.items())


def _ratio(hits: int, wrong: int, other: int) -> float:
    """hits / (hits + wrong), with the benchmark's conventions for empty pages."""
    if wrong == 0 and other == 0:
        return 1.0
    if hits == 0 and wrong == 0:
        return 0.0
    return hits / (hits + wrong)
