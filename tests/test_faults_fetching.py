"""RELIABILITY.md, "Fetching", end to end: one scenario of ~35 outlets, each feed (or article
page) a different fault, polled twice by the real pipeline (fetcher, parse pool, extraction
pool, store) on a real SQLite file and a real PostgreSQL; then one test per row checks what
was stored. A private server on 127.0.0.2 plays the internal network: it is never hit.

The unit tests of each mechanism are in test_fetch.py, test_fetch_guard.py, test_fetch_polite.py
and test_fetch_tls.py; this module proves that the pipeline puts them together: the right
named error on the feed, the schedule it implies, nothing partial stored, the others go on.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from aggregator.pipeline import PassReport
from aggregator.settings import Settings
from aggregator.types import Article, Feed, FeedState, Flag
from aggregator.web.app import create_app
from storage.store import Store
from tests.support.faults import (
    BOMB_EXPANDS_TO,
    FaultWeb,
    Item,
    article_page,
    bomb,
    conditional,
    cut_mid_body,
    http_date_in,
    retry_after,
    rfc822,
    rss,
    story_text,
    streamed,
)
from tests.support.fetchkit import InFlight, closed_port
from tests.support.httpserver import LocalServer, Response, serve
from tests.support.moduledb import BACKENDS, module_database
from tests.support.runtime import outlet, runtime
from tests.support.webserver import running

pytest_plugins = ["tests.support.figureplugin"]

MAX_BYTES = 2_000_000
HOUR_AGO = rfc822(datetime.now(UTC) - timedelta(hours=1))
OVERRIDES = {
    "NEWSAGG_FETCH_MAX_BYTES": str(MAX_BYTES),
    "NEWSAGG_FETCH_TIMEOUT_S": "2",
    "NEWSAGG_FETCH_DEADLINE_S": "4",
}


def items(web: FaultWeb, prefix: str, n: int) -> list[Item]:
    """``n`` entries whose article pages exist on the public server."""
    out = []
    for i in range(n):
        slug = f"{prefix.strip('/').replace('/', '-')}-{i}"
        title = f"Story {slug}"
        web.page(f"{prefix}/{i}.html", article_page(title, story_text(slug)), kind="article-ok")
        out.append(Item(title, web.url(f"{prefix}/{i}.html"), slug, HOUR_AGO, f"Summary {slug}"))
    return out


def prefixed_rss(web: FaultWeb, prefix: str) -> bytes:
    """The first bytes of a feed with two complete entries (an unclosed document)."""
    document = rss(items(web, prefix, 2))
    return document.removesuffix("</channel></rss>").encode()


def build(web: FaultWeb) -> dict[str, str]:
    """Every fault of the Fetching rows; returns outlet id -> feed URL."""
    pub, priv = web.public, web.private
    web.public.route("/robots.txt", "User-agent: *\nAllow: /\n")
    feeds: dict[str, str] = {}
    feeds["good"] = web.serve(
        "etag-304", "/good.xml", handler=conditional(rss(items(web, "/good", 2)).encode())
    )
    same = rss(items(web, "/same", 1)).encode()
    feeds["same_hash"] = web.feed("same-body-no-etag", "/same.xml", same)
    feeds["nf404"] = web.feed("ok-then-404", "/nf404.xml", rss(items(web, "/nf404", 1)))
    feeds["gone"] = web.feed("ok-then-410", "/gone.xml", rss(items(web, "/gone", 1)))
    # slow, silent and broken connections
    feeds["drip"] = web.drip("drip", "/drip.xml")
    feeds["hang"] = web.hang("never-answers", "/hang.xml")
    feeds["reset"] = web.serve(
        "connection-cut-mid-body", "/reset.xml", handler=cut_mid_body(prefixed_rss(web, "/reset"))
    )
    feeds["refused"] = f"http://127.0.0.1:{closed_port()}/refused.xml"
    feeds["tls"] = f"https://127.0.0.1:{pub.port}/tls.xml"
    web.feed("tls-to-plain-port", "/tls.xml", rss(items(web, "/tls", 1)))
    # too big
    feeds["big_declared"] = web.serve(
        "content-length-over-cap",
        "/big-declared.xml",
        b"<rss/>",
        headers={"Content-Length": str(50 * MAX_BYTES)},
    )
    feeds["big_stream"] = web.serve(
        "streamed-over-cap",
        "/big-stream.xml",
        handler=streamed(prefixed_rss(web, "/big-stream"), 3 * MAX_BYTES // 2),
    )
    for coding in ("gzip", "deflate", "br"):
        feeds[f"bomb_{coding}"] = web.feed(
            f"bomb-{coding}",
            f"/bomb-{coding}.xml",
            bomb(coding, prefixed_rss(web, f"/bomb-{coding}")),
            **{"Content-Encoding": coding},
        )
    # redirects
    feeds["loop"] = web.loop("redirect-loop", "/loop")
    feeds["chain7"] = web.chain(
        "redirect-chain-7", "/chain7", 7, rss(items(web, "/c7", 1)).encode()
    )
    feeds["chain5"] = web.chain(
        "redirect-chain-5", "/chain5", 5, rss(items(web, "/c5", 1)).encode()
    )
    feeds["to_private"] = web.redirect(
        "redirect-to-private", "/to-private.xml", priv.url("/feed.xml")
    )
    feeds["to_metadata"] = web.redirect(
        "redirect-to-metadata", "/to-metadata.xml", "http://169.254.169.254/latest/meta-data/"
    )
    feeds["to_file"] = web.redirect("redirect-to-file", "/to-file.xml", "file:///etc/passwd")
    feeds["to_gopher"] = web.redirect(
        "redirect-to-gopher", "/to-gopher.xml", f"gopher://127.0.0.2:{priv.port}/_GET%20/secret"
    )
    feeds["private_literal"] = priv.url("/feed.xml")
    feeds["dns_loopback"] = f"http://localhost:{pub.port}/dns.xml"
    web.feed("dns-to-loopback", "/dns.xml", rss(items(web, "/dns", 1)))
    # statuses
    feeds["rl_seconds"] = web.serve(
        "429-retry-after-seconds",
        "/rl-s.xml",
        handler=retry_after(429, lambda: "7200"),
        own_origin=True,
    )
    feeds["rl_date"] = web.serve(
        "503-retry-after-date",
        "/rl-d.xml",
        handler=retry_after(503, http_date_in(3 * 3600)),
        own_origin=True,
    )
    feeds["rl_garbage"] = web.serve(
        "429-retry-after-garbage",
        "/rl-g.xml",
        handler=retry_after(429, lambda: "soon, maybe"),
        own_origin=True,
    )
    feeds["rl_huge"] = web.serve(
        "429-retry-after-huge",
        "/rl-h.xml",
        handler=retry_after(429, lambda: "999999999"),
        own_origin=True,
    )
    feeds["e500"] = web.serve("500", "/e500.xml", b"oops", status=500)
    feeds["e502"] = web.serve("502", "/e502.xml", b"bad gateway", status=502)
    feeds["empty"] = web.feed("empty-200", "/empty.xml", b"")
    feeds["html"] = web.serve(
        "html-not-feed",
        "/page.xml",
        article_page("Home", story_text("home")),
        headers={"Content-Type": "text/html"},
    )
    feeds["cf"] = web.serve(
        "cloudflare-403",
        "/cf.xml",
        "<html><title>Just a moment...</title></html>",
        status=403,
        headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
    )
    feeds["pages"] = web.feed("feed-of-page-faults", "/pages.xml", rss(page_faults(web)))
    return feeds


PAGE_FAULTS = ("ok", "bomb", "huge", "private", "jump", "localhost", "metadata", "drip")


def page_faults(web: FaultWeb) -> list[Item]:
    """Entries whose article pages are faults; the feed itself is fine."""
    urls = {
        "ok": web.page("/p/ok.html", article_page("Fine page", story_text("fine"))),
        "bomb": web.serve(
            "page-bomb-gzip",
            "/p/bomb.html",
            bomb("gzip", article_page("Bomb", story_text("bomb")).encode()),
            headers={"Content-Type": "text/html", "Content-Encoding": "gzip"},
        ),
        "huge": web.serve(
            "page-streamed-over-cap",
            "/p/huge.html",
            handler=streamed(article_page("Huge", story_text("huge")).encode(), 3 * MAX_BYTES),
        ),
        "private": web.private_url("/secret"),
        "jump": web.redirect("page-redirect-to-private", "/p/jump.html", web.private_url()),
        "localhost": f"http://localhost:{web.public.port}/p/ok.html",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/",
        "drip": web.drip("page-drip", "/p/drip.html"),
    }
    return [
        Item(f"Page {name}", url, f"page-{name}", HOUR_AGO, f"Summary of page {name}")
        for name, url in urls.items()
    ]


# -- running the scenario -------------------------------------------------------------------------


@dataclass
class Snapshot:
    report: PassReport
    seconds: float
    peak_growth_bytes: int | None
    feeds: dict[str, Feed]
    articles: dict[str, list[Article]]
    hits: Counter[str]
    private_hits: int
    requests: int  # requests seen by the public server so far


@dataclass
class Scenario:
    web: FaultWeb
    db_url: str
    feeds: dict[str, str]
    first: Snapshot
    second: Snapshot
    outlets_page: str
    outlets_api: dict[str, object]


def _peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_rss() -> int:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) * 1024 if match else 0


def _rss() -> int:
    match = re.search(r"VmRSS:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(match.group(1)) * 1024 if match else 0


def snapshot(store: Store, web: FaultWeb, run: object) -> Snapshot:
    measured = _peak_rss_reset()
    before = _rss()
    started = time.monotonic()
    report = run()  # type: ignore[operator]
    seconds = time.monotonic() - started
    growth = _peak_rss() - before if measured else None
    feeds = {f.outlet_id: f for f in store.feeds.feeds()}
    articles: dict[str, list[Article]] = {}
    for art in store.articles.get_many(list(range(1, 500))):
        articles.setdefault(art.outlet_id, []).append(art)
    return Snapshot(
        report,
        seconds,
        growth,
        feeds,
        articles,
        Counter(web.public.hits),
        web.private.total_hits,
        len(web.public.requests),
    )


@pytest.fixture(scope="module", params=BACKENDS)
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Scenario]:
    folder = tmp_path_factory.mktemp("faults")
    with (
        module_database(request, folder) as db_url,
        serve("127.0.0.1") as public,
        serve("127.0.0.2") as private,
    ):
        web = FaultWeb(public, private)
        try:
            feeds = build(web)
            outlets = [outlet(oid, url) for oid, url in feeds.items()]
            with runtime(db_url, outlets, **OVERRIDES) as rt:
                first = snapshot(rt.store, web, lambda: rt.pipeline.run_once(include_not_due=True))
                public.route("/nf404.xml", "not here", status=404)
                public.route("/gone.xml", "gone", status=410)
                second = snapshot(rt.store, web, lambda: rt.pipeline.run_once(include_not_due=True))
                app = create_app(Settings(), rt.store, clock=lambda: datetime.now(UTC))
                with running(app) as base, httpx.Client(base_url=base, timeout=30) as client:
                    page = client.get("/outlets").text
                    api = client.get("/api/outlets", params={"limit": 100}).json()
        finally:
            web.close()
        yield Scenario(web, db_url, feeds, first, second, page, api)


def codes(snap: Snapshot) -> dict[str, str | None]:
    return {oid: feed.last_error_code for oid, feed in snap.feeds.items()}


def minutes_until(feed: Feed, since: datetime) -> float:
    return (feed.next_check_at - since).total_seconds() / 60


# -- the rows ------------------------------------------------------------------------------------

EXPECTED_FIRST = {
    "good": None,
    "same_hash": None,
    "nf404": None,
    "gone": None,
    "drip": "timeout",
    "hang": "timeout",
    "reset": "network",
    "refused": "network",
    "tls": "tls",
    "big_declared": "too_large",
    "big_stream": "too_large",
    "bomb_gzip": "too_large",
    "bomb_deflate": "too_large",
    "bomb_br": "too_large",
    "loop": "too_many_redirects",
    "chain7": "too_many_redirects",
    "chain5": None,
    "to_private": "blocked_address",
    "to_metadata": "blocked_address",
    "to_file": "bad_scheme",
    "to_gopher": "bad_scheme",
    "private_literal": "blocked_address",
    "dns_loopback": "blocked_address",
    "rl_seconds": "rate_limited",
    "rl_date": "rate_limited",
    "rl_garbage": "rate_limited",
    "rl_huge": "rate_limited",
    "e500": "server_error",
    "e502": "server_error",
    "empty": "empty_body",
    "html": "not_a_feed",
    "cf": "blocked",
    "pages": None,
}


def test_every_fault_gets_its_named_error_and_the_good_feeds_are_stored(
    scenario: Scenario,
) -> None:
    first = scenario.first
    assert set(scenario.feeds) == set(EXPECTED_FIRST)
    assert codes(first) == EXPECTED_FIRST
    for oid, code in EXPECTED_FIRST.items():
        feed = first.feeds[oid]
        if code is None:
            assert feed.error_count == 0 and feed.last_success_at is not None, oid
        else:
            assert feed.error_count == 1, oid
            assert feed.last_error and "feed" in feed.last_error, oid  # names the resource
    stored = {oid: len(arts) for oid, arts in first.articles.items()}
    assert stored == {"good": 2, "same_hash": 1, "nf404": 1, "gone": 1, "chain5": 1, "pages": 8}


def test_silent_and_dripping_servers_are_cut_by_the_deadline_and_the_pass_goes_on(
    scenario: Scenario,
) -> None:
    """Row: server never answers / drips slowly."""
    first = scenario.first
    for oid in ("drip", "hang"):
        assert first.feeds[oid].last_error_code == "timeout"
        assert "deadline" in (first.feeds[oid].last_error or "") or "timed out" in (
            first.feeds[oid].last_error or ""
        )
    # a 4 s deadline per request: the drip alone would last 100 s, the silent server 30 s
    assert first.seconds < 40, first.seconds
    dripped = {a.title: a for a in first.articles["pages"]}["Page drip"]
    assert dripped.text == "", "a page cut by the deadline stores nothing partial"
    assert len(first.articles["good"]) == 2  # the job went on with the other feeds


def test_oversized_bodies_and_bombs_are_refused_with_memory_bounded_and_nothing_partial(
    scenario: Scenario,
) -> None:
    """Row: body larger than the cap (header or streamed), gzip/deflate/br bomb."""
    first = scenario.first
    for oid in ("big_declared", "big_stream", "bomb_gzip", "bomb_deflate", "bomb_br"):
        assert first.feeds[oid].last_error_code == "too_large", oid
        # each of these bodies starts with two complete entries: none may be stored
        assert oid not in first.articles, oid
    assert "decoded" in (first.feeds["bomb_br"].last_error or "")
    pages = {a.title: a for a in first.articles["pages"]}
    for name in ("bomb", "huge"):
        art = pages[f"Page {name}"]
        assert {Flag.SUMMARY_ONLY, Flag.FETCH_FAILED} <= art.flags, name
        assert art.text == f"Summary of page {name}", name
    if first.peak_growth_bytes is not None:  # 4 bombs of 256 MiB were served in this pass
        assert first.peak_growth_bytes < BOMB_EXPANDS_TO // 2, first.peak_growth_bytes


def test_redirect_loops_and_chains_stop_after_five_hops(scenario: Scenario) -> None:
    """Row: redirect loop, long chain."""
    first = scenario.first
    assert sum(n for p, n in first.hits.items() if p.startswith("/loop/")) == 6
    assert sum(n for p, n in first.hits.items() if p.startswith("/chain7/")) == 6
    assert first.hits["/chain7/6"] == 0 and first.hits["/chain7/7"] == 0
    assert sum(n for p, n in first.hits.items() if p.startswith("/chain5/")) == 6
    (article,) = first.articles["chain5"]
    assert article.title == "Story c5-0"


def test_nothing_inside_is_ever_reached_by_redirect_name_literal_or_scheme(
    scenario: Scenario,
) -> None:
    """Row: redirect or DNS answer to loopback/private/link-local/metadata, file:/gopher:."""
    first, second = scenario.first, scenario.second
    assert first.private_hits == 0 and second.private_hits == 0
    assert scenario.web.private.total_hits == 0
    assert second.hits["/dns.xml"] == 0  # localhost resolves to loopback: refused at connect
    assert second.hits["/p/ok.html"] == 1  # fetched under its allowed address only
    for oid in ("to_private", "private_literal", "dns_loopback"):
        assert "127.0.0.2" in (first.feeds[oid].last_error or "") or "loopback" in (
            first.feeds[oid].last_error or ""
        ), oid
    pages = {a.title: a for a in first.articles["pages"]}
    for name in ("private", "jump", "localhost", "metadata"):
        art = pages[f"Page {name}"]
        assert {Flag.SUMMARY_ONLY, Flag.FETCH_FAILED} <= art.flags, name
        assert art.text == f"Summary of page {name}"
    assert "Paragraph 1" in pages["Page ok"].text


def test_not_modified_and_same_body_reprocess_nothing_and_validators_are_kept(
    scenario: Scenario,
) -> None:
    """Row: 304, or 200 with the same ETag/body hash."""
    first, second = scenario.first, scenario.second
    good = second.feeds["good"]
    assert good.etag and good.body_hash and good.last_unconditional_at is not None
    conditional_requests = [r for r in scenario.web.public.requests if r.path == "/good.xml"]
    assert [("If-None-Match" in r.headers) for r in conditional_requests] == [False, True]
    results = {r.outlet_id: r.result for r in second.report.feeds}
    assert results["good"] == "not_modified" and results["same_hash"] == "not_modified"
    for oid in ("good", "same_hash"):
        assert [a.revision for a in second.articles[oid]] == [1] * len(first.articles[oid])
    with Store.open(scenario.db_url) as store:
        log = store.feeds.fetch_log(second.feeds["same_hash"].id)
    assert sorted(e.result for e in log) == ["not_modified", "ok"]


def test_retry_after_in_seconds_dates_or_garbage_sets_the_next_check_capped(
    scenario: Scenario,
) -> None:
    """Row: 429/503 with Retry-After (seconds or HTTP date, or garbage)."""
    feeds = scenario.first.feeds
    fetched = {oid: feeds[oid].last_fetched_at for oid in feeds}
    after = {oid: minutes_until(feeds[oid], fetched[oid]) for oid in feeds if fetched[oid]}
    assert 119 <= after["rl_seconds"] <= 121
    assert 178 <= after["rl_date"] <= 181
    assert 7.5 <= after["rl_garbage"] <= 15.01  # no usable hint: backoff (15 min x [0.5, 1])
    assert 1439 <= after["rl_huge"] <= 1440.01  # capped at max_retry_after_minutes
    for oid in ("rl_seconds", "rl_date", "rl_garbage", "rl_huge"):
        assert feeds[oid].state is FeedState.ACTIVE


def test_repeated_server_errors_back_off_and_are_visible_on_the_outlets_page(
    scenario: Scenario,
) -> None:
    """Row: repeated 5xx / network errors."""
    first, second = scenario.first, scenario.second
    for oid in ("e500", "e502", "reset", "refused"):
        feed = second.feeds[oid]
        assert feed.error_count == 2 and feed.state is FeedState.ACTIVE, oid
        assert 15 <= minutes_until(feed, feed.last_fetched_at) <= 30.01, oid  # 15 x 2 x [.5, 1]
        assert minutes_until(first.feeds[oid], first.feeds[oid].last_fetched_at) <= 15.01
    api = {o["id"]: o for o in scenario.outlets_api["items"]}  # type: ignore[index]
    for oid in ("e500", "reset", "drip"):
        (feed,) = api[oid]["feeds"]
        assert feed["broken"] is True and feed["error_count"] == 2, oid
        assert feed["result"] == second.feeds[oid].last_error_code
    assert api["good"]["broken"] is False
    assert "HTTP 500" in scenario.outlets_page and "errors 2" in scenario.outlets_page
    broken = [o["broken"] for o in scenario.outlets_api["items"]]  # type: ignore[index]
    assert broken == sorted(broken, reverse=True) and broken.count(False) == 4  # broken first


def test_not_found_backs_off_gone_is_marked_and_stored_articles_stay(scenario: Scenario) -> None:
    """Row: 404 / 410."""
    second = scenario.second
    nf, gone = second.feeds["nf404"], second.feeds["gone"]
    assert nf.last_error_code == "not_found" and nf.state is FeedState.ACTIVE
    assert 7.5 <= minutes_until(nf, nf.last_fetched_at) <= 15.01
    assert gone.last_error_code == "gone" and gone.state is FeedState.GONE
    assert 6.9 * 24 * 60 <= minutes_until(gone, gone.last_fetched_at) <= 7.01 * 24 * 60
    assert [a.title for a in second.articles["nf404"]] == ["Story nf404-0"]
    assert [a.title for a in second.articles["gone"]] == ["Story gone-0"]
    assert all(a.text for a in second.articles["gone"] + second.articles["nf404"])


def test_empty_bodies_html_pages_and_challenges_are_named_not_zero_new_items(
    scenario: Scenario,
) -> None:
    """Rows: 200 with an empty body or an HTML page; Cloudflare-style 403 challenge."""
    first = scenario.first
    reports = {r.outlet_id: r for r in first.report.feeds}
    for oid, code in (("empty", "empty_body"), ("html", "not_a_feed"), ("cf", "blocked")):
        assert reports[oid].result == "error" and reports[oid].error_code == code, oid
        assert first.feeds[oid].next_check_at > first.feeds[oid].last_fetched_at  # type: ignore[operator]
    cf = first.feeds["cf"]
    assert 7.5 <= minutes_until(cf, cf.last_fetched_at) <= 15.01  # backed off, not hammered


def test_a_tls_failure_is_an_error_and_never_retried_in_plain_http(scenario: Scenario) -> None:
    """Row: TLS error."""
    second = scenario.second
    assert second.feeds["tls"].last_error_code == "tls"
    assert second.hits["/tls.xml"] == 0  # a downgrade to http:// would have been served
    assert "tls" not in second.articles


# -- rows that need their own settings ------------------------------------------------------------


def test_many_feeds_on_one_host_keep_its_delay_and_concurrency_limit(
    sqlite_url: str, http_server: LocalServer
) -> None:
    """Row: many feeds on one host: feeds and pages of 12 feeds, 2 at a time, 0.1 s apart."""
    gauge = InFlight(hold_s=0.15)
    http_server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    feeds = []
    for n in range(12):
        slug = f"host-{n}"
        page = article_page(slug, story_text(slug)).encode()
        http_server.route(
            f"/h/{n}.html",
            handler=gauge.answering(Response(200, page, {"Content-Type": "text/html"})),
        )
        doc = rss([Item(slug, http_server.url(f"/h/{n}.html"), slug, HOUR_AGO, "s")]).encode()
        http_server.route(f"/h/{n}.xml", handler=gauge.answering(Response(200, doc)))
        feeds.append(outlet(f"o{n}", http_server.url(f"/h/{n}.xml")))
    with runtime(
        sqlite_url,
        feeds,
        NEWSAGG_FETCH_PER_HOST_CONCURRENCY="2",
        NEWSAGG_FETCH_PER_HOST_DELAY_S="0.1",
        NEWSAGG_POLL_FEED_WORKERS="8",
    ) as rt:
        rt.pipeline.run_once(include_not_due=True)
        assert rt.store.articles.count() == 12 and rt.store.articles.count(state="pending") == 0
    assert len(gauge.starts) == 24
    assert gauge.peak == 2  # 8 feed threads and 8 page threads, never more than 2 in flight
    gaps = [b - a for a, b in zip(sorted(gauge.starts), sorted(gauge.starts)[1:], strict=False)]
    # starts as the server sees them: the client keeps 0.1 s, and scheduling on a busy 2-core
    # machine moves a handler's clock (by 30 ms once under a slow day's full `make test`, and
    # once one handler's start by ~99 ms, next to the following one: a gap of 1 ms). Without
    # the delay the requests go in pairs: about half of the 23 gaps are ~0. So: at most one
    # short gap, and the rest keep the delay (test_fetch_polite checks the client's own 0.1 s)
    short = [gap for gap in gaps if gap < 0.05]
    assert len(short) <= 1, gaps


def test_an_unconditional_fetch_now_and_then_reprocesses_nothing(
    sqlite_url: str, http_server: LocalServer, private_server: LocalServer
) -> None:
    """Row: 304 ... an unconditional fetch now and then (here: every time)."""
    web = FaultWeb(http_server, private_server)
    url = web.serve("etag-304", "/f.xml", handler=conditional(rss(items(web, "/u", 2)).encode()))
    http_server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    with runtime(sqlite_url, [outlet("u", url)], NEWSAGG_FETCH_UNCONDITIONAL_EVERY_H="0") as rt:
        for _ in range(3):
            rt.pipeline.run_once(include_not_due=True)
        (feed,) = rt.store.feeds.feeds()
        results = [e.result for e in rt.store.feeds.fetch_log(feed.id)]
        assert rt.store.articles.count() == 2
        assert {a.revision for a in rt.store.articles.get_many([1, 2])} == {1}
    sent = [("If-None-Match" in r.headers) for r in http_server.requests if r.path == "/f.xml"]
    assert sent == [False, False, False]
    assert sorted(results) == ["not_modified", "not_modified", "ok"]  # same body hash


def test_retry_after_holds_for_every_feed_and_page_of_the_host(
    sqlite_url: str, http_server: LocalServer
) -> None:
    """Row: 429/503 with Retry-After ... per host (per origin: scheme, host and port). After
    one feed's 429, no other feed or page of that origin is requested until the pause is
    over; a page waiting on it keeps its attempts; another origin is polled as usual."""
    http_server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    busy = http_server.route("/busy.xml", "slow down", status=429, headers={"Retry-After": "3600"})
    doc = rss([Item("Later", http_server.url("/later.html"), "later", HOUR_AGO, "s")])
    later = http_server.route("/later.xml", doc)
    http_server.route("/later.html", article_page("Later", story_text("later")))
    with serve("127.0.0.1") as other:
        other.route("/robots.txt", "User-agent: *\nAllow: /\n")
        listed = [Item("Elsewhere", http_server.url("/later.html"), "there", HOUR_AGO, "s")]
        own = other.route("/own.xml", rss(listed))
        with runtime(
            sqlite_url,
            [outlet("a", busy), outlet("b", later), outlet("c", own)],
            NEWSAGG_POLL_FEED_WORKERS="1",
        ) as rt:
            rt.pipeline.run_once(include_not_due=True)
            feeds = {f.outlet_id: f for f in rt.store.feeds.feeds()}
            articles = rt.store.articles.get_many([1, 2, 3])
            pending = rt.store.articles.count(state="pending")
        assert other.hits["/own.xml"] == 1, "another origin is not paused"
    assert http_server.hits["/busy.xml"] == 1
    assert http_server.hits["/later.xml"] == 0, "the origin asked for an hour's pause"
    assert http_server.hits["/later.html"] == 0
    assert feeds["b"].next_check_at >= feeds["a"].next_check_at - timedelta(minutes=1)
    assert feeds["b"].last_error_code == "rate_limited"
    assert feeds["c"].last_error_code is None
    assert [a.outlet_id for a in articles] == ["c"] and pending == 1  # waits, summary not kept
