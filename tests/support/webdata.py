"""A database filled with real articles for the web, API, export and browser tests.

Two paths: ``aggregator.importer.import_file`` (the real ``newsagg import``: dedup, clustering,
comparison) when it exists and works; otherwise the BASIL articles are inserted as stored
articles and grouped into story clusters by their gold ``story`` label, each with a comparison
computed by ``aggregator.compare``. ``Filled.how`` tells which one ran.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from aggregator.types import ArticleDraft, DateSource, OutletConfig
from storage.articles import text_hash
from storage.clusters import MembershipRecord
from storage.db import migrate
from storage.models import ArticleRow
from storage.store import Store

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
VERSION = "gold-test"
LEXICONS = Path(__file__).resolve().parents[2] / "config" / "lexicons.toml"
BASIL_NAMES = {"fox": "Fox News", "nyt": "The New York Times", "hpo": "HuffPost"}


@dataclass(frozen=True)
class Filled:
    """What a test needs to know about the filled database."""

    by_story: Mapping[str, list[int]]  # gold story label -> article ids
    clusters: Mapping[str, int]  # gold story label -> cluster id
    how: str  # "import" or "gold"


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def outlet(
    oid: str, name: str | None = None, labels: Mapping[str, str] | None = None
) -> OutletConfig:
    return OutletConfig(
        id=oid,
        name=name or BASIL_NAMES.get(oid.lower(), oid),
        homepage="",
        country="US",
        language="en",
        feeds=(),
        labels=dict(labels or {"ownership": "private"}),
    )


def _published(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if len(value) <= 10:
        parsed = datetime.combine(parsed.date(), time(0), UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _draft(row: Mapping[str, Any]) -> ArticleDraft:
    url = row.get("url") or f"urn:test:{row['id']}"
    return ArticleDraft(
        outlet_id=row["outlet"],
        canonical_url=url,
        url=url,
        entry_key=str(row["id"]),
        title=row["title"],
        text=row["text"],
        summary=row.get("summary", ""),
        published=_published(row["published"]),
        published_source=DateSource.IMPORT,
        first_seen=NOW,
        content_hash=text_hash(row["text"]),
        external_id=str(row["id"]),
        language="en",
        extractor=row.get("extractor"),
    )


def insert_articles(
    store: Store, rows: Sequence[Mapping[str, Any]], outlets: Iterable[OutletConfig]
) -> dict[str, int]:
    """Store outlets and articles (ready, not pending); returns external id -> article id."""
    store.feeds.sync_outlets(list(outlets), default_interval=15, now=NOW)
    store.articles.insert_drafts([_draft(row) for row in rows], NOW)
    with store.engine.connect() as conn:
        found = conn.execute(select(ArticleRow.external_id, ArticleRow.id)).all()
    return {str(ext): int(aid) for ext, aid in found if ext is not None}


def group_by_label(
    store: Store, rows: Sequence[Mapping[str, Any]], ids: Mapping[str, int]
) -> dict[str, int]:
    """Story clusters by the gold ``story`` label, with a membership explanation each."""
    store.clusters.ensure_param_set(VERSION, {"grouping": "gold story label"}, NOW, activate=True)
    records = [
        MembershipRecord(
            article_id=ids[str(row["id"])],
            cluster_key=str(row["story"]),
            copy_group=None,
            score=1.0,
            rule="gold",
            why={
                "score": 1.0,
                "rule": "gold",
                "shared_terms": sorted({w.lower() for w in row["title"].split() if len(w) > 5})[:5],
                "note": "grouped by the data set's gold story label",
            },
        )
        for row in rows
    ]
    clusters = store.clusters.save_memberships(VERSION, records, NOW)
    store.clusters.refresh_stats(sorted(clusters.values()), NOW)
    return clusters


def compare_all(store: Store, cluster_ids: Iterable[int]) -> None:
    """Compute and store each cluster's comparison with ``aggregator.compare``."""
    from aggregator.compare import CompareArticle, OutletInfo, compare_cluster, load_lexicons

    lexicons = load_lexicons(LEXICONS)
    infos = [
        OutletInfo(oid, name, country, labels)
        for oid, (name, country, labels) in store.clusters.outlet_labels().items()
    ]
    for cluster_id in cluster_ids:
        ids = [aid for aid, _ in store.clusters.members(cluster_id)]
        articles = [
            CompareArticle(
                id=str(a.id),
                outlet_id=a.outlet_id,
                title=a.title,
                text=a.text,
                first_seen=a.first_seen,
                url=a.url,
                published=a.published,
                published_source=a.published_source.value,
            )
            for a in store.articles.get_many(ids)
        ]
        comparison = compare_cluster(articles, infos, lexicons, now=NOW)
        store.clusters.save_comparison(cluster_id, comparison, NOW)


def fill_gold(
    store: Store, rows: Sequence[Mapping[str, Any]], outlets: Iterable[OutletConfig]
) -> Filled:
    ids = insert_articles(store, rows, outlets)
    clusters = group_by_label(store, rows, ids)
    compare_all(store, sorted(clusters.values()))
    by_story: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_story[str(row["story"])].append(ids[str(row["id"])])
    return Filled(dict(by_story), clusters, "gold")


