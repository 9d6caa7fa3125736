"""The O(n^2) baseline: TF-IDF cosine, average-linkage agglomerative clustering (scikit-learn).

Each article is its title and text; TF-IDF with English stop words and sublinear term
frequency; cosine distance; clusters are cut at ``distance``. With times, pairs further apart
than ``gap_hours`` get distance 2 (the same time limit the engine uses), so they can join
only through a cluster whose average still clears the cut.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_distances

from aggregator.corpus import CorpusRecord

FAR = 2.0


def distance_matrix(
    records: list[CorpusRecord], gap_hours: float | None
) -> npt.NDArray[np.float64]:
    docs = [f"{r.title}\n{r.text}" for r in records]
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(docs)
    distances: npt.NDArray[np.float64] = cosine_distances(matrix)
    if gap_hours is not None:
        times = np.array(
            [np.nan if r.published is None else r.published.timestamp() for r in records]
        )
        apart = np.abs(times[:, None] - times[None, :]) > gap_hours * 3600.0
        distances[apart] = FAR  # NaN comparisons are False: unknown times stay free
    np.fill_diagonal(distances, 0.0)
    return distances


def cluster(distances: npt.NDArray[np.float64], cut: float) -> list[int]:
    model = AgglomerativeClustering(
        n_clusters=None, metric="precomputed", linkage="average", distance_threshold=cut
    )
    return [int(label) for label in model.fit_predict(distances)]
