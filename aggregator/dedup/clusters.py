"""Story clusters in memory: members, time span and the sum of member vectors.

The average-linkage similarity of an article to a cluster is the mean cosine to its members,
``v . sum / n``; of two clusters, ``sum_a . sum_b / (n_a n_b)``. Sums are cached and
recomputed with the current IDF once the IDF has moved on (warm-up, drift). Members are
kept in row (arrival) order whatever moves and merges happened, so an engine restarted from
storage (rows put back in arrival order) holds the same lists.
"""

from __future__ import annotations

import bisect
import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from aggregator.dedup.rows import RowStore
from aggregator.dedup.vectors import IdfTable, SparseVec, add, dot

STALE_SHARE = 0.1  # recompute a sum once this share of the window's articles came after it


@dataclass(slots=True)
class Cluster:
    id: int
    language: int
    members: list[int] = field(default_factory=list)  # rows, ascending (arrival order)
    first: float = math.nan
    last: float = math.nan
    total: SparseVec | None = None
    total_stamp: int = 0
    outlet_codes: set[int] | None = None

    def gap_to(self, time: float) -> float:
        """Seconds between ``time`` and the cluster's time span (0 inside it or unknown)."""
        if math.isnan(time) or math.isnan(self.first):
            return 0.0
        return max(0.0, self.first - time, time - self.last)


class ClusterBook:
    """All live clusters, and the row vectors they are made of."""

    def __init__(self, rows: RowStore, idf: IdfTable) -> None:
        self.rows = rows
        self.idf = idf
        self.clusters: dict[int, Cluster] = {}
        self.next_id = 1
        self.added = 0  # articles counted into the IDF so far (a clock for staleness)

    def new(self, language: int, cluster_id: int | None = None) -> Cluster:
        if cluster_id is None:
            cluster_id = self.next_id
        self.next_id = max(self.next_id, cluster_id + 1)
        cluster = self.clusters[cluster_id] = Cluster(cluster_id, language)
        return cluster

    def get(self, cluster_id: int) -> Cluster | None:
        return self.clusters.get(cluster_id)

    def vector(self, row: int) -> SparseVec:
        """The row's TF-IDF vector under the current IDF, unit length."""
        ids, tf = self.rows.vector(row)  # stored sorted and unique
        return SparseVec(ids, tf * self.idf.idf(ids)).normalized()

    def total(self, cluster: Cluster) -> SparseVec:
        stale = self.added - cluster.total_stamp > STALE_SHARE * max(self.idf.docs, 50)
        if cluster.total is None or stale:
            cluster.total = add([self.vector(r) for r in cluster.members])
            cluster.total_stamp = self.added
        return cluster.total

    def outlets(self, cluster: Cluster) -> set[int]:
        if cluster.outlet_codes is None:
            cluster.outlet_codes = {self.rows.outlet(r) for r in cluster.members}
        return cluster.outlet_codes

    def score(self, vector: SparseVec, cluster: Cluster) -> float:
        """Average-linkage similarity of an article's vector to the cluster."""
        if not cluster.members:
            return 0.0
        return dot(vector, self.total(cluster)) / len(cluster.members)

    def linkage(self, a: Cluster, b: Cluster) -> float:
        if not a.members or not b.members:
            return 0.0
        return dot(self.total(a), self.total(b)) / (len(a.members) * len(b.members))

    def attach(self, cluster: Cluster, row: int, vector: SparseVec | None = None) -> None:
        if cluster.members and row < cluster.members[-1]:
            bisect.insort(cluster.members, row)  # a moved article: members stay in row order
        else:
            cluster.members.append(row)
        self.rows.set_cluster(row, cluster.id)
        if cluster.outlet_codes is not None:
            cluster.outlet_codes.add(self.rows.outlet(row))
        self._widen(cluster, self.rows.time(row))
        if cluster.total is not None and vector is not None:
            cluster.total = add([cluster.total, vector])
        else:
            cluster.total = None

    def attach_restored(
        self, clusters: list[Cluster], rows: list[int], times: list[float], outlets: list[int]
    ) -> None:
        """``attach`` each row (new, so the largest yet) to its cluster in turn, without
        vectors (a restart: the rows already carry their cluster), at Python speed."""
        for cluster, row, time, outlet in zip(clusters, rows, times, outlets, strict=True):
            cluster.members.append(row)
            if cluster.outlet_codes is not None:
                cluster.outlet_codes.add(outlet)
            self._widen(cluster, time)
            cluster.total = None

    def detach(self, cluster: Cluster, row: int) -> None:
        cluster.members.remove(row)
        cluster.total = None
        cluster.outlet_codes = None
        self._respan(cluster)
        if not cluster.members:
            del self.clusters[cluster.id]

    def absorb(self, keep: Cluster, gone: Cluster) -> None:
        """Move every member of ``gone`` into ``keep``."""
        for row in gone.members:
            self.rows.set_cluster(row, keep.id)
        keep.members = list(heapq.merge(keep.members, gone.members))
        keep.outlet_codes = None
        if keep.total is not None and gone.total is not None:
            keep.total = add([keep.total, gone.total])
        else:
            keep.total = None
        for time in (gone.first, gone.last):
            self._widen(keep, time)
        del self.clusters[gone.id]

    def _widen(self, cluster: Cluster, time: float) -> None:
        if math.isnan(time):
            return
        cluster.first = time if math.isnan(cluster.first) else min(cluster.first, time)
        cluster.last = time if math.isnan(cluster.last) else max(cluster.last, time)

    def _respan(self, cluster: Cluster) -> None:
        times = np.array([self.rows.time(r) for r in cluster.members], dtype=np.float64)
        known = times[~np.isnan(times)]
        cluster.first = float(known.min()) if len(known) else math.nan
        cluster.last = float(known.max()) if len(known) else math.nan
