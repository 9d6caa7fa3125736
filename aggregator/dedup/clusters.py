"""Story clusters in memory: members, time span and the sum of member vectors.

The average-linkage similarity of an article to a cluster is the mean cosine to its members,
``v . sum / n``; of two clusters, ``sum_a . sum_b / (n_a n_b)``. Sums are cached until the
IDF takes its next step (``IdfTable.generation``), at most ``SUMS_KEPT`` of them (a cluster
of one row has that row's vector as its sum, which is not kept twice). Members are kept in
row (arrival) order whatever moves and merges happened, and a cached sum only ever grows by
the newest row (a move or a merge drops it), so it is the sum a fresh computation makes, to
the bit: an engine restarted from storage (rows put back in arrival order) scores as the
running one, and a sum freed early is made again alike.
"""

from __future__ import annotations

import bisect
import heapq
import math
from array import array
from dataclasses import dataclass, field

import numpy as np

from aggregator.dedup.rows import RowStore
from aggregator.dedup.vectors import IdfTable, SparseVec, add, dot, from_terms

VECTORS_KEPT = 8192  # about 9 MB of row vectors at 64 terms each
SUMS_KEPT = 32768  # sums held at once (200k articles: about 25,000 made a step, 60 MB)


@dataclass(slots=True)
class Cluster:
    id: int
    language: int
    # rows, ascending (arrival order); 8 bytes a member, where a list holds a pointer and an
    # int object (40 bytes): at a million articles, about 30 MB less
    members: array[int] = field(default_factory=lambda: array("q"))
    first: float = math.nan
    last: float = math.nan
    total: SparseVec | None = None
    total_stamp: int = -1  # the IDF generation of ``total``
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
        self._vectors: dict[int, SparseVec] = {}  # rows' unit vectors under the IDF below
        self._vectors_stamp = -1
        self._summed: dict[int, Cluster] = {}  # clusters summed under this IDF step, oldest first
        self._summed_stamp = -1

    def new(self, language: int, cluster_id: int | None = None) -> Cluster:
        if cluster_id is None:
            cluster_id = self.next_id
        self.next_id = max(self.next_id, cluster_id + 1)
        cluster = self.clusters[cluster_id] = Cluster(cluster_id, language)
        return cluster

    def get(self, cluster_id: int) -> Cluster | None:
        return self.clusters.get(cluster_id)

    def vector(self, row: int) -> SparseVec:
        """The row's TF-IDF vector under the current IDF, unit length. Kept until the IDF's
        next step (the sums of a cluster's members and the explanation's closest member
        read the same rows again and again), at most ``VECTORS_KEPT`` of them."""
        if self._vectors_stamp != self.idf.generation or len(self._vectors) >= VECTORS_KEPT:
            self._vectors.clear()
            self._vectors_stamp = self.idf.generation
        found = self._vectors.get(row)
        if found is None:
            ids, tf = self.rows.vector(row)  # stored sorted and unique
            ids = ids.copy()  # not a view that would keep an evicted chunk alive
            found = self._vectors[row] = SparseVec(ids, tf * self.idf.idf(ids)).normalized()
        return found

    def total(self, cluster: Cluster) -> SparseVec:
        members = cluster.members
        if len(members) == 1:  # most candidates: the row's vector is the sum, bit for bit,
            return self.vector(members[0])  # and is kept (for a while) with the row vectors
        if cluster.total is None or cluster.total_stamp != self.idf.generation:
            self._forget_stale_sums()
            cluster.total = self._sum(members)
            cluster.total_stamp = self.idf.generation
            self._keep_sum(cluster)
        return cluster.total

    def _sum(self, members: array[int]) -> SparseVec:
        """``add`` of the members' vectors, bit for bit, with the vectors made together
        rather than one ``vector`` call a member (the sums of the clusters an article is
        scored against are made again after each IDF step: at 300k articles, a fifth of the
        engine's time one vector at a time; this takes 30-60 % less for 2 to 400 members)."""
        ids, tf, lengths = self.rows.vectors(members)
        weights = tf * self.idf.idf(ids)
        norms = np.ones(len(lengths))
        start = 0
        for i, length in enumerate(lengths.tolist()):  # as ``SparseVec.normalized``, row by row
            part = weights[start : start + length]
            norm = math.sqrt(part.dot(part))
            norms[i] = norm if norm else 1.0
            start += length
        return from_terms(ids, weights / norms.repeat(lengths))

    def _keep_sum(self, cluster: Cluster) -> None:
        """Note ``cluster``'s new sum; past ``SUMS_KEPT`` sums, free the one made longest ago
        (summed afresh, to the same bits, if read again)."""
        self._summed.pop(cluster.id, None)
        self._summed[cluster.id] = cluster
        if len(self._summed) > SUMS_KEPT:
            oldest = self._summed.pop(next(iter(self._summed)))
            oldest.total = None
            oldest.outlet_codes = None

    def _forget_stale_sums(self) -> None:
        """After an IDF step every cached sum is stale (it would be summed afresh when next
        read): free them, and the outlet sets of the same clusters (cheap to make again), so
        what is held is for the clusters read since the step, not for every cluster ever read
        (at a million articles, hundreds of MB)."""
        if self._summed_stamp == self.idf.generation:
            return
        for cluster in self._summed.values():
            cluster.total = None
            cluster.outlet_codes = None
        self._summed, self._summed_stamp = {}, self.idf.generation

    def outlets(self, cluster: Cluster) -> set[int]:
        if len(cluster.members) == 1:  # not kept, as its sum is not (see ``total``)
            return {self.rows.outlet(cluster.members[0])}
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
        """Add ``row``; with its ``vector`` (under the current IDF), a cached sum grows by
        it when the row is the cluster's newest (the sum then equals a fresh one)."""
        newest = not cluster.members or row > cluster.members[-1]
        if newest:
            cluster.members.append(row)
        else:
            bisect.insort(cluster.members, row)  # a moved article: members stay in row order
        self.rows.set_cluster(row, cluster.id)
        if cluster.outlet_codes is not None:
            cluster.outlet_codes.add(self.rows.outlet(row))
        self._widen(cluster, self.rows.time(row))
        total, current = cluster.total, cluster.total_stamp == self.idf.generation
        if total is not None and current and newest and vector is not None:
            cluster.total = add([total, vector])
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
        keep.members = array("q", heapq.merge(keep.members, gone.members))
        keep.outlet_codes = None
        keep.total = None  # summed afresh in row order when next needed
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
