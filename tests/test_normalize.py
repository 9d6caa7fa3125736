from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.normalize import (
    canonical_url,
    clean_text,
    collapse_ws,
    html_to_text,
    is_tracking_param,
    plain_title,
)

FEED = "https://feeds.example.org/news/world/rss.xml"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # scheme and host case, default ports, fragments
        ("HTTP://WWW.Example.COM/a", "http://www.example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("http://example.com:8080/a", "http://example.com:8080/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://example.com/#!/story/1", "https://example.com/#!/story/1"),
        ("https://example.com.:443", "https://example.com/"),
        ("https://user:pw@example.com/a", "https://example.com/a"),
        # the path keeps its case; dot segments go
        ("https://example.com/News/Story-ABC", "https://example.com/News/Story-ABC"),
        ("https://example.com/a/b/../c/./d", "https://example.com/a/c/d"),
        ("https://example.com/a/%2e%2e/b", "https://example.com/b"),
        # percent-encoding
        ("https://example.com/%7euser/%e2%82%ac", "https://example.com/~user/%E2%82%AC"),
        ("https://example.com/a b/é", "https://example.com/a%20b/%C3%A9"),
        ("https://example.com/100%", "https://example.com/100%25"),
        ("https://example.com/a%2Fb", "https://example.com/a%2Fb"),
        # internationalised hosts
        ("https://Bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("http://[2001:DB8::1]:80/x", "http://[2001:db8::1]/x"),
        # tracking parameters out, the rest sorted (stable for repeated names)
        (
            "https://restofworld.org/2026/x/?utm_source=rss&utm_medium=rss&utm_campaign=feeds",
            "https://restofworld.org/2026/x/",
        ),
        (
            "https://www.bbc.com/news/articles/c1?at_medium=RSS&at_campaign=rss",
            "https://www.bbc.com/news/articles/c1",
        ),
        ("https://www.dw.com/en/x/a-1?maca=en-rss-en-all-1573-rdf", "https://www.dw.com/en/x/a-1"),
        ("https://www.aljazeera.com/news/x?traffic_source=rss", "https://www.aljazeera.com/news/x"),
        ("https://www.heise.de/x.html?wt_mc=rss.ho.beitrag.rdf", "https://www.heise.de/x.html"),
        ("https://ex.com/a?fbclid=1&gclid=2&mc_cid=3&mc_eid=4&_ga=5&igshid=6", "https://ex.com/a"),
        ("https://ex.com/a?cmpid=1&ocid=2&smid=3&icid=4&UTM_Source=x", "https://ex.com/a"),
        ("https://ex.com/a?ref_src=twsrc%5Etfw&ref=rss", "https://ex.com/a"),
        ("https://medium.com/x?source=rss----d12c403d4976--food", "https://medium.com/x"),
        ("https://github.com/o/r/blob/x?ref=main", "https://github.com/o/r/blob/x?ref=main"),
        ("https://ex.com/a?source=reuters", "https://ex.com/a?source=reuters"),
        ("https://ex.com/a?b=2&a=1&b=1&&", "https://ex.com/a?a=1&b=2&b=1"),
        ("https://ex.com/a?q=a+b&x", "https://ex.com/a?q=a+b&x"),
        ("https://ex.com/a?utm_source=x#top", "https://ex.com/a"),
        # relative links resolve against the feed's address
        ("/world/story-1", "https://feeds.example.org/world/story-1"),
        ("story-2?id=7", "https://feeds.example.org/news/world/story-2?id=7"),
        ("//cdn.example.net/x", "https://cdn.example.net/x"),
        ("  \n https://ex.com/a \t", "https://ex.com/a"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url, FEED) == expected


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "mailto:editor@example.com",
        "ftp://example.com/file",
        "file:///etc/passwd",
        "data:text/html,<b>x</b>",
        "feed://example.com/rss",
        "http://",
        "http:///path",
        "http://exa mple.com/",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://[::1/",
        "",
        "   ",
    ],
)
def test_canonical_url_refuses_what_is_not_an_http_url(url: str) -> None:
    assert canonical_url(url) is None


