"""HTML we fetched -> text, metadata and quality flags. Pure: no network, no clock, no globals.

``extract_page`` takes the bytes of one page and always returns an ``ExtractedPage``: a page
that is not HTML, empty, cut at the size cap, paywalled, an index page or full of repeats comes
back flagged (``types.Flag``), never as an exception. Only a failure inside the extractor
library itself raises ``ExtractError`` (code ``extract_failed``).

How it works, once per page:

1. ``_pagebytes``: sniff binary formats, decode the bytes (HTTP charset -> BOM/meta ->
   detection), sniff JSON/feeds, parse **one** lxml tree.
2. trafilatura's ``bare_extraction`` on that tree (it copies the tree, so ours stays intact for
   the flags). It is only ever given a parsed tree, never a URL or a string that could look like
   one: ``htmldate.find_date`` downloads a ``str`` that starts with ``http``, and
   ``trafilatura.fetch_url`` retries without TLS verification. The ``url`` argument is used
   for metadata and relative links only. ``tests/test_extract.py`` runs extraction with
   sockets disabled to keep it that way.
   Mode: trafilatura's ``fast`` (no readability/justext comparison), which scores as well as
   the full cascade on the article-extraction benchmark and costs a third less; when it yields
   less than trafilatura's own minimum (250 characters) the full cascade runs on the same
   tree and the longer text wins.
3. ``_pagemeta`` (JSON-LD, ``<meta>``), ``_language`` and ``_quality`` read the same tree and
   the extracted paragraphs.

``EXTRACTOR_VERSION`` is ours: bump it whenever this logic changes what comes out, because the
dedup parameter set stores ``extractor_name()``. See docs/extraction.md for the measurements.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import lxml.html
import trafilatura
from trafilatura.metadata import Document, extract_metadata

from aggregator import _quality
from aggregator._language import choose_language
from aggregator._pagebytes import decode_page, parse_tree, sniff_binary, sniff_text
from aggregator._pagemeta import PageSignals, read_signals
from aggregator.errors import ExtractError
from aggregator.settings import ExtractSettings
from aggregator.types import DateSource, ExtractedPage, Flag, utc

EXTRACTOR_VERSION = 1
_DEFAULTS = ExtractSettings()
_RESCUE_BELOW_CHARS = 250  # trafilatura's MIN_EXTRACTED_SIZE: below it, run the full cascade
_NO_DATE_BOUND = "2099-12-31"
_CLOCK_SLACK = timedelta(minutes=5)
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S%z"
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def extractor_name() -> str:
    """Trafilatura's version and ours, e.g. ``trafilatura-2.3.1/newsagg-1``."""
    return f"trafilatura-{trafilatura.__version__}/newsagg-{EXTRACTOR_VERSION}"


def extract_page(
    html: bytes,
    *,
    url: str,
    content_type: str | None = None,
    min_text_chars: int = _DEFAULTS.min_text_chars,
    max_html_bytes: int = _DEFAULTS.max_html_bytes,
    now: datetime | None = None,
    metadata: bool = True,
) -> ExtractedPage:
    """Extract one fetched page.

    ``metadata=False`` reads the text only (no title, author or date: about a third of the
    cost), for pages whose feed entry already gave the title and the date.

    ``now`` (the fetch time) bounds the page date: htmldate ignores dates after ``now``'s
    day, and a date still later than ``now`` (a wrong zone, say) is kept and flagged
    ``future_date``. A naive ``now`` is taken as UTC. None means no bound (and no clock is
    read either way).

    Raises ``ExtractError`` only when the extractor library itself fails on the page.
    """
    now = utc(now) if now is not None else None
    flags: set[str] = {Flag.GIGANTIC} if len(html) > max_html_bytes else set()
    if sniff_binary(html):
        return _textless(flags | {Flag.NOT_HTML})
    decoded = decode_page(html, content_type, max_html_bytes)
    if sniff_text(decoded.text, content_type):
        return _textless(flags | {Flag.NOT_HTML})
    tree = parse_tree(decoded.text)
    if tree is None:
        return _textless(flags)
    signals = read_signals(tree)
    document = _run_trafilatura(tree, url, now, metadata=metadata)
    paragraphs = _paragraphs(document.text or "")
    text = "\n\n".join(paragraphs)
    flags |= _quality.flags(tree, paragraphs, signals, min_text_chars=min_text_chars)
    published = _published(document.date, signals)
    if published and now and published > now + _CLOCK_SLACK:
        flags.add(Flag.FUTURE_DATE)
    return ExtractedPage(
        title=_clean(document.title),
        text=text,
        author=_clean(document.author),
        published=published,
        published_source=DateSource.PAGE.value if published else None,
        language=choose_language(signals.language, text),
        flags=frozenset(flags),
        extractor=extractor_name(),
    )


