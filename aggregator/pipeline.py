"""The imperative shell: poll feeds -> fetch and extract pages -> cluster -> store.

Each stage reads its work from the database and commits its results, so the stages can run
in one process (``newsagg run``, ``poll --once``) or be spread over workers; a stage that dies
leaves its leases to expire and its work to the next run.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from aggregator.errors import NewsaggError
from aggregator.feedpoll import FeedPoller, FeedReport
from aggregator.log import event
from aggregator.pages import PageReport, PageStage
from aggregator.types import Feed
from aggregator.workpool import WorkPool
from storage.store import Store

log = logging.getLogger("newsagg.pipeline")
Progress = Callable[[str, int], None]  # (stage, items done)
_FOLLOW_IDLE_S = 0.2  # the clustering follower looks again after this long without news
# after a batch, the follower lets the page stage store this long before it looks again: a
# clustering batch has a fixed cost (its reads, its writes, a commit: ~13 ms of CPU on SQLite,
# ~20 on PostgreSQL on the development machine), paid by ~10 articles a batch when it followed
# every 0.25 s store; what is gathered at the end of a pass is clustered after the last page
_FOLLOW_GATHER_S = 0.5


class ClusterStage(Protocol):
    def run(self, limit: int) -> int:
        """Cluster up to ``limit`` ready articles; returns how many were handled."""
        ...

    def refresh(
        self, limit: int, stop: Callable[[], bool] = ..., pool: WorkPool | None = None
    ) -> int:
        """Recompute up to ``limit`` stale comparisons, until ``stop()``, in ``pool``'s
        workers when given; returns how many."""
        ...


@dataclass
class PassReport:
    feeds: list[FeedReport] = field(default_factory=list)
    pages: PageReport = field(default_factory=PageReport)
    clustered: int = 0
    compared: int = 0

    @property
    def new_articles(self) -> int:
        return sum(r.new for r in self.feeds)

    @property
    def failed_feeds(self) -> list[FeedReport]:
        return [r for r in self.feeds if r.result == "error"]


class Pipeline:
    def __init__(
        self,
        *,
        store: Store,
        poller: FeedPoller,
        pages: PageStage,
        clusterer: ClusterStage | None,
        clock: Callable[[], datetime],
        owner: str,
        feed_workers: int = 8,
        feeds_per_claim: int = 50,
        lease_s: float = 300.0,
        page_batch: int = 50,
        cluster_batch: int = 500,
        compare_pool: WorkPool | None = None,
    ) -> None:
        self.store = store
        self.poller = poller
        self.pages = pages
        self.clusterer = clusterer
        self.clock = clock
        self.owner = owner
        self.feed_workers = feed_workers
        self.feeds_per_claim = feeds_per_claim
        self.lease_s = lease_s
        self.page_batch = page_batch
        self.cluster_batch = cluster_batch
        # the workers that compute comparisons: the extraction pool (``run_once`` once its
        # pages are done; the service's comparison job with the pages, a few at a time)
        self.compare_pool = compare_pool
        self._on_new_articles: Callable[[], None] = lambda: None  # see ingest

    def poll_feeds(
        self,
        *,
        include_not_due: bool = False,
        outlet_id: str | None = None,
        max_feeds: int | None = None,
        progress: Progress | None = None,
    ) -> list[FeedReport]:
        """Poll due feeds (or all of them) until none is left or ``max_feeds`` were done."""
        reports: list[FeedReport] = []
        seen: set[int] = set()
        with ThreadPoolExecutor(self.feed_workers, thread_name_prefix="feed") as pool:
            while max_feeds is None or len(reports) < max_feeds:
                batch = self._claim(include_not_due, outlet_id, seen, max_feeds, len(reports))
                if not batch:
                    break
                seen.update(feed.id for feed in batch)
                for report in pool.map(self.poller.poll, batch):
                    reports.append(report)
                    if report.new:
                        self._on_new_articles()
                    if progress:
                        progress("feeds", 1)
        return reports

    def _claim(
        self,
        include_not_due: bool,
        outlet_id: str | None,
        seen: set[int],
        max_feeds: int | None,
        done: int,
    ) -> list[Feed]:
        limit = self.feeds_per_claim
        if max_feeds is not None:
            limit = min(limit, max_feeds - done)
        if include_not_due:
            limit += len(seen)  # every feed once: skip those already polled in this pass
        claimed = self.store.feeds.claim_due(
            self.clock(),
            owner=self.owner,
            lease_s=self.lease_s,
            limit=limit,
            outlet_id=outlet_id,
            include_not_due=include_not_due,
        )
        fresh = [feed for feed in claimed if feed.id not in seen]
        again = [feed.id for feed in claimed if feed.id in seen]
        if again:
            self.store.feeds.release(again, self.owner)
        return fresh

    def process_pages(
        self, *, max_pages: int | None = None, progress: Progress | None = None
    ) -> PageReport:
        """Fetch and extract pending pages until none is left (or ``max_pages``)."""
        limit = sys.maxsize if max_pages is None else max_pages
        return self.pages.run(limit, batch=self.page_batch, progress=progress)

    def cluster(self, *, progress: Progress | None = None) -> int:
        """Cluster every article that is ready."""
        if self.clusterer is None:
            return 0
        total = 0
        while True:
            done = self.clusterer.run(self.cluster_batch)
            total += done
            if progress and done:
                progress("cluster", done)
            if done < self.cluster_batch:  # it took all that was ready
                return total

    def compare(
        self,
        *,
        limit: int | None = None,
        progress: Progress | None = None,
        stop: Callable[[], bool] = lambda: False,
        pool: WorkPool | None = None,
    ) -> int:
        """Recompute stale comparisons (all of them, or up to ``limit``), until ``stop()``
        says so between two stories; in ``pool``'s workers when given."""
        if self.clusterer is None:
            return 0
        total = 0
        while (limit is None or total < limit) and not stop():
            batch = 100 if limit is None else min(100, limit - total)
            done = self.clusterer.refresh(batch, stop, pool)
            total += done
            if progress and done:
                progress("compare", done)
            if done == 0:
                break
        return total

    def run_once(
        self,
        *,
        include_not_due: bool = False,
        outlet_id: str | None = None,
        progress: Progress | None = None,
    ) -> PassReport:
        """One whole pass: feeds and their pages (see ``ingest``), then clustering."""
        report = self.ingest(
            lambda: self.poll_feeds(
                include_not_due=include_not_due, outlet_id=outlet_id, progress=progress
            ),
            progress=progress,
        )
        report.compared = self.compare(progress=progress, pool=self.compare_pool)
        event(
            log,
            "pass.done",
            feeds=len(report.feeds),
            failed=len(report.failed_feeds),
            new=report.new_articles,
            pages=report.pages.claimed,
            extracted=report.pages.extracted,
            clustered=report.clustered,
            compared=report.compared,
        )
        return report

    def tick(self, *, max_feeds: int, max_pages: int) -> PassReport:
        """The scheduler's job: a bounded slice of each stage."""
        return self.ingest(lambda: self.poll_feeds(max_feeds=max_feeds), max_pages=max_pages)

    def ingest(
        self,
        poll: Callable[[], list[FeedReport]],
        *,
        max_pages: int | None = None,
        progress: Progress | None = None,
    ) -> PassReport:
        """Feeds, their pages and their clustering, overlapped: ``poll`` (a ``poll_feeds``
        call) runs in a thread while this one fetches and extracts the pages of every feed
        already stored, and the articles extracted are clustered meanwhile; what is left to
        cluster after the last page is clustered last. The extraction pool so starts on the
        first feed's pages instead of idling until the last feed is parsed."""
        report = PassReport()
        news = threading.Event()
        self._on_new_articles = news.set
        try:
            with (
                ThreadPoolExecutor(1, thread_name_prefix="feeds") as runner,
                self._clustering_alongside(progress) as clustered,
            ):
                polled = runner.submit(poll)
                while max_pages is None or report.pages.claimed < max_pages:
                    feeds_done = polled.done()  # before looking: nothing stored goes unseen
                    news.clear()
                    left = None if max_pages is None else max_pages - report.pages.claimed
                    report.pages += self.process_pages(max_pages=left, progress=progress)
                    if feeds_done:
                        break
                    news.wait(_FOLLOW_IDLE_S)
                report.feeds = polled.result()
        finally:
            self._on_new_articles = lambda: None
        report.clustered = clustered[0] + self.cluster(progress=progress)
        return report

    @contextmanager
    def _clustering_alongside(self, progress: Progress | None) -> Iterator[list[int]]:
        """Cluster the articles already extracted while the next pages are fetched and
        extracted: the clusterer's work then runs while this process mostly waits on the
        extraction pool, instead of after it. Yields a one-item list: how many it did."""
        done = [0]
        if self.clusterer is None:
            yield done
            return
        stop, stored = threading.Event(), threading.Event()

        def follow() -> None:
            try:
                while not stop.is_set():
                    stored.clear()  # before looking: a batch stored from now on wakes it
                    count = self.cluster(progress=progress)
                    done[0] += count
                    if count:
                        stop.wait(_FOLLOW_GATHER_S)
                    else:  # until the page stage stores more pages
                        stored.wait(_FOLLOW_IDLE_S)
            except NewsaggError as exc:  # left for the pass's own clustering step after
                event(log, "cluster.follower_stopped", level=logging.WARNING, error=str(exc))

        follower = threading.Thread(target=follow, name="cluster-follower", daemon=True)
        self.pages.on_stored = stored.set
        follower.start()
        try:
            yield done
        finally:
            self.pages.on_stored = lambda: None
            stop.set()
            stored.set()
            follower.join()
