"""Pipeline-level rows of RELIABILITY.md against a real local server and real databases:
one outlet's failure never stops the others, errors are named and backed off, articles are
never lost."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from xml.sax.saxutils import escape

import pytest
from sqlalchemy import text

from aggregator.errors import NewsaggError
from aggregator.types import FeedState
from aggregator.wiring import Runtime
from tests.support.httpserver import LocalServer, Request
from tests.support.runtime import outlet, runtime

BODY = (
    "<html><head><title>{title}</title></head><body><article><h1>{title}</h1>"
    + "".join(
        f"<p>Paragraph {i} of the story about the harbour bridge closure reports that the "
        f"city council voted on the repair budget after weeks of debate and protests.</p>"
        for i in range(8)
    )
    + "</article></body></html>"
)


def rss(server: LocalServer, items: list[tuple[str, str, str | None]]) -> str:
    """items: (slug, title, pubDate or None)."""
    parts = []
    for slug, title, date in items:
        when = f"<pubDate>{date}</pubDate>" if date else ""
        parts.append(
            f"<item><title>{escape(title)}</title><link>{server.url('/a/' + slug)}</link>"
            f"<guid>{slug}</guid>{when}<description>Summary: {escape(title)}</description></item>"
        )
    return f"<rss version='2.0'><channel><title>t</title>{''.join(parts)}</channel></rss>"


def article(server: LocalServer, slug: str, title: str) -> None:
    server.route(f"/a/{slug}", BODY.format(title=title), headers={"Content-Type": "text/html"})


NOW_RFC = format_datetime(datetime.now(UTC) - timedelta(hours=1), usegmt=True)


def never_answers(stop: threading.Event):  # type: ignore[no-untyped-def]
    def handler(_r: Request, _h: BaseHTTPRequestHandler) -> None:
        stop.wait(10)

    return handler


def test_one_failing_outlet_never_stops_the_others(http_server: LocalServer, db_url: str) -> None:
    article(http_server, "one", "Bridge closes")
    article(http_server, "two", "Council votes")
    good = http_server.route(
        "/good.xml",
        rss(http_server, [("one", "Bridge closes", NOW_RFC), ("two", "Council votes", NOW_RFC)]),
    )
    stop = threading.Event()
    broken = {
        "e500": http_server.route("/500.xml", "oops", status=500),
        "html": http_server.route(
            "/page.html",
            "<html><body><p>Hello</p></body></html>",
            headers={"Content-Type": "text/html"},
        ),
        "empty": http_server.route("/empty.xml", b""),
        "hang": http_server.route("/hang.xml", handler=never_answers(stop)),
        "gone": http_server.route("/gone.xml", "", status=410),
        "cf": http_server.route(
            "/cf.xml",
            "<title>Just a moment...</title>",
            status=403,
            headers={"cf-mitigated": "challenge", "Server": "cloudflare"},
        ),
    }
    outlets = [outlet("good", good)] + [outlet(k, u) for k, u in broken.items()]
    try:
        with runtime(db_url, outlets) as rt:
            report = rt.pipeline.run_once(include_not_due=True)
            feeds = {f.outlet_id: f for f in rt.store.feeds.feeds()}
            assert rt.store.articles.count(outlet_id="good") == 2
            assert rt.store.articles.count(state="pending") == 0
    finally:
        stop.set()
    assert report.new_articles == 2
    codes = {oid: feeds[oid].last_error_code for oid in broken}
    assert codes == {
        "e500": "server_error",
        "html": "not_a_feed",
        "empty": "empty_body",
        "hang": "timeout",
        "gone": "gone",
        "cf": "blocked",
    }
    assert feeds["gone"].state is FeedState.GONE
    now = datetime.now(UTC)
    for oid in broken:
        assert feeds[oid].error_count == 1
        assert feeds[oid].next_check_at > now
        assert feeds[oid].last_error and "feed" in feeds[oid].last_error
    assert feeds["good"].error_count == 0 and feeds["good"].last_error is None


def test_retry_after_sets_the_next_check(http_server: LocalServer, db_url: str) -> None:
    url = http_server.route("/busy.xml", "slow down", status=429, headers={"Retry-After": "7200"})
    with runtime(db_url, [outlet("busy", url)]) as rt:
        rt.pipeline.run_once(include_not_due=True)
        (feed,) = rt.store.feeds.feeds()
    wait = feed.next_check_at - datetime.now(UTC)
    assert feed.last_error_code == "rate_limited"
    assert timedelta(minutes=115) < wait <= timedelta(minutes=121)


def test_backoff_grows_and_resets_on_success(http_server: LocalServer, db_url: str) -> None:
    url = http_server.route("/flaky.xml", "down", status=503)
    with runtime(db_url, [outlet("flaky", url)]) as rt:
        for _ in range(3):
            rt.pipeline.run_once(include_not_due=True)
        (failing,) = rt.store.feeds.feeds()
        assert failing.error_count == 3
        assert failing.next_check_at - datetime.now(UTC) > timedelta(minutes=29)  # 15*2^2*0.5
        article(http_server, "ok", "Back online")
        http_server.route("/flaky.xml", rss(http_server, [("ok", "Back online", NOW_RFC)]))
        rt.pipeline.run_once(include_not_due=True)
        (healed,) = rt.store.feeds.feeds()
    assert healed.error_count == 0 and healed.last_error_code is None


def test_gone_feed_keeps_its_articles(http_server: LocalServer, db_url: str) -> None:
    article(http_server, "a", "First")
    url = http_server.route("/feed.xml", rss(http_server, [("a", "First", NOW_RFC)]))
    with runtime(db_url, [outlet("o", url)]) as rt:
        rt.pipeline.run_once(include_not_due=True)
        http_server.route("/feed.xml", "", status=410)
        rt.pipeline.run_once(include_not_due=True)
        (feed,) = rt.store.feeds.feeds()
        assert feed.state is FeedState.GONE
        assert rt.store.articles.count() == 1


def test_robots_disallow_keeps_the_summary_flagged(http_server: LocalServer, db_url: str) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /a/\n")
    article(http_server, "secret", "Hidden page")
    url = http_server.route("/feed.xml", rss(http_server, [("secret", "Hidden page", NOW_RFC)]))
    with runtime(db_url, [outlet("o", url)]) as rt:
        rt.pipeline.run_once(include_not_due=True)
        (art,) = rt.store.articles.get_many([1])
    assert http_server.hits["/a/secret"] == 0
    assert {"robots_disallowed", "summary_only"} <= art.flags
    assert art.text == "Summary: Hidden page"


def test_changed_entry_is_a_revision_with_the_same_date(
    http_server: LocalServer, db_url: str
) -> None:
    article(http_server, "a", "Old headline")
    url = http_server.route("/feed.xml", rss(http_server, [("a", "Old headline", NOW_RFC)]))
    with runtime(db_url, [outlet("o", url)]) as rt:
        rt.pipeline.run_once(include_not_due=True)
        before = rt.store.articles.get(1)
        http_server.route("/feed.xml", rss(http_server, [("a", "New headline", NOW_RFC)]))
        rt.pipeline.run_once(include_not_due=True)
        after = rt.store.articles.get(1)
        history = rt.store.articles.revisions(1)
        assert rt.store.articles.count() == 1
    assert (after.title, after.revision) == ("New headline", 2)
    assert after.published == before.published
    assert [title for _, title, _ in history] == ["Old headline"]


def test_future_and_unparseable_dates_are_kept_and_flagged(
    http_server: LocalServer, db_url: str
) -> None:
    future = format_datetime(datetime.now(UTC) + timedelta(days=30), usegmt=True)
    for slug in ("f", "b"):
        article(http_server, slug, slug)
    url = http_server.route(
        "/feed.xml", rss(http_server, [("f", "Future", future), ("b", "Bad", "not a date at all")])
    )
    with runtime(db_url, [outlet("o", url)]) as rt:
        rt.pipeline.run_once(include_not_due=True)
        arts = {a.title: a for a in rt.store.articles.get_many([1, 2])}
    assert "future_date" in arts["Future"].flags
    assert arts["Future"].sort_time == arts["Future"].first_seen
    assert "bad_date" in arts["Bad"].flags
    assert arts["Bad"].published is None or arts["Bad"].published_source.value == "page"


def test_non_html_page_is_flagged_and_the_rest_goes_on(
    http_server: LocalServer, db_url: str
) -> None:
    http_server.route(
        "/a/pdf",
        b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj",
        headers={"Content-Type": "application/pdf"},
    )
    article(http_server, "fine", "Fine page")
    url = http_server.route(
        "/feed.xml", rss(http_server, [("pdf", "A PDF", NOW_RFC), ("fine", "Fine page", NOW_RFC)])
    )
    with runtime(db_url, [outlet("o", url)]) as rt:
        rt.pipeline.run_once(include_not_due=True)
        arts = {a.title: a for a in rt.store.articles.get_many([1, 2])}
    assert "not_html" in arts["A PDF"].flags
    assert arts["A PDF"].text == "Summary: A PDF"
    assert "Paragraph 3" in arts["Fine page"].text


@pytest.mark.parametrize("status", [500, 404])
def test_failing_page_keeps_summary_after_retries(
    http_server: LocalServer, db_url: str, status: int
) -> None:
    http_server.route("/a/x", "nope", status=status)
    url = http_server.route("/feed.xml", rss(http_server, [("x", "Broken page", NOW_RFC)]))
    with runtime(db_url, [outlet("o", url)]) as rt:
        rt.pipeline.run_once(include_not_due=True)
        pending = rt.store.articles.count(state="pending")
        art = rt.store.articles.get(1)
    if status == 404:  # permanent: kept with the summary at once
        assert pending == 0 and {"fetch_failed", "summary_only"} <= art.flags
    else:  # transient: waits for a retry, nothing lost
        assert pending == 1 and art.text == ""


POISON_SQLITE = (
    "CREATE TRIGGER poison BEFORE UPDATE OF text ON articles WHEN NEW.text LIKE '%poisoned%' "
    "BEGIN SELECT RAISE(ABORT, 'poisoned text refused'); END",
)
POISON_PG = (
    "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF NEW.text LIKE '%poisoned%' THEN RAISE EXCEPTION 'poisoned text refused'; END IF; "
    "RETURN NEW; END $$",
    "CREATE TRIGGER poison BEFORE UPDATE OF text ON articles FOR EACH ROW "
    "EXECUTE FUNCTION poison()",
)


def test_a_batch_the_database_refuses_fails_the_pass_and_loses_no_page(
    http_server: LocalServer, db_url: str
) -> None:
    """Pages are stored by a thread of their own (``WriteBehind``): a batch the database
    refuses must still fail the run in the caller, with the database's own words, and leave
    its pages pending (claimed, so retried once the lease is over), not lost or half-stored."""
    slugs = [f"s{n}" for n in range(6)]
    for slug in slugs:
        article(http_server, slug, f"Story {slug}")
    http_server.route(
        "/a/s3",
        BODY.format(title="Story s3").replace("harbour bridge", "poisoned bridge"),
        headers={"Content-Type": "text/html"},
    )
    feed = http_server.route(
        "/f.xml", rss(http_server, [(s, f"Story {s}", NOW_RFC) for s in slugs])
    )
    with runtime(db_url, [outlet("o", feed)], NEWSAGG_POLL_LEASE_SECONDS="1") as rt:
        poison = POISON_PG if db_url.startswith("postgresql") else POISON_SQLITE
        with rt.store.engine.begin() as conn:
            for statement in poison:
                conn.execute(text(statement))
        rt.pipeline.poll_feeds(include_not_due=True)
        with pytest.raises(NewsaggError, match="poisoned text refused"):
            rt.pipeline.process_pages()
        assert rt.store.articles.count() == 6
        assert rt.store.articles.count(state="pending") >= 1  # the refused batch, s3 in it
        assert "poisoned" not in texts_of(rt)["s3"]  # nothing of it half-stored
        with rt.store.engine.begin() as conn:
            conn.execute(
                text("DROP TRIGGER poison" + (" ON articles" if "FUNC" in poison[0] else ""))
            )
        time.sleep(1.2)  # the refused pages' lease runs out
        rt.pipeline.process_pages()
        assert rt.store.articles.count(state="pending") == 0
        texts = texts_of(rt)
        assert sorted(texts) == slugs
        assert "poisoned bridge" in (texts["s3"] or "")


def texts_of(rt: Runtime) -> dict[str, str]:
    """Each stored article's text by the last part of its URL."""
    return {a.url.rsplit("/", 1)[1]: a.text or "" for a in rt.store.articles.get_many(range(1, 7))}