def test_an_empty_link_is_not_the_feed_itself() -> None:
    assert canonical_url("", FEED) is None


def test_one_article_under_several_forms_has_one_canonical_url() -> None:
    forms = [
        "https://www.example.com/world/2026/02/18/story.html",
        "HTTPS://WWW.EXAMPLE.COM:443/world/2026/02/18/story.html#comments",
        "https://www.example.com/world/2026/02/18/story.html?utm_source=rss&utm_medium=rss",
        "https://www.example.com/world/2026/./02/18/story.html?fbclid=abc",
        "/world/2026/02/18/story.html?at_medium=RSS&at_campaign=rss",
    ]
    found = {canonical_url(form, "https://www.example.com/rss/world.xml") for form in forms}
    assert found == {"https://www.example.com/world/2026/02/18/story.html"}


@pytest.mark.parametrize(
    ("name", "value", "tracking"),
    [
        ("utm_content", "x", True),
        ("pk_campaign", "x", True),
        ("ref", "rss", True),
        ("ref", "twitter", True),
        ("ref", "main", False),
        ("source", "rss_feed", True),
        ("source", "ap", False),
        ("id", "17703", False),
        ("p", "1609", False),
        ("v", "lR-w1h5ONOY", False),
    ],
)
def test_is_tracking_param(name: str, value: str, tracking: bool) -> None:
    assert is_tracking_param(name, value) is tracking


urlish = st.builds(
    lambda scheme, host, path, query, frag: f"{scheme}://{host}{path}{query}{frag}",
    st.sampled_from(["http", "https", "HTTP", "Https", "ftp", "javascript", ""]),
    st.text(max_size=30),
    st.text(max_size=40).map(lambda s: "/" + s),
    st.text(max_size=40).map(lambda s: "?" + s),
    st.text(max_size=10).map(lambda s: "#" + s),
)
any_url = st.one_of(st.text(max_size=120), urlish)


@settings(max_examples=400, deadline=None)
@given(url=any_url, base=st.one_of(st.none(), st.just(FEED), st.text(max_size=40)))
def test_canonical_url_never_raises_and_is_idempotent(url: str, base: str | None) -> None:
    once = canonical_url(url, base)
    if once is None:
        return
    assert canonical_url(once) == once
    assert canonical_url(once, FEED) == once
    parts = urlsplit(once)
    assert parts.scheme in ("http", "https")
    assert parts.hostname
    assert once.isascii()
    assert not any(c.isspace() for c in once)


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_clean_text_leaves_no_control_characters(text: str) -> None:
    cleaned = clean_text(text)
    assert "\x00" not in cleaned
    assert all(c in "\n\t" or not (ord(c) < 32 or 0x7F <= ord(c) <= 0x9F) for c in cleaned)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in cleaned)
    cleaned.encode("utf-8")  # what PostgreSQL will get
    assert clean_text(cleaned) == cleaned


def test_clean_text() -> None:
    assert clean_text("a\x00b\x07c\x1bd\x7fe\x85f\ud800g") == "abcdefg"
    assert clean_text("one\r\ntwo\rthree\tfour") == "one\ntwo\nthree\tfour"
    assert clean_text("Cafe\u0301") == "Café"  # NFC


def test_collapse_ws() -> None:
    assert collapse_ws("  a \n\t b\u00a0\u2003c  ") == "a b c"


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>One &amp; <b>two</b></p><p>three</p>", "One & two\nthree"),
        ("a<br>b", "a\nb"),
        ("<script>alert(1)</script>safe<style>p{}</style>", "safe"),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("&#106;avascript &eacute; &bogus;", "javascript é &bogus;"),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_plain_title() -> None:
    assert plain_title("  Breaking:\n <b>AT&amp;T</b> &#8211; news\x00 ") == "Breaking: AT&T – news"
