"""The jobs a running service ticks: a slice of the pipeline, retention, a heartbeat.

Every process (``run`` or any number of ``worker``s) ticks the pipeline: feeds and pages are
shared out by leases in the database. Singleton work (clustering, comparison refresh,
retention) runs only in the process that holds the singleton lock; the clusterer checks the
lock itself, retention here.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from aggregator.log import bind, event
from aggregator.pipeline import Pipeline
from aggregator.settings import Settings
from storage.store import Store

log = logging.getLogger("newsagg.jobs")


class Lock(Protocol):
    def acquire(self) -> bool: ...


@dataclass
class Jobs:
    settings: Settings
    store: Store
    pipeline: Pipeline
    owner: str
    kind: str
    clock: Callable[[], datetime]
    singleton: Lock
    started_at: datetime
    stopping: threading.Event = field(default_factory=threading.Event)  # set at shutdown

    def table(self) -> dict[str, tuple[Callable[[], object], float]]:
        """name -> (function, interval seconds), for ``aggregator.service.Service``."""
        return {
            "tick": (self.tick, self.settings.poll.tick_seconds),
            "compare": (self.compare, max(self.settings.poll.tick_seconds, 10.0)),
            "retention": (self.retention, self.settings.retention.every_hours * 3600),
            "heartbeat": (self.heartbeat, 30.0),
        }

    def tick(self) -> None:
        poll = self.settings.poll
        with bind(job=f"tick-{uuid.uuid4().hex[:8]}", worker=self.owner):
            report = self.pipeline.tick(
                max_feeds=poll.feeds_per_tick, max_pages=poll.feeds_per_tick * 4
            )
            if report.feeds or report.pages.claimed or report.clustered:
                event(
                    log,
                    "tick.done",
                    feeds=len(report.feeds),
                    failed=len(report.failed_feeds),
                    new=report.new_articles,
                    pages=report.pages.claimed,
                    clustered=report.clustered,
                )

    def compare(self) -> None:
        """Stale comparisons, in their own job: a story that keeps growing is compared at most
        once per run of this job, not after every article. They are computed in the
        extraction workers (a few at a time, queued with the pages), not in this process,
        whose threads feed those workers and serve the scheduler."""
        with bind(job=f"compare-{uuid.uuid4().hex[:8]}", worker=self.owner):
            done = self.pipeline.compare(
                limit=200, stop=self.stopping.is_set, pool=self.pipeline.compare_pool
            )
            if done:
                event(log, "compare.done", comparisons=done)

    def retention(self) -> None:
        if not self.singleton.acquire():
            return
        now = self.clock()
        keep = self.settings.retention
        with bind(job=f"retention-{uuid.uuid4().hex[:8]}", worker=self.owner):
            html = self.store.workers.drop_html(now - timedelta(days=keep.html_days))
            fetches = self.store.workers.prune_fetch_log(now - timedelta(days=keep.fetch_log_days))
            workers = self.store.workers.prune_workers(now - timedelta(days=1))
            event(
                log, "retention.done", html_dropped=html, fetch_log_pruned=fetches, workers=workers
            )

    def heartbeat(self) -> None:
        self.store.workers.heartbeat(
            self.owner,
            kind=self.kind,
            started_at=self.started_at,
            now=self.clock(),
            info={"singleton": getattr(self.singleton, "held", False)},
        )
