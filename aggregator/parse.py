"""Feed bytes plus response headers -> ``ParsedFeed``. Pure: no network, no files, no clock.

Formats: RSS 0.9x, 1.0 (RDF) and 2.0, Atom 0.3 and 1.0, CDF (read by feedparser) and JSON
Feed 1.0/1.1 (read by ``_jsonfeed``: by media type, or a body that starts with ``{``).

How a document is read:

1. ``_charset.decode_document``: byte order mark, then UTF-8 when valid, then the charset of
   the Content-Type header, the XML declaration, an HTML meta tag, then detection.
2. ``_prolog.prepare_xml``: forbidden characters out, XML declaration replaced by a UTF-8 one,
   DOCTYPE rebuilt without external or nested entities (no XXE, no billion laughs), the root
   element found. An ``<html>`` root is ``not_a_feed``.
3. feedparser on those bytes (a file object, so it can never fetch a URL or open a file),
   with ``Content-Location`` set to the feed's address so relative links resolve against it.
   Truncated or ill-formed XML goes to feedparser's loose parser: the entries read so far are
   kept and ``bozo`` is set.
4. ``_entries.build_feed``: clean text, entry keys, dates and flags, duplicates collapsed.

Errors are ``ParseError`` with a stable ``code``: ``empty_body`` (nothing but whitespace),
``not_a_feed`` (an HTML page, other JSON, or nothing feed-like), ``parse_failed`` (both of
feedparser's parsers raised: not seen on any test document), and from
``parse_feed_limited``: ``parse_timeout``, ``parse_crashed``.

feedparser has super-linear regular expressions (a crafted 32 KB ``<author>`` takes
seconds): parse untrusted bytes with ``parse_feed_limited``, which runs ``parse_feed`` in a
``WorkPool`` process with a hard time limit.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import urljoin, urlsplit

import feedparser

from aggregator._charset import decode_document
from aggregator._entries import RawEntry, RawFeed, build_feed, parse_date, struct_to_datetime
from aggregator._jsonfeed import looks_like_json, parse_json_feed
from aggregator._prolog import prepare_xml
from aggregator.errors import ParseError
from aggregator.types import ParsedFeed
from aggregator.workpool import TaskCrashed, TaskTimeout, WorkPool

FEED_ROOTS = MappingProxyType({"rss": "rss", "rdf": "rss10", "feed": "atom", "channel": "cdf"})
HTML_ROOTS = frozenset({"html"})
MAX_TTL_MINUTES = 366 * 24 * 60
_SY_PERIOD_MINUTES = MappingProxyType(
    {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}
)
_XML_DECLARATION = "<?xml version='1.0' encoding='utf-8'?>\n"
_NOT_XML = "<!-- -- -->\n"  # "--" inside a comment: ill-formed XML, a plain comment to SGML


def parse_feed(body: bytes, *, headers: Mapping[str, str], url: str, now: datetime) -> ParsedFeed:
    """Parse one fetched feed. ``headers`` are the response headers (any case), ``url`` the
    address the body came from (relative links resolve against it, or against the
    Content-Location header), ``now`` the fetch time (for ``future_date`` flags)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    content_type = lowered.get("content-type", "")
    decoded = decode_document(body, content_type)
    if not decoded.text.strip("\ufeff \t\r\n\x00"):
        raise ParseError("empty body", code="empty_body", resource=url)
    base = _base_url(url, lowered.get("content-location"))
    try:
        if looks_like_json(decoded.text, content_type):
            raw = parse_json_feed(decoded.text, base=base)
        else:
            raw = _parse_xml(decoded.text, base, lowered.get("content-language"))
    except ParseError as exc:
        raise ParseError(exc.message, code=exc.code, resource=url) from None
    return build_feed(raw, base=base, now=now)


def parse_feed_limited(  # noqa: PLR0917 (positional, as the pipeline calls it)
    pool: WorkPool,
    body: bytes,
    headers: Mapping[str, str],
    url: str,
    now: datetime,
    timeout_s: float,
) -> ParsedFeed:
    """``parse_feed`` in a worker process of ``pool``, killed after ``timeout_s`` seconds
    (``ParseError`` code ``parse_timeout``; a dead worker gives ``parse_crashed``)."""
    try:
        result = pool.run(_parse_task, body, dict(headers), url, now, timeout=timeout_s)
    except TaskTimeout as exc:
        message = f"parsing took longer than {timeout_s:g}s"
        raise ParseError(message, code="parse_timeout", resource=url) from exc
    except TaskCrashed as exc:
        message = f"parser crashed: {exc.message}"
        raise ParseError(message, code="parse_crashed", resource=url) from exc
    if not isinstance(result, ParsedFeed):
        raise ParseError("parser returned no feed", code="parse_crashed", resource=url)
    return result


def _parse_task(body: bytes, headers: dict[str, str], url: str, now: datetime) -> ParsedFeed:
    """Module-level (picklable) entry point for the work pool."""
    return parse_feed(body, headers=headers, url=url, now=now)


