"""extract_page: decoding, what is not HTML, size caps, metadata, purity, never fetching, the
classes of the parsed tree.

Pages are real (the article-extraction benchmark, read from ../shared/data) or built around
real text; see tests/test_extract_quality.py for the quality flags and
tests/test_extract_pool.py for the process pool and the benchmark score.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lxml.html
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator._pagebytes import parse_tree
from aggregator.extract import EXTRACTOR_VERSION, extract_page, extractor_name
from aggregator.types import ExtractedPage, Flag
from tests.support.extract_pages import Benchmark, article_html

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
URL = "https://news.example/world/talks-resume-in-geneva"


@pytest.fixture(scope="module")
def bench(shared_data: Path) -> Benchmark:
    return Benchmark.at(shared_data)


def extract(html: bytes, content_type: str | None = "text/html", **kw: Any) -> ExtractedPage:
    return extract_page(html, url=kw.pop("url", URL), content_type=content_type, now=NOW, **kw)


# --- what is not HTML -------------------------------------------------------------------------

NOT_HTML_BODIES = {
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", None),
    "pdf served as html": (b"%PDF-1.4\n1 0 obj << >> endobj\n", "text/html; charset=utf-8"),
    "json": (b'{"headline": "Talks resume", "body": "<p>Delegations met.</p>"}', None),
    "json array as html": (b'  [{"id": 1}, {"id": 2}]', "text/html"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "image/png"),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01", None),
    "gzip left compressed": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48", "text/html"),
    "mp4": (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "video/mp4"),
    "plain text": (b"Delegations met in Geneva on Tuesday.", "text/plain"),
    "binary junk": (bytes(range(256)) * 8, None),
}


@pytest.mark.parametrize("name", sorted(NOT_HTML_BODIES))
def test_bodies_that_are_not_html_are_flagged_and_yield_no_text(name: str) -> None:
    body, content_type = NOT_HTML_BODIES[name]
    page = extract(body, content_type)
    assert page.flags == {Flag.NOT_HTML, Flag.EMPTY_TEXT}
    assert page.text == "" and page.title is None and page.language is None


def test_a_real_feed_is_not_html(shared_data: Path) -> None:
    feed = (shared_data / "feeds" / "news-2026-02" / "1796df62c4a287cc").read_bytes()
    assert Flag.NOT_HTML in extract(feed, "text/html").flags


def test_html_is_html_whatever_the_content_type_says(bench: Benchmark) -> None:
    page = extract(bench.html("b37be353"), "application/octet-stream")
    assert Flag.NOT_HTML not in page.flags
    assert page.text.startswith("BERLIN -- The European Space Agency")


@pytest.mark.parametrize(
    "body", [b"", b"   \r\n\t ", b"<html><body></body></html>", b"<!-- nothing -->", b"\x00\x00"]
)
def test_empty_pages_are_flagged_empty(body: bytes) -> None:
    page = extract(body)
    assert Flag.EMPTY_TEXT in page.flags and page.text == ""


# --- encodings ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def russian(bench: Benchmark) -> list[str]:
    return bench.paragraphs("ff0f958a")[:8]


@pytest.fixture(scope="module")
def portuguese(bench: Benchmark) -> list[str]:
    return bench.paragraphs("23aaecd1")[:8]


def assert_has(page: ExtractedPage, paragraphs: list[str]) -> None:
    assert "\ufffd" not in page.text
    for paragraph in paragraphs[:3]:
        assert paragraph in page.text


def test_windows_1251_declared_by_the_http_header(russian: list[str]) -> None:
    body = article_html("Диета", russian, charset=None, lang="ru").encode("cp1251")
    assert_has(extract(body, "text/html; charset=windows-1251"), russian)


def test_windows_1251_declared_by_a_meta_tag(russian: list[str]) -> None:
    body = article_html("Диета", russian, charset="windows-1251", lang="ru").encode("cp1251")
    assert_has(extract(body, "text/html"), russian)


def test_windows_1251_undeclared_is_detected(russian: list[str]) -> None:
    body = article_html("Диета", russian, charset=None, lang="ru").encode("cp1251")
    page = extract(body, None)
    assert_has(page, russian)
    assert page.language == "ru"


def test_a_wrong_utf8_header_loses_to_the_meta_declaration(russian: list[str]) -> None:
    body = article_html("Диета", russian, charset="windows-1251", lang="ru").encode("cp1251")
    assert_has(extract(body, "text/html; charset=utf-8"), russian)


def test_latin_1_declared_by_the_header(portuguese: list[str]) -> None:
    body = article_html("Serelepe", portuguese, charset=None, lang="pt").encode("latin-1")
    page = extract(body, "text/html; charset=ISO-8859-1")
    assert_has(page, portuguese)
    assert page.language == "pt"


def test_utf8_bytes_under_a_latin_1_header_stay_utf8(portuguese: list[str]) -> None:
    body = article_html("Serelepe", portuguese, charset=None, lang="pt").encode("utf-8")
    assert_has(extract(body, "text/html; charset=iso-8859-1"), portuguese)


def test_utf16_with_a_byte_order_mark(russian: list[str]) -> None:
    body = article_html("Диета", russian, charset="utf-16", lang="ru").encode("utf-16")
    assert_has(extract(body, "text/html"), russian)


def test_utf16_declared_by_the_header_without_a_byte_order_mark(russian: list[str]) -> None:
    body = article_html("Диета", russian, charset=None, lang="ru").encode("utf-16-le")
    assert_has(extract(body, "text/html; charset=utf-16"), russian)


def test_xml_declaration_with_an_encoding(russian: list[str]) -> None:
    page = article_html("Диета", russian, charset=None, lang="ru").replace("<!DOCTYPE html>", "")
    body = ('<?xml version="1.0" encoding="windows-1251"?>\n' + page).encode("cp1251")
    assert_has(extract(body, "application/xhtml+xml"), russian)


def test_a_few_broken_bytes_in_utf8_do_not_spoil_the_page(portuguese: list[str]) -> None:
    html = article_html("Serelepe", portuguese).encode("utf-8")
    broken = html.replace(b"<p>", b"<p>\xff\xfe", 1)
    page = extract(broken, "text/html; charset=utf-8")
    for paragraph in portuguese[1:3]:
        assert paragraph in page.text
    assert page.text.count("\ufffd") <= 2


def test_nul_and_control_characters_are_dropped(portuguese: list[str]) -> None:
    dirty = [
        p.replace(" ", " \x00", 2).replace(",", ",\x07", 1).replace(".", ".\uffff\ufffe", 1)
        for p in portuguese
    ]
    page = extract(article_html("Serelepe", dirty).encode("utf-8"))
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", page.text)
    assert portuguese[1] in page.text


# --- size caps ----------------------------------------------------------------------------------


def test_a_page_over_the_cap_is_cut_and_flagged(bench: Benchmark) -> None:
    html = bench.html("b37be353")
    huge = html.replace(b"</body>", b"<div>" + b"<p>filler text</p>" * 2_000_000 + b"</div></body>")
    assert len(huge) > 30_000_000
    start = time.monotonic()
    page = extract(huge, max_html_bytes=len(html))
    assert time.monotonic() - start < 10
    assert Flag.GIGANTIC in page.flags
    assert page.text.startswith("BERLIN -- The European Space Agency")


def test_a_multibyte_character_cut_by_the_cap_leaves_no_garbage(russian: list[str]) -> None:
    html = article_html("Диета", russian * 3, lang="ru").encode("utf-8")
    cut_at = html.index(russian[4].encode("utf-8")) + 7  # inside a two-byte letter
    page = extract(html, max_html_bytes=cut_at)
    assert Flag.GIGANTIC in page.flags
    assert "\ufffd" not in page.text
    assert russian[0] in page.text


def test_a_pathologically_deep_page_neither_hangs_nor_explodes() -> None:
    deep = b"<html><body>" + b"<div>" * 100_000 + b"text" + b"</div>" * 100_000 + b"</body></html>"
    start = time.monotonic()
    page = extract(deep)
    assert time.monotonic() - start < 10
    assert Flag.NOT_HTML not in page.flags


# --- metadata -----------------------------------------------------------------------------------


def test_metadata_of_a_real_article(bench: Benchmark) -> None:
    page = extract(bench.html("042bb7b5"), url=bench.url("042bb7b5"))
    assert (
        page.title == "Google Stadia, Microsoft xCloud, Apple Arcade: So Many Ways to Play…and Pay"
    )
    assert page.author == "Sarah E Needleman"
    assert page.published == datetime(2019, 11, 19, 13, 3, tzinfo=UTC)
    assert page.published_source == "page"
    assert page.language == "en"
    assert page.extractor == extractor_name()
    assert re.fullmatch(
        rf"trafilatura-\d+\.\d+\.\d+\S*/newsagg-{EXTRACTOR_VERSION}", page.extractor
    )


def test_paragraphs_are_separated_by_blank_lines(bench: Benchmark) -> None:
    page = extract(bench.html("b37be353"), url=bench.url("b37be353"))
    assert page.text.split("\n\n") == bench.paragraphs("b37be353")


def test_a_full_timestamp_in_json_ld_refines_a_bare_date(portuguese: list[str]) -> None:
    head = (
        '<meta property="article:published_time" content="2026-11-20">'
        '<script type="application/ld+json">{"@type": "NewsArticle",'
        ' "datePublished": "2026-11-20T14:30:00-05:00"}</script>'
    )
    page = extract(article_html("Serelepe", portuguese, head=head).encode())
    assert page.published == datetime(2026, 11, 20, 19, 30, tzinfo=UTC)


def test_a_date_after_now_is_not_taken(portuguese: list[str]) -> None:
    head = '<meta property="article:published_time" content="2027-03-01T10:00:00Z">'
    html = article_html("Serelepe", portuguese, head=head).encode()
    assert extract(html).published is None
    unbounded = extract_page(html, url=URL, content_type="text/html", now=None)
    assert unbounded.published == datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


def test_a_date_later_today_is_kept_and_flagged(portuguese: list[str]) -> None:
    head = '<meta property="article:published_time" content="2026-11-28T18:00:00Z">'
    page = extract(article_html("Serelepe", portuguese, head=head).encode())
    assert page.published == datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert Flag.FUTURE_DATE in page.flags
    naive_now = extract_page(
        article_html("S", portuguese, head=head).encode(), url=URL, now=NOW.replace(tzinfo=None)
    )
    assert Flag.FUTURE_DATE in naive_now.flags
    earlier = head.replace("18:00", "08:00")
    assert (
        Flag.FUTURE_DATE not in extract(article_html("S", portuguese, head=earlier).encode()).flags
    )


def test_a_declared_language_loses_to_clear_text_in_another_one(bench: Benchmark) -> None:
    page = extract(bench.html("57b4dafd"), url=bench.url("57b4dafd"))  # says en, is German
    assert page.language == "de"


def test_a_page_without_language_declaration_is_guessed(russian: list[str]) -> None:
    html = article_html("Диета", russian).replace(' lang="en"', "").encode()
    assert extract(html).language == "ru"


# --- purity: same input, same output; nothing fetched ------------------------------------------


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    attempts: list[str] = []

    def refuse(*args: object, **kwargs: object) -> None:
        attempts.append(repr(args[:2]))
        raise OSError("network access during extraction")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield attempts


def test_extraction_never_touches_the_network(bench: Benchmark, no_network: list[str]) -> None:
    bodies = [bench.html(p) for p in ("042bb7b5", "0ec95c72", "b37be353", "ef2b3f26")]
    bodies += [b"https://example.com/", b"http://127.0.0.1:9/x", b"<a href='https://x.y/'>x</a>"]
    for body in bodies:
        for content_type in ("text/html", None):
            extract(body, content_type, url="https://127.0.0.1:9/page")
    assert no_network == []


def test_the_network_guard_does_see_a_fetch(no_network: list[str]) -> None:
    """The control for the test above: htmldate fetches a str that looks like a URL."""
    import htmldate

    with pytest.raises(Exception):  # noqa: B017 - whatever htmldate makes of the refusal
        htmldate.find_date("http://127.0.0.1:9/article")
    assert no_network


def test_the_same_page_gives_the_same_result(bench: Benchmark) -> None:
    html, url = bench.html("2c46804d"), bench.url("2c46804d")
    assert extract(html, url=url) == extract(html, url=url)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2_000),
        st.lists(
            st.sampled_from(
                ["<p>", "</p>", "<div>", "<a href='/x'>", "</a>", "<h2>", "<!--", "-->", "<script>",
                 "&amp;", "&#0;", "\x00", "Délégations", "ВСТРЕЧА", "…", " ", "\n", "<html>",
                 "<meta charset='utf-16'>", "<?xml version='1.0' encoding='bogus'?>"]
            ),
            max_size=80,
        ).map(lambda parts: "".join(parts).encode("utf-8")),
    ),
    st.sampled_from([None, "text/html", "text/html; charset=bogus", "application/json"]),
)  # fmt: skip
def test_any_bytes_give_a_page_and_consistent_flags(body: bytes, content_type: str | None) -> None:
    page = extract(body, content_type, min_text_chars=100)
    assert (Flag.EMPTY_TEXT in page.flags) == (page.text == "")
    assert (Flag.TOO_SHORT in page.flags) == (0 < len(page.text) < 100)
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", page.text)


@given(st.text(alphabet="ab .\t\n\r\x0b\x0c\x1c\x1f\x00\x07\x85\xa0\u2028\u3000é", max_size=60))
def test_paragraphs_are_lines_with_whitespace_collapsed(text: str) -> None:
    """One paragraph per non-blank line, spaces collapsed, controls dropped (the rule as
    regular expressions)."""
    from aggregator.extract import _paragraphs

    lines = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text).splitlines()
    expected = [re.sub(r"\s+", " ", line).strip() for line in lines]
    assert _paragraphs(text) == [line for line in expected if line]


# --- the parsed tree --------------------------------------------------------------------------

FORM = (
    "<form action='/subscribe'><label>Email <input name='email'></label>"
    "<select name='topic'><option>World</option></select><textarea>Note</textarea>"
    "<button>Sign up</button></form>"
)


def test_form_controls_are_plain_html_elements() -> None:
    """Every element comes out as an ``HtmlElement``, picked in C: lxml.html's own lookup
    calls Python for each element to give form controls classes that nothing here uses."""
    tree = parse_tree(f"<html><body>{FORM}<p>Talks resumed.</p></body></html>")
    assert tree is not None
    assert {type(element) for element in tree.iter()} == {lxml.html.HtmlElement}
    assert "Talks resumed." in tree.text_content()


def test_a_sign_up_form_under_a_real_article_leaves_its_text(bench: Benchmark) -> None:
    html, url = bench.html("2c46804d"), bench.url("2c46804d")
    with_form = html.replace(b"</body>", FORM.encode() + b"</body>", 1)
    assert with_form != html
    assert extract(with_form, url=url).text == extract(html, url=url).text
