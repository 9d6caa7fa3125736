"""parse_feed on real data from ../shared/data/feeds: news feeds, feedparser's test suite,
encoding test data. Everything runs in-process (one loop per folder) with a time check per
document; the process-pool limit has its own tests in test_parse_limited.py."""

from __future__ import annotations

import io
import json
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from aggregator._charset import decode_document
from aggregator.errors import ParseError
from aggregator.normalize import collapse_ws, plain_title
from aggregator.parse import _base_url, parse_feed
from aggregator.settings import ParseSettings
from aggregator.types import Flag, ParsedFeed
from tests.support.feedsuite import (
    Check,
    SuiteDoc,
    check_feedparser,
    check_ours,
    load_suite,
    title_link_checks,
)

TIME_LIMIT_S = ParseSettings().timeout_s
OUR_CODES = {"empty_body", "not_a_feed"}
SAVED_AT = datetime(2026, 2, 18, 12, tzinfo=UTC)  # when news-2026-02 was saved (17-18 Feb)
NOW = datetime(2026, 11, 28, tzinfo=UTC)

# feeds/news-2026-02, from ../shared/data/README.md: file -> (outlet, entries in the file)
NEWS_FEEDS = {
    "0c1cef22da7ddc10": ("CBS News World", 30),
    "1796df62c4a287cc": ("BBC News World", 33),
    "3f9eeff5039a008d": ("Al Jazeera", 25),
    "78f77fae2e1ffc14": ("NYT World News", 57),
    "4bf53cb602417030": ("Washington Post World", 9),
    "4288464f77b21d15": ("WSJ World News", 20),
    "7be307059415227d": ("NPR World", 10),
    "f9c17f360c71def1": ("ABC News International", 25),
    "5357198db71ce075": ("ABC (Australia) Top Stories", 25),
    "14dda539770f94e3": ("Deutsche Welle", 141),
    "18138c717652f678": ("Japan Today World", 30),
    "08f1ee71883dbcde": ("NDTV", 20),
    "ce5f942d1cd40fc0": ("Dawn World", 30),
    "d87c1681464979cc": ("Foreign Policy", 25),
    "4179e7a13df0f120": ("Christian Science Monitor", 10),
    "660a52f7dc6a1948": ("El Pais in English", 56),
    "6040d25e925318ed": ("AllAfrica Latest", 32),
    "e8fa5b64a4b41322": ("MercoPress", 10),
    "d2a188f20637f7a4": ("Boston.com World", 10),
    "72fea1ebfd02e90a": ("Al-Monitor", 20),
    "16dc10cf98d1ee82": ("The Week", 50),
    "14333881097406c7": ("Rest of World", 12),
    "960551eca5b5db81": ("The Economist Asia", 300),
    "9f9555d69283aeda": ("TIME World", 100),
    "5da3b20f957be51d": ("TIME Tech", 100),
    "a44f75939f245a7e": ("404 Media", 15),
    "73c63ac29e5d1dc8": ("Stratechery", 10),
    "e44e7aea7e34bb52": ("kottke.org", 60),
}
# Al-Monitor lists two stories four times and one three times (same GUID, link, title and
# date): its 20 entries are 11 articles.
REPEATED_ENTRIES = {"72fea1ebfd02e90a": 9}


def _timed_parse(body: bytes, headers: dict[str, str], url: str, now: datetime) -> ParsedFeed:
    start = time.monotonic()
    try:
        return parse_feed(body, headers=headers, url=url, now=now)
    finally:
        elapsed = time.monotonic() - start
        assert elapsed < TIME_LIMIT_S, f"{url}: {elapsed:.1f}s"


def _feedparser_entries(body: bytes) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return len(feedparser.parse(io.BytesIO(body)).entries)


def test_the_28_news_feeds(shared_data: Path) -> None:
    folder = shared_data / "feeds" / "news-2026-02"
    assert len([p for p in folder.iterdir() if p.name != "LICENSE"]) == len(NEWS_FEEDS) == 28
    for name, (outlet, entries) in NEWS_FEEDS.items():
        body = (folder / name).read_bytes()
        headers = {"Content-Type": "application/rss+xml"}
        feed = _timed_parse(body, headers, f"https://feeds.example/{name}", SAVED_AT)
        assert _feedparser_entries(body) == entries, outlet
        assert len(feed.items) == entries - REPEATED_ENTRIES.get(name, 0), outlet
        assert len({item.key for item in feed.items}) == len(feed.items), outlet
        assert feed.title and feed.link, outlet
        assert feed.bozo is False, outlet
        for item in feed.items:
            assert item.title, (outlet, item.key)
            assert item.url and item.url.startswith("https://"), (outlet, item.key)
            assert item.published is not None, (outlet, item.key)
            assert not item.flags & {Flag.BAD_DATE, Flag.FUTURE_DATE}, (outlet, item.key)


def test_news_feeds_tracking_parameters_are_gone(shared_data: Path) -> None:
    folder = shared_data / "feeds" / "news-2026-02"
    for name in ("1796df62c4a287cc", "14dda539770f94e3", "14333881097406c7", "3f9eeff5039a008d"):
        feed = parse_feed(
            (folder / name).read_bytes(), headers={}, url="https://x.example/", now=NOW
        )
        assert all("?" not in (item.url or "?") for item in feed.items), name
        assert any("?" in (item.link or "") for item in feed.items), name


