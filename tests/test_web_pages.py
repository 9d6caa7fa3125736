"""The editors' pages as HTML: stories with filters and pages, the story page with whatever the
comparison holds (and without it), outlets with broken feeds first, articles, views."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from html import unescape
from typing import Any

from aggregator.types import OutletConfig
from aggregator.web.compareview import Refs, build_parts, heat
from aggregator.web.views import bars_markup, fmt_duration, sparkline, why_lines
from storage.db import migrate
from storage.store import Store
from tests.support.statements import captured
from tests.support.webdata import NOW, fill_gold, outlet
from tests.support.webkit import Site, serve

pytest_plugins = ["tests.support.webfixtures"]

STORY_LINK = re.compile(r'class="story-title" href="/clusters/(\d+)"')
NEXT_LINK = re.compile(r'href="([^"]+)" id="next-page"')
BADGE = re.compile(r'<span class="badge(?: more)?">([^<]+)</span>')
COMPARISONS = re.compile(r"\bstory_comparisons\b")


def test_stories_page_walks_every_story_by_cursor(shared_site: Site) -> None:
    seen: list[int] = []
    url: str | None = "/"
    while url:
        html = shared_site.client.get(unescape(url)).text
        seen += [int(i) for i in STORY_LINK.findall(html)]
        match = NEXT_LINK.search(html)
        url = match.group(1) if match else None
    assert len(seen) == len(set(seen)) == 60
    page = shared_site.client.get("/").text
    assert page.count('<svg class="spark"') == 50 and "<rect" in page
    assert 'class="badge">Fox News<' in page


def test_stories_page_filters(shared_site: Site) -> None:
    client = shared_site.client
    html = client.get("/", params={"q": "Schiff", "sort": "largest"}).text
    titles = re.findall(r'class="story-title" href="/clusters/\d+">([^<]+)<', html)
    assert titles and any("Schiff" in unescape(t) for t in titles)
    assert 'value="Schiff"' in html
    none = client.get("/", params={"min_outlets": "4"}).text
    assert 'id="no-stories"' in none
    labelled = client.get("/", params={"label": "ownership:private", "outlet": ["NYT"]}).text
    assert len(STORY_LINK.findall(labelled)) == 2
    assert "selected>The New York Times" in labelled or "selected" in labelled
    empty_fields = client.get(
        "/", params={"since": "", "until": "", "min_outlets": "", "q": "", "language": ""}
    )
    assert empty_fields.status_code == 200 and len(STORY_LINK.findall(empty_fields.text)) == 50


def test_story_page_shows_the_comparison_and_why(shared_site: Site) -> None:
    cluster_id = next(iter(shared_site.data.clusters.values()))
    html = shared_site.client.get(f"/clusters/{cluster_id}").text
    for part in ("outlets", "timeline", "similarity", "headlines", "sentences", "terms", "quotes",
                 "omissions"):  # fmt: skip
        assert f'id="part-{part}"' in html
    assert '<svg class="timeline"' in html and "<circle" in html
    assert 'class="heat"' in html and re.search(r'class="heat-\d+"', html)
    assert "sent-shared" in html or "sent-unique" in html
    assert html.count("Why is this here?") == 3 and "<dt>rule</dt><dd>gold</dd>" in html
    assert 'rel="noopener noreferrer nofollow"' in html


def test_story_page_without_or_with_a_damaged_comparison(site: Site) -> None:
    first, second = sorted(site.data.clusters.values())[:2]
    site.store.clusters.save_comparison(first, {"timeline": {"outlets": "not a list"}}, NOW)
    html = site.client.get(f"/clusters/{first}").text
    assert "cannot draw" in html and "not a list" in html
    assert "Not part of this comparison" in html
    with site.store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM story_comparisons WHERE cluster_id = ?", (second,))
    html = site.client.get(f"/clusters/{second}").text
    assert 'id="no-comparison"' in html
    assert site.client.get(f"/api/clusters/{second}").json()["comparison"] is None


def test_outlets_page_puts_broken_feeds_first(site: Site) -> None:
    feeds = site.store.feeds
    feeds.sync_outlets(
        [OutletConfig("wire", "Wire", "https://wire.example", "US", "en",
                      ("https://wire.example/a.xml", "https://wire.example/b.xml"))],
        default_interval=15,
        now=NOW,
    )  # fmt: skip
    feed = next(f for f in feeds.feeds("wire") if f.url.endswith("b.xml"))
    feeds.save_feed(
        replace(feed, error_count=4, last_error="timeout after 10 s", last_error_code="timeout",
                last_fetched_at=NOW, next_check_at=NOW + timedelta(hours=2)),
        status=None,
    )  # fmt: skip
    body = site.client.get("/api/outlets").json()["items"]
    assert body[0]["id"] == "wire" and body[0]["broken"]
    assert (
        body[0]["feeds"][0]["url"].endswith("b.xml") and body[0]["feeds"][0]["result"] == "timeout"
    )
    html = site.client.get("/outlets").text
    assert html.index("Wire") < html.index("Fox News")
    assert 'class="broken"' in html and "timeout after 10 s" in html and "errors 4" in html


def test_article_page_shows_provenance_flags_and_revisions(site: Site) -> None:
    article_id = min(a for ids in site.data.by_story.values() for a in ids)
    html = site.client.get(f"/articles/{article_id}").text
    assert "from import" in html and 'id="flags">none<' in html
    assert html.count("<p>") > 3 and "The headline never changed." in html
    assert "Why is it in that story?" in html


def test_view_helpers() -> None:
    bars = sparkline([2, *[0] * 8, 1], width=100, height=20)
    assert [b.count for b in bars] == [2, 1] and bars[0].height == 20
    assert [(b.x, b.height) for b in bars] == [(0.0, 20.0), (90.0, 10.0)]
    assert sparkline([]) == [] and sparkline([0] * 16) == []
    drawn = bars_markup(bars)
    assert drawn.count("<rect ") == 2 and "<title>2 articles</title>" in drawn
    assert '<rect x="0.0" y="0.0" width="8.0" height="20.0">' in drawn
    assert "<title>1 article</title>" in drawn and bars_markup([]) == ""
    assert fmt_duration(90) == "90 s" and fmt_duration(7200 * 3) == "6.0 h"
    lines = dict(why_lines({"shared_terms": ["iran", "isis"], "gap_s": 3600}, 0.71234, "centroid"))
    assert lines == {"score": "0.712", "rule": "centroid", "shared terms": "iran, isis",
                     "time gap": "60 min"}  # fmt: skip
    assert heat(0.55) == "heat-6" and heat(None) == "heat-none" and heat(7) == "heat-10"


def test_compare_view_degrades_part_by_part() -> None:
    refs = Refs({}, {"a": "Outlet A"})
    parts = {p.key: p for p in build_parts({"headlines": {"outlets": 3}, "quotes": None}, refs)}
    assert parts["headlines"].raw is not None and parts["headlines"].view is None
    assert parts["quotes"].missing and parts["timeline"].missing
    assert build_parts(None, refs) == []
    huge: dict[str, Any] = {"terms": {"groups": "x" * 50_000}}
    raw = {p.key: p for p in build_parts(huge, refs)}["terms"].raw
    assert raw is not None and len(raw) < 21_000


def test_lists_of_stories_never_read_the_comparison_documents(shared_site: Site) -> None:
    """A comparison grows with its story (megabytes for hundreds of articles): the stories
    page and the cluster list must not load one per row (the soak's 2.3 s pages)."""
    with captured(shared_site.store.engine) as statements:
        for path in ("/", "/?sort=largest", "/api/clusters?limit=50"):
            assert shared_site.client.get(path).status_code == 200
    clusters = [s for s, _ in statements if "FROM story_clusters" in s]
    assert clusters, "no story was read at all"
    assert not [s for s, _ in statements if COMPARISONS.search(s)]


def test_a_story_of_many_outlets_shows_a_dozen_badges_the_filtered_first(sqlite_url: str) -> None:
    migrate(sqlite_url)
    rows = [
        {"id": f"a{n}", "outlet": f"o{n:02d}", "title": f"Harbour bridge closes, report {n}",
         "text": f"The harbour bridge closed on Monday, report {n} said. " * 10,
         "published": f"2026-11-20T{n:02d}:00:00", "url": f"https://o{n}.example/bridge",
         "story": "bridge"}
        for n in range(15)
    ]  # fmt: skip
    with Store.open(sqlite_url) as store:
        data = fill_gold(store, rows, [outlet(f"o{n:02d}", f"Outlet {n}") for n in range(15)])
    with serve(sqlite_url, data) as site:
        html = site.client.get("/").text
        badges = BADGE.findall(html)
        assert badges == [f"Outlet {n}" for n in range(12)] + ["+3 more"]
        assert "15 outlets" in html
        filtered = BADGE.findall(site.client.get("/", params={"outlet": ["o13", "o02"]}).text)
        assert filtered[:2] == ["Outlet 2", "Outlet 13"] and len(filtered) == 13
        assert filtered[-1] == "+3 more" and len(set(filtered)) == 13
