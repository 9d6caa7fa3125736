"""From raw entries (as feedparser or the JSON Feed reader give them) to ``FeedItem``s.

Entry keys, stable across polls:

1. the entry's GUID (RSS ``guid``, Atom ``id``, JSON Feed ``id``), stripped, when it names
   one article: a GUID shared by entries with different links (some feeds put one GUID on
   every entry) is not used for them;
2. else the canonical URL of its link (``aggregator.normalize.canonical_url``);
3. else ``sha256:`` + the SHA-256 of title, summary and published date (as given).

A key longer than 2000 characters is replaced by ``sha256:`` + its SHA-256. Entries whose
keys repeat within one feed collapse to the first of them. An entry with no title, summary,
link or GUID (what is left of an entry cut by a truncated document) is dropped: it names no
article.

Dates become aware UTC datetimes; an unparseable date gives ``published=None``, keeps the
text in ``published_raw`` and flags ``bad_date``; a date more than ``FUTURE_SKEW`` after
``now`` is kept as given and flagged ``future_date``. Every text field is cleaned
(``clean_text``: NUL and control characters out, NFC); titles and authors become one line of
plain text (HTML titles, as feedparser classifies them, lose tags and entities). Summaries
stay HTML as feedparser sanitised it: NOT safe to render as is.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from aggregator.normalize import canonical_url, clean_text, collapse_ws, plain_title
from aggregator.types import FeedItem, Flag, ParsedFeed, utc

FUTURE_SKEW = timedelta(days=1)
MAX_KEY_CHARS = 2000
MAX_AUTHOR_CHARS = 500
MAX_RAW_DATE_CHARS = 200
MAX_BOZO_CHARS = 500


@dataclass(frozen=True, slots=True)
class RawEntry:
    guid: str | None
    link: str | None  # absolute where the feed allowed it
    title: str
    title_is_html: bool  # HTML (tags and entities to render as text), else plain text
    summary: str
    author: str | None
    date_raw: str | None
    date: datetime | None  # parsed from date_raw, None when absent or unparseable


@dataclass(frozen=True, slots=True)
class RawFeed:
    title: str
    title_is_html: bool
    link: str | None
    format: str
    entries: tuple[RawEntry, ...]
    bozo: bool = False
    bozo_message: str | None = None
    ttl_minutes: int | None = None


def parse_date(raw: str | None) -> datetime | None:
    """RFC 3339/ISO 8601 or RFC 822 date text as aware UTC; None when unparseable."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def struct_to_datetime(value: object) -> datetime | None:
    """feedparser's UTC ``time.struct_time`` as an aware datetime (None when impossible)."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        return datetime(*value[:5], min(value[5], 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def render_title(text: str, *, is_html: bool) -> str:
    """One line of plain text: HTML titles lose their tags and have their entities decoded;
    plain-text titles (Atom ``type="text"``, JSON Feed) are taken literally."""
    return plain_title(text) if is_html else collapse_ws(clean_text(text))


def build_feed(raw: RawFeed, *, base: str, now: datetime) -> ParsedFeed:
    """The ``ParsedFeed`` for ``raw``: clean fields, keys, flags, duplicates collapsed."""
    now = utc(now)
    items = [_item(entry, base, now) for entry in raw.entries if _names_something(entry)]
    keyed = _with_keys(items)
    unique: dict[str, FeedItem] = {}
    for item in keyed:
        unique.setdefault(item.key, item)
    message = clean_text(raw.bozo_message or "")[:MAX_BOZO_CHARS] or None
    return ParsedFeed(
        title=render_title(raw.title, is_html=raw.title_is_html),
        link=_clean_link(raw.link),
        format=raw.format,
        items=tuple(unique.values()),
        bozo=raw.bozo,
        bozo_message=message,
        ttl_minutes=raw.ttl_minutes,
    )


def _names_something(entry: RawEntry) -> bool:
    return any(
        clean_text(v or "").strip() for v in (entry.title, entry.summary, entry.link, entry.guid)
    )


def _item(entry: RawEntry, base: str, now: datetime) -> FeedItem:
    title = render_title(entry.title, is_html=entry.title_is_html)
    summary = clean_text(entry.summary).strip()
    link = _clean_link(entry.link)
    flags: set[str] = set()
    published_raw = clean_text(entry.date_raw or "").strip()[:MAX_RAW_DATE_CHARS] or None
    if published_raw and entry.date is None:
        flags.add(Flag.BAD_DATE)
    if entry.date is not None and entry.date > now + FUTURE_SKEW:
        flags.add(Flag.FUTURE_DATE)
    return FeedItem(
        key="",
        url=canonical_url(link, base) if link else None,
        link=link,
        guid=clean_text(entry.guid or "").strip() or None,
        title=title,
        summary=summary,
        author=plain_title(entry.author or "")[:MAX_AUTHOR_CHARS] or None,
        published=entry.date,
        published_raw=published_raw,
        content_hash=_sha256(title, summary),
        flags=frozenset(flags),
    )


def _clean_link(link: str | None) -> str | None:
    return "".join(clean_text(link or "").split()) or None


def _with_keys(items: Iterable[FeedItem]) -> list[FeedItem]:
    items = list(items)
    urls_by_guid: dict[str, set[str | None]] = {}
    for item in items:
        if item.guid:
            urls_by_guid.setdefault(item.guid, set()).add(item.url)
    keyed = []
    for item in items:
        if item.guid and len(urls_by_guid[item.guid]) == 1:
            key = item.guid
        elif item.url:
            key = item.url
        else:
            when = item.published.isoformat() if item.published else item.published_raw
            key = "sha256:" + _sha256(item.title, item.summary, when or "")
        if len(key) > MAX_KEY_CHARS:
            key = "sha256:" + _sha256(key)
        keyed.append(dataclasses.replace(item, key=key))
    return keyed


def _sha256(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
