"""Keeps every story cluster's per-outlet comparison up to date (the shell around
``aggregator.compare``): clusters whose membership changed are marked stale by storage and
recomputed here, largest clusters capped so one giant story cannot stall the job."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from aggregator.compare import CompareArticle, Lexicons, OutletInfo, compare_cluster
from aggregator.log import event
from aggregator.types import Article
from storage.clusters import MembershipRecord
from storage.store import Store

log = logging.getLogger("newsagg.compare")
MAX_ARTICLES = 60  # per comparison: the earliest articles of each outlet first


class ComparisonRefresher:
    def __init__(
        self, store: Store, lexicons: Lexicons | None, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.lexicons = lexicons
        self.clock = clock

    def run(self, limit: int = 100, stop: Callable[[], bool] = lambda: False) -> int:
        """Recompute up to ``limit`` stale comparisons, until ``stop()`` says so between two
        stories (a shutdown: one story of hundreds of articles takes seconds); returns how
        many were done. Those left stay stale for the next run."""
        version = self.store.clusters.active_version()
        if version is None:
            return 0
        stale = self.store.clusters.stale_comparisons(version, limit)
        outlets = self._outlets()
        done = 0
        for cluster_id in stale:
            if stop():
                break
            started = time.perf_counter()
            comparison = self.compare(cluster_id, outlets)
            self.store.clusters.save_comparison(cluster_id, comparison, self.clock())
            event(
                log,
                "comparison.saved",
                level=logging.DEBUG,
                cluster=cluster_id,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            done += 1
        return done

    def compare(self, cluster_id: int, outlets: dict[str, OutletInfo]) -> dict[str, object]:
        members = self.store.clusters.members(cluster_id)
        chosen = select_members(members, MAX_ARTICLES)
        articles = self.store.articles.get_many([article_id for article_id, _ in chosen])
        revisions = self.store.articles.revisions_many([a.id for a in articles])
        groups = {article_id: record.copy_group for article_id, record in chosen}
        inputs = [compare_input(a, groups.get(a.id), revisions.get(a.id, [])) for a in articles]
        comparison = compare_cluster(inputs, outlets, self.lexicons, now=self.clock())
        if len(chosen) < len(members):
            comparison["truncated"] = {"compared": len(chosen), "members": len(members)}
        return comparison

    def _outlets(self) -> dict[str, OutletInfo]:
        return {
            oid: OutletInfo(oid, name, country or None, labels)
            for oid, (name, country, labels) in self.store.clusters.outlet_labels().items()
        }


def select_members(
    members: Sequence[tuple[int, MembershipRecord]], cap: int
) -> list[tuple[int, MembershipRecord]]:
    """At most ``cap`` members, taking each outlet's earliest article first (members come
    oldest first), then the next of each outlet, and so on."""
    if len(members) <= cap:
        return list(members)
    by_outlet: dict[str, list[tuple[int, MembershipRecord]]] = {}
    for member in members:
        by_outlet.setdefault(member[1].outlet_id, []).append(member)
    chosen: list[tuple[int, MembershipRecord]] = []
    depth = 0
    while len(chosen) < cap:
        layer = [items[depth] for items in by_outlet.values() if depth < len(items)]
        if not layer:
            break
        chosen.extend(layer[: cap - len(chosen)])
        depth += 1
    return chosen


def compare_input(
    article: Article, copy_group: str | None, revisions: list[tuple[datetime, str]]
) -> CompareArticle:
    current = (article.updated_at or article.first_seen, article.title)
    history = (*revisions, current) if revisions else ()
    return CompareArticle(
        id=str(article.id),
        outlet_id=article.outlet_id,
        title=article.title,
        text=article.text,
        first_seen=article.first_seen,
        url=article.url,
        published=article.published,
        published_source=article.published_source.value,
        copy_group=copy_group,
        headline_revisions=tuple(history),
    )