def unique_ids(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Two BASIL lines share the id "empty": keep both, the second as "empty~2"."""
    seen: dict[str, int] = {}
    out = []
    for row in rows:
        n = seen[row["id"]] = seen.get(row["id"], 0) + 1
        out.append(row if n == 1 else {**row, "id": f"{row['id']}~{n}"})
    return out


def fill_basil(store: Store, path: Path) -> Filled:
    """The BASIL dev set (180 articles, 60 stories, 3 outlets) as a filled database."""
    rows = unique_ids(read_jsonl(path))
    outlets = [outlet(oid) for oid in sorted({row["outlet"] for row in rows})]
    return fill_gold(store, rows, outlets)


def copy_sqlite(source: Path, target: Path) -> str:
    """A consistent copy of a SQLite database file (the backup API, WAL included)."""
    import sqlite3

    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return f"sqlite:///{target}"


@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for a whole test module, dropped afterwards."""
    import psycopg

    name = f"newsagg_w_{uuid.uuid4().hex[:12]}"
    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def filled(url: str, path: Path, *, stories: int | None = None) -> Filled:
    """Migrate ``url`` and fill it with BASIL (or its first ``stories`` stories)."""
    migrate(url)
    rows = unique_ids(read_jsonl(path))
    if stories is not None:
        keep = list(dict.fromkeys(row["story"] for row in rows))[:stories]
        rows = [row for row in rows if row["story"] in keep]
    with Store.open(url) as store:
        return fill_gold(store, rows, [outlet(oid) for oid in sorted({r["outlet"] for r in rows})])


# -- hostile content --------------------------------------------------------------------------

PAYLOADS = (
    "<script>window.__xss=1;alert(1)</script>",
    '<img src=x onerror="window.__xss=2;alert(2)">',
    '"><svg onload="window.__xss=3;alert(3)">',
    "javascript:window.__xss=4;alert(4)",
    '\'><iframe src="javascript:window.__xss=5"></iframe>',
    '<a href="javascript:window.__xss=6">click me</a>',
    "{{7*7}}</title><script>window.__xss=7</script>",
)
EVIL_OUTLET = 'o"><svg onload=window.__xss=8>'


def hostile_rows() -> list[dict[str, Any]]:
    """Two stories, two outlets, payloads in every field the pages show."""
    rows = []
    for n in range(4):
        payload = PAYLOADS[n % len(PAYLOADS)]
        text = "\n\n".join(
            [
                f"{p} The council met on Monday to discuss the harbour bridge, officials said."
                for p in PAYLOADS
            ]
            + [f'"{PAYLOADS[0]} We will rebuild the bridge," Mayor Jane Smith said.']
        )
        rows.append(
            {
                "id": f"evil-{n}",
                "outlet": "evil" if n % 2 else EVIL_OUTLET,
                "title": f"{payload} Harbour bridge {PAYLOADS[(n + 2) % len(PAYLOADS)]}",
                "text": text,
                "summary": f"<p>{PAYLOADS[1]}{PAYLOADS[5]}<script>window.__xss=9</script></p>",
                "published": f"2026-11-{20 + n:02d}T10:00:00",
                "url": f"javascript:window.__xss=10;alert({n})",
                "story": f"story-{n // 2}",
            }
        )
    return rows


def hostile_outlets() -> list[OutletConfig]:
    labels = {"ownership": PAYLOADS[0], "state_affiliation": PAYLOADS[3], "source": PAYLOADS[3]}
    return [
        OutletConfig(
            id=oid,
            name=name,
            homepage="javascript:window.__xss=11",
            country=PAYLOADS[2][:60],
            language="en",
            feeds=(f"javascript:window.__xss=12;{oid}", f"https://ok.example/{n}?<script>"),
            labels=labels,
        )
        for n, (oid, name) in enumerate([("evil", PAYLOADS[1]), (EVIL_OUTLET, PAYLOADS[2])])
    ]


def fill_hostile(store: Store) -> Filled:
    rows = hostile_rows()
    filled_data = fill_gold(store, rows, hostile_outlets())
    evil_why = {
        "shared_terms": [PAYLOADS[0], PAYLOADS[3]],
        "rule": PAYLOADS[1],
        "note": PAYLOADS[2],
    }
    records = [
        MembershipRecord(aid, f"story-{i // 2}", PAYLOADS[2][:100], 0.5, "gold", evil_why)
        for i, aid in enumerate(a for ids in filled_data.by_story.values() for a in ids)
    ]
    store.clusters.save_memberships(VERSION, records, NOW)
    return filled_data


def fill_imported(url: str, path: Path) -> Filled:
    """BASIL through ``newsagg import`` (dedup, clustering, comparison), the way the issue
    asks; the gold path when the importer is not there. ``clusters`` maps each gold story to
    the cluster holding most of its articles."""
    try:
        from aggregator.importer import import_file
    except ImportError:
        return filled(url, path)
    from aggregator.settings import Settings

    migrate(url)
    rows = read_jsonl(path)
    with Store.open(url) as store:
        import_file(path, store, Settings(lexicons_path=str(LEXICONS)), progress=False)
        with store.engine.connect() as conn:
            found = conn.execute(select(ArticleRow.external_id, ArticleRow.id)).all()
        ids = {str(external): int(article) for external, article in found}
        version = store.clusters.active_version() or ""
        homes = store.clusters.cluster_ids_of(version, list(ids.values()))
    by_story: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if str(row["id"]) in ids:
            by_story[str(row["story"])].append(ids[str(row["id"])])
    clusters = {
        story: max({homes[a] for a in members}, key=[homes[a] for a in members].count)
        for story, members in by_story.items()
        if all(a in homes for a in members)
    }
    return Filled(dict(by_story), clusters, "import")
