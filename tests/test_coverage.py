"""A story's coverage over time (articles per 16th of its time span): counted with the story's
other statistics, kept by editor corrections and by migration 0005, drawn by the stories page
without reading any member's time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from alembic import command
from sqlalchemy import text

from aggregator import editing
from storage import queries
from storage.coverage import coverage_counts
from storage.db import alembic_config, migrate
from storage.queries import ClusterFilters
from storage.store import Store
from tests.support.statements import captured
from tests.support.webdata import NOW, fill_gold, outlet
from tests.support.webkit import serve

T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
STORY = re.compile(r'href="/clusters/(\d+)".*?<svg class="spark"[^>]*>(.*?)</svg>', re.S)
BAR = re.compile(r'<rect x="([\d.]+)"[^>]*><title>(\d+) articles?</title>')

# story -> hours after T0 of its articles, and the counts a reader works out by hand
STORIES: dict[str, tuple[list[float], list[int]]] = {
    # 16 h span: an hour a slice; the last article ends the last slice
    "bridge": ([0, 1, 2, 16], [1, 1, 1, *[0] * 12, 1]),
    # no span at all: everything in the first slice
    "storm": ([3, 3, 3], [3, *[0] * 15]),
    # 8 h span, half an hour a slice: 4.1 h is slice 8, 7.9 h slice 15
    "strike": ([0, 0, 4.1, 7.9, 8], [2, *[0] * 7, 1, *[0] * 6, 2]),
}


def _zeros(n: int) -> list[int]:
    return [0] * n


@pytest.mark.parametrize(
    ("hours", "buckets", "expected"),
    [
        ([], 16, []),
        ([5], 4, [1, 0, 0, 0]),
        ([0, 1, 2, 3, 4], 4, [1, 1, 1, 2]),
        ([10, 0, 7.5, 2.5, 5, 9.99], 4, [1, 1, 1, 3]),  # order does not matter
        ([0, 0, 10], 10, [2, *_zeros(8), 1]),
    ],
)
def test_counts_per_slice_of_the_span(
    hours: list[float], buckets: int, expected: list[int]
) -> None:
    times = [T0 + timedelta(hours=h) for h in hours]
    assert coverage_counts(times, buckets) == expected


def _rows() -> list[dict[str, Any]]:
    rows = []
    for story, (hours, _) in STORIES.items():
        for n, hour in enumerate(hours):
            moment = T0 + timedelta(hours=hour)
            rows.append(
                {
                    "id": f"{story}-{n}",
                    "outlet": f"o{n}",
                    "title": f"The {story}, report {n}",
                    "text": f"Report {n} on the {story}. " * 20,
                    "published": moment.isoformat(),
                    "url": f"https://o{n}.example/{story}",
                    "story": story,
                }
            )
    return rows


def _fill(url: str) -> Any:
    migrate(url)
    rows = _rows()
    with Store.open(url) as store:
        outlets = [outlet(f"o{n}") for n in range(5)]
        return fill_gold(store, rows, outlets)


def _stored(store: Store) -> dict[int, tuple[int, ...] | None]:
    page = queries.list_clusters(
        store.engine, ClusterFilters(), sort="latest", after=None, limit=50
    )
    return {item.id: item.coverage for item in page.items}


def _drawn(html: str) -> dict[int, list[tuple[float, int]]]:
    """Each story's bars on the stories page: (x, articles)."""
    return {
        int(cid): [(float(x), int(n)) for x, n in BAR.findall(svg)]
        for cid, svg in STORY.findall(html)
    }


def _bars(counts: list[int]) -> list[tuple[float, int]]:
    return [(i * 7.5, n) for i, n in enumerate(counts) if n]  # 120 px / 16 slices


def test_coverage_is_stored_with_the_story_and_drawn_without_member_times(db_url: str) -> None:
    data = _fill(db_url)
    with serve(db_url, data) as site:
        assert _stored(site.store) == {
            data.clusters[story]: tuple(counts) for story, (_, counts) in STORIES.items()
        }
        with captured(site.store.engine) as statements:
            html = site.client.get("/").text
        assert not [s for s, _ in statements if "memberships" in s], "member times were read"
        assert _drawn(html) == {
            data.clusters[story]: _bars(counts) for story, (_, counts) in STORIES.items()
        }


def test_editor_corrections_recount_the_coverage(sqlite_url: str) -> None:
    data = _fill(sqlite_url)
    bridge, storm, strike = (data.clusters[s] for s in ("bridge", "storm", "strike"))
    with Store.open(sqlite_url) as store:
        editing.merge(store, [bridge, storm], actor="ann", note="same", now=NOW)
        stored = _stored(store)
        # bridge 0, 1, 2, 16 h with storm's three at 3 h: slices of an hour
        assert stored[bridge] == (1, 1, 1, 3, *[0] * 11, 1)
        assert storm not in stored  # merged: no longer listed
        moved = data.by_story["strike"][-1]  # the one at 8 h
        editing.move(store, moved, bridge, actor="ann", note="belongs there", now=NOW)
        stored = _stored(store)
        assert stored[bridge] == (1, 1, 1, 3, *[0] * 4, 1, *[0] * 6, 1)
        # strike keeps 0, 0, 4.1, 7.9 h: a span of 7.9 h
        assert stored[strike] == (2, *[0] * 7, 1, *[0] * 6, 1)


def test_migration_0005_counts_the_stories_already_stored(db_url: str) -> None:
    data = _fill(db_url)
    command.downgrade(alembic_config(db_url), "0004")
    migrate(db_url)
    with Store.open(db_url) as store:
        assert _stored(store) == {
            data.clusters[story]: tuple(counts) for story, (_, counts) in STORIES.items()
        }


def test_a_story_without_stored_coverage_is_counted_from_its_members(sqlite_url: str) -> None:
    """A story the clusterer has not touched since the column was added (NULL): the page
    counts it from its members' times, read through the covering index of migration 0004."""
    data = _fill(sqlite_url)
    storm = data.clusters["storm"]
    with Store.open(sqlite_url) as store, store.engine.begin() as conn:
        conn.execute(text("UPDATE story_clusters SET coverage = NULL WHERE id = :i"), {"i": storm})
    with serve(sqlite_url, data) as site:
        with captured(site.store.engine) as statements:
            html = site.client.get("/").text
        reads = [(s, p) for s, p in statements if "coalesce(a.published" in s]
        assert len(reads) == 1 and list(reads[0][1]) == [storm]
        assert _drawn(html)[storm] == _bars(STORIES["storm"][1])
        statement, parameters = reads[0]
        with site.store.engine.connect() as conn:
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
            )
        assert "COVERING INDEX ix_articles_id_published_first_seen" in plan
    assert unescape(html).count('<svg class="spark"') == 3
