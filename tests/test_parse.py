"""parse_feed on crafted documents: one behaviour each (bad input included)."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from aggregator.types import Flag, ParsedFeed
from tests.support.httpserver import LocalServer

NOW = datetime(2026, 2, 18, 12, 0, tzinfo=UTC)
URL = "https://news.example.org/rss/world.xml"
RSS = {"Content-Type": "application/rss+xml; charset=utf-8"}


def rss(
    items: str, channel: str = "<title>World</title><link>https://news.example.org/</link>"
) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"{channel}{items}</channel></rss>"
    ).encode()


def item(title: str = "A", link: str | None = None, guid: str | None = None, date: str = "") -> str:
    parts = [f"<title>{title}</title>"]
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    return "<item>" + "".join(parts) + "<description>Text of it</description></item>"


def parse(body: bytes, headers: dict[str, str] | None = None, url: str = URL) -> ParsedFeed:
    return parse_feed(body, headers=RSS if headers is None else headers, url=url, now=NOW)


def test_rss_items_have_keys_links_dates() -> None:
    feed = parse(
        rss(
            item(
                "First &amp; best",
                "https://news.example.org/a?utm_source=rss",
                "id-1",
                "Wed, 18 Feb 2026 09:30:00 +0100",
            )
            + "<ttl>30</ttl>"
        )
    )
    assert (feed.title, feed.link, feed.format, feed.ttl_minutes) == (
        "World",
        "https://news.example.org/",
        "rss20",
        30,
    )
    (entry,) = feed.items
    assert entry.key == "id-1"
    assert entry.guid == "id-1"
    assert entry.title == "First & best"
    assert entry.link == "https://news.example.org/a?utm_source=rss"
    assert entry.url == "https://news.example.org/a"
    assert entry.published == datetime(2026, 2, 18, 8, 30, tzinfo=UTC)
    assert entry.published_raw == "Wed, 18 Feb 2026 09:30:00 +0100"
    assert entry.summary == "Text of it"
    assert len(entry.content_hash) == 64
    assert entry.flags == frozenset()


def test_atom_with_relative_links_resolved_against_the_feed_url() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title type="html">Tech &amp;lt;b&amp;gt;</title>
<link rel="alternate" href="/tech/"/>
<entry><id>tag:example.org,2026:1</id>
<title type="html">&lt;b&gt;Chips&lt;/b&gt; &amp;amp; more</title>
<link rel="alternate" href="stories/chips#top"/><updated>2026-02-18T10:00:00Z</updated>
<author><name>Ann Writer</name><email>ann@example.org</email></author></entry></feed>"""
    feed = parse(body, {"Content-Type": "application/atom+xml"})
    assert feed.format == "atom10"
    assert feed.title == "Tech <b>"
    assert feed.link == "https://news.example.org/tech/"
    (entry,) = feed.items
    assert entry.title == "Chips & more"
    assert entry.link == "https://news.example.org/rss/stories/chips#top"
    assert entry.url == "https://news.example.org/rss/stories/chips"
    assert entry.author == "Ann Writer"
    assert entry.published == datetime(2026, 2, 18, 10, tzinfo=UTC)


def test_content_location_header_is_the_base_of_relative_links() -> None:
    feed = parse(rss(item("A", "a.html")), {"Content-Location": "/other/feed.xml"})
    assert feed.items[0].url == "https://news.example.org/other/a.html"


def test_rss10_rdf() -> None:
    body = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">
