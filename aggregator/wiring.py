"""Composition: builds the store, fetcher, pools and pipeline from settings, once.

The CLI (the composition root) asks for a ``Runtime`` and closes it when done; tests build one
the same way, pointed at local servers and temporary databases.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aggregator.extract_pool import ExtractorPool
from aggregator.feedpoll import FeedPoller
from aggregator.fetch import Fetcher
from aggregator.metrics import Metrics
from aggregator.outlets import load_outlets
from aggregator.pages import PageStage
from aggregator.pipeline import ClusterStage, Pipeline
from aggregator.settings import Settings
from aggregator.workpool import WorkPool, preload
from storage.db import migrate
from storage.feeds import SyncReport
from storage.store import Store

# what the worker processes run: the fork server imports them once (see workpool.preload)
WORKER_MODULES = ("aggregator.parse", "aggregator.extract_pool", "aggregator.compare")


def utc_now() -> datetime:
    return datetime.now(UTC)


def worker_id(kind: str) -> str:
    """A name for this process that is unique across hosts and restarts."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def open_store(settings: Settings, *, migrate_first: bool = False) -> Store:
    url = settings.database.url
    if migrate_first:
        migrate(url)
    return Store.open(
        url,
        busy_timeout_ms=settings.database.busy_timeout_ms,
        pool_size=settings.database.pool_size,
    )


def sync_outlets(store: Store, settings: Settings) -> SyncReport:
    """Load the outlets file into the database (adds and updates; never deletes)."""
    outlets = load_outlets(settings.outlets_path)
    return store.feeds.sync_outlets(
        outlets, default_interval=settings.poll.default_interval_minutes, now=utc_now()
    )


@dataclass
class Runtime:
    """Everything a polling process holds; ``close()`` releases processes and connections."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    parse_pool: WorkPool
    extractor: ExtractorPool
    pipeline: Pipeline
    owner: str

    def close(self) -> None:
        self.extractor.close()
        self.parse_pool.close()
        self.fetcher.close()
        self.store.close()


def build_runtime(
    settings: Settings,
    store: Store,
    *,
    kind: str = "worker",
    clusterer: ClusterStage | None = None,
    metrics: Metrics | None = None,
) -> Runtime:
    owner = worker_id(kind)
    metrics = metrics or Metrics()
    # several workers on PostgreSQL keep each host's delay through a schedule in the database
    shared = store.workers.reserve_host if store.dialect == "postgresql" else None
    fetcher = Fetcher(settings.fetch, host_schedule=shared)
    preload(*WORKER_MODULES)
    parse_pool = WorkPool(max(1, settings.parse.workers), name="parse", nice=settings.service.nice)
    extractor = ExtractorPool(settings.extract)
    poller = FeedPoller(
        store=store,
        settings=settings,
        fetcher=fetcher,
        parse_pool=parse_pool,
        clock=utc_now,
        owner=owner,
        metrics=metrics,
    )
    pages = PageStage(
        store=store,
        fetcher=fetcher,
        extractor=extractor,
        clock=utc_now,
        owner=owner,
        fetch_threads=settings.poll.feed_workers,
        lease_s=settings.poll.lease_seconds,
        respect_robots=settings.fetch.respect_robots,
        metrics=metrics,
        always_metadata=settings.extract.page_metadata == "always",
    )
    pipeline = Pipeline(
        store=store,
        poller=poller,
        pages=pages,
        clusterer=clusterer,
        clock=utc_now,
        owner=owner,
        feed_workers=settings.poll.feed_workers,
        feeds_per_claim=settings.poll.feeds_per_tick,
        lease_s=settings.poll.lease_seconds,
        compare_pool=extractor.pool,
    )
    return Runtime(settings, store, fetcher, parse_pool, extractor, pipeline, owner)
