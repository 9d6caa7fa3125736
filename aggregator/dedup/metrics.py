"""Clustering quality against gold labels: B-cubed and pairwise precision, recall and F1.

B-cubed (Bagga and Baldwin 1998): for each item, precision is the share of its predicted
cluster that shares its gold label, recall the share of its gold cluster that shares its
predicted cluster; both are averaged over items. Pairwise: precision is the share of
predicted same-cluster pairs that are gold pairs, recall the share of gold pairs predicted.
With no pairs to judge, a precision or recall is 1.0 (nothing claimed, nothing missed).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from aggregator.errors import DedupError


@dataclass(frozen=True, slots=True)
class PRF:
    precision: float
    recall: float

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    def __str__(self) -> str:
        return f"P {self.precision:.3f}  R {self.recall:.3f}  F1 {self.f1:.3f}"


@dataclass(frozen=True, slots=True)
class Scores:
    items: int
    predicted_clusters: int
    gold_clusters: int
    bcubed: PRF
    pairwise: PRF


def _cells(
    predicted: Mapping[str, Hashable], gold: Mapping[str, Hashable]
) -> tuple[Counter[tuple[Hashable, Hashable]], Counter[Hashable], Counter[Hashable]]:
    if set(predicted) != set(gold):
        missing = sorted(set(predicted) ^ set(gold))[:3]
        raise DedupError(f"predicted and gold items differ, e.g. {missing}", resource="metrics")
    cells = Counter((predicted[item], gold[item]) for item in gold)
    sizes_p = Counter(predicted[item] for item in gold)
    sizes_g = Counter(gold[item] for item in gold)
    return cells, sizes_p, sizes_g


def bcubed(predicted: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> PRF:
    cells, sizes_p, sizes_g = _cells(predicted, gold)
    n = sum(sizes_g.values())
    if n == 0:
        return PRF(1.0, 1.0)
    precision = sum(k * k / sizes_p[p] for (p, _), k in cells.items()) / n
    recall = sum(k * k / sizes_g[g] for (_, g), k in cells.items()) / n
    return PRF(precision, recall)


def _pairs(count: int) -> int:
    return count * (count - 1) // 2


def pairwise(predicted: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> PRF:
    cells, sizes_p, sizes_g = _cells(predicted, gold)
    both = sum(_pairs(k) for k in cells.values())
    claimed = sum(_pairs(k) for k in sizes_p.values())
    real = sum(_pairs(k) for k in sizes_g.values())
    return PRF(both / claimed if claimed else 1.0, both / real if real else 1.0)


def score(predicted: Mapping[str, Hashable], gold: Mapping[str, Hashable]) -> Scores:
    return Scores(
        items=len(gold),
        predicted_clusters=len(set(predicted.values())),
        gold_clusters=len(set(gold.values())),
        bcubed=bcubed(predicted, gold),
        pairwise=pairwise(predicted, gold),
    )


def format_scores(scores: Scores, title: str = "story clusters") -> str:
    """The metrics block that ``newsagg cluster`` prints."""
    return "\n".join(
        [
            f"{title} vs gold labels: {scores.items} articles, "
            f"{scores.predicted_clusters} clusters (gold {scores.gold_clusters})",
            f"  B-cubed   {scores.bcubed}",
            f"  pairwise  {scores.pairwise}",
        ]
    )