<channel rdf:about="https://dw.example/"><title>DW</title><link>https://dw.example/</link>
<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency></channel>
<item rdf:about="https://dw.example/a-1"><title>One</title><link>https://dw.example/a-1</link>
<dc:date>2026-02-18T08:00:00+01:00</dc:date></item></rdf:RDF>"""
    feed = parse(body, {})
    assert (feed.format, feed.title, feed.ttl_minutes) == ("rss10", "DW", 15)
    assert feed.items[0].key == "https://dw.example/a-1"
    assert feed.items[0].published == datetime(2026, 2, 18, 7, tzinfo=UTC)


def test_json_feed_11() -> None:
    body = json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "JSON news",
            "home_page_url": "https://json.example/",
            "authors": [{"name": "Desk"}],
            "items": [
                {
                    "id": 7,
                    "url": "/s/7?utm_medium=x",
                    "title": "Seven",
                    "content_html": "<p>7</p>",
                    "date_published": "2026-02-18T08:00:00-05:00",
                },
                {
                    "id": "8",
                    "external_url": "https://elsewhere.example/8",
                    "content_text": "eight",
                    "authors": [{"name": "Bo"}],
                    "date_modified": "yesterday",
                },
                "not an item",
                {"id": True, "title": ["bad type"], "summary": "only a summary"},
            ],
        }
    ).encode()
    feed = parse(
        body, {"Content-Type": "application/feed+json"}, url="https://json.example/feed.json"
    )
    assert (feed.format, feed.title, feed.link) == ("json11", "JSON news", "https://json.example/")
    seven, eight, third = feed.items
    assert (seven.key, seven.url, seven.title, seven.summary, seven.author) == (
        "7",
        "https://json.example/s/7",
        "Seven",
        "<p>7</p>",
        "Desk",
    )
    assert seven.published == datetime(2026, 2, 18, 13, tzinfo=UTC)
    assert (eight.url, eight.summary, eight.author) == (
        "https://elsewhere.example/8",
        "eight",
        "Bo",
    )
    assert eight.published is None and Flag.BAD_DATE in eight.flags
    assert third.guid is None and third.title == "" and third.key.startswith("sha256:")


def test_json_feed_10_detected_without_a_json_media_type() -> None:
    body = b'  {"version": "https://jsonfeed.org/version/1", "title": "T", "items": []}'
    feed = parse(body, {"Content-Type": "text/plain"})
    assert (feed.format, feed.title, feed.items) == ("json10", "T", ())


@pytest.mark.parametrize(
    "body",
    [b'{"version": "2", "items": []}', b"[1, 2]", b'{"title": "no version"', b"[" * 100_000],
)
def test_other_json_is_not_a_feed(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body, {"Content-Type": "application/json"})
    assert caught.value.code == "not_a_feed"
    assert caught.value.resource == URL


@pytest.mark.parametrize("body", [b"", b"   \r\n\t ", b"\xef\xbb\xbf", b"\xff\xfe"])
def test_empty_body(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body)
    assert caught.value.code == "empty_body"
    assert str(caught.value) == f"{URL}: empty body"


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><head><title>News</title>"
        b'<link rel="alternate" type="application/rss+xml" href="/rss"></head>'
        b"<body><item><title>x</title></item></body></html>",
        b"<html><body><rss><channel><title>fake</title></channel></rss></body></html>",
        b"<?xml version='1.0'?><note><to>Tove</to></note>",
        b"Just some text, no markup at all.",
        b"<!-- only a comment -->",
        b"<div>a fragment</div>",
        b"/etc/passwd",
    ],
)
def test_what_is_not_a_feed_is_named_so(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse(body, {"Content-Type": "text/html"})
    assert caught.value.code == "not_a_feed"


def test_truncated_xml_keeps_the_entries_parsed() -> None:
    whole = rss("".join(item(f"Story {n}", f"https://news.example.org/{n}") for n in range(5)))
    cut = whole[: whole.index(b"Story 4") + 3]
    feed = parse(cut)
    assert feed.bozo is True
    assert feed.bozo_message
    assert [entry.title for entry in feed.items][:4] == [f"Story {n}" for n in range(4)]
    assert feed.title == "World"


def test_ill_formed_xml_is_read_loosely() -> None:
    body = rss(item("Fish & Chips <b>bold", "https://news.example.org/a?x=1&y=2") + "</bogus>")
    feed = parse(body)
    assert feed.bozo is True
    assert feed.items[0].title.startswith("Fish & Chips")
    assert feed.items[0].url == "https://news.example.org/a?x=1&y=2"


def test_duplicate_guids_collapse_to_the_first_entry() -> None:
    items = (
        item("One", "https://news.example.org/1", "g1")
        + item("One again", "https://news.example.org/1", "g1")
        + item("Two", "https://news.example.org/2", "g2")
    )
    feed = parse(rss(items))
    assert [(entry.key, entry.title) for entry in feed.items] == [("g1", "One"), ("g2", "Two")]


def test_a_guid_shared_by_different_articles_is_not_their_key() -> None:
    items = item("One", "https://news.example.org/1", "same") + item(
        "Two", "https://news.example.org/2?utm_source=rss", "same"
    )
    feed = parse(rss(items))
    assert [entry.key for entry in feed.items] == [
        "https://news.example.org/1",
        "https://news.example.org/2",
    ]


def test_entries_without_guid_or_link_get_content_keys_stable_across_polls() -> None:
    items = item("Alpha", date="Wed, 18 Feb 2026 09:00:00 GMT") + item("Beta") + item("Beta")
    first = parse(rss(items))
    again = parse(rss(items))
    keys = [entry.key for entry in first.items]
    assert len(keys) == 2  # the two identical "Beta" entries are one
    assert all(key.startswith("sha256:") and len(key) == 71 for key in keys)
    assert keys == [entry.key for entry in again.items]
    linked = parse(rss(item("Gamma", "https://news.example.org/g?fbclid=1")))
    assert linked.items[0].key == "https://news.example.org/g"


def test_future_and_unparseable_dates_are_kept_and_flagged() -> None:
    soon = (NOW + timedelta(hours=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    items = (
        item("Future", "https://n.example/1", date="Tue, 01 Jan 2030 10:00:00 GMT")
        + item("Slight skew", "https://n.example/2", date=soon)
        + item("Garbage", "https://n.example/3", date="the day after tomorrow")
        + item("None", "https://n.example/4")
    )
    future, skew, garbage, none = parse(rss(items)).items
    assert future.published == datetime(2030, 1, 1, 10, tzinfo=UTC)
    assert future.flags == {Flag.FUTURE_DATE}
    assert skew.flags == frozenset()
    assert garbage.published is None
    assert garbage.published_raw == "the day after tomorrow"
    assert garbage.flags == {Flag.BAD_DATE}
    assert (none.published, none.published_raw, none.flags) == (None, None, frozenset())


def test_nul_and_control_characters_are_stripped_from_every_field() -> None:
    body = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>W\x00orld\x07</title>'
        b"<item><title>Ti\x00t\x1ble &#0;&#x1;</title><link>https://n.example/\x00a</link>"
        b'<guid isPermaLink="false">g\x00\x0b1</guid><author>Ed\x00itor</author>'
        b"<description>Line\x00 one\r\nline\x7f two\xc2\x85</description>"
        b"<pubDate>Wed, 18 Feb 2026 09:00:00 GMT\x00</pubDate></item></channel></rss>"
    )
    feed = parse(body)
    (entry,) = feed.items
    assert feed.title == "World"
    assert entry.title == "Title"
    assert (entry.guid, entry.key, entry.link) == ("g1", "g1", "https://n.example/a")
    assert entry.author == "Editor"
    assert entry.summary == "Line one\nline two"
    assert entry.published == datetime(2026, 2, 18, 9, tzinfo=UTC)
    assert feed.bozo is False  # the strict parser read it: the bad characters went first
    for value in (feed.title, entry.title, entry.summary, entry.guid, entry.link, entry.author):
        assert value is not None
        assert not any(ord(c) < 32 and c not in "\n\t" for c in value)


def test_lone_surrogates_from_json_are_stripped() -> None:
    body = b'{"version": "https://jsonfeed.org/version/1", "title": "a\\ud800b", "items": []}'
    assert parse(body, {}).title == "ab"


def test_titles_are_one_line_of_plain_text() -> None:
    items = item(
        "  Breaking:\n  &lt;em&gt;Storm&lt;/em&gt; hits   coast &amp;amp; city ",
        "https://n.example/1",
    )
    assert parse(rss(items)).items[0].title == "Breaking: Storm hits coast & city"


def test_summaries_keep_feedparsers_html_which_is_not_safe_to_render() -> None:
    desc = (
        "&lt;p&gt;Hi &lt;a href='&amp;#106;avascript:alert(1)'&gt;x&lt;/a&gt;"
        "&lt;form action='https://evil.example/'&gt;&lt;input name='pw'&gt;&lt;/form&gt;"
        "&lt;script&gt;alert(2)&lt;/script&gt;&lt;/p&gt;"
    )
    body = rss(
        f"<item><title>T</title><link>https://n.example/1</link><description>{desc}</description></item>"
    )
    summary = parse(body).items[0].summary
    assert "<script" not in summary  # feedparser removes script elements ...
    assert "<form" in summary  # ... but not forms,
    assert "avascript:" in summary  # nor encoded javascript: links: sanitise at render time


def test_long_fields_are_capped_for_storage() -> None:
    guid = "g" * 3000
    items = (
        f"<item><title>T</title><guid isPermaLink='false'>{guid}</guid>"
        f"<author>{'a' * 900}</author></item>"
    )
    (entry,) = parse(rss(items)).items
    assert entry.guid == guid
    assert entry.key.startswith("sha256:") and len(entry.key) == 71
    assert entry.author is not None and len(entry.author) == 500


# --- hostile XML: external entities, entity expansion, odd prologs ---------------------------


def _laughs(levels: int, inline: bool) -> bytes:
    defs = ['<!ENTITY lol0 "lol">']
    for n in range(1, levels + 1):
        defs.append(f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">')
    sep = "" if inline else "\n"
    doctype = f"<!DOCTYPE rss [{sep}{sep.join(defs)}{sep}]>"
    return (
        f'<?xml version="1.0"?>{sep}{doctype}{sep}<rss version="2.0"><channel>'
        f"<title>T &lol{levels};</title><item><title>I &lol{levels};</title>"
        f"<link>https://n.example/1</link><description>&lol{levels};</description></item>"
        "</channel></rss>"
    ).encode()


@pytest.mark.parametrize("inline", [False, True], ids=["multiline", "one-line"])
@pytest.mark.parametrize("levels", [4, 9])
def test_billion_laughs_is_fast_and_expands_nothing(levels: int, inline: bool) -> None:
    start = time.monotonic()
    feed = parse(_laughs(levels, inline))
    assert time.monotonic() - start < 1.0
    (entry,) = feed.items
    for text in (feed.title, entry.title, entry.summary):
        assert "lollol" not in text
        assert len(text) < 100


def test_short_literal_entities_still_work() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY nbsp "&#160;"><!ENTITY co "Acme">]>'
        b'<rss version="2.0"><channel><title>&co;&nbsp;News</title></channel></rss>'
    )
    feed = parse(body)
    assert feed.title == "Acme News"
    assert feed.bozo is False


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-MARKER-4711\n")
    return path


def _xxe_documents(secret: Path, server_url: str) -> list[str]:
    uri = secret.as_uri()
    return [
        f'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY xxe SYSTEM "{uri}">\n]>\n'
        '<rss version="2.0"><channel><title>&xxe;</title><item><title>&xxe;</title>'
        "<description>&xxe;</description><link>https://n.example/1</link></item></channel></rss>",
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "{uri}">]><rss version="2.0">'
        "<channel><title>a&xxe;</title><item><title>&xxe;</title></item></channel></rss>",
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY % p SYSTEM "{uri}"> %p;]>'
        '<rss version="2.0"><channel><title>t</title></channel></rss>',
        f'<?xml version="1.0"?><!DOCTYPE rss SYSTEM "{server_url}">'
        '<rss version="2.0"><channel><title>t</title></channel></rss>',
        f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "{server_url}">]>'
        '<rss version="2.0"><channel><title>&x;</title></channel></rss>',
        f'<!DOCTYPE feed [<!ENTITY xxe SYSTEM "{uri}">]><feed xmlns="http://www.w3.org/2005/Atom">'
        "<title>&xxe;</title><entry><id>1</id><title>&xxe;</title></entry></feed>",
    ]


class AuditWatch:
    """Records file opens of one path and any network access, while ``watching`` is True.
    Audit hooks cannot be removed, so the hook stays installed but idle afterwards."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)
        self.watching = False
        self.seen: list[str] = []
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[object, ...]) -> None:
        if not self.watching:
            return
        if event == "open" and args and isinstance(args[0], str | bytes | os.PathLike):
            if os.fsdecode(args[0]) == self.path:
                self.seen.append(f"open {self.path}")
        elif event in ("urllib.Request", "socket.connect", "socket.getaddrinfo"):
            self.seen.append(event)