def _judge(doc: SuiteDoc, feed: ParsedFeed | None, checks: list[Check]) -> list[tuple[bool, bool]]:
    """(ours agrees, feedparser agrees) for each check; feedparser as its harness runs it."""
    headers = {key.lower(): value for key, value in doc.headers.items()}
    if headers:
        headers["content-location"] = _base_url(doc.url, headers.get("content-location"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = feedparser.parse(io.BytesIO(doc.data), response_headers=headers or None)
    return [
        (feed is not None and check_ours(feed, check, doc.url), check_feedparser(result, check))
        for check in checks
    ]


def test_every_feedparser_suite_document(shared_data: Path) -> None:
    docs = load_suite(shared_data / "feeds" / "feedparser-suite")
    assert len(docs) == 2107
    start = time.monotonic()
    errors: dict[str, int] = {}
    checked = ours_ok = theirs_ok = 0
    lost: list[str] = []
    for doc in docs:
        feed: ParsedFeed | None = None
        try:
            feed = _timed_parse(doc.data, doc.headers, doc.url, NOW)
        except ParseError as exc:
            assert exc.code in OUR_CODES, f"{doc.rel}: {exc.code}"
            errors[exc.code] = errors.get(exc.code, 0) + 1
        checks = title_link_checks(doc.expect)
        for check, (ours, theirs) in zip(checks, _judge(doc, feed, checks), strict=True):
            checked += 1
            ours_ok += ours
            theirs_ok += theirs
            if theirs and not ours:
                lost.append(f"{doc.rel}: {check}")
    summary = (
        f"{len(docs)} documents in {time.monotonic() - start:.1f}s, refused {errors}; "
        f"{checked} title/link assertions: ours {ours_ok}, feedparser {theirs_ok}"
    )
    print(summary)
    assert errors == {"not_a_feed": 1}, summary  # illformed/rss_empty_document.xml
    assert lost == [], summary
    assert (checked, ours_ok, theirs_ok) == (518, 518, 517), summary


def test_suite_expect_lines_are_read(shared_data: Path) -> None:
    docs = {d.rel: d for d in load_suite(shared_data / "feeds" / "feedparser-suite")}
    assert sum(1 for d in docs.values() if d.expect) == 2107
    doc = docs["tests/wellformed/http/headers_content_location-relative.xml"]
    assert doc.headers == {"Content-Type": "text/xml", "Content-Location": "/feed/pg.cgi"}
    assert title_link_checks(doc.expect) == [
        Check(None, "link", "http://127.0.0.1:8097/feed/absolute")
    ]
    assert title_link_checks("not bozo and not feed.title == 'x' or entries[0].link == 'y'") == []
    assert title_link_checks("entries[1]['title_detail']['value'] == 'T'") == [
        Check(1, "title", "T")
    ]


def _expected_output(path: Path) -> dict[str, object]:
    raw = path.read_bytes()
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        document = json.loads(raw.decode("latin-1"))
    return dict(document.get("feed", document))


def _title_agrees(ours: str, expected: object) -> bool:
    text = str(expected or "")
    return "\ufffd" in text or ours in (collapse_ws(text), plain_title(text))


def test_rss_parser_feeds_agree_with_their_expected_parses(shared_data: Path) -> None:
    folder = shared_data / "feeds" / "encodings" / "rss-parser" / "test"
    inputs = sorted((folder / "input").iterdir())
    assert len(inputs) == 14
    for path in inputs:
        expected = _expected_output(folder / "output" / f"{path.stem}.json")
        feed = _timed_parse(path.read_bytes(), {}, "https://feeds.example/", NOW)
        items = list(expected.get("items", []))  # type: ignore[call-overload]
        assert len(feed.items) == len(items), path.name
        assert _title_agrees(feed.title, expected.get("title")), path.name
        assert feed.link == expected.get("link"), path.name
        for ours, theirs in zip(feed.items, items, strict=True):
            assert _title_agrees(ours.title, theirs.get("title")), (path.name, ours.title)
            assert ours.link == str(theirs.get("link") or "").strip(), path.name


def test_every_encodings_document_parses_or_is_refused_by_name(shared_data: Path) -> None:
    folder = shared_data / "feeds" / "encodings"
    paths = [
        p
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != "LICENSE" and "output" not in p.parts
    ]
    refused = []
    for path in paths:
        try:
            _timed_parse(path.read_bytes(), {}, "https://x.example/", NOW)
        except ParseError as exc:
            assert exc.code in OUR_CODES, path
            refused.append(path.name)
    assert len(paths) == 36
    # miniflux's HTML pages and its two <note> documents (XML decoding data, not feeds)
    assert sorted(refused) == [
        "iso-8859-1-meta-after-1024.html",
        "iso-8859-1.html",
        "iso88591.xml",
        "iso88591_utf8_mismatch.xml",
        "utf8-meta-after-1024.html",
        "utf8.html",
    ]


MINIFLUX = "feeds/encodings/miniflux/internal/reader"


@pytest.mark.parametrize(
    ("rel", "words"),
    [
        ("parser/testdata/encoding_ISO-8859-1.xml", ["Überwachung", "für"]),
        ("parser/testdata/encoding_WINDOWS-1251.xml", ["Цитата", "гениален"]),
        ("parser/testdata/no_encoding_ISO-8859-1.xml", ["très complexe", "criminalité liée"]),
        ("parser/testdata/rdf_UTF8.xml", ["Vorsichtsmaßnahmen"]),
        ("parser/testdata/urdu_UTF8.xml", ["پاکستان"]),
        ("xml/testdata/koi8r.xml", ["Пример RSS ленты", "Первая новость"]),
        ("encoding/testdata/utf8.xml", ["Café", "테스트 피드"]),
        ("encoding/testdata/iso-8859-1.xml", ["Café"]),
        ("encoding/testdata/windows-1252.xml", ["Euro €"]),
        ("encoding/testdata/utf8-incorrect-prolog.xml", ["Café", "테스트 피드"]),
        ("encoding/testdata/windows-1252-incorrect-prolog.xml", ["Euro €"]),
        ("encoding/testdata/invalid-prolog.xml", ["Café"]),
    ],
)
def test_miniflux_feeds_decode(shared_data: Path, rel: str, words: list[str]) -> None:
    feed = _timed_parse((shared_data / MINIFLUX / rel).read_bytes(), {}, "https://x.example/", NOW)
    text = " ".join([feed.title] + [item.title for item in feed.items])
    text += " ".join(item.summary for item in feed.items)
    for word in words:
        assert word in text, (rel, word)
    assert "\ufffd" not in text


@pytest.mark.parametrize(
    ("rel", "content_type", "words"),
    [
        ("encoding/testdata/iso-8859-1.html", "text/html", ["Frédéric", "Café"]),
        ("encoding/testdata/iso-8859-1-meta-after-1024.html", "text/html", ["Café"]),
        ("encoding/testdata/utf8.html", "text/html", ["Café"]),
        ("encoding/testdata/utf8-meta-after-1024.html", "text/html", ["Café"]),
        ("xml/testdata/iso88591.xml", "", ["Anaïs", "Jürgen"]),
        ("xml/testdata/iso88591_utf8_mismatch.xml", "", ["Anaïs", "Jürgen"]),
        ("encoding/testdata/iso-8859-1.xml", "text/html; charset=ISO-8859-1", ["Café"]),
    ],
)
def test_miniflux_documents_decode(
    shared_data: Path, rel: str, content_type: str, words: list[str]
) -> None:
    decoded = decode_document((shared_data / MINIFLUX / rel).read_bytes(), content_type)
    for word in words:
        assert word in decoded.text, (rel, word)


@pytest.mark.parametrize(
    "rel", ["encoding/testdata/iso-8859-1.html", "encoding/testdata/utf8.html"]
)
def test_html_pages_are_not_feeds(shared_data: Path, rel: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed((shared_data / MINIFLUX / rel).read_bytes(), headers={}, url="u", now=NOW)
    assert caught.value.code == "not_a_feed"


def _titles(feed: ParsedFeed) -> list[str]:
    return [feed.title] + [item.title for item in feed.items]


def test_utf16_with_and_without_byte_order_mark(shared_data: Path) -> None:
    body = (shared_data / "feeds" / "news-2026-02" / "1796df62c4a287cc").read_bytes()
    reference = _titles(parse_feed(body, headers={}, url="https://x.example/", now=NOW))
    text = body.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    variants = {
        "utf-16 with BOM": text.encode("utf-16"),
        "utf-16-le, no BOM": text.encode("utf-16-le"),
        "utf-16-be, no BOM": text.encode("utf-16-be"),
        "utf-16-be, no declaration": text.split("?>", 1)[1].lstrip().encode("utf-16-be"),
    }
    for name, data in variants.items():
        headers = {"Content-Type": "text/xml; charset=utf-8"}  # wrong: the bytes say otherwise
        feed = parse_feed(data, headers=headers, url="https://x.example/", now=NOW)
        assert _titles(feed) == reference, name


def test_wrong_declared_charsets(shared_data: Path) -> None:
    testdata = shared_data / MINIFLUX / "parser" / "testdata"
    latin1 = (testdata / "encoding_ISO-8859-1.xml").read_bytes()
    feed = parse_feed(latin1, headers={"Content-Type": "text/xml; charset=utf-8"}, url="u", now=NOW)
    assert "Überwachung" in " ".join(_titles(feed) + [i.summary for i in feed.items])
    cyrillic = (testdata / "encoding_WINDOWS-1251.xml").read_bytes()
    as_latin1 = cyrillic.replace(b'encoding="windows-1251"', b'encoding="iso-8859-1"')
    feed = parse_feed(
        as_latin1, headers={"Content-Type": "text/xml; charset=windows-1251"}, url="u", now=NOW
    )
    assert feed.items[0].title == "Цитата #17703"  # the header wins over the declaration
    feed = parse_feed(
        cyrillic, headers={"Content-Type": "text/xml; charset=ISO-8859-1"}, url="u", now=NOW
    )
    assert feed.items[0].title == "Цитата #17703"  # but not a server's Latin-1 default


def test_undeclared_charsets(shared_data: Path) -> None:
    testdata = shared_data / MINIFLUX / "parser" / "testdata"
    cyrillic = (testdata / "encoding_WINDOWS-1251.xml").read_bytes()
    undeclared = cyrillic.split(b"?>", 1)[1].lstrip()
    assert not undeclared.startswith(b"<?xml")
    feed = parse_feed(undeclared, headers={"Content-Type": "text/xml"}, url="u", now=NOW)
    assert feed.items[0].title == "Цитата #17703"
    portuguese = shared_data / "feeds" / "encodings" / "rss-parser" / "test" / "input"
    feed = parse_feed((portuguese / "uolNoticias.rss").read_bytes(), headers={}, url="u", now=NOW)
    assert "simulações de 2º turno" in feed.items[0].title
    assert feed.title == "UOL Noticias"
