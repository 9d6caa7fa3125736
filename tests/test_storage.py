"""Storage against real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from aggregator.types import ArticleDraft, DateSource, FeedState, OutletConfig, PageOutcome
from storage.db import json_text, migrate
from storage.store import Store
from tests.support.statements import captured

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def outlet(
    oid: str = "latimes", feeds: tuple[str, ...] = ("https://example.com/a.xml",)
) -> OutletConfig:
    return OutletConfig(
        id=oid,
        name=oid.upper(),
        homepage="https://example.com",
        country="US",
        language="en",
        feeds=feeds,
        labels={"ownership": "private"},
    )


def draft(
    key: str,
    *,
    title: str = "t",
    summary: str = "s",
    item_hash: str = "h1",
    outlet_id: str = "latimes",
    pending: bool = True,
) -> ArticleDraft:
    return ArticleDraft(
        outlet_id=outlet_id,
        canonical_url=f"https://example.com/{key}",
        url=f"https://example.com/{key}",
        entry_key=key,
        title=title,
        text="",
        summary=summary,
        published=NOW,
        published_source=DateSource.FEED,
        first_seen=NOW,
        content_hash="c",
        item_hash=item_hash,
        pending=pending,
    )


@pytest.fixture
def store(db_url: str) -> Store:
    migrate(db_url)
    s = Store.open(db_url)
    yield s
    s.close()


def test_sync_outlets_is_idempotent(store: Store) -> None:
    first = store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    again = store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    assert (first.outlets_added, first.feeds_added) == (1, 1)
    assert (again.outlets_added, again.outlets_updated, again.feeds_added) == (0, 0, 0)
    assert [o.labels for o in store.feeds.outlets()] == [{"ownership": "private"}]


def test_insert_is_idempotent_and_revisions_keep_history(store: Store) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    first = store.articles.insert_drafts([draft("a"), draft("b")], NOW)
    assert len(first.new_ids) == 2
    again = store.articles.insert_drafts([draft("a"), draft("b")], NOW)
    assert again.new_ids == () and again.unchanged == 2
    changed = store.articles.insert_drafts([draft("a", title="new title", item_hash="h2")], NOW)
    assert len(changed.revised_ids) == 1
    article = store.articles.get(changed.revised_ids[0])
    assert (article.title, article.revision, article.published) == ("new title", 2, NOW)
    assert [(r, t) for r, t, _ in store.articles.revisions(article.id)] == [(1, "t")]
    assert store.articles.count() == 2


def test_revisions_are_capped(store: Store) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    store.articles.insert_drafts([draft("a")], NOW)
    for i in range(20):
        store.articles.insert_drafts(
            [draft("a", title=f"v{i}", item_hash=f"x{i}")], NOW, max_revisions=5
        )
    (article,) = store.articles.claim_pending(NOW, owner="w", lease_s=1, limit=5)
    assert store.articles.get(article.article_id).revision == 5


def test_same_url_in_two_feeds_of_one_outlet_is_stored_once(store: Store) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    one = draft("guid-1")
    other = replace(one, entry_key="guid-2")
    result = store.articles.insert_drafts([one], NOW)
    again = store.articles.insert_drafts([other], NOW)
    assert len(result.new_ids) == 1 and again.new_ids == ()
    assert store.articles.count() == 1


def test_an_entry_first_seen_without_its_guid_gets_it_from_the_whole_document(
    store: Store,
) -> None:
    """A document cut before an item's <guid> stores the item keyed by its link; when a whole
    document names the GUID, the one stored article records it (the soak's "lost" 70-3)."""
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    cut = draft("https://example.com/a-by-link", summary="the first half")
    cut = replace(cut, canonical_url="https://example.com/a", url="https://example.com/a")
    whole = replace(cut, entry_key="guid-a", guid="guid-a", summary="the whole", item_hash="h2")
    (article_id,) = store.articles.insert_drafts([cut], NOW).new_ids
    assert store.articles.get(article_id).guid is None
    again = store.articles.insert_drafts([whole], NOW)
    assert again.new_ids == () and again.revised_ids == (article_id,)
    article = store.articles.get(article_id)
    assert (article.guid, article.summary, store.articles.count()) == ("guid-a", "the whole", 1)
    # an unchanged item names it too
    quiet = replace(cut, canonical_url="https://example.com/b", url="https://example.com/b",
                    entry_key="https://example.com/b-by-link")  # fmt: skip
    (quiet_id,) = store.articles.insert_drafts([quiet], NOW).new_ids
    named = store.articles.insert_drafts([replace(quiet, entry_key="guid-b", guid="guid-b")], NOW)
    assert named.unchanged == 1 and store.articles.get(quiet_id).guid == "guid-b"


def test_a_polled_feed_looks_up_its_stored_entries_in_one_query(store: Store) -> None:
    """No query per entry: 40 known entries of a feed (a few of them changed) cost one read
    of the articles table."""
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    drafts = [draft(f"e{i}") for i in range(40)]
    store.articles.insert_drafts(drafts, NOW)
    changed = [replace(d, title="new", item_hash="h2") if i % 10 == 0 else d
               for i, d in enumerate(drafts)]  # fmt: skip
    with captured(store.engine) as statements:
        result = store.articles.insert_drafts(changed, NOW)
    assert len(result.revised_ids) == 4 and result.unchanged == 36
    reads = [s for s, _ in statements if s.lstrip().startswith("SELECT") and "FROM articles" in s]
    assert len(reads) == 1, reads


def test_nul_characters_are_stripped(store: Store) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    result = store.articles.insert_drafts([draft("a", title="ti\x00tle", summary="a\x00b")], NOW)
    article = store.articles.get(result.new_ids[0])
    assert (article.title, article.summary) == ("title", "ab")


def test_claim_due_feeds_leases_and_expires(store: Store) -> None:
    store.feeds.sync_outlets(
        [outlet(feeds=("https://e.com/1", "https://e.com/2"))], default_interval=15, now=NOW
    )
    got = store.feeds.claim_due(NOW, owner="w1", lease_s=60, limit=10)
    assert len(got) == 2
    assert store.feeds.claim_due(NOW, owner="w2", lease_s=60, limit=10) == []
    later = NOW + timedelta(seconds=61)
    assert len(store.feeds.claim_due(later, owner="w2", lease_s=60, limit=10)) == 2


def test_save_feed_frees_the_lease_and_schedules(store: Store) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    (feed,) = store.feeds.claim_due(NOW, owner="w1", lease_s=60, limit=10)
    store.feeds.save_feed(
        replace(
            feed, next_check_at=NOW + timedelta(minutes=15), etag='"x"', state=FeedState.ACTIVE
        ),
        status=200,
        owner="w1",
    )
    assert store.feeds.claim_due(NOW + timedelta(minutes=1), owner="w2", lease_s=60, limit=10) == []
    (again,) = store.feeds.claim_due(NOW + timedelta(minutes=16), owner="w2", lease_s=60, limit=10)
    assert again.etag == '"x"'


def test_page_queue_moves_articles_to_ready(store: Store) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    store.articles.insert_drafts([draft("a"), draft("b", pending=False)], NOW)
    pages = store.articles.claim_pending(NOW, owner="w", lease_s=60, limit=10)
    assert [p.url for p in pages] == ["https://example.com/a"]
    assert store.articles.claim_pending(NOW, owner="w2", lease_s=60, limit=10) == []
    store.articles.finish_page(
        PageOutcome(
            article_id=pages[0].article_id,
            text="Body text.",
            flags=frozenset({"too_short"}),
            html_packed=b"\x1f\x8b",
            final_url="https://example.com/a",
        ),
        NOW,
    )
    ready = store.articles.ready_for_clustering(10)
    assert {a.canonical_url for a in ready} == {"https://example.com/a", "https://example.com/b"}
    done = next(a for a in ready if a.id == pages[0].article_id)
    assert done.text == "Body text." and "too_short" in done.flags
    assert store.articles.html(done.id) == b"\x1f\x8b"
    store.articles.mark_clustered([a.id for a in ready])
    assert store.articles.ready_for_clustering(10) == []


def test_datetimes_come_back_aware_utc(store: Store) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    (feed,) = store.feeds.feeds()
    assert feed.next_check_at == NOW and feed.next_check_at.tzinfo is not None


@pytest.mark.parametrize(
    ("feed_title", "feed_date", "expected"),
    [
        ("Feed title", True, ("Feed title", NOW, DateSource.FEED)),
        ("", False, ("Page title", NOW - timedelta(hours=3), DateSource.PAGE)),
    ],
    ids=["the feed's title and date win", "the page fills what the feed left out"],
)
def test_a_finished_page_fills_the_article(
    store: Store, feed_title: str, feed_date: bool, expected: tuple[str, datetime, DateSource]
) -> None:
    store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
    entry = replace(draft("a", title=feed_title), published=NOW if feed_date else None)
    if not feed_date:
        entry = replace(entry, published_source=DateSource.FIRST_SEEN)
    store.articles.insert_drafts([replace(entry, flags=frozenset({"from_feed"}))], NOW)
    (page,) = store.articles.claim_pending(NOW, owner="w", lease_s=60, limit=10)
    outcome = PageOutcome(
        article_id=page.article_id,
        text="Body  text.\x00",
        flags=frozenset({"too_short"}),
        title="Page title",
        author="A. Writer",
        language="en",
        published=NOW - timedelta(hours=3),
        published_source=DateSource.PAGE,
        extractor="x-1",
    )
    assert store.articles.finish_pages([outcome], NOW + timedelta(minutes=1)) == 1
    article = store.articles.get(page.article_id)
    assert (article.title, article.published, article.published_source) == expected
    assert article.text == "Body  text." and article.author == "A. Writer"
    assert article.flags == frozenset({"from_feed", "too_short"}) and article.language == "en"
    with store.engine.connect() as conn:
        state, attempts = conn.execute(
            text("SELECT state, attempts FROM articles WHERE id = :id"), {"id": page.article_id}
        ).one()
    assert (state, attempts) == ("ready", 1)
    assert store.articles.finish_pages([outcome], NOW) == 0  # no longer pending: left alone


def _search_row(store: Store, article_id: int) -> tuple[str, str] | None:
    """(xmin, document) of the article's search row: xmin changes whenever it is written."""
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT xmin::text, document::text FROM article_search WHERE article_id = :a"),
            {"a": article_id},
        ).first()
    return None if row is None else (row[0], row[1])


