"""B-cubed and pairwise scores on inputs small enough to check by hand."""

from __future__ import annotations

import pytest

from aggregator.dedup.metrics import bcubed, format_scores, pairwise, score
from aggregator.errors import DedupError

# gold: {a, b, c} {d, e}; predicted: {a, b} {c, d, e}
GOLD = {"a": 1, "b": 1, "c": 1, "d": 2, "e": 2}
PRED = {"a": "x", "b": "x", "c": "y", "d": "y", "e": "y"}


def test_bcubed_by_hand() -> None:
    # precision per item: a 2/2, b 2/2, c 1/3, d 2/3, e 2/3  -> (1 + 1 + 1/3 + 2/3 + 2/3) / 5
    # recall per item:    a 2/3, b 2/3, c 1/3, d 2/2, e 2/2  -> (2/3 + 2/3 + 1/3 + 1 + 1) / 5
    result = bcubed(PRED, GOLD)
    assert result.precision == pytest.approx((1 + 1 + 1 / 3 + 2 / 3 + 2 / 3) / 5)
    assert result.recall == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1 + 1) / 5)
    p, r = 11 / 15, 11 / 15
    assert result.f1 == pytest.approx(2 * p * r / (p + r))


def test_pairwise_by_hand() -> None:
    # predicted pairs: ab, cd, ce, de (4); gold pairs: ab, ac, bc, de (4); both: ab, de
    result = pairwise(PRED, GOLD)
    assert result.precision == pytest.approx(2 / 4)
    assert result.recall == pytest.approx(2 / 4)


def test_perfect_and_all_singletons() -> None:
    assert bcubed(GOLD, GOLD).f1 == 1.0 and pairwise(GOLD, GOLD).f1 == 1.0
    alone = {k: k for k in GOLD}
    assert bcubed(alone, GOLD).precision == 1.0
    assert bcubed(alone, GOLD).recall == pytest.approx((1 / 3 * 3 + 1 / 2 * 2) / 5)
    assert pairwise(alone, GOLD).precision == 1.0  # nothing claimed
    assert pairwise(alone, GOLD).recall == 0.0


def test_one_big_cluster() -> None:
    one = dict.fromkeys(GOLD, 0)
    assert bcubed(one, GOLD).recall == 1.0
    assert bcubed(one, GOLD).precision == pytest.approx((3 * 3 / 5 + 2 * 2 / 5) / 5)
    assert pairwise(one, GOLD).precision == pytest.approx(4 / 10)


def test_items_must_match() -> None:
    with pytest.raises(DedupError):
        bcubed({"a": 1}, {"b": 1})


def test_report_lists_both_metrics() -> None:
    text = format_scores(score(PRED, GOLD))
    assert "5 articles, 2 clusters (gold 2)" in text
    assert "B-cubed   P 0.733  R 0.733  F1 0.733" in text
    assert "pairwise  P 0.500  R 0.500  F1 0.500" in text