def test_external_entities_are_never_read(secret_file: Path, http_server: LocalServer) -> None:
    dtd_url = http_server.route("/evil.dtd", b'<!ENTITY x "FROM-THE-NETWORK">')
    watch = AuditWatch(secret_file)
    for document in _xxe_documents(secret_file, dtd_url):
        watch.watching = True
        try:
            feed = parse(document.encode())
        finally:
            watch.watching = False
        fields = [feed.title, feed.link or ""]
        for entry in feed.items:
            fields += [entry.title, entry.summary, entry.link or "", entry.key]
        assert not any("SECRET" in value or "NETWORK" in value for value in fields)
    assert watch.seen == []
    assert http_server.total_hits == 0


def test_a_body_that_names_a_local_file_is_not_read(secret_file: Path) -> None:
    """feedparser.parse(bytes) would open a file of that name: parse_feed hands it a file
    object instead."""
    watch = AuditWatch(secret_file)
    watch.watching = True
    try:
        with pytest.raises(ParseError) as caught:
            parse(str(secret_file).encode())
    finally:
        watch.watching = False
    assert caught.value.code == "not_a_feed"
    assert watch.seen == []


def test_junk_before_the_xml_declaration_is_skipped() -> None:
    body = b"\n\nWarning: something in /var/www/feed.php on line 3\n" + rss(
        item("A", "https://n.example/1")
    )
    feed = parse(body)
    assert [entry.title for entry in feed.items] == ["A"]


