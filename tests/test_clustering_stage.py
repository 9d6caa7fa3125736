"""The cluster stage against real databases: import real articles, restart from stored
signatures, editor corrections that survive re-clustering."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from aggregator import clustering, editing
from aggregator.clustering import build_cluster_stage, dedup_params, recluster_all
from aggregator.dedup import doc_from_article
from aggregator.dedup.engine import DedupEngine
from aggregator.importer import import_file
from storage.db import migrate
from storage.models import IdfSnapshotRow
from storage.store import Store
from tests.support.runtime import settings_for

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def subset(shared: Path, tmp: Path, stories: int) -> tuple[Path, dict[str, str]]:
    """The first ``stories`` BASIL stories (3 outlets each) as a JSONL file; id -> story."""
    lines = (shared / "clustering" / "basil-dev.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    wanted = list(dict.fromkeys(r["story"] for r in rows))[:stories]
    chosen = [r for r in rows if r["story"] in wanted and r["id"] != "empty"]
    path = tmp / "subset.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in chosen) + "\n", encoding="utf-8")
    return path, {r["id"]: r["story"] for r in chosen}


def groups(store: Store) -> dict[int, set[str]]:
    """cluster id -> external ids of its articles."""
    version = store.clusters.active_version()
    assert version is not None
    found: dict[int, set[str]] = defaultdict(set)
    for summary in store.clusters.clusters(version):
        for article_id, _ in store.clusters.members(summary.id):
            found[summary.id].add(store.articles.get(article_id).external_id or "")
    return dict(found)


@pytest.fixture
def imported(
    shared_data: Path, tmp_path: Path, db_url: str
) -> tuple[Store, dict[str, str], object]:
    path, gold = subset(shared_data, tmp_path, 8)
    settings = settings_for(db_url)
    migrate(db_url)
    store = Store.open(db_url)
    report = import_file(path, store, settings)
    assert report.stored == len(gold) and not report.bad_lines
    yield store, gold, settings
    store.close()


def test_import_clusters_real_stories_and_stores_comparisons(imported) -> None:  # type: ignore[no-untyped-def]
    store, gold, _ = imported
    found = groups(store)
    # every gold story is one cluster of its three outlets
    by_story = {frozenset(i for i in gold if gold[i] == s) for s in set(gold.values())}
    assert {frozenset(g) for g in found.values()} == by_story
    for cluster_id in found:
        summary = store.clusters.cluster(cluster_id)
        assert summary.outlet_count == len(found[cluster_id])  # one article per outlet
        assert summary.comparison and "timeline" in summary.comparison
        for _, record in store.clusters.members(cluster_id):
            assert record.rule in {"new_story", "centroid", "copy"}
            assert "score" in record.why and "shared_terms" in record.why


def test_a_restarted_clusterer_rebuilds_its_index_from_storage(imported) -> None:  # type: ignore[no-untyped-def]
    store, _, settings = imported
    version = store.clusters.active_version()
    rows = sum(
        len(b) for b in store.assignments.restore_rows(version, datetime(2000, 1, 1, tzinfo=UTC))
    )
    assert rows == store.articles.count()
    since = datetime(2000, 1, 1, tzinfo=UTC)
    whole = [r.article_id for b in store.assignments.restore_rows(version, since) for r in b]
    small = list(store.assignments.restore_rows(version, since, batch=7))
    assert max(len(b) for b in small) == 7 and [r.article_id for b in small for r in b] == whole
    fresh = build_cluster_stage(settings, store, clock=lambda: NOW)
    assert fresh.run(100) == 0
    engine = fresh.engine
    assert engine is not None
    placements = {p.article_id for p in engine.placements()}
    # everything inside the window (relative to the newest article) is back in the index
    assert placements and placements <= {str(i) for i in range(1, 100)}


def test_editor_corrections_apply_and_survive_reclustering(imported) -> None:  # type: ignore[no-untyped-def]
    store, _, settings = imported
    found = groups(store)
    first, second = sorted(found)[:2]
    survivor = editing.merge(store, [first, second], actor="ed", note="same story", now=NOW)
    clusterer = build_cluster_stage(settings, store, clock=lambda: NOW)
    clusterer.apply_corrections()
    merged = groups(store)
    assert merged[survivor] == found[first] | found[second]  # the editor's cluster keeps its id

    members = [a for a, _ in store.clusters.members(survivor)]
    new_id = editing.split(store, survivor, members[:2], actor="ed", note="two stories", now=NOW)
    clusterer.apply_corrections()
    after_split = groups(store)
    assert len(after_split[new_id]) == 2 and len(after_split[survivor]) == len(members) - 2

    message = recluster_all(settings, store, clock=lambda: NOW)
    assert "reclustered" in message
    rebuilt = {frozenset(g) for g in groups(store).values()}
    assert frozenset(after_split[new_id]) in rebuilt
    assert frozenset(after_split[survivor]) in rebuilt


def stored_whys(store: Store) -> dict[str, tuple[str, dict[str, Any]]]:
    """external id -> (cluster key, the stored ``why``) of every clustered article."""
    version = store.clusters.active_version()
    assert version is not None
    found = {}
    for summary in store.clusters.clusters(version):
        for article_id, record in store.clusters.members(summary.id):
            external = store.articles.get(article_id).external_id or ""
            found[external] = (record.cluster_key, dict(record.why))
    return found


def import_in_parts(shared: Path, tmp: Path, store: Store, settings: Any, parts: int) -> None:
    """BASIL, dated, in ``parts`` imports: each one clusters with a new clusterer that
    rebuilds its engine from storage (a restart)."""
    lines = (shared / "clustering" / "basil-dev.jsonl").read_text(encoding="utf-8").splitlines()
    rows = sorted(
        (r for r in map(json.loads, lines) if r["id"] != "empty"), key=lambda r: r["published"]
    )
    size = -(-len(rows) // parts)
    for n in range(parts):
        path = tmp / f"part{n}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows[n * size : (n + 1) * size]))
        assert import_file(path, store, settings).stored == len(rows[n * size : (n + 1) * size])


@pytest.mark.parametrize("carry", [True, False])
def test_a_restarted_clusterer_keeps_the_idf_of_articles_gone_from_the_window(
    shared_data: Path, tmp_path: Path, db_url: str, carry: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Years of BASIL articles through a 90-day window, one restart every 20 articles:
    with the IDF table stored every few articles, every stored score, rule and cluster is
    the one an engine that never stopped gives, and ``recluster`` (which drops the table)
    stores the table that engine ends with. Without it (``carry`` off: no table is ever
    due), some are not: the window's counts alone are another IDF."""
    monkeypatch.setattr(clustering, "IDF_SAVE_EVERY", 7 if carry else 10**9)
    base = settings_for(db_url)
    settings = dataclasses.replace(base, dedup={"window_hours": 24 * 90, "idf_warm_up": 10})
    migrate(db_url)
    store = Store.open(db_url)
    try:
        import_in_parts(shared_data, tmp_path, store, settings, parts=9)
        stored = stored_whys(store)
        store.articles.requeue_for_clustering()  # the articles in the order they were taken
        articles = store.articles.ready_for_clustering(1000)
        recluster_all(settings, store, clock=lambda: NOW)
        snapshot = store.assignments.idf_snapshot(store.clusters.active_version() or "")
    finally:
        store.close()
    engine = DedupEngine(dedup_params(settings))
    same = 0
    for article in articles:
        made = engine.add(doc_from_article(article))
        same += stored[article.external_id or ""][1] == made.why_dict()
    assert len(articles) == len(stored) > 150
    if carry:
        assert same == len(articles)
        placed = {p.article_id: str(p.story_cluster) for p in engine.placements()}
        by_id = {str(a.id): stored[a.external_id or ""][0] for a in articles}
        assert all(by_id[i] == key for i, key in placed.items())
        assert snapshot is not None and snapshot.articles == engine.idf.seen
        assert snapshot.payload == engine.idf.to_bytes()
    else:
        assert same < len(articles)
        assert snapshot is None


