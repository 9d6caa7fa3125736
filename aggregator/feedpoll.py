"""Polling one feed: fetch -> parse -> store new entries -> save the feed's schedule.

The order is what makes a killed poll safe: entries are committed before the feed's
validators and schedule advance, so a rerun fetches the same document again and the unique
keys turn it into no new rows.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from aggregator import policy
from aggregator.errors import FetchError, NewsaggError, ParseError
from aggregator.log import bind, event
from aggregator.metrics import Metrics
from aggregator.normalize import html_to_text
from aggregator.parse import parse_feed_limited
from aggregator.settings import Settings
from aggregator.types import (
    ArticleDraft,
    DateSource,
    Feed,
    FeedItem,
    FetchedResponse,
    ParsedFeed,
    Validators,
)
from aggregator.workpool import WorkPool
from storage.feeds import FetchLogEntry
from storage.store import Store

log = logging.getLogger("newsagg.poll")
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
    "application/rdf+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True, slots=True)
class FeedReport:
    feed_id: int
    outlet_id: str
    result: str  # new, unchanged, not_modified, error
    new: int = 0
    revised: int = 0
    error_code: str | None = None
    error: str | None = None


class FeedPoller:
    """Polls feeds with an injected fetcher, parse pool, store and clock."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        fetcher: FetcherLike,
        parse_pool: WorkPool,
        clock: Callable[[], datetime],
        owner: str,
        seed: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.fetcher = fetcher
        self.parse_pool = parse_pool
        self.clock = clock
        self.owner = owner
        self.metrics = metrics or Metrics()
        self._rng = random.Random(seed)  # noqa: S311 - jitter, not cryptography
        self._rng_lock = threading.Lock()

    def poll(self, feed: Feed) -> FeedReport:
        with bind(outlet=feed.outlet_id, feed=feed.id):
            try:
                return self._poll(feed)
            except NewsaggError as exc:  # storage trouble: leave the lease to expire
                event(log, "feed.failed", level=logging.ERROR, code=exc.code, error=str(exc))
                return FeedReport(feed.id, feed.outlet_id, "error", error_code=exc.code)

    def _poll(self, feed: Feed) -> FeedReport:
        now = self.clock()
        unconditional = policy.needs_unconditional(
            feed.last_unconditional_at, now, self.settings.fetch.unconditional_every_h
        )
        try:
            response = self.fetcher.fetch(
                feed.url,
                validators=Validators(feed.etag, feed.last_modified, feed.body_hash),
                accept=FEED_ACCEPT,
                resource=f"outlet {feed.outlet_id!r}: feed",
                unconditional=unconditional,
            )
        except FetchError as exc:
            return self._failed(feed, now, exc, status=exc.status)
        if unconditional:
            feed = replace(feed, last_unconditional_at=now)
        if response.not_modified:
            return self._not_modified(feed, now, response)
        try:
            parsed = parse_feed_limited(
                self.parse_pool,
                response.body,
                dict(response.headers),
                response.final_url,
                now,
                self.settings.parse.timeout_s,
            )
        except ParseError as exc:
            return self._failed(feed, now, exc, status=response.status, response=response)
        return self._store(feed, now, response, parsed)

    def _store(
        self, feed: Feed, now: datetime, response: FetchedResponse, parsed: ParsedFeed
    ) -> FeedReport:
        items = parsed.items[: self.settings.poll.max_items_per_feed]
        drafts = [draft_from_item(feed, item, now) for item in items]
        result = self.store.articles.insert_drafts(
            drafts, now, max_revisions=self.settings.poll.max_revisions_per_article
        )
        saved = self._succeeded(feed, now, response, parsed.ttl_minutes)
        if result.new_ids:
            saved = replace(saved, last_new_item_at=now)
        self.store.feeds.save_feed(saved, status=response.status, owner=self.owner)
        self._log(feed, now, response, "ok", new_items=len(result.new_ids))
        self.metrics.fetch("feed", "ok")
        self.metrics.articles_stored(len(result.new_ids))
        event(
            log,
            "feed.polled",
            items=len(items),
            new=len(result.new_ids),
            revised=len(result.revised_ids),
            bozo=parsed.bozo or None,
        )
        outcome = "new" if result.new_ids else "unchanged"
        return FeedReport(
            feed.id, feed.outlet_id, outcome, len(result.new_ids), len(result.revised_ids)
        )

    def _not_modified(self, feed: Feed, now: datetime, response: FetchedResponse) -> FeedReport:
        saved = self._succeeded(feed, now, response, None)
        self.store.feeds.save_feed(saved, status=response.status, owner=self.owner)
        self._log(feed, now, response, "not_modified")
        self.metrics.fetch("feed", "not_modified")
        event(log, "feed.not_modified", status=response.status, level=logging.DEBUG)
        return FeedReport(feed.id, feed.outlet_id, "not_modified")

    def _failed(
        self,
        feed: Feed,
        now: datetime,
        exc: NewsaggError,
        *,
        status: int | None,
        response: FetchedResponse | None = None,
    ) -> FeedReport:
        retry_after = exc.retry_after_s if isinstance(exc, FetchError) else None
        with self._rng_lock:
            schedule = policy.after_error(
                now,
                interval_minutes=feed.interval_minutes,
                error_count=feed.error_count,
                code=exc.code,
                settings=self.settings.poll,
                rng=self._rng,
                retry_after_s=retry_after,
            )
        saved = replace(
            feed,
            next_check_at=schedule.next_check_at,
            error_count=schedule.error_count,
            state=schedule.state,
            last_error=str(exc)[:2000],
            last_error_code=exc.code,
            last_fetched_at=now,
        )
        self.store.feeds.save_feed(saved, status=status, owner=self.owner)
        self.metrics.fetch("feed", exc.code)
        self.store.feeds.log_fetches(
            [
                FetchLogEntry(
                    kind="feed",
                    url=feed.url,
                    started_at=now,
                    result="error",
                    feed_id=feed.id,
                    outlet_id=feed.outlet_id,
                    elapsed_ms=int((response.elapsed_s if response else 0) * 1000),
                    status=status,
                    error_code=exc.code,
                    error_message=str(exc),
                    bytes=len(response.body) if response else 0,
                )
            ]
        )
        event(
            log,
            "feed.error",
            level=logging.WARNING,
            code=exc.code,
            status=status,
            errors=schedule.error_count,
            next_check=schedule.next_check_at.isoformat(timespec="seconds"),
            error=exc.message,
        )
        return FeedReport(feed.id, feed.outlet_id, "error", error_code=exc.code, error=str(exc))

    def _succeeded(
        self, feed: Feed, now: datetime, response: FetchedResponse, ttl: int | None
    ) -> Feed:
        """``feed`` after an answer (200 or 304): its validators, next check and no error."""
        with self._rng_lock:
            schedule = policy.after_success(
                now,
                feed.interval_minutes,
                self.settings.poll,
                self._rng,
                ttl_minutes=ttl,
                headers=response.headers,
            )
        return replace(
            _with_validators(feed, response),
            next_check_at=schedule.next_check_at,
            error_count=0,
            state=schedule.state,
            last_error=None,
            last_error_code=None,
            last_fetched_at=now,
            last_success_at=now,
        )

    def _log(
        self,
        feed: Feed,
        now: datetime,
        response: FetchedResponse,
        result: str,
        *,
        new_items: int = 0,
    ) -> None:
        self.store.feeds.log_fetches(
            [
                FetchLogEntry(
                    kind="feed",
                    url=feed.url,
                    started_at=now,
                    result=result,
                    feed_id=feed.id,
                    outlet_id=feed.outlet_id,
                    elapsed_ms=int(response.elapsed_s * 1000),
                    status=response.status,
                    bytes=len(response.body),
                    new_items=new_items,
                )
            ]
        )


