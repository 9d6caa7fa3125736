"""`newsagg poll --once --all` end to end: a local server publishes feeds around the 181 real
pages of the article-extraction benchmark; the real CLI stores each page once with text as
good as the published trafilatura figure, and a second run stores nothing and fetches little."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest

import aggregator.pages
from aggregator.clustering import build_cluster_stage
from aggregator.pages import WRITE_BATCH
from aggregator.wiring import utc_now
from bench.aeb_metric import score
from storage.store import Store
from tests.support.cli import local_env, run_cli
from tests.support.httpserver import LocalServer
from tests.support.newsite import benchmark_pages, outlets_toml, publish
from tests.support.runtime import runtime

PUBLISHED_TRAFILATURA_F1 = 0.958


def cli_env(db_url: str, outlets: Path) -> dict[str, str]:
    return local_env(db_url, outlets, FETCH_PER_HOST_CONCURRENCY="8")


@pytest.mark.slow
def test_poll_stores_every_page_once_with_good_text(
    shared_data: Path, http_server: LocalServer, db_url: str, tmp_path: Path
) -> None:
    pages = benchmark_pages(shared_data)
    outlets = tmp_path / "outlets.toml"
    outlets.write_text(outlets_toml(publish(http_server, pages)), encoding="utf-8")
    env = cli_env(db_url, outlets)
    migrated = run_cli(["migrate"], env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr[-3000:]

    first = run_cli(["poll", "--once", "--all", "--no-progress"], env, tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    page_hits_first = sum(
        n for path, n in http_server.hits.items() if path.startswith("/articles/")
    )

    with Store.open(db_url) as store:
        assert store.articles.count() == len(pages)
        assert store.articles.count(state="pending") == 0
        by_url = {}
        for article in store.articles.get_many(list(range(1, 3 * len(pages)))):
            by_url[article.canonical_url.rsplit("/", 1)[-1].removesuffix(".html")] = article
    assert sorted(by_url) == sorted(p.id for p in pages)
    assert page_hits_first == len(pages)  # each page fetched once, overlap included
    scores = score((p.truth, by_url[p.id].text) for p in pages)
    assert scores.f1 >= PUBLISHED_TRAFILATURA_F1, scores

    hits_before = Counter(http_server.hits)
    second = run_cli(["poll", "--once", "--all", "--no-progress"], env, tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "new articles: 0" in second.stdout
    new_hits = Counter(http_server.hits) - hits_before
    assert all(path.startswith("/outlet") for path in new_hits), new_hits  # feeds only
    with Store.open(db_url) as store:
        assert store.articles.count() == len(pages)
        results = Counter(
            entry.result for feed in store.feeds.feeds() for entry in store.feeds.fetch_log(feed.id)
        )
    assert results["not_modified"] == 6  # every feed answered 304 the second time


@pytest.mark.slow
def test_pages_are_clustered_while_later_pages_are_still_extracted(
    shared_data: Path, http_server: LocalServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``run_once`` stores pages in batches (``WRITE_BATCH``, or sooner after
    ``WRITE_EVERY_S``) and its clustering follower takes what was stored as it goes, so the
    work left after the last page is small."""
    # extraction of these pages takes about a second on two cores: a short store interval
    # makes the time-bound batches show on any machine (the service's is 0.5 s)
    monkeypatch.setattr(aggregator.pages, "WRITE_EVERY_S", 0.05)
    pages = benchmark_pages(shared_data)
    events: list[tuple[str, int]] = []
    with runtime(db_url, publish(http_server, pages, outlets=1, overlap=0)) as rt:
        rt.pipeline.clusterer = build_cluster_stage(rt.settings, rt.store, clock=utc_now)
        rt.pipeline.run_once(include_not_due=True, progress=lambda s, n: events.append((s, n)))
        articles = rt.store.articles.count()
        assert rt.store.articles.count(state="clustered") == articles >= len(pages)
    stored = [n for stage, n in events if stage == "pages"]
    assert sum(stored) == articles and max(stored) <= WRITE_BATCH
    # storing every WRITE_EVERY_S makes more batches than WRITE_BATCH alone would
    assert len(stored) > math.ceil(articles / WRITE_BATCH)
    last_store = max(i for i, (stage, _) in enumerate(events) if stage == "pages")
    assert any(stage == "cluster" for stage, _ in events[:last_store])
    # the follower gathers: fewer clustering batches than stored batches
    assert len([stage for stage, _ in events if stage == "cluster"]) < len(stored) / 2