def _textless(flags: set[str]) -> ExtractedPage:
    return ExtractedPage(
        title=None,
        text="",
        author=None,
        published=None,
        published_source=None,
        language=None,
        flags=frozenset(flags | {Flag.EMPTY_TEXT}),
        extractor=extractor_name(),
    )


def _run_trafilatura(
    tree: lxml.html.HtmlElement, url: str, now: datetime | None, *, metadata: bool = True
) -> Document:
    """Text and metadata of ``tree``: fast mode, the full cascade when fast finds too little."""
    date_params = {
        "original_date": True,
        "extensive_search": False,
        # htmldate compares naive dates: allow the rest of today wherever the page is
        "max_date": (now + timedelta(days=1)).date().isoformat() if now else _NO_DATE_BOUND,
        "outputformat": _DATE_FORMAT,
    }
    try:
        document = _bare(tree, url, date_params, fast=True, metadata=metadata)
        if document is None or len(document.text or "") < _RESCUE_BELOW_CHARS:
            rescued = _bare(tree, url, date_params, fast=False, metadata=metadata)
            if rescued is not None and len(rescued.text or "") > len(_text_of(document)):
                document = rescued
        if document is None and metadata:  # no text at all: keep what the metadata says
            document = extract_metadata(tree, url, date_params)
        if document is None:
            document = Document()
    except ExtractError:
        raise
    except Exception as exc:  # a bug or a limit inside trafilatura/htmldate/lxml
        raise ExtractError(f"extractor failed: {exc!r}", resource=url) from exc
    return document


def _bare(
    tree: lxml.html.HtmlElement,
    url: str,
    date_params: dict[str, Any],
    *,
    fast: bool,
    metadata: bool = True,
) -> Document | None:
    if not isinstance(tree, lxml.html.HtmlElement):  # never a str: htmldate fetches those
        raise ExtractError("refusing to hand trafilatura anything but a parsed tree", resource=url)
    result = trafilatura.bare_extraction(
        tree,
        url=url,
        fast=fast,
        include_comments=False,
        include_tables=True,
        with_metadata=metadata,
        date_extraction_params=date_params,
    )
    return result if isinstance(result, Document) else None


def _text_of(document: Document | None) -> str:
    return (document.text or "") if document is not None else ""


def _paragraphs(text: str) -> list[str]:
    """One paragraph per non-blank line, whitespace collapsed, control characters dropped."""
    if _CONTROL.search(text):
        text = _CONTROL.sub("", text)
    lines = (" ".join(line.split()) for line in text.splitlines())  # split(): what \s+ matches
    return [line for line in lines if line]


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    cleaned = _SPACES.sub(" ", _CONTROL.sub("", value)).strip()
    return cleaned or None


def _published(found: str | None, signals: PageSignals) -> datetime | None:
    """htmldate's date as aware UTC; a same-day full timestamp from the markup refines it.

    htmldate gives a bare date (midnight, no zone) when the page has nothing finer, and a naive
    time when the page gives no zone; naive values are taken as UTC.
    """
    if not found:
        return None
    try:
        parsed = datetime.fromisoformat(found)
    except ValueError:
        return None
    refined = signals.published
    if refined is not None and abs(refined.replace(tzinfo=None) - parsed.replace(tzinfo=None)) <= (
        timedelta(days=1)
    ):
        return refined.astimezone(UTC)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
