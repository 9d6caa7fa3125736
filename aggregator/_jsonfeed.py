"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1), which feedparser does not read.

Fields of the wrong JSON type are ignored, never trusted: a feed is whatever part of it makes
sense. Item links are ``url``, else ``external_url``, resolved against the feed's address;
summaries are ``summary``, else ``content_html`` (as given: NOT sanitised), else
``content_text``; authors come from 1.1 ``authors`` or 1.0 ``author``, the feed's as fallback.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin

from aggregator._entries import RawEntry, RawFeed, parse_date
from aggregator.errors import ParseError

VERSION_PREFIXES = ("https://jsonfeed.org/version/", "http://jsonfeed.org/version/")


def looks_like_json(text: str, content_type: str) -> bool:
    """True when the body should be read as JSON: a JSON media type and no ``<`` first, or a
    ``{`` as first character."""
    first = text.lstrip("\ufeff \t\r\n")[:1]
    if first == "{":
        return True
    mime = content_type.split(";", 1)[0].strip().lower()
    return first != "<" and (mime.endswith("/json") or mime.endswith("+json"))


def parse_json_feed(text: str, *, base: str) -> RawFeed:
    """Read a JSON Feed; ``ParseError(code="not_a_feed")`` for any other JSON or bad JSON."""
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"not a feed: invalid JSON ({exc})", code="not_a_feed") from exc
    if not isinstance(document, dict):
        raise ParseError("not a feed: JSON that is not a JSON Feed", code="not_a_feed")
    version = _str(document.get("version"))
    if version is None or not version.startswith(VERSION_PREFIXES):
        raise ParseError("not a feed: JSON without a JSON Feed version", code="not_a_feed")
    feed_author = _author(document)
    items = document.get("items")
    entries = tuple(
        _entry(item, base, feed_author)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    )
    home = _str(document.get("home_page_url"))
    return RawFeed(
        title=_str(document.get("title")) or "",
        title_is_html=False,
        link=_join(base, home),
        format="json11" if version.rstrip("/").endswith("/1.1") else "json10",
        entries=entries,
    )


def _entry(item: dict[str, Any], base: str, feed_author: str | None) -> RawEntry:
    raw_id = item.get("id")
    guid = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    link = _str(item.get("url")) or _str(item.get("external_url"))
    summary = (
        _str(item.get("summary"))
        or _str(item.get("content_html"))
        or _str(item.get("content_text"))
        or ""
    )
    date_raw = _str(item.get("date_published")) or _str(item.get("date_modified"))
    return RawEntry(
        guid=guid,
        link=_join(base, link),
        title=_str(item.get("title")) or "",
        title_is_html=False,
        summary=summary,
        author=_author(item) or feed_author,
        date_raw=date_raw,
        date=parse_date(date_raw),
    )


def _author(obj: dict[str, Any]) -> str | None:
    authors = obj.get("authors")
    candidates = authors if isinstance(authors, list) else []
    candidates = [*candidates, obj.get("author")]
    for candidate in candidates:
        if isinstance(candidate, dict):
            name = _str(candidate.get("name"))
            if name:
                return name
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _join(base: str, link: str | None) -> str | None:
    if link is None:
        return None
    try:
        return urljoin(base, link.strip())
    except ValueError:
        return link.strip()
