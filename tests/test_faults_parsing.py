"""RELIABILITY.md, "Parsing and extraction", end to end: real feeds in Windows-1251, KOI8-R,
Latin-1 (declared, undeclared) and UTF-16 from ../shared/data served over HTTP, plus our own
hostile documents (truncated, ill-formed, billion laughs, XXE, duplicate and missing GUIDs,
churning entries, NUL and control characters) and hostile article pages (not HTML, an index
page, a paywall, repeated paragraphs, a page that takes the extractor 10+ s), polled twice by
the real pipeline into a real SQLite file and a real PostgreSQL.

The unit tests are in test_parse*.py, test_extract*.py and test_normalize.py; here each row
is proven through fetch -> parse pool -> store -> page stage -> extraction pool -> store.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from aggregator.types import Article, Feed, Flag
from tests.support.extract_pages import Benchmark, feed_items, section_front
from tests.support.extract_pages import article_html as real_article
from tests.support.faults import (
    FaultWeb,
    Item,
    article_page,
    billion_laughs,
    rfc822,
    rss,
    story_text,
    xxe,
)
from tests.support.httpserver import Request, Response, serve
from tests.support.moduledb import BACKENDS, module_database
from tests.support.runtime import outlet, runtime

pytest_plugins = ["tests.support.figureplugin"]

MINIFLUX = Path("feeds/encodings/miniflux/internal/reader")
RSS_PARSER = Path("feeds/encodings/rss-parser/test/input")
HOUR_AGO = rfc822(datetime.now(UTC) - timedelta(hours=1))
SECRET = "TOP-SECRET-0xC0FFEE local file contents"
EXTRACT_TIMEOUT_S = 2.0
CHURN_POLLS = 13
CONTROL = "".join(chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127])

# real feed (path under ../shared/data) -> (Content-Type sent, words its entries must show)
REAL_FEEDS = {
    "cp1251": (MINIFLUX / "parser/testdata/encoding_WINDOWS-1251.xml", "text/xml",
               ["Цитата #17703", "гениален"]),
    "cp1251_as_latin1": (MINIFLUX / "parser/testdata/encoding_WINDOWS-1251.xml",
                         "text/xml; charset=ISO-8859-1", ["Цитата #17703"]),
    "latin1": (MINIFLUX / "parser/testdata/encoding_ISO-8859-1.xml",
               "application/rss+xml; charset=utf-8", ["Überwachung", "für"]),
    "latin1_undeclared": (MINIFLUX / "parser/testdata/no_encoding_ISO-8859-1.xml", "",
                          ["très complexe", "criminalité liée"]),
    "koi8r": (MINIFLUX / "xml/testdata/koi8r.xml", "application/xml", ["Первая новость"]),
    "uol": (RSS_PARSER / "uolNoticias.rss", "", ["simulações de 2º turno"]),
}  # fmt: skip
_HOST = re.compile(rb"https?://[A-Za-z0-9.\-]+(?::\d+)?")


def localised(body: bytes, base: str) -> bytes:
    """The real feed with its links pointing at the local server (pages there answer 404,
    so the articles keep their summaries); ASCII-compatible encodings only."""
    return _HOST.sub(base.encode(), body)


def changing(document: str) -> object:
    """A feed whose lastBuildDate changes on every request, so every poll parses it again."""
    count = [0]

    def handle(_r: Request, _h: BaseHTTPRequestHandler) -> Response:
        count[0] += 1
        stamp = f"<lastBuildDate>{rfc822(datetime.now(UTC))}</lastBuildDate><!-- {count[0]} -->"
        body = document.replace("<channel>", "<channel>" + stamp, 1)
        return Response(200, body.encode(), {"Content-Type": "application/rss+xml"})

    return handle


def churning(web: FaultWeb) -> object:
    """One entry whose title and text change on every request (a live blog)."""
    count = [0]
    url = web.page("/churn.html", article_page("Live", story_text("live")))

    def handle(_r: Request, _h: BaseHTTPRequestHandler) -> Response:
        count[0] += 1
        doc = rss([Item(f"Live: update {count[0]}", url, "live", HOUR_AGO, f"Now {count[0]}")])
        return Response(200, doc.encode(), {"Content-Type": "application/rss+xml"})

    return handle


def local_item(web: FaultWeb, slug: str, title: str | None = None, **kw: str | None) -> Item:
    path = f"/a/{slug}.html"
    web.page(path, article_page(title or slug, story_text(slug)), kind="article-ok")
    fields: dict[str, str | None] = {"guid": slug, "date": HOUR_AGO, "summary": f"About {slug}"}
    fields.update(kw)
    return Item(title or f"Story {slug}", web.url(path), **fields)  # type: ignore[arg-type]


def build(web: FaultWeb, shared: Path, secret_file: Path) -> dict[str, str]:
    web.public.route("/robots.txt", "User-agent: *\nAllow: /\n")
    feeds: dict[str, str] = {}
    for oid, (rel, content_type, _words) in REAL_FEEDS.items():
        body = localised((shared / rel).read_bytes(), web.public.base)
        headers = {"Content-Type": content_type} if content_type else {}
        feeds[oid] = web.serve(f"charset-{oid}", f"/real/{oid}.xml", body, headers=headers)
    bbc = (shared / "feeds" / "news-2026-02" / "1796df62c4a287cc").read_bytes()
    text = localised(bbc, web.public.base).decode("utf-8").replace('encoding="UTF-8"', "")
    feeds["utf16le"] = web.serve(
        "charset-utf16le-no-bom-wrong-header",
        "/real/utf16le.xml",
        text.encode("utf-16-le"),
        headers={"Content-Type": "text/xml; charset=utf-8"},
    )
    feeds["utf16bom"] = web.serve("charset-utf16-bom", "/real/utf16.xml", text.encode("utf-16"))

    whole = rss([local_item(web, f"cut-{n}") for n in range(3)])
    feeds["truncated"] = web.feed("truncated-xml", "/truncated.xml", whole[: whole.index("cut-2")])
    broken = "<description>a &nbsp; b <br> &bogus; </p></description>"  # not well-formed
    ill = rss([local_item(web, "ill-0"), local_item(web, "ill-1")])
    ill = ill.replace("<description>About ill-0</description>", broken)
    feeds["illformed"] = web.feed("ill-formed-xml", "/ill.xml", ill)
    feeds["laughs"] = web.feed("billion-laughs", "/laughs.xml", billion_laughs(10))
    feeds["xxe"] = web.feed(
        "xxe", "/xxe.xml", xxe([secret_file.as_uri(), web.private_url(), "file:///etc/passwd"])
    )

    first = local_item(web, "dup", "First telling")
    dupes = [
        first,
        Item("Second telling", first.link, "dup", HOUR_AGO, "same guid again"),
        Item("No guid", web.url("/a/dup.html?x=1"), None, HOUR_AGO, "link only"),
        Item("Bare one", None, None, HOUR_AGO, "neither guid nor link, first"),
        Item("Bare two", None, None, None, "neither guid nor link, second"),
    ]
    feeds["dupes"] = web.serve(
        "duplicate-and-missing-guids", "/dupes.xml", handler=changing(rss(dupes))
    )  # type: ignore[arg-type]
    feeds["churn"] = web.serve("churning-entry", "/churn.xml", handler=churning(web))  # type: ignore[arg-type]

    nul_page = article_page(
        "NUL page", [p[:40] + "\x00\x01\x0b" + p[40:] for p in story_text("nul")]
    )
    nul_link = web.page("/a/nul.html", nul_page.encode(), kind="page-nul-characters")
    nasty = f"Title{CONTROL}with controls"
    nul_doc = rss([Item(nasty, nul_link, "nul\x00guid", HOUR_AGO, f"Summary\x00{CONTROL}end")])
    feeds["nul_rss"] = web.feed("nul-and-controls-rss", "/nul.xml", nul_doc.encode())
    json_feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "JSON \u0000 feed",
        "items": [
            {
                "id": "j1\u0000",
                "url": web.url("/a/nul.html?json"),
                "title": "Lone \ud800 surrogate \u0000 and \u001b escape",
                "content_text": "text \u0000\u0007 here",
                "date_published": "2026-11-28T08:00:00Z",
            }
        ],
    }
    body = json.dumps(json_feed).encode()  # \ud800 stays an escape: valid JSON, invalid text
    feeds["nul_json"] = web.serve(
        "nul-and-surrogates-json",
        "/nul.json",
        body,
        headers={"Content-Type": "application/feed+json"},
    )
    feeds["pages"] = web.feed("feed-of-page-faults", "/pages.xml", rss(page_faults(web, shared)))
    return feeds


PAGE_FLAGS = {
    "ok": set(),
    "png": {Flag.NOT_HTML, Flag.SUMMARY_ONLY},
    "json": {Flag.NOT_HTML, Flag.SUMMARY_ONLY},
    "index": {Flag.INDEX_PAGE},
    "paywall": {Flag.TRUNCATED},
    "repeated": {Flag.REPEATED_TEXT},
    "slow": {Flag.EXTRACT_FAILED, Flag.SUMMARY_ONLY},
}


def page_faults(web: FaultWeb, shared: Path) -> list[Item]:
    bench = Benchmark.at(shared)
    paragraphs = bench.paragraphs("2c46804d")
    headlines = [(t, web.url(f"/story/{n}"), s) for n, (t, _l, s) in enumerate(
        feed_items(shared, "1796df62c4a287cc")[:30]
    )]  # fmt: skip
    slow = "".join(
        f"<p>Sentence {i} about the harbour bridge council and its budget vote today.</p>"
        for i in range(60_000)
    )
    pages: dict[str, tuple[str, bytes, str]] = {
        "ok": ("article-ok", article_page("ok", story_text("page-ok")).encode(), "text/html"),
        "png": ("page-png-as-html", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "text/html"),
        "json": ("page-json", b'{"article": "not html", "n": [1, 2, 3]}', "application/json"),
        "index": ("page-index", section_front(headlines).encode(), "text/html"),
        "paywall": (
            "page-paywalled",
            real_article("Rescue", [*paragraphs[:3], "Subscribe to continue reading."]).encode(),
            "text/html",
        ),
        "repeated": (
            "page-repeated-paragraphs",
            real_article("Rescue", [*paragraphs[:3], paragraphs[1], *paragraphs[3:]]).encode(),
            "text/html",
        ),
        "slow": (
            "page-extractor-slow",
            f"<html><body><article>{slow}</article></body></html>".encode(),
            "text/html",
        ),
    }
    out = []
    for name, (kind, body, content_type) in pages.items():
        url = web.serve(kind, f"/pages/{name}", body, headers={"Content-Type": content_type})
        out.append(Item(f"Page {name}", url, f"page-{name}", HOUR_AGO, f"Summary of {name}"))
    return out


# -- the scenario -------------------------------------------------------------------------------


@dataclass
class Scenario:
    feeds: dict[str, Feed]
    articles: dict[str, list[Article]]
    first_new: dict[str, int]
    second_new: dict[str, int]
    revisions: list[tuple[int, str, datetime]]
    churn_revision: int
    logged: list[tuple[str, dict[str, object]]]
    private_hits: int
    first_seconds: float


class _Events(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.events: list[tuple[str, dict[str, object]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append((record.getMessage(), dict(getattr(record, "newsagg_fields", {}))))


@pytest.fixture(scope="module", params=BACKENDS)
def scenario(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    shared_data: Path,
) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("parsing")
    secret_file = folder / "secret.txt"
    secret_file.write_text(SECRET, encoding="utf-8")
    events = _Events()
    logger = logging.getLogger("newsagg")
    logger.addHandler(events)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        with (
            module_database(request, folder) as db_url,
            serve("127.0.0.1") as public,
            serve("127.0.0.2") as private,
        ):
            web = FaultWeb(public, private)
            feeds = build(web, shared_data, secret_file)
            outlets = [outlet(oid, url) for oid, url in feeds.items()]
            overrides = {"NEWSAGG_EXTRACT_TIMEOUT_S": str(EXTRACT_TIMEOUT_S)}
            with runtime(db_url, outlets, **overrides) as rt:
                started = time.monotonic()
                first = rt.pipeline.run_once(include_not_due=True)
                seconds = time.monotonic() - started
                second = rt.pipeline.run_once(include_not_due=True)
                for _ in range(CHURN_POLLS - 2):
                    rt.pipeline.poll_feeds(include_not_due=True, outlet_id="churn")
                stored = rt.store.articles.get_many(list(range(1, 2000)))
                by_outlet: dict[str, list[Article]] = {}
                for art in stored:
                    by_outlet.setdefault(art.outlet_id, []).append(art)
                (churn,) = by_outlet["churn"]
                scenario = Scenario(
                    feeds={f.outlet_id: f for f in rt.store.feeds.feeds()},
                    articles=by_outlet,
                    first_new={r.outlet_id: r.new for r in first.feeds},
                    second_new={r.outlet_id: r.new for r in second.feeds},
                    revisions=rt.store.articles.revisions(churn.id),
                    churn_revision=churn.revision,
                    logged=list(events.events),
                    private_hits=private.total_hits,
                    first_seconds=seconds,
                )
            yield scenario
    finally:
        logger.removeHandler(events)
        logger.setLevel(level)


def titles(arts: list[Article]) -> str:
    return " ".join(a.title + " " + a.summary + " " + a.text for a in arts)


# -- the rows ------------------------------------------------------------------------------------


def test_wrong_missing_and_unusual_charsets_are_decoded(scenario: Scenario) -> None:
    """Row: wrong or missing charset, UTF-16, Latin-1, windows-1251."""
    for oid, (_rel, _ct, words) in REAL_FEEDS.items():
        text = titles(scenario.articles[oid])
        assert scenario.feeds[oid].last_error_code is None, oid
        for word in words:
            assert word in text, (oid, word)
        assert "\ufffd" not in text, oid
    assert len(scenario.articles["cp1251"]) == 50
    for oid in ("utf16le", "utf16bom"):
        arts = scenario.articles[oid]
        assert len(arts) == 33, oid  # BBC News World, as in ../shared/data/README.md
        assert "\ufffd" not in titles(arts) and "\x00" not in titles(arts)


def test_truncated_and_ill_formed_feeds_keep_what_parsed_and_record_bozo(
    scenario: Scenario,
) -> None:
    """Row: truncated or ill-formed XML."""
    assert sorted(a.title for a in scenario.articles["truncated"]) == [
        "Story cut-0",
        "Story cut-1",
    ]
    assert sorted(a.title for a in scenario.articles["illformed"]) == ["Story ill-0", "Story ill-1"]
    bozo = {
        str(fields.get("outlet"))
        for name, fields in scenario.logged
        if name == "feed.polled" and fields.get("bozo")
    }
    assert {"truncated", "illformed"} <= bozo
    assert "good" not in bozo


def test_billion_laughs_and_xxe_expand_nothing_and_read_nothing(scenario: Scenario) -> None:
    """Row: billion laughs, XXE."""
    assert scenario.first_seconds < 60
    laughs = titles(scenario.articles.get("laughs", []))
    assert "lollollol" not in laughs
    assert scenario.feeds["laughs"].last_error_code in (None, "not_a_feed")
    leaked = titles(scenario.articles.get("xxe", []))
    assert SECRET not in leaked and "root:" not in leaked
    assert scenario.private_hits == 0  # the entity naming the internal server was not fetched
    for oid in ("laughs", "xxe"):
        feed = scenario.feeds[oid]
        assert feed.last_error_code != "parse_timeout", oid


def test_duplicate_and_missing_guids_get_one_stable_key_and_reruns_add_nothing(
    scenario: Scenario,
) -> None:
    """Row: duplicate GUIDs, entries with no GUID or link."""
    arts = scenario.articles["dupes"]
    assert sorted(a.title for a in arts) == ["Bare one", "Bare two", "First telling", "No guid"]
    assert len({a.canonical_url for a in arts}) == 4
    assert scenario.first_new["dupes"] == 4
    assert scenario.second_new["dupes"] == 0  # the document changed, the keys did not
    bare = [a for a in arts if a.title.startswith("Bare")]
    assert all(a.canonical_url.startswith("urn:newsagg:dupes:") for a in bare)
    assert all({Flag.SUMMARY_ONLY} <= a.flags for a in bare)  # no page: the summary is the text


def test_a_churning_entry_is_revised_with_its_date_kept_and_history_capped(
    scenario: Scenario,
) -> None:
    """Row: changed entry content (churn capped)."""
    (live,) = scenario.articles["churn"]
    # 13 polls saw 13 versions; the article stops at max_revisions_per_article (10)
    assert scenario.churn_revision == 10
    assert live.title == "Live: update 10"
    assert [title for _, title, _ in scenario.revisions] == [
        f"Live: update {n}" for n in range(1, 10)
    ]
    assert live.published is not None
    assert rfc822(live.published) == HOUR_AGO  # the date is the feed's, unchanged


def test_nul_and_control_characters_never_reach_storage(scenario: Scenario) -> None:
    """Row: NUL and control characters (PostgreSQL rejects NUL)."""
    for oid in ("nul_rss", "nul_json"):
        assert scenario.feeds[oid].last_error_code is None, oid
        (art,) = scenario.articles[oid]
        for value in (art.title, art.summary, art.text, art.guid or "", art.canonical_url):
            assert not set(value) & set(CONTROL), (oid, value)
            assert "\ud800" not in value
        assert art.text, oid
    assert "with controls" in scenario.articles["nul_rss"][0].title
    assert not [e for e in scenario.logged if e[0] == "feed.failed"]  # no storage error at all


def test_pages_that_are_not_articles_are_flagged_and_kept_with_what_is_reliable(
    scenario: Scenario,
) -> None:
    """Row: page is not HTML, is an index page, is paywalled or repeats paragraphs."""
    arts = {a.title: a for a in scenario.articles["pages"]}
    for name, flags in PAGE_FLAGS.items():
        if name == "slow":
            continue
        art = arts[f"Page {name}"]
        assert flags <= art.flags, (name, art.flags)
        assert art.text, name
        if Flag.SUMMARY_ONLY in flags:
            assert art.text == f"Summary of {name}"
        else:
            assert art.text != f"Summary of {name}", name
    assert (
        Flag.INDEX_PAGE not in arts["Page ok"].flags and Flag.NOT_HTML not in arts["Page ok"].flags
    )


def test_an_extractor_stuck_on_a_page_is_cut_and_the_worker_carries_on(
    scenario: Scenario,
) -> None:
    """Row: extractor hangs or explodes (a page that takes it 10+ s, cut at 2 s)."""
    arts = {a.title: a for a in scenario.articles["pages"]}
    slow = arts["Page slow"]
    assert PAGE_FLAGS["slow"] <= slow.flags and slow.text == "Summary of slow"
    extracted = [a for a in scenario.articles["pages"] if Flag.SUMMARY_ONLY not in a.flags]
    assert len(extracted) == 4  # ok, index, paywall, repeated: the pool carried on
    assert scenario.first_seconds < 60
    failed = [f for name, f in scenario.logged if name == "page.extract_failed"]
    assert [f.get("code") for f in failed] == ["extract_timeout"]
