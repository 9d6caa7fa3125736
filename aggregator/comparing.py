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
from aggregator.types import Article, JsonText
from aggregator.workpool import WorkPool
from storage.clusters import MembershipRecord
from storage.store import Store

log = logging.getLogger("newsagg.compare")
MAX_ARTICLES = 60  # per comparison: the earliest articles of each outlet first
POOL_TIMEOUT_S = 300.0  # one comparison in a worker (60 articles take about a second)
SAVE_BATCH = 8  # finished comparisons stored in one transaction, at most (fewer when the
# next one is not ready yet: a finished comparison never waits for a running one)

Comparison = dict[str, object] | JsonText  # encoded when a worker computed it


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
        many were done. Those left stay stale for the next run, and so does a story that
        changed while it was compared, or whose comparison failed (logged). With ``pool``,
        comparisons are computed (and encoded) in its workers, a few stories ahead of the one
        being stored; finished comparisons are stored up to ``SAVE_BATCH`` at a time."""
        version = self.store.clusters.active_version()
        if version is None:
            return 0
        stale = self.store.clusters.stale_comparisons(version, limit)
        outlets = self._outlets()
        done = 0
        batch: list[tuple[int, Comparison, int | None]] = []
        for item in self._computed(stale, outlets, stop, pool):
            if item is None:  # the next comparison is not ready: store those that are
                batch = self._save(batch)
                continue
            job, comparison = item
            batch.append((job.cluster_id, comparison, job.revision))
            done += 1
            if len(batch) >= SAVE_BATCH:
                batch = self._save(batch)
        self._save(batch)
        return done

    def compare(self, cluster_id: int, outlets: dict[str, OutletInfo]) -> dict[str, object]:
        return self._prepare(cluster_id, outlets).work.run()

    def _save(
        self, batch: list[tuple[int, Comparison, int | None]]
    ) -> list[tuple[int, Comparison, int | None]]:
        """Store ``batch`` in one transaction; returns a new, empty batch."""
        if batch:
            started = time.perf_counter()
            self.store.clusters.save_comparisons(batch, self.clock())
            ms = round((time.perf_counter() - started) * 1000, 1)
            for cluster_id, _, _ in batch:
                event(log, "comparison.saved", level=logging.DEBUG, cluster=cluster_id,
                      batch=len(batch), store_ms=ms)  # fmt: skip
        return []

    def _computed(
        self,
        stale: Sequence[tuple[int, int]],
        outlets: dict[str, OutletInfo],
        stop: Callable[[], bool],
        pool: WorkPool | None,
    ) -> Iterator[tuple[_Job, Comparison] | None]:
        """Each stale story's job with its comparison, in turn; None before waiting for one
        (a story whose comparison failed is left out: it stays stale)."""
        if pool is None:
            for cluster_id, revision in stale:
                if stop():
                    return
                yield None
                job = self._prepare(cluster_id, outlets, revision)
                if (comparison := _here(job)) is not None:
                    yield job, comparison
            return
        ahead = 2 * pool.size
        in_flight: deque[tuple[_Job, Future[JsonText]]] = deque()
        waiting = iter(stale)
        while True:
            while len(in_flight) < ahead and not stop():
                next_story = next(waiting, None)
                if next_story is None:
                    break
                cluster_id, revision = next_story
                job = self._prepare(cluster_id, outlets, revision)
                in_flight.append((job, pool.submit(job.work.encoded, timeout=POOL_TIMEOUT_S)))
            if not in_flight:
                return
            job, future = in_flight.popleft()
            if not future.done():
                yield None
            if (encoded := _pooled(job, future)) is not None:
                yield job, encoded

    def _prepare(
        self, cluster_id: int, outlets: dict[str, OutletInfo], revision: int | None = None
    ) -> _Job:
        members = self.store.clusters.members(cluster_id)
        chosen = select_members(members, MAX_ARTICLES)
        articles = self.store.articles.get_many([article_id for article_id, _ in chosen])
        revisions = self.store.articles.revisions_many([a.id for a in articles])
        groups = {article_id: record.copy_group for article_id, record in chosen}
        inputs = [compare_input(a, groups.get(a.id), revisions.get(a.id, [])) for a in articles]
        truncated = (len(chosen), len(members)) if len(chosen) < len(members) else None
        work = CompareJob(tuple(inputs), outlets, self.lexicons, self.clock(), truncated)
        return _Job(cluster_id, work, revision)

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
    run it) and the story's revision when its members were read (None: not known)."""

    cluster_id: int
    work: CompareJob
    revision: int | None


def _pooled(job: _Job, future: Future[JsonText]) -> Comparison | None:
    """The worker's comparison; computed here when the worker failed it."""
    try:
        return future.result()
    except Exception as exc:  # a crash or the time limit: as without a pool
        event(log, "comparison.pool_failed", level=logging.WARNING, cluster=job.cluster_id,
              error=repr(exc))  # fmt: skip
        return _here(job)


def _here(job: _Job) -> dict[str, object] | None:
    """The comparison computed in this process; None (logged) when it fails: one story's
    failure leaves that story stale and the others compared."""
    try:
        return job.work.run()
    except Exception as exc:  # a bug (its traceback is logged at DEBUG)
        event(log, "comparison.failed", level=logging.ERROR, cluster=job.cluster_id,
              error=repr(exc))  # fmt: skip
        log.debug("comparison of story %s failed", job.cluster_id, exc_info=True)
        return None
