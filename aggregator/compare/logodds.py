"""Distinctive words: weighted log-odds ratio with an informative Dirichlet prior.

Monroe, Colaresi and Quinn (2008), "Fightin' Words", Political Analysis 16(4), section 3.5.
Each outlet ``i`` is compared with the rest of the cluster ``j``. With word counts ``y``,
totals ``n`` and prior pseudo-counts ``a_w`` summing to ``a0``::

    delta_w = log((y_iw + a_w) / (n_i + a0 - y_iw - a_w))
            - log((y_jw + a_w) / (n_j + a0 - y_jw - a_w))
    var_w  ~= 1 / (y_iw + a_w) + 1 / (y_jw + a_w)
    z_w     = delta_w / sqrt(var_w)

The prior is ``a_w = a0 * p_w``: ``p`` is the word distribution of the whole cluster (the
paper's choice: the pooled speeches), or of a background corpus passed in (add-one smoothed
over the cluster's words). ``a0`` defaults to the size of the cluster, so the prior weighs as
much as the data; ``CompareOptions.prior_scale`` sets it. Words are lower-cased; stop words,
bare numbers and one-letter words are counted but not listed. Names (words the cluster
capitalises inside sentences and never writes in lower case) are listed apart from the other
words: the names say whom an outlet covers, the other words how it words the story.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np

from aggregator.compare.analysis import Doc
from aggregator.compare.model import CompareOptions
from aggregator.compare.text import is_content_word, rounded


def outlet_counts(docs: list[Doc]) -> dict[str, Counter[str]]:
    counts: dict[str, Counter[str]] = {}
    for doc in docs:
        counts.setdefault(doc.outlet, Counter()).update(t.lower for t in doc.tokens)
    return dict(sorted(counts.items()))


def distinctive_words(
    docs: list[Doc],
    options: CompareOptions,
    background: Mapping[str, int] | None = None,
    names: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Per outlet, the words it uses more than the rest of the cluster, by z-score: word
    choices under ``outlets``, names (lower-cased ``names``) apart under ``names``."""
    counts = outlet_counts(docs)
    vocab = sorted(set().union(*counts.values())) if counts else []
    matrix = np.array([[c[w] for w in vocab] for c in counts.values()], dtype=float)
    result: dict[str, Any] = {
        "method": "weighted log-odds, informative Dirichlet prior (Monroe et al. 2008)",
        "prior": "background" if background is not None else "cluster",
        "alpha0": None,
        "outlets": {},
        "names": {},
    }
    if len(counts) < 2 or len(vocab) < 2:
        return result
    alpha, alpha0 = _prior(matrix, vocab, options, background)
    result["alpha0"] = rounded(alpha0, 2)
    totals = matrix.sum(axis=0)
    content = np.array([is_content_word(w) for w in vocab])
    is_name = np.array([w in names for w in vocab], dtype=bool)
    for row, outlet in enumerate(counts):
        z, delta = _zscores(matrix[row], totals - matrix[row], alpha, alpha0)
        scored = (vocab, matrix[row], z, delta)
        result["outlets"][outlet] = _top(scored, content & ~is_name, options=options)
        result["names"][outlet] = _top(scored, content & is_name, options=options)
    return result


def _prior(
    matrix: np.ndarray[Any, Any],
    vocab: list[str],
    options: CompareOptions,
    background: Mapping[str, int] | None,
) -> tuple[np.ndarray[Any, Any], float]:
    cluster = matrix.sum(axis=0)
    alpha0 = options.prior_scale if options.prior_scale else float(cluster.sum())
    if background is None:
        share = cluster / cluster.sum()
    else:
        known = np.array([max(0, int(background.get(w, 0))) for w in vocab], dtype=float)
        share = (known + 1.0) / (known.sum() + len(vocab))
    return alpha0 * share, alpha0


def _zscores(
    y_i: np.ndarray[Any, Any],
    y_j: np.ndarray[Any, Any],
    alpha: np.ndarray[Any, Any],
    alpha0: float,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    n_i, n_j = y_i.sum(), y_j.sum()
    odds_i = (y_i + alpha) / (n_i + alpha0 - y_i - alpha)
    odds_j = (y_j + alpha) / (n_j + alpha0 - y_j - alpha)
    delta = np.log(odds_i) - np.log(odds_j)
    variance = 1.0 / (y_i + alpha) + 1.0 / (y_j + alpha)
    return delta / np.sqrt(variance), delta


Scored = tuple[list[str], "np.ndarray[Any, Any]", "np.ndarray[Any, Any]", "np.ndarray[Any, Any]"]


def _top(
    scored: Scored, listed: np.ndarray[Any, Any], *, options: CompareOptions
) -> list[dict[str, Any]]:
    vocab, counts, z, delta = scored
    words = counts.sum()
    keep = np.flatnonzero(listed & (counts > 0) & (z > options.min_z))
    ranked = sorted(keep.tolist(), key=lambda k: (-round(float(z[k]), 6), vocab[k]))
    return [
        {
            "word": vocab[k],
            "count": int(counts[k]),
            "per_1000": rounded(1000.0 * counts[k] / words, 3),
            "z": rounded(z[k], 3),
            "log_odds": rounded(delta[k], 4),
        }
        for k in ranked[: options.top_words]
    ]
