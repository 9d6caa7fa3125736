"""Keeps every story cluster's per-outlet comparison up to date (the shell around
``aggregator.compare``): clusters whose membership changed are marked stale by storage and
recomputed here, largest clusters capped so one giant story cannot stall the job.

Given a work pool (the extraction pool: ``poll --once`` once its pages are done, the
service's comparison job with the pages; ``import`` and ``recluster`` a pool of their own),
the comparisons are computed on every core while this thread reads the next stories'
articles and stores the finished ones, in the order of the stale list; a comparison the pool
fails (a crash, a time limit) is computed here instead, as without a pool.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime

from aggregator.compare import CompareArticle, CompareJob, Lexicons, OutletInfo
from aggregator.log import event
from aggregator.types import Article
from aggregator.workpool import WorkPool
from storage.clusters import MembershipRecord
from storage.store import Store

log = logging.getLogger("newsagg.compare")
MAX_ARTICLES = 60  # per comparison: the earliest articles of each outlet first
POOL_TIMEOUT_S = 300.0  # one comparison in a worker (60 articles take about a second)


class ComparisonRefresher:
    def __init__(
        self, store: Store, lexicons: Lexicons | None, clock: Callable[[], datetime]
    ) -> None:
        self.store = store
        self.lexicons = lexicons
        self.clock = clock

    def run(
        self,
        limit: int = 100,
        stop: Callable[[], bool] = lambda: False,
        pool: WorkPool | None = None,
    ) -> int:
        """Recompute up to ``limit`` stale comparisons, until ``stop()`` says so between two
        stories (a shutdown: one story of hundreds of articles takes seconds); returns how
        many were done. Those left stay stale for the next run. With ``pool``, comparisons
        are computed in its workers, a few stories ahead of the one being stored."""
        version = self.store.clusters.active_version()
        if version is None:
            return 0
        stale = self.store.clusters.stale_comparisons(version, limit)
        outlets = self._outlets()
        done = 0
        for cluster_id, comparison, started in self._computed(stale, outlets, stop, pool):
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
        job = self._prepare(cluster_id, outlets)
        return self._finish(job, job.work.run())

    def _computed(
        self,
        stale: Sequence[int],
        outlets: dict[str, OutletInfo],
        stop: Callable[[], bool],
        pool: WorkPool | None,
    ) -> Iterator[tuple[int, dict[str, object], float]]:
        """(cluster id, comparison, when its work started) for each stale story in turn."""
        if pool is None:
            for cluster_id in stale:
                if stop():
                    return
                started = time.perf_counter()
                yield cluster_id, self.compare(cluster_id, outlets), started
            return
        ahead = 2 * pool.size
        in_flight: deque[tuple[_Job, Future[dict[str, object]], float]] = deque()
        waiting = iter(stale)
        while True:
            while len(in_flight) < ahead and not stop():
                next_id = next(waiting, None)
                if next_id is None:
                    break
                started = time.perf_counter()
                job = self._prepare(next_id, outlets)
                in_flight.append((job, pool.submit(job.work.run, timeout=POOL_TIMEOUT_S), started))
            if not in_flight:
                return
            job, future, started = in_flight.popleft()
            yield job.cluster_id, self._finish(job, _pooled(job, future)), started

    def _prepare(self, cluster_id: int, outlets: dict[str, OutletInfo]) -> _Job:
        members = self.store.clusters.members(cluster_id)
        chosen = select_members(members, MAX_ARTICLES)
        articles = self.store.articles.get_many([article_id for article_id, _ in chosen])
        revisions = self.store.articles.revisions_many([a.id for a in articles])
        groups = {article_id: record.copy_group for article_id, record in chosen}
        inputs = [compare_input(a, groups.get(a.id), revisions.get(a.id, [])) for a in articles]
        work = CompareJob(tuple(inputs), outlets, self.lexicons, self.clock())
        return _Job(cluster_id, work, len(chosen), len(members))

    @staticmethod
    def _finish(job: _Job, comparison: dict[str, object]) -> dict[str, object]:
        if job.compared < job.members:
            comparison["truncated"] = {"compared": job.compared, "members": job.members}
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


@dataclass(frozen=True, slots=True)
class _Job:
    """One story's comparison: its work (``CompareJob``, which pickles: a worker process can
    run it) and how many of its members it compares."""

    cluster_id: int
    work: CompareJob
    compared: int
    members: int


def _pooled(job: _Job, future: Future[dict[str, object]]) -> dict[str, object]:
    """The worker's comparison; computed here when the worker failed it."""
    try:
        return future.result()
    except Exception as exc:  # a crash or the time limit: as without a pool
        event(log, "comparison.pool_failed", level=logging.WARNING, cluster=job.cluster_id,
              error=repr(exc))  # fmt: skip
        return job.work.run()