def test_a_refused_idf_table_is_logged_and_the_window_restored(
    shared_data: Path,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stored table that does not load (damaged) costs the carried IDF, nothing else:
    the clusterer warns and rebuilds its window as if there were no table."""
    monkeypatch.setattr(clustering, "IDF_SAVE_EVERY", 5)
    settings = settings_for(db_url)
    migrate(db_url)
    store = Store.open(db_url)
    try:
        import_in_parts(shared_data, tmp_path, store, settings, parts=1)
        version = store.clusters.active_version() or ""
        assert store.assignments.idf_snapshot(version) is not None
        with store.assignments.session() as session:
            session.execute(update(IdfSnapshotRow).values(payload=b"damaged"))
        caplog.set_level(logging.WARNING, logger="newsagg.cluster")
        restarted = build_cluster_stage(settings, store, clock=lambda: NOW)
        assert restarted.run(10) == 0
        engine = restarted.engine
        assert engine is not None
        assert engine.idf.seen == len(engine.placements()) > 0  # the window's counts
    finally:
        store.close()
    refused = [r for r in caplog.records if r.getMessage() == "idf.refused"]
    assert refused and refused[0].levelno == logging.WARNING


def test_a_batch_logs_the_reprints_it_did_not_read_again(
    shared_data: Path, tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Wire copy: the same title and text from a second outlet is read once, and the
    batch's log line says how many articles reused a reading."""
    path, gold = subset(shared_data, tmp_path, 2)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    reprints = [{**r, "id": f"wire-{r['id']}", "outlet": "wire"} for r in rows[:2]]
    path.write_text("\n".join(json.dumps(r) for r in rows + reprints) + "\n", encoding="utf-8")
    migrate(db_url)
    store = Store.open(db_url)
    caplog.set_level(logging.INFO, logger="newsagg.cluster")
    try:
        report = import_file(path, store, settings_for(db_url))
        assert report.stored == len(gold) + 2
        found = groups(store)
    finally:
        store.close()
    batches = [r for r in caplog.records if r.getMessage() == "cluster.batch"]
    assert sum(r.newsagg_fields["reprints_read_once"] for r in batches) == 2  # type: ignore[attr-defined]
    for reprint in reprints:  # each joins its original's story cluster
        cluster = next(g for g in found.values() if reprint["id"] in g)
        assert reprint["id"].removeprefix("wire-") in cluster
