"""Quality flags on real pages (checked by hand) and on pages built around real text.

Benchmark pages used, by id prefix (../shared/data/extraction/article-extraction-benchmark):
  042bb7b5, 7ab16ade  WSJ, paywalled: the teaser ends "All..." / "discipline...."
  098bb3e9, 2f42ef1d  LA Times, Wired: isAccessibleForFree false, yet the whole text is there
  3c6d3381            wday.ru interview series: the same questions repeated for each blogger
  b37be353, ef2b3f26  short AP stories (CTV, mySA) on pages with 60+ headline links
  0ec95c72            entermedia.co.kr, Korean
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator._language import non_latin_share
from aggregator.extract import extract_page
from aggregator.types import ExtractedPage, Flag
from tests.support.extract_pages import Benchmark, article_html, feed_items, section_front

NOW = datetime(2026, 11, 28, tzinfo=UTC)
QUALITY = {Flag.TRUNCATED, Flag.REPEATED_TEXT, Flag.INDEX_PAGE, Flag.TOO_SHORT, Flag.EMPTY_TEXT}


@pytest.fixture(scope="module")
def bench(shared_data: Path) -> Benchmark:
    return Benchmark.at(shared_data)


def real(bench: Benchmark, prefix: str, **kw: int) -> ExtractedPage:
    return extract_page(bench.html(prefix), url=bench.url(prefix), content_type="text/html", **kw)


def built(html: str) -> ExtractedPage:
    return extract_page(html.encode(), url="https://news.example/a", content_type=None, now=NOW)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("042bb7b5", {Flag.TRUNCATED}),
        ("7ab16ade", {Flag.TRUNCATED}),
        ("098bb3e9", set()),
        ("2f42ef1d", set()),
        ("3c6d3381", {Flag.REPEATED_TEXT, Flag.NON_LATIN}),
        ("b37be353", set()),
        ("ef2b3f26", set()),
        ("0ec95c72", {Flag.NON_LATIN}),
    ],
)
def test_flags_of_real_pages(bench: Benchmark, prefix: str, expected: set[str]) -> None:
    assert real(bench, prefix).flags == expected


def test_no_benchmark_article_is_taken_for_an_index_or_a_non_page(bench: Benchmark) -> None:
    """All 181 pages in this process: this also runs every call under filterwarnings=error."""
    wrong = {
        key[:8]: sorted(flags)
        for key in bench.truth
        if (flags := real(bench, key).flags & {Flag.INDEX_PAGE, Flag.NOT_HTML, Flag.EMPTY_TEXT})
    }
    assert wrong == {}


def test_too_short_follows_min_text_chars(bench: Benchmark) -> None:
    assert Flag.TOO_SHORT not in real(bench, "b37be353").flags  # 795 characters
    assert Flag.TOO_SHORT in real(bench, "b37be353", min_text_chars=1_000).flags


# --- index pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("feed", ["1796df62c4a287cc", "0c1cef22da7ddc10", "3f9eeff5039a008d"])
@pytest.mark.parametrize("summaries", [True, False])
def test_a_section_front_of_real_headlines_is_an_index_page(
    shared_data: Path, feed: str, *, summaries: bool
) -> None:
    page = built(section_front(feed_items(shared_data, feed)[:30], summaries=summaries))
    assert Flag.INDEX_PAGE in page.flags


def test_a_page_of_over_a_thousand_story_links_is_an_index_page(shared_data: Path) -> None:
    items = feed_items(shared_data, "78f77fae2e1ffc14")  # NYT World, 57 items
    many = [(t, f"{link}?page={n}", s) for n in range(25) for t, link, s in items][:1_100]
    assert Flag.INDEX_PAGE in built(section_front(many, summaries=False)).flags


def test_a_few_related_headlines_under_an_article_do_not_make_an_index(
    shared_data: Path, bench: Benchmark
) -> None:
    related = section_front(feed_items(shared_data, "1796df62c4a287cc")[:12])
    rail = related[related.index("<section>") : related.index("</section>") + 10]
    page = built(article_html("Snooze cruise", bench.paragraphs("2c46804d"), after=rail))
    assert Flag.INDEX_PAGE not in page.flags


# --- repeated paragraphs ------------------------------------------------------------------------


def test_a_repeated_paragraph_is_flagged(bench: Benchmark) -> None:
    paragraphs = bench.paragraphs("2c46804d")
    assert Flag.REPEATED_TEXT not in built(article_html("Rescue", paragraphs)).flags
    doubled = [*paragraphs[:3], paragraphs[1], *paragraphs[3:]]
    page = built(article_html("Rescue", doubled))
    assert Flag.REPEATED_TEXT in page.flags
    assert page.text.count(paragraphs[1]) == 2  # flagged, not rewritten


def test_short_repeated_lines_are_not_repeated_text(bench: Benchmark) -> None:
    paragraphs = bench.paragraphs("2c46804d")
    with_labels = [x for p in paragraphs for x in (p, "Advertisement")]
    assert Flag.REPEATED_TEXT not in built(article_html("Rescue", with_labels)).flags


# --- paywalls -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "marker",
    [
        "Subscribe to continue reading.",
        "This article is available to subscribers only. Already a subscriber? Sign in.",
        "You've reached your limit of free articles this month.",
        "To read the full article, create a free account.",
    ],
)
def test_a_paywall_sentence_at_the_end_means_truncated(bench: Benchmark, marker: str) -> None:
    page = built(article_html("Rescue", [*bench.paragraphs("2c46804d")[:3], marker]))
    assert Flag.TRUNCATED in page.flags


def test_an_unfinished_sentence_under_a_declared_paywall_is_truncated(bench: Benchmark) -> None:
    paragraphs = bench.paragraphs("2c46804d")[:4]
    cut = [*paragraphs[:3], paragraphs[3][: len(paragraphs[3]) // 2].rstrip()]
    not_free = '<script type="application/ld+json">{"isAccessibleForFree": "False"}</script>'
    wall = '<div class="article-paywall"><a href="/subscribe">Subscribe</a></div>'
    assert Flag.TRUNCATED in built(article_html("Rescue", cut, head=not_free)).flags
    assert Flag.TRUNCATED in built(article_html("Rescue", cut, after=wall)).flags
    assert Flag.TRUNCATED not in built(article_html("Rescue", cut)).flags
    assert Flag.TRUNCATED not in built(article_html("Rescue", paragraphs, head=not_free)).flags


@pytest.mark.parametrize(
    ("names", "walled"),
    [
        ('class="Piano-Container"', True),
        ('id="PAYWALL" class="résumé"', True),  # a non-ASCII name elsewhere on the page
        ('class="subscriber-only"', True),
        ('class="newsletter-signup"', False),
        ('class="payment wall"', False),  # two names, neither a paywall
    ],
)
def test_paywall_element_names(names: str, walled: bool) -> None:
    from aggregator._pagebytes import parse_tree
    from aggregator._quality import has_paywall_element

    tree = parse_tree(f"<html><body><div {names}><p>Text.</p></div></body></html>")
    assert tree is not None
    assert has_paywall_element(tree) is walled


def test_a_newsletter_invitation_is_not_a_paywall(bench: Benchmark) -> None:
    outro = "Subscribe to our newsletter to get the day's top stories."
    page = built(article_html("Rescue", [*bench.paragraphs("2c46804d"), outro]))
    assert Flag.TRUNCATED not in page.flags


def test_flags_never_remove_what_was_extracted(bench: Benchmark) -> None:
    page = real(bench, "042bb7b5")
    assert page.flags & QUALITY == {Flag.TRUNCATED}
    assert bench.paragraphs("042bb7b5")[0] in page.text


@given(st.text(alphabet="aZé×1 .Яж中ß", max_size=80))
def test_non_latin_share_is_the_share_of_letters_outside_latin(text: str) -> None:
    letters = [c for c in text if c.isalpha()]
    others = [c for c in letters if c in "Яж中"]
    expected = len(others) / len(letters) if letters else 0.0
    assert non_latin_share(text) == pytest.approx(expected)