def test_postgres_search_rows_follow_title_and_text_only(pg_url: str) -> None:
    """Migration 0006: an article's words are written when its title or text is, and a
    state change (clustered, a lease) leaves them alone; deleting the article drops them."""
    migrate(pg_url)
    store = Store.open(pg_url)
    try:
        store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
        store.articles.insert_drafts([draft("a", title="Quarterly harvest")], NOW)
        page = store.articles.claim_pending(NOW, owner="w", lease_s=60, limit=1)[0]
        first = _search_row(store, page.article_id)
        assert first is not None and "'harvest'" in first[1]
        store.articles.finish_page(
            PageOutcome(
                article_id=page.article_id,
                text="Floodwater reached the granary.",
                flags=frozenset(),
            ),
            NOW,
        )
        finished = _search_row(store, page.article_id)
        assert finished is not None and "'granary'" in finished[1] and "'harvest'" in finished[1]
        store.articles.mark_clustered([page.article_id])
        assert _search_row(store, page.article_id) == finished  # not written again
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM articles WHERE id = :a"), {"a": page.article_id})
        assert _search_row(store, page.article_id) is None
    finally:
        store.close()


_BODY = "Floodwater reached the granary at dawn.\n\nThe mayor called it the worst in a decade."


def test_postgres_reprint_takes_the_stored_words_of_its_identical_text(pg_url: str) -> None:
    """Migration 0010: an article whose title and text equal a stored one's gets that one's
    words copied (seen here by planting a marker in them); a different title, or the same
    words spaced otherwise (the same ``content_hash``), is tokenised afresh, into what
    ``to_tsvector`` makes of its own title and text."""
    migrate(pg_url)
    store = Store.open(pg_url)
    try:
        store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
        titles = {"wire": "Granary flooded", "copy": "Granary flooded"}
        titles |= {"retitled": "Town granary flooded", "respaced": "Granary flooded"}
        store.articles.insert_drafts([draft(k, title=t) for k, t in titles.items()], NOW)
        ids = {p.url.rsplit("/", 1)[1]: p.article_id for p in _claim_all(store, len(titles))}
        store.articles.finish_pages([_outcome(ids["wire"], _BODY)], NOW)
        with store.engine.begin() as conn:  # only a copied document can carry this word
            conn.execute(
                text("UPDATE article_search SET document = document || 'plantedmarker'::tsvector")
            )
        store.articles.finish_pages(
            [
                _outcome(ids["copy"], _BODY),
                _outcome(ids["retitled"], _BODY),
                _outcome(ids["respaced"], _BODY.replace(" at ", "  at ")),
            ],
            NOW,
        )
        planted = {
            k: "'plantedmarker'" in (_search_row(store, i) or ("", ""))[1] for k, i in ids.items()
        }
        assert planted == {"wire": True, "copy": True, "retitled": False, "respaced": False}
        with store.engine.connect() as conn:
            fresh = conn.execute(
                text(
                    "SELECT a.id, s.document = to_tsvector('simple', left(coalesce(a.title, '')"
                    " || ' ' || coalesce(a.text, ''), 200000)) FROM articles a"
                    " JOIN article_search s ON s.article_id = a.id WHERE a.id IN (:r, :s)"
                ),
                {"r": ids["retitled"], "s": ids["respaced"]},
            ).all()
        assert sorted(ok for _, ok in fresh) == [True, True]
    finally:
        store.close()


def _claim_all(store: Store, count: int) -> list[Any]:
    return store.articles.claim_pending(NOW, owner="w", lease_s=60, limit=count)


def _outcome(article_id: int, body: str) -> PageOutcome:
    return PageOutcome(article_id=article_id, text=body, flags=frozenset())


_SCALARS = st.none() | st.booleans() | st.integers() | st.text()  # past 64 bits too
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)
_JSON = st.recursive(
    _SCALARS | _FLOATS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text() | st.integers(-1000, 1000), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(_JSON)
def test_json_columns_read_back_what_the_standard_encoder_would_have_stored(value: Any) -> None:
    """JSON columns are written with orjson: any value, integer keys included, reads back
    as it did when they were written with ``json.dumps``."""
    assert json.loads(json_text(value)) == json.loads(json.dumps(value))
