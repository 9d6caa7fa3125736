"""Changes to earlier assignments: moves and merges proved by a new arrival, and editors'
corrections. Every change comes back as a ClusterEvent for the caller to apply to its store.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

from aggregator.dedup.clusters import Cluster
from aggregator.dedup.corrections import Correction, CorrectionKind
from aggregator.dedup.model import ClusterEvent, Rule
from aggregator.dedup.vectors import SparseVec, dot

if TYPE_CHECKING:
    from aggregator.dedup.engine import DedupEngine

HOUR = 3600.0
MOVE_CLUSTERS = 2  # nearby clusters whose members may move to the new arrival's cluster
MOVE_MEMBERS = 16  # members looked at per nearby cluster (the latest)
MERGE_CLUSTERS = 8  # nearby clusters (best scores for the new arrival) that may merge


class Regrouper:
    def __init__(self, engine: DedupEngine) -> None:
        self.engine = engine
        self.params = engine.params
        self.rows = engine.rows
        self.book = engine.book

    # -- automatic -------------------------------------------------------------------------

    def after_join(
        self, row: int, vector: SparseVec, scored: list[tuple[int, float]]
    ) -> list[ClusterEvent]:
        target = self.book.clusters[self.rows.cluster(row)]
        self.book.attach(target, row, vector)
        bridge = self.rows.id(row)
        events: list[ClusterEvent] = []
        nearby = [c for c, _ in scored if c != target.id]
        if self.params.move_members:
            close = self.params.story_threshold / 2
            movable = [c for c, s in scored if c != target.id and s >= close]
            events.extend(self._moves(target, vector, movable[:MOVE_CLUSTERS], bridge))
        events.extend(self._merges(target, nearby[:MERGE_CLUSTERS], bridge, len(vector)))
        return events

    def join_copies(self, row: int, others: list[tuple[int, float]]) -> list[ClusterEvent]:
        """The new article is a verified copy of several articles in different copy groups
        (say, two cuts of one wire story that share too little to match each other): their
        groups become one, and their story clusters too."""
        events: list[ClusterEvent] = []
        bridge = self.rows.id(row)
        for other, score in others:
            group, mine = self.rows.copy_group(other), self.rows.copy_group(row)
            if group == mine or not self.rows.alive(other):
                continue
            target = self.book.clusters[self.rows.cluster(row)]
            home = self.book.clusters[self.rows.cluster(other)]
            if home.id != target.id:
                if not self._allowed_clusters(target, home):
                    continue
                target, event = self._merge(target, home, score, bridge)
                events.append(event)
            moved = [r for r in target.members if self.rows.copy_group(r) == group]
            for member in moved:
                self.rows.set_copy_group(member, mine)
            ids = tuple(self.rows.id(r) for r in moved)
            events.append(ClusterEvent(Rule.COPY, ids, target.id, target.id, score, bridge, mine))
        return events

    def _moves(
        self, target: Cluster, vector: SparseVec, nearby: list[int], bridge: str
    ) -> list[ClusterEvent]:
        events: list[ClusterEvent] = []
        for cluster_id in nearby:
            cluster = self.book.get(cluster_id)
            if cluster is None or len(cluster.members) < 2:
                continue
            for row in list(cluster.members[-MOVE_MEMBERS:]):
                event = self._try_move(row, cluster, target, vector, bridge)
                if event is not None:
                    events.append(event)
                if len(cluster.members) < 2:
                    break
        return events

    def _try_move(
        self, row: int, home: Cluster, target: Cluster, vector: SparseVec, bridge: str
    ) -> ClusterEvent | None:
        own = self.book.vector(row)
        if dot(own, vector) < self.params.story_threshold or self._anchored(row, home):
            return None
        time = self.rows.time(row)
        if target.gap_to(time) > self.params.link_gap_hours * HOUR:
            return None
        stay = (dot(own, self.book.total(home)) - dot(own, own)) / (len(home.members) - 1)
        go = self.book.score(own, target)
        same = self.rows.outlet(row) in self.book.outlets(target)
        limit = self.engine.linker.threshold(target.gap_to(time), same, len(own))
        article = self.rows.id(row)
        if go <= stay or go < limit or not self._allowed([article], target.members):
            return None
        self.book.detach(home, row)
        self.book.attach(target, row, own)
        return ClusterEvent(Rule.MOVE, (article,), home.id, target.id, go, bridge)

    def _anchored(self, row: int, home: Cluster) -> bool:
        """Copies stay with their copy group; editors' articles stay where editors put them."""
        if self.engine.constraints.pinned(self.rows.id(row)):
            return True
        group = self.rows.copy_group(row)
        return any(self.rows.copy_group(r) == group for r in home.members if r != row)

    def _merges(
        self, target: Cluster, nearby: list[int], bridge: str, terms: int
    ) -> list[ClusterEvent]:
        events: list[ClusterEvent] = []
        gap_limit = self.params.link_gap_hours * HOUR
        merged = True
        while merged:
            merged = False
            for cluster_id in nearby:
                other = self.book.get(cluster_id)
                if other is None or other.id == target.id:
                    continue
                gap = _span_gap(target, other)
                if gap > gap_limit:
                    continue
                score = self.book.linkage(target, other)
                if score < self.params.story_threshold or not self._allowed_clusters(target, other):
                    continue
                same = bool(self.book.outlets(target) & self.book.outlets(other))
                if score >= self._merge_limit(target, other, gap, same, terms):
                    target, event = self._merge(target, other, score, bridge)
                    events.append(event)
                    merged = True
        return events

    def _merge_limit(self, a: Cluster, b: Cluster, gap: float, same: bool, terms: int) -> float:
        """The linkage two clusters need to merge. With ``merge_short_text = "clusters"`` the
        short-text term is that of their members' mean length, times
        sqrt((1/na + 1/nb + 1/(na nb)) / 3): average linkage is the mean of na x nb cosines,
        whose noise is partly each member's and partly each pair's, so it shrinks as the
        clusters grow (two lone articles get the whole term, as a join does). With
        ``"arrival"`` it is the term of the article that bridges them, however large they are."""
        linker = self.engine.linker
        if self.params.merge_short_text == "arrival":
            return linker.threshold(gap, same, terms)
        na, nb = len(a.members), len(b.members)
        mean = round(
            (self.rows.terms_total(a.members) + self.rows.terms_total(b.members)) / (na + nb)
        )
        base = linker.threshold(gap, same)
        shrink = math.sqrt((1 / na + 1 / nb + 1 / (na * nb)) / 3)
        return base + (linker.threshold(gap, same, max(1, mean)) - base) * shrink

    def _merge(
        self, a: Cluster, b: Cluster, score: float, bridge: str | None
    ) -> tuple[Cluster, ClusterEvent]:
        keep, gone = (a, b) if a.id < b.id else (b, a)
        moved = tuple(self.rows.id(r) for r in gone.members)
        self.book.absorb(keep, gone)
        kind = Rule.MERGE if bridge is not None else Rule.EDITOR
        return keep, ClusterEvent(kind, moved, gone.id, keep.id, score, bridge)

    def _allowed(self, ids: list[str], members: Iterable[int]) -> bool:
        constraints = self.engine.constraints
        return not constraints or constraints.allows(ids, (self.rows.id(r) for r in members))

    def _allowed_clusters(self, a: Cluster, b: Cluster) -> bool:
        if not self.engine.constraints:
            return True
        return self._allowed([self.rows.id(r) for r in a.members], b.members)

    # -- editors ---------------------------------------------------------------------------

    def correct(self, correction: Correction) -> tuple[Correction, list[ClusterEvent]]:
        live = [self.rows.row_of[a] for a in correction.article_ids if a in self.rows.row_of]
        if correction.kind is CorrectionKind.MERGE:
            done, events = correction, self._editor_merge(live)
        elif correction.kind is CorrectionKind.SPLIT:
            done = self._complete(correction, live)
            events = self._editor_split(live)
        else:
            done = self._complete(correction, live)
            events = self._editor_move(live, correction.target)
        self.engine.constraints.record(done)
        return done, events

    def _complete(self, correction: Correction, live: list[int]) -> Correction:
        """Fill in ``away_from``: the cluster-mates the articles leave behind."""
        if correction.away_from:
            return correction
        leaving = set(correction.article_ids)
        mates: set[str] = set()
        for row in live:
            cluster = self.book.get(self.rows.cluster(row))
            if cluster is not None:
                mates.update(self.rows.id(r) for r in cluster.members)
        away = tuple(sorted(mates - leaving - {correction.target or ""}))
        return Correction(correction.kind, correction.article_ids, correction.target, away)

    def _editor_merge(self, live: list[int]) -> list[ClusterEvent]:
        clusters = sorted({self.rows.cluster(r) for r in live})
        events: list[ClusterEvent] = []
        if not clusters:
            return events
        keep = self.book.clusters[clusters[0]]
        for cluster_id in clusters[1:]:
            keep, event = self._merge(keep, self.book.clusters[cluster_id], 1.0, None)
            events.append(event)
        return events

    def _editor_split(self, live: list[int]) -> list[ClusterEvent]:
        if not live:
            return []
        fresh = self.book.new(self.rows.language(live[0]))
        return self._relocate(live, fresh)

    def _editor_move(self, live: list[int], target: str | None) -> list[ClusterEvent]:
        target_row = self.rows.row_of.get(target or "")
        if not live or target_row is None:
            return []
        return self._relocate(live, self.book.clusters[self.rows.cluster(target_row)])

    def _relocate(self, live: list[int], destination: Cluster) -> list[ClusterEvent]:
        """Move rows to ``destination``; a row leaving copies behind gets a new copy group."""
        events: list[ClusterEvent] = []
        leaving = set(live)
        groups: dict[int, int] = {}
        for row in live:
            home = self.book.clusters[self.rows.cluster(row)]
            if home.id == destination.id:
                continue
            group = self.rows.copy_group(row)
            split_group = any(
                self.rows.copy_group(r) == group and r not in leaving for r in home.members
            )
            new_group = None
            if split_group:
                new_group = groups.setdefault(group, self._next_group())
                self.rows.set_copy_group(row, new_group)
            self.book.detach(home, row)
            self.book.attach(destination, row)
            article = self.rows.id(row)
            events.append(
                ClusterEvent(Rule.EDITOR, (article,), home.id, destination.id, 1.0, None, new_group)
            )
        return events

    def _next_group(self) -> int:
        group = self.engine.next_copy_group
        self.engine.next_copy_group += 1
        return group


def _span_gap(a: Cluster, b: Cluster) -> float:
    """Seconds between two clusters' time spans (0 when they overlap or a time is unknown)."""
    if any(math.isnan(v) for v in (a.first, a.last, b.first, b.last)):
        return 0.0
    return max(0.0, a.first - b.last, b.first - a.last)