class FetcherLike(Protocol):
    """What the pipeline needs of a fetcher (``aggregator.fetch.Fetcher`` provides it)."""

    def fetch(
        self,
        url: str,
        *,
        validators: Validators | None = None,
        accept: str = "*/*",
        resource: str = "",
        unconditional: bool = False,
        fingerprint: bool = True,
    ) -> FetchedResponse: ...

    def robots_allows(self, url: str) -> bool: ...


def _with_validators(feed: Feed, response: FetchedResponse) -> Feed:
    return replace(
        feed,
        etag=response.etag or feed.etag,
        last_modified=response.last_modified or feed.last_modified,
        body_hash=response.body_hash or feed.body_hash,
    )


def draft_from_item(feed: Feed, item: FeedItem, now: datetime) -> ArticleDraft:
    """The article a feed entry announces, before its page is fetched."""
    has_page = bool(item.url and item.url.startswith(("http://", "https://")))
    canonical = item.url if has_page and item.url else f"urn:newsagg:{feed.outlet_id}:{item.key}"
    summary_text = html_to_text(item.summary)
    return ArticleDraft(
        outlet_id=feed.outlet_id,
        feed_id=feed.id,
        canonical_url=canonical,
        url=item.link or item.url or canonical,
        entry_key=item.key,
        guid=item.guid,
        title=item.title,
        text="" if has_page else summary_text,
        summary=item.summary,
        author=item.author,
        published=item.published,
        published_raw=item.published_raw,
        published_source=DateSource.FEED if item.published else DateSource.FIRST_SEEN,
        first_seen=now,
        content_hash=_hash(summary_text or item.title),
        item_hash=item.content_hash,
        flags=item.flags if has_page else item.flags | {"summary_only"},
        pending=has_page,
    )


def _hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).encode("utf-8")).hexdigest()
