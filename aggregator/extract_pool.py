"""``extract_page`` on every core, with a time limit per page (the pipeline's extraction stage).

One hung or exploding page never stops the rest: ``aggregator.workpool.WorkPool`` kills a
worker that overruns ``ExtractSettings.timeout_s`` and replaces it, and a worker that dies
fails only its own page. Each outcome comes back as a value, not an exception::

    with ExtractorPool(settings.extract) as pool:
        for key, outcome in pool.extract_many(pages):
            if isinstance(outcome, ExtractError):   # code: extract_timeout, extract_crashed,
                ...                                 # extract_failed; resource: the page URL
            else:
                ...                                 # an ExtractedPage, flags and all

Traffic between processes stays small: the page bytes (cut at the size cap plus one byte, so
the worker still sees that the page was too big) go out, the ``ExtractedPage`` comes back;
trees and intermediate text stay in the worker. At most ``window`` pages are in flight, so a
long iterator of pages is never held in memory at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from aggregator.errors import ExtractError
from aggregator.extract import extract_page
from aggregator.settings import ExtractSettings
from aggregator.types import ExtractedPage
from aggregator.workpool import TaskCrashed, TaskTimeout, WorkPool

K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class PageInput(Generic[K]):
    """One fetched page to extract; ``key`` is the caller's, handed back with the outcome."""

    key: K
    html: bytes
    url: str
    content_type: str | None = None
    fetched_at: datetime | None = None  # the ``now`` that bounds the page's date
    metadata: bool = True  # False: text only (the feed already gave the title and the date)


@dataclass(frozen=True, slots=True)
class ExtractJob:
    """What goes to a worker process: the page bytes and the settings that apply."""

    html: bytes
    url: str
    content_type: str | None
    min_text_chars: int
    max_html_bytes: int
    now: datetime | None
    metadata: bool = True


ExtractTask = Callable[[ExtractJob], ExtractedPage]


def run_extraction(job: ExtractJob) -> ExtractedPage:
    """``extract_page`` on one job: what a worker process runs."""
    return extract_page(
        job.html,
        url=job.url,
        content_type=job.content_type,
        min_text_chars=job.min_text_chars,
        max_html_bytes=job.max_html_bytes,
        now=job.now,
        metadata=job.metadata,
    )


class ExtractorPool:
    """Extraction in worker processes (``settings.workers``; 0 means one per core).

    ``pool`` shares an existing ``WorkPool`` (then the caller closes it); ``task`` replaces
    ``run_extraction`` (tests use it to plant hangs and crashes).
    """

    def __init__(
        self,
        settings: ExtractSettings | None = None,
        *,
        pool: WorkPool | None = None,
        task: ExtractTask = run_extraction,
        window: int | None = None,
    ) -> None:
        self.settings = settings or ExtractSettings()
        self._owns_pool = pool is None
        self._pool = pool or WorkPool(
            self.settings.workers, name="extract", nice=self.settings.nice
        )
        self._task = task
        self.window = window or 4 * self._pool.size

    @property
    def pool(self) -> WorkPool:
        """The worker processes (shared with other pure work when extraction is idle)."""
        return self._pool

    @property
    def size(self) -> int:
        """How many worker processes extract at once."""
        return self._pool.size

    def extract(self, page: PageInput[K]) -> ExtractedPage:
        """Extract one page in a worker; raises ``ExtractError`` on a timeout or a crash."""
        outcome = self._outcome(self._submit(page), page)
        if isinstance(outcome, ExtractError):
            raise outcome
        return outcome

    def extract_many(
        self, pages: Iterable[PageInput[K]]
    ) -> Iterator[tuple[K, ExtractedPage | ExtractError]]:
        """Yield ``(key, ExtractedPage | ExtractError)`` for every page, as each finishes."""
        source = iter(pages)
        pending: dict[Future[ExtractedPage], PageInput[K]] = {}
        try:
            self._fill(pending, source)
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    page = pending.pop(future)
                    yield page.key, self._outcome(future, page)
                self._fill(pending, source)
        finally:
            for future in pending:  # the caller stopped early: drop what has not started
                future.cancel()

    def close(self) -> None:
        if self._owns_pool:
            self._pool.close()

    def __enter__(self) -> ExtractorPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fill(
        self, pending: dict[Future[ExtractedPage], PageInput[K]], source: Iterator[PageInput[K]]
    ) -> None:
        while len(pending) < self.window:
            page = next(source, None)
            if page is None:
                return
            pending[self._submit(page)] = page

    def _submit(self, page: PageInput[K]) -> Future[ExtractedPage]:
        cap = self.settings.max_html_bytes
        job = ExtractJob(
            html=page.html[: cap + 1],
            url=page.url,
            content_type=page.content_type,
            min_text_chars=self.settings.min_text_chars,
            max_html_bytes=cap,
            now=page.fetched_at,
            metadata=page.metadata,
        )
        return self._pool.submit(self._task, job, timeout=self.settings.timeout_s)

    def _outcome(
        self, future: Future[ExtractedPage], page: PageInput[K]
    ) -> ExtractedPage | ExtractError:
        try:
            return future.result()
        except TaskTimeout:
            limit = self.settings.timeout_s
            return ExtractError(
                f"extraction took longer than {limit:g}s", code="extract_timeout", resource=page.url
            )
        except TaskCrashed as exc:
            return ExtractError(
                f"extractor process died: {exc.message}", code="extract_crashed", resource=page.url
            )
        except ExtractError as exc:  # raised by extract_page in the worker (code, resource kept)
            return exc
        except Exception as exc:  # anything else the task raised
            return ExtractError(
                f"extraction failed: {exc!r}", code="extract_failed", resource=page.url
            )