def test_html_doctype_before_an_rss_root_is_fine() -> None:
    body = (
        b'<?xml version="1.0"?><!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://x.invalid/">\n'
        b"<rss><channel><title>found</title></channel></rss>"
    )
    assert parse(body).title == "found"


def test_a_document_that_breaks_feedparsers_strict_handlers_is_read_loosely() -> None:
    body = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="h\u00a0ttp://x/"><channel>'
        "<title>T</title><item><title>A</title><link>https://n.example/1</link>"
        "<media:title>m</media:title></item></channel></rss>"
    ).encode()
    feed = parse(body)
    assert feed.bozo is True
    assert feed.bozo_message is not None and feed.bozo_message.startswith("ValueError")
    assert [entry.title for entry in feed.items] == ["A"]


SEED = rss(
    item("One &amp; two", "/1?utm_source=x", "g1", "Wed, 18 Feb 2026 09:00:00 GMT")
    + item("Три", "https://n.example/2", date="2026-02-18T10:00:00+03:00")
    + "<ttl>15</ttl>"
)


@st.composite
def damaged_feeds(draw: st.DrawFn) -> bytes:
    body = bytearray(draw(st.sampled_from([SEED, SEED.replace(b"rss", b"feed")])))
    for _ in range(draw(st.integers(0, 5))):
        at = draw(st.integers(0, len(body)))
        body[at : at + draw(st.integers(0, 8))] = draw(st.binary(max_size=6))
    return bytes(body[: draw(st.integers(0, len(body)))])


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(damaged_feeds(), st.binary(max_size=200)),
    content_type=st.sampled_from(["", "text/xml", "application/json", "text/html; charset=koi8-r"]),
)
def test_any_bytes_give_a_feed_or_a_named_error(body: bytes, content_type: str) -> None:
    try:
        feed = parse(body, {"Content-Type": content_type})
    except ParseError as exc:
        assert exc.code in {"empty_body", "not_a_feed"}
        return
    for entry in feed.items:
        assert entry.key
        for value in (entry.title, entry.summary, entry.key, entry.link or "", entry.guid or ""):
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogates
