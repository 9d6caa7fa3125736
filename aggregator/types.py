"""Domain types shared by the pipeline stages.

Frozen dataclasses; every datetime is timezone-aware UTC. The suffix of a name says which
stage made it: ``...Config`` as configured, ``Fetched...`` off the network, ``Parsed...`` /
``FeedItem`` as parsed, ``Extracted...`` out of the extractor, ``...Draft`` ready to store,
plain names (``Feed``, ``Article``) as stored.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


class FeedState(enum.StrEnum):
    ACTIVE = "active"
    GONE = "gone"  # the server answered 410: not polled again unless re-enabled
    DISABLED = "disabled"  # the operator turned it off


class DateSource(enum.StrEnum):
    """Where an article's published time came from."""

    FEED = "feed"
    PAGE = "page"
    FIRST_SEEN = "first_seen"
    IMPORT = "import"


class Flag(enum.StrEnum):
    """Quality flags stored with an article."""

    TRUNCATED = "truncated"
    REPEATED_TEXT = "repeated_text"
    INDEX_PAGE = "index_page"
    NOT_HTML = "not_html"
    TOO_SHORT = "too_short"
    SUMMARY_ONLY = "summary_only"  # page not fetched or not extracted: the feed's summary kept
    ROBOTS_DISALLOWED = "robots_disallowed"
    FETCH_FAILED = "fetch_failed"
    EXTRACT_FAILED = "extract_failed"
    FUTURE_DATE = "future_date"
    BAD_DATE = "bad_date"
    NON_LATIN = "non_latin"
    EMPTY_TEXT = "empty_text"
    BOILERPLATE = "boilerplate"
    GIGANTIC = "gigantic"


@dataclass(frozen=True, slots=True)
class OutletConfig:
    """One outlet as configured in ``config/outlets.toml``."""

    id: str
    name: str
    homepage: str
    country: str
    language: str
    feeds: tuple[str, ...]
    labels: Mapping[str, str] = field(default_factory=dict)
    interval_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class Outlet:
    """An outlet as stored."""

    id: str
    name: str
    homepage: str
    country: str
    language: str
    labels: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed as stored, with what the next fetch needs."""

    id: int
    outlet_id: str
    url: str
    state: FeedState
    interval_minutes: int
    next_check_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    error_count: int = 0
    last_error: str | None = None
    last_error_code: str | None = None
    last_fetched_at: datetime | None = None
    last_success_at: datetime | None = None
    last_unconditional_at: datetime | None = None
    last_new_item_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Validators:
    """What a conditional GET sends back to the server."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True, slots=True)
class FetchedResponse:
    """A completed fetch. ``not_modified`` is True for a 304 and for a 200 whose body hash
    equals the one we sent in; then ``body`` may be empty."""

    url: str
    final_url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    fetched_at: datetime
    elapsed_s: float
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a parsed feed. ``key`` is stable across polls: guid, else canonical
    link, else a hash of the content."""

    key: str
    url: str | None  # canonical URL
    link: str | None  # as given by the feed
    guid: str | None
    title: str
    summary: str
    author: str | None
    published: datetime | None
    published_raw: str | None
    content_hash: str
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    title: str
    link: str | None
    format: str  # "rss20", "atom10", "rss10", "json", ...
    items: tuple[FeedItem, ...]
    bozo: bool = False
    bozo_message: str | None = None
    ttl_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class ExtractedPage:
    """What the extractor made of one page."""

    title: str | None
    text: str
    author: str | None
    published: datetime | None
    published_source: str | None  # "page" when the date came from the page's metadata
    language: str | None
    flags: frozenset[str]
    extractor: str  # name and version, e.g. "trafilatura-2.3.1/newsagg-1"


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """An article ready to be stored (insert-or-ignore on (outlet_id, canonical_url))."""

    outlet_id: str
    canonical_url: str
    url: str
    entry_key: str
    title: str
    text: str
    summary: str
    published: datetime | None
    published_source: DateSource
    first_seen: datetime
    content_hash: str
    feed_id: int | None = None
    guid: str | None = None
    author: str | None = None
    language: str | None = None
    published_raw: str | None = None
    flags: frozenset[str] = frozenset()
    html_packed: bytes | None = None  # aggregator.pagepack.pack of the page
    extractor: str | None = None
    item_hash: str = ""  # hash of the feed entry's content, to notice revisions
    external_id: str | None = None  # the id given by an import file
    pending: bool = False  # True: the page still has to be fetched and extracted


@dataclass(frozen=True, slots=True)
class Article:
    """An article as stored."""

    id: int
    outlet_id: str
    canonical_url: str
    url: str
    title: str
    text: str
    published: datetime | None
    published_source: DateSource
    first_seen: datetime
    content_hash: str
    revision: int
    flags: frozenset[str]
    language: str | None = None
    author: str | None = None
    summary: str = ""
    guid: str | None = None
    feed_id: int | None = None
    external_id: str | None = None
    story_cluster: int | None = None
    copy_group: int | None = None
    updated_at: datetime | None = None

    @property
    def sort_time(self) -> datetime:
        """Published time when it is trustworthy, else first-seen time."""
        if self.published is None or Flag.FUTURE_DATE in self.flags:
            return self.first_seen
        return self.published


@dataclass(frozen=True, slots=True)
class PendingPage:
    """An article waiting for its page to be fetched and extracted."""

    article_id: int
    outlet_id: str
    url: str
    title: str
    summary: str
    published: datetime | None
    attempts: int
    feed_id: int | None = None


@dataclass(frozen=True, slots=True)
class PageOutcome:
    """What the page stage made of a pending article: extracted text, or the summary kept
    with flags saying why."""

    article_id: int
    text: str
    flags: frozenset[str]
    title: str | None = None
    author: str | None = None
    language: str | None = None
    published: datetime | None = None
    published_source: DateSource | None = None
    extractor: str | None = None
    html_packed: bytes | None = None  # aggregator.pagepack.pack of the page
    final_url: str | None = None
    content_type: str | None = None


def json_dumps(value: Any) -> str:
    """``value`` as JSON text: orjson, non-string keys made strings (as ``json.dumps`` makes
    them); what orjson refuses (an integer past 64 bits, say) by ``json.dumps``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value)


class JsonText(str):
    """A JSON document already encoded (a comparison encoded in the worker that computed it):
    storage writes it to a JSON column as it is instead of encoding it again."""

    __slots__ = ()

    @classmethod
    def of(cls, value: Any) -> JsonText:
        """``value`` encoded by ``json_dumps``."""
        return cls(json_dumps(value))
