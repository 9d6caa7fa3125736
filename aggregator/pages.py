"""The page stage: fetch each pending article's page, extract it in the process pool, store.

Pages are fetched by a thread pool (the fetcher keeps per-host delays and limits) and
extracted by a process pool that uses every core; one failing page never stops the rest.
When a page cannot be fetched (robots.txt, errors) or extracted, the feed's summary is kept
and the article is flagged; transient failures are retried a few times first.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from aggregator._call import redact
from aggregator.errors import ExtractError, FetchError, OriginPaused
from aggregator.extract_pool import PageInput
from aggregator.feedpoll import FetcherLike
from aggregator.log import bind, event
from aggregator.metrics import Metrics
from aggregator.normalize import html_to_text
from aggregator.pagepack import pack
from aggregator.types import DateSource, ExtractedPage, Flag, PageOutcome, PendingPage
from aggregator.writebehind import WriteBehind
from storage.store import Store

log = logging.getLogger("newsagg.pages")
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.3"
TRANSIENT = frozenset({"timeout", "network", "server_error", "rate_limited"})
MAX_ATTEMPTS = 3
WRITE_BATCH = 50  # finished pages stored per transaction, at most
# and at least this often: the clusterer (which runs alongside) gets pages in steps, so the last
# step, left to cluster after the last page while the extraction pool idles, is short; not much
# more often, as each transaction has a fixed cost (~13 ms of CPU on SQLite on the development
# machine, against ~0.5 ms a page)
WRITE_EVERY_S = 0.5


Progress = Callable[[str, int], None]


@dataclass(frozen=True, slots=True)
class PageJob:
    """One fetched page on its way to the extractor."""

    page: PendingPage
    html: bytes
    final_url: str
    content_type: str | None
    html_packed: bytes  # compressed in the fetch thread (zstd lets other threads run meanwhile)


class Extractor(Protocol):
    """Extracts many pages in parallel, yielding results as they finish
    (``aggregator.extract_pool.ExtractorPool`` provides it)."""

    def extract_many(
        self, pages: Iterable[PageInput[int]]
    ) -> Iterator[tuple[int, ExtractedPage | ExtractError]]: ...


@dataclass(frozen=True, slots=True)
class PageReport:
    claimed: int = 0
    extracted: int = 0
    summary_only: int = 0
    deferred: int = 0

    def __add__(self, other: PageReport) -> PageReport:
        return PageReport(
            self.claimed + other.claimed,
            self.extracted + other.extracted,
            self.summary_only + other.summary_only,
            self.deferred + other.deferred,
        )


class PageStage:
    def __init__(
        self,
        *,
        store: Store,
        fetcher: FetcherLike,
        extractor: Extractor,
        clock: Callable[[], datetime],
        owner: str,
        fetch_threads: int = 8,
        lease_s: float = 300.0,
        respect_robots: bool = True,
        metrics: Metrics | None = None,
        always_metadata: bool = False,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.extractor = extractor
        self.clock = clock
        self.owner = owner
        self.fetch_threads = fetch_threads
        self.lease_s = lease_s
        self.respect_robots = respect_robots
        self.metrics = metrics or Metrics()
        self.always_metadata = always_metadata
        self.on_stored: Callable[[], None] = lambda: None  # after each batch of pages is stored

    def run(
        self, limit: int, *, batch: int | None = None, progress: Progress | None = None
    ) -> PageReport:
        """Process up to ``limit`` pending pages, claimed ``batch`` at a time (all at once by
        default). Fetches run in threads while the pages already fetched are extracted in the
        process pool; the next batch is claimed while the last one is still being extracted,
        so the pool never drains between batches; results are stored in batches, by a thread of
        their own (``WriteBehind``), so the pool is fed while a batch is stored.

        When a claim finds only pages of this run still in flight (their lease ran out before
        they were stored: a lease shorter than a page takes), the run finishes what it has and
        starts again, so no page is left behind and none is taken twice at once."""
        total = PageReport()
        while total.claimed < limit:
            claims = _Claims(self, limit - total.claimed, batch or limit)
            total += self._run_claims(claims, progress)
            if not claims.cut_short:
                break
        return total

    def _run_claims(self, claims: _Claims, progress: Progress | None) -> PageReport:
        """One run of ``claims``; returns when every page it took is stored."""

        def store(batch: list[PageOutcome]) -> None:
            self._store(batch, progress)

        with WriteBehind(store, name="page-store") as writer:
            return self._extract_claims(claims, _Batches(writer))

    def _extract_claims(self, claims: _Claims, done: _Batches) -> PageReport:
        counts = {"extracted": 0, "summary_only": 0, "deferred": 0}
        fetched: dict[int, PageJob] = {}

        def inputs() -> Iterator[PageInput[int]]:
            for page, result in self._fetch_all(iter(claims)):
                if isinstance(result, PageJob):
                    fetched[page.article_id] = result
                    yield PageInput(
                        page.article_id,
                        result.html,
                        result.final_url,
                        result.content_type,
                        self.clock(),
                        metadata=self.always_metadata or not (page.title and page.published),
                    )
                elif result is None:
                    counts["deferred"] += 1
                else:
                    done.add(result)
                    counts["summary_only"] += 1

        for article_id, outcome in self.extractor.extract_many(inputs()):
            job = fetched.pop(article_id)
            if isinstance(outcome, ExtractError):
                event(log, "page.extract_failed", level=logging.WARNING, code=outcome.code)
                self.metrics.extraction_failed()
                done.add(summary_outcome(job.page, Flag.EXTRACT_FAILED))
                counts["summary_only"] += 1
            else:
                done.add(page_outcome(job, outcome))
                counts["extracted"] += 1
        done.flush()
        return PageReport(
            claims.count, counts["extracted"], counts["summary_only"], counts["deferred"]
        )

    def _store(self, batch: list[PageOutcome], progress: Progress | None) -> None:
        """Store one batch of finished pages (in the write-behind thread)."""
        self.store.articles.finish_pages(batch, self.clock())
        self.on_stored()
        if progress:
            progress("pages", len(batch))

    def _fetch_all(
        self, pages: Iterator[PendingPage]
    ) -> Iterator[tuple[PendingPage, PageJob | PageOutcome | None]]:
        """Fetch ``pages`` in threads, at most four times as many in flight as there are threads
        (the next page is taken from ``pages``, and so claimed, only when one finishes)."""
        with ThreadPoolExecutor(self.fetch_threads, thread_name_prefix="page") as pool:
            futures: dict[Future[PageJob | PageOutcome | None], PendingPage] = {}

            def top_up() -> None:
                while len(futures) < 4 * self.fetch_threads:
                    page = next(pages, None)
                    if page is None:
                        return
                    futures[pool.submit(self._fetch_one, page)] = page

            top_up()
            while futures:
                finished, _ = wait(futures, return_when=FIRST_COMPLETED)
                for future in finished:
                    yield futures.pop(future), future.result()
                top_up()

    def _fetch_one(self, page: PendingPage) -> PageJob | PageOutcome | None:
        with bind(outlet=page.outlet_id, article=page.article_id):
            if self.respect_robots and not self._robots_allow(page.url):
                event(log, "page.robots_disallowed", url=redact(page.url))
                return summary_outcome(page, Flag.ROBOTS_DISALLOWED)
            try:
                response = self.fetcher.fetch(
                    page.url,
                    accept=PAGE_ACCEPT,
                    resource=f"outlet {page.outlet_id!r}: page",
                    fingerprint=False,  # nothing keeps a page's body hash
                )
            except FetchError as exc:
                self.metrics.fetch("page", exc.code)
                return self._fetch_failed(page, exc)
            self.metrics.fetch("page", "ok")
            return PageJob(
                page,
                response.body,
                response.final_url,
                response.content_type,
                pack(response.body),
            )

    def _robots_allow(self, url: str) -> bool:
        try:
            return self.fetcher.robots_allows(url)
        except FetchError:
            return True  # robots.txt unreachable: allowed (RFC 9309, 2.3.1.3/2.3.1.4)

    def _fetch_failed(self, page: PendingPage, exc: FetchError) -> PageOutcome | None:
        paused = isinstance(exc, OriginPaused)  # nothing was sent
        attempts = page.attempts + (0 if paused else 1)
        event(log, "page.fetch_failed", level=logging.WARNING, code=exc.code, error=str(exc))
        if exc.code in TRANSIENT and attempts < MAX_ATTEMPTS:
            backoff = 0.0 if paused else 60.0 * 4**page.attempts
            wait = max(exc.retry_after_s or 0.0, backoff)
            self.store.articles.defer_page(
                page.article_id, self.clock() + timedelta(seconds=wait), attempts=attempts
            )
            return None
        return summary_outcome(page, Flag.FETCH_FAILED)


def summary_outcome(page: PendingPage, reason: Flag) -> PageOutcome:
    """Keep the feed's summary as the article's text, flagged with why."""
    return PageOutcome(
        article_id=page.article_id,
        text=html_to_text(page.summary),
        flags=frozenset({Flag.SUMMARY_ONLY.value, reason.value}),
    )


def page_outcome(job: PageJob, page: ExtractedPage) -> PageOutcome:
    """What we keep of an extracted page: its text when there is some, else the summary."""
    text = page.text.strip()
    flags = set(page.flags)
    if not text:
        text = html_to_text(job.page.summary)
        flags.add(Flag.SUMMARY_ONLY.value)
    return PageOutcome(
        article_id=job.page.article_id,
        text=text,
        flags=frozenset(flags),
        title=page.title,
        author=page.author,
        language=page.language,
        published=page.published,
        published_source=DateSource.PAGE if page.published else None,
        extractor=page.extractor,
        html_packed=job.html_packed,
        final_url=job.final_url,
        content_type=job.content_type,
    )


class _Batches:
    """Finished pages gathered into batches for the writer: ``WRITE_BATCH`` pages, or what
    came in ``WRITE_EVERY_S``, whichever is first."""

    def __init__(self, writer: WriteBehind[list[PageOutcome]]) -> None:
        self.writer = writer
        self.pages: list[PageOutcome] = []
        self.started = time.monotonic()

    def add(self, outcome: PageOutcome) -> None:
        self.pages.append(outcome)
        if len(self.pages) >= WRITE_BATCH or time.monotonic() - self.started >= WRITE_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.pages:
            self.writer.put(self.pages)
            self.pages = []
        self.started = time.monotonic()


class _Claims:
    """The pages of one run, claimed ``batch`` at a time as they are asked for, up to
    ``limit``; stops when a claim finds nothing new."""

    def __init__(self, stage: PageStage, limit: int, batch: int) -> None:
        self.stage, self.limit, self.batch = stage, limit, batch
        self.count = 0
        self.cut_short = False  # a claim found only pages of this run, still in flight
        self._seen: set[int] = set()

    def __iter__(self) -> Iterator[PendingPage]:
        while self.count < self.limit:
            stage = self.stage
            pages = stage.store.articles.claim_pending(
                stage.clock(),
                owner=stage.owner,
                lease_s=stage.lease_s,
                limit=min(self.batch, self.limit - self.count),
            )
            fresh = [page for page in pages if page.article_id not in self._seen]
            if not fresh:
                self.cut_short = bool(pages)
                return
            self._seen.update(page.article_id for page in fresh)
            self.count += len(fresh)
            yield from fresh