def _base_url(url: str, content_location: str | None) -> str:
    """Content-Location resolved against the request URL when it is http(s), else the URL."""
    if content_location:
        try:
            joined = urljoin(url, content_location.strip())
            if urlsplit(joined).scheme in ("http", "https"):
                return joined
        except ValueError:
            pass
    return url


def _parse_xml(text: str, base: str, language: str | None) -> RawFeed:
    prepared = prepare_xml(text)
    if prepared.root in HTML_ROOTS:
        raise ParseError("not a feed: an HTML page", code="not_a_feed")
    if prepared.root is None:
        raise ParseError("not a feed: no XML element", code="not_a_feed")
    result = _run_feedparser(prepared.text, base, language)
    version = _str(result.get("version"))
    entries = result.get("entries") or []
    if prepared.root not in FEED_ROOTS and not version and not entries:
        raise ParseError(f"not a feed: root element <{prepared.root}>", code="not_a_feed")
    bozo = bool(result.get("bozo"))
    feed = result.get("feed") or {}
    return RawFeed(
        title=_str(_get(feed, "title")),
        title_is_html=_is_html(_get(feed, "title_detail")),
        link=_str(_get(feed, "link")) or None,
        format=version or FEED_ROOTS.get(prepared.root, "unknown"),
        entries=tuple(_raw_entry(entry) for entry in entries if isinstance(entry, dict)),
        bozo=bozo,
        bozo_message=str(result.get("bozo_exception")) if bozo else None,
        ttl_minutes=_ttl(feed),
    )


def _run_feedparser(text: str, base: str, language: str | None) -> Any:
    """feedparser's strict parser, falling back to its loose one on ill-formed XML; when the
    strict parser's handlers themselves fail (they raise on some odd documents, such as a
    namespace URI with a space), the loose parser is made to run by a comment that no XML
    parser accepts, and the failure is what ``bozo_message`` reports."""
    headers = {"content-type": "application/xml; charset=utf-8", "content-location": base}
    if language:
        headers["content-language"] = language
    try:
        return _feedparser(_XML_DECLARATION + text, headers)
    except Exception as exc:  # any failure inside feedparser's strict parsing
        failure = f"{type(exc).__name__}: {exc}"
    try:
        result = _feedparser(_XML_DECLARATION + _NOT_XML + text, headers)
    except Exception as exc:  # the loose parser failed too
        raise ParseError(f"parser failed: {failure}", code="parse_failed") from exc
    result["bozo_exception"] = failure
    return result


def _feedparser(text: str, headers: dict[str, str]) -> Any:
    # feedparser warns only about its own API (deprecated key fallbacks, which _get avoids);
    # such warnings say nothing about the feed, so they are not let out of this call.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = io.BytesIO(text.encode("utf-8", "replace"))  # a file: never a URL or a path
        return feedparser.parse(data, response_headers=headers)


def _raw_entry(entry: dict[str, Any]) -> RawEntry:
    date_raw, date = _entry_date(entry)
    detail = _get(entry, "author_detail")
    author = _str(_get(detail, "name")) if isinstance(detail, dict) else ""
    return RawEntry(
        guid=_str(_get(entry, "id")) or None,
        link=_str(_get(entry, "link")) or None,
        title=_str(_get(entry, "title")),
        title_is_html=_is_html(_get(entry, "title_detail")),
        summary=_summary(entry),
        author=author or _str(_get(entry, "author")) or None,
        date_raw=date_raw,
        date=date,
    )


def _is_html(detail: object) -> bool:
    """feedparser's verdict on a text construct (it guesses for RSS, where titles may hold
    escaped HTML); plain text unless it says HTML or XHTML."""
    kind = _str(_get(detail, "type")) if isinstance(detail, dict) else ""
    return "html" in kind.lower()


def _summary(entry: dict[str, Any]) -> str:
    summary = _str(_get(entry, "summary"))
    if summary:
        return summary
    content = _get(entry, "content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return _str(_get(content[0], "value"))
    return ""


def _entry_date(entry: dict[str, Any]) -> tuple[str | None, datetime | None]:
    """The first date that parses among published and updated, with its text; else the
    first text given (unparseable) and None."""
    first_raw: str | None = None
    for key in ("published", "updated", "created"):
        raw = _str(_get(entry, key))
        if not raw:
            continue
        first_raw = first_raw or raw
        parsed = struct_to_datetime(_get(entry, f"{key}_parsed")) or parse_date(raw)
        if parsed is not None:
            return raw, parsed
    return first_raw, None


def _ttl(feed: dict[str, Any]) -> int | None:
    ttl = _int(_get(feed, "ttl"))
    if ttl is not None and 0 < ttl <= MAX_TTL_MINUTES:
        return ttl
    period = _SY_PERIOD_MINUTES.get(_str(_get(feed, "sy_updateperiod")).strip().lower())
    frequency = _int(_get(feed, "sy_updatefrequency")) or 1
    if period is None or frequency <= 0:
        return None
    return max(1, period // frequency)


def _get(mapping: dict[str, Any], key: str) -> Any:
    """A plain dict lookup: FeedParserDict's own lookup warns on some keys."""
    return dict.get(mapping, key)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _int(value: object) -> int | None:
    try:
        return int(str(value).strip())
    except ValueError:
        return None
