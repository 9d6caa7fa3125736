"""Synthetic data at scale for ``bench/web_load.py``: outlets, feeds, articles, story clusters,
memberships and some real comparisons, loaded into PostgreSQL with COPY.

Articles span one year up to ``end`` in time order; a story is a run of consecutive articles
(1 to ~40, about ``articles / clusters`` on average) from random outlets. Every title carries
its story's tag word (``tg<story>``, one story each) and a few words of a 5,000-word
vocabulary; texts are ~100 words, a few of them "seasonal" words used by ~1% of articles, so a
search can be rare or medium-frequent. Deterministic (seeded).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from storage.coverage import coverage_counts

OUTLETS = 40
VOCAB = [f"w{n}" for n in range(5000)]
SEASONAL = [f"season{n}" for n in range(20)]
LABELS = ["private", "public", "state", "cooperative"]


def plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass
class Story:
    id: int
    title: str = ""
    first: datetime | None = None
    last: datetime | None = None
    outlets: set[str] = field(default_factory=set)
    times: list[datetime] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.times)


def _sizes(rng: random.Random, articles: int, clusters: int) -> list[int]:
    """Story sizes from 1 to 40, exponential around the mean, summing to ``articles``."""
    mean = articles / clusters
    sizes = [max(1, min(40, round(rng.expovariate(1 / mean)))) for _ in range(clusters)]
    while (gap := articles - sum(sizes)) != 0:
        i = rng.randrange(clusters)
        if gap > 0 and sizes[i] < 40:
            sizes[i] += 1
        elif gap < 0 and sizes[i] > 1:
            sizes[i] -= 1
    return sizes


def _text(rng: random.Random, tag: str) -> str:
    words = rng.choices(VOCAB, k=100)
    if rng.random() < 0.01:
        words[rng.randrange(100)] = rng.choice(SEASONAL)
    words[3] = tag
    sentences = [" ".join(words[i : i + 20]).capitalize() + "." for i in range(0, 100, 20)]
    return "\n\n".join(sentences)


def articles(
    articles_n: int, clusters_n: int, end: datetime, seed: int = 42
) -> Iterator[tuple[tuple[Any, ...], tuple[Any, ...], Story]]:
    """(article row, membership row, its story) in id order."""
    rng = random.Random(seed)
    start = end - timedelta(days=365)
    step = (end - start) / articles_n
    article_id = 0
    for story_id, size in enumerate(_sizes(rng, articles_n, clusters_n), start=1):
        story = Story(story_id)
        tag = f"tg{story_id}"
        for _ in range(size):
            article_id += 1
            outlet = f"o{rng.randrange(OUTLETS):02d}"
            moment = start + step * article_id
            title = f"{tag} " + " ".join(rng.choices(VOCAB, k=7))
            story.title = story.title or title
            story.first = story.first or moment
            story.last = moment
            story.outlets.add(outlet)
            story.times.append(moment)
            url = f"https://{outlet}.example/{article_id}"
            row = (article_id, outlet, outlet_feed(outlet), url, url, url, f"x{article_id}",
                   title, "", _text(rng, tag), "en", moment, "feed", moment, moment,
                   f"{article_id:064x}", "", 1, "[]", "trafilatura-2/newsagg-1", "clustered", 1,
                   moment)  # fmt: skip
            why = {"score": 0.41, "rule": "centroid", "shared_terms": [tag], "gap_s": 600}
            membership = (article_id, "bench", story_id, None, 0.41, "centroid", json.dumps(why),
                          moment)  # fmt: skip
            yield row, membership, story


def outlet_feed(outlet: str) -> int:
    return int(outlet[1:]) + 1


ARTICLE_COLUMNS = (
    "id, outlet_id, feed_id, canonical_url, url, entry_key, external_id, title, summary, text, "
    "language, "
    "published, published_source, first_seen, updated_at, content_hash, item_hash, revision, "
    "flags, extractor, state, attempts, ready_at"
)
MEMBERSHIP_COLUMNS = (
    "article_id, param_version, cluster_id, copy_group, score, rule, why, assigned_at"
)
CLUSTER_COLUMNS = (
    "id, param_version, key, title, language, first_published, last_updated, article_count, "
    "outlet_count, outlets, coverage, comparison_stale, created_at, updated_at"
)


def _reference(conn: psycopg.Connection[Any], end: datetime) -> None:
    with conn.cursor() as cur:
        for n in range(OUTLETS):
            oid = f"o{n:02d}"
            labels = json.dumps({"ownership": LABELS[n % len(LABELS)]})
            cur.execute(
                "INSERT INTO outlets (id, name, homepage, country, language, labels, created_at, "
                "updated_at) VALUES (%s, %s, %s, 'US', 'en', %s, %s, %s)",
                (oid, f"Outlet {n}", f"https://{oid}.example", labels, end, end),
            )
            cur.execute(
                "INSERT INTO feeds (id, outlet_id, url, state, interval_minutes, next_check_at, "
                "error_count, created_at, last_fetched_at, last_error_code) "
                "VALUES (%s, %s, %s, 'active', 15, %s, %s, %s, %s, %s)",
                (outlet_feed(oid), oid, f"https://{oid}.example/feed.xml", end,
                 3 if n % 7 == 0 else 0, end, end, "timeout" if n % 7 == 0 else None),
            )  # fmt: skip
        cur.execute(
            "INSERT INTO param_sets (version, params, active, created_at) "
            "VALUES ('bench', '{\"synthetic\": true}', true, %s)",
            (end,),
        )


def load(url: str, articles_n: int, clusters_n: int, end: datetime) -> dict[str, float]:
    """Fill an empty, migrated database; returns the seconds each step took."""
    took: dict[str, float] = {}
    started = time.perf_counter()
    stories: list[Story] = []
    with psycopg.connect(plain(url), autocommit=True) as conn:
        conn.execute("DROP INDEX IF EXISTS ix_article_search_document")
        _reference(conn, end)
        with conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")  # no FK checks while loading
            with cur.copy(f"COPY articles ({ARTICLE_COLUMNS}) FROM STDIN") as art_copy:
                memberships: list[tuple[Any, ...]] = []
                for row, membership, story in articles(articles_n, clusters_n, end):
                    art_copy.write_row(row)
                    memberships.append(membership)
                    if not stories or stories[-1] is not story:
                        stories.append(story)
            took["articles"] = time.perf_counter() - started
            _clusters(cur, stories, end)
            with cur.copy(f"COPY memberships ({MEMBERSHIP_COLUMNS}) FROM STDIN") as mem_copy:
                for membership in memberships:
                    mem_copy.write_row(membership)
            took["clusters_memberships"] = time.perf_counter() - started - took["articles"]
            cur.execute("SET session_replication_role = DEFAULT")
        mark = time.perf_counter()
        # the search rows (migration 0006): the trigger that writes them does not fire
        # while session_replication_role is replica
        conn.execute(
            "INSERT INTO article_search (article_id, document) SELECT id, to_tsvector('simple', "
            "left(coalesce(title, '') || ' ' || coalesce(text, ''), 200000)) FROM articles"
        )
        conn.execute(
            "CREATE INDEX ix_article_search_document ON article_search USING gin (document)"
        )
        conn.execute("SELECT setval(pg_get_serial_sequence('articles', 'id'), %s)", (articles_n,))
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('story_clusters', 'id'), %s)", (clusters_n,)
        )
        conn.execute("VACUUM ANALYZE")
        took["fts_index_analyze"] = time.perf_counter() - mark
    return took


def _clusters(cur: Any, stories: list[Story], end: datetime) -> None:
    with cur.copy(f"COPY story_clusters ({CLUSTER_COLUMNS}) FROM STDIN") as copy:
        for s in stories:
            copy.write_row(
                (s.id, "bench", f"k{s.id}", s.title, "en", s.first, s.last, s.count,
                 len(s.outlets), json.dumps(sorted(s.outlets)),
                 json.dumps(coverage_counts(s.times)), False, end, end)
            )  # fmt: skip


def add_comparisons(url: str, cluster_ids: list[int], now: datetime) -> float:
    """Real comparisons (``aggregator.compare``) of the given clusters' synthetic articles."""
    from aggregator.compare import CompareArticle, compare_cluster

    started = time.perf_counter()
    with psycopg.connect(plain(url), autocommit=True) as conn:
        for cluster_id in cluster_ids:
            rows = conn.execute(
                "SELECT a.id, a.outlet_id, a.title, a.text, a.published, a.first_seen "
                "FROM articles a JOIN memberships m ON m.article_id = a.id "
                "WHERE m.cluster_id = %s",
                (cluster_id,),
            ).fetchall()
            comparison = compare_cluster(
                [CompareArticle(str(i), o, t, x, f, published=p) for i, o, t, x, p, f in rows],
                now=now,
            )
            conn.execute(
                "INSERT INTO story_comparisons (cluster_id, comparison) VALUES (%s, %s)",
                (cluster_id, json.dumps(comparison)),
            )
            conn.execute(
                "UPDATE story_clusters SET comparison_at = %s WHERE id = %s", (now, cluster_id)
            )
    return time.perf_counter() - started


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
