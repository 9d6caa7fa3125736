"""The JSON API of INTERFACES.md on the real BASIL articles, served by uvicorn on 127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.webkit import Site, error_of

pytest_plugins = ["tests.support.webfixtures"]

CLUSTER_KEYS = {"id", "title", "first_published", "last_updated", "article_count", "outlets"}
ARTICLE_KEYS = {"id", "outlet", "url", "title", "published", "copy_group", "why"}


def walk(site: Site, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, following ``next`` until it is null."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = site.client.get(path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next"}
        items += body["items"]
        cursor = body["next"]
        if cursor is None:
            return items
    raise AssertionError("pagination never ended")


def test_clusters_list_has_the_contract_shape(shared_site: Site) -> None:
    body = shared_site.client.get("/api/clusters", params={"limit": 5}).json()
    assert len(body["items"]) == 5 and isinstance(body["next"], str)
    for item in body["items"]:
        assert set(item) >= CLUSTER_KEYS
        assert item["last_updated"].endswith("Z")
        assert item["article_count"] >= 1 and item["outlets"]
    times = [item["last_updated"] for item in body["items"]]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize("sort", ["latest", "largest"])
def test_cursor_pagination_visits_every_story_once(shared_site: Site, sort: str) -> None:
    items = walk(shared_site, "/api/clusters", limit=7, sort=sort)
    ids = [item["id"] for item in items]
    assert len(ids) == len(set(ids)) == len(shared_site.data.clusters)


def test_filters(shared_site: Site) -> None:
    client = shared_site.client
    by_outlet = walk(shared_site, "/api/clusters", outlet="NYT", limit=50)
    assert by_outlet and all("NYT" in item["outlets"] for item in by_outlet)
    assert len(walk(shared_site, "/api/clusters", min_outlets=3)) == 60
    assert walk(shared_site, "/api/clusters", min_outlets=4) == []
    recent = walk(shared_site, "/api/clusters", since="2019-01-01")
    assert recent and all(item["last_updated"] >= "2019-01-01" for item in recent)
    early = walk(shared_site, "/api/clusters", until="2011-01-01T00:00:00Z")
    assert early and all(item["first_published"] < "2011-01-01" for item in early)
    labelled = client.get("/api/clusters", params={"label": "ownership:private"}).json()
    assert len(labelled["items"]) == 50
    assert client.get("/api/clusters", params={"label": "ownership:state"}).json()["items"] == []
    assert walk(shared_site, "/api/clusters", language="en")
    assert walk(shared_site, "/api/clusters", language="xx") == []


def test_search_finds_words_in_text_and_titles(shared_site: Site) -> None:
    found = walk(shared_site, "/api/clusters", q="Schiff")
    assert any("Schiff" in item["title"] for item in found)
    assert walk(shared_site, "/api/clusters", q="Schiff zzzqqxnotaword") == []
    articles = walk(shared_site, "/api/articles", q="strzok")
    assert articles and all(a["story_cluster"] for a in articles)


def test_cluster_detail_has_articles_why_and_comparison(shared_site: Site) -> None:
    story, cluster_id = next(iter(shared_site.data.clusters.items()))
    body = shared_site.client.get(f"/api/clusters/{cluster_id}").json()
    assert body["id"] == cluster_id and body["title"]
    assert {a["id"] for a in body["articles"]} == set(shared_site.data.by_story[story])
    for article in body["articles"]:
        assert set(article) >= ARTICLE_KEYS
        assert article["why"]["rule"] == "gold"
    comparison = body["comparison"]
    for part in ("timeline", "similarity", "sentences", "terms", "quotes", "headlines"):
        assert part in comparison
    assert comparison["timeline"]["outlets"]


def test_articles_list_detail_and_pagination(shared_site: Site) -> None:
    items = walk(shared_site, "/api/articles", limit=40)
    assert len(items) == 180 and len({a["id"] for a in items}) == 180
    assert [a["id"] for a in items] == sorted((a["id"] for a in items), reverse=True)
    nyt = walk(shared_site, "/api/articles", outlet="nyt", since="2018-01-01")
    assert nyt and all(a["outlet"] == "nyt" and a["published"] >= "2018" for a in nyt)
    cluster_id = next(iter(shared_site.data.clusters.values()))
    members = walk(shared_site, "/api/articles", cluster=cluster_id)
    assert {a["story_cluster"] for a in members} == {cluster_id}
    detail = shared_site.client.get(f"/api/articles/{items[0]['id']}").json()
    assert detail["text"] and detail["published_source"] == "import"
    assert detail["revisions"] == [] and "lease_owner" not in detail


def test_outlets_with_feed_health(shared_site: Site) -> None:
    body = shared_site.client.get("/api/outlets").json()
    assert body["next"] is None
    ids = {o["id"] for o in body["items"]}
    assert {"fox", "nyt", "hpo"} <= ids
    first = body["items"][0]
    assert {"feeds", "articles_per_day", "extraction_rate", "broken", "labels"} <= set(first)
    paged = walk(shared_site, "/api/outlets", limit=2)
    assert [o["id"] for o in paged] == [o["id"] for o in body["items"]]


def test_health_readiness_metrics_and_openapi(shared_site: Site) -> None:
    client = shared_site.client
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["migrations"] is True
    shared_site.metrics.fetch("feed", "ok")
    text = client.get("/metrics").text
    assert 'newsagg_fetches_total{kind="feed",result="ok"} 1.0' in text
    assert 'newsagg_queue_depth{queue="articles_ready"} 180.0' in text
    assert "newsagg_http_request_seconds" in text
    spec = client.get("/openapi.json").json()
    assert {"/api/clusters", "/api/clusters/{cluster_id}", "/api/articles", "/api/outlets"} <= set(
        spec["paths"]
    )
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/api/clusters" in docs.text and "<script" not in docs.text


class _StoppedService:
    def alive(self, max_age_s: float) -> bool:
        return False


def test_readyz_reports_a_dead_scheduler(basil_template: Any, tmp_path: Any) -> None:
    from aggregator.web.app import create_app
    from storage.store import Store
    from tests.support.webdata import copy_sqlite
    from tests.support.webkit import settings
    from tests.support.webserver import running

    url = copy_sqlite(basil_template[0], tmp_path / "r.db")
    with Store.open(url) as store:
        app = create_app(settings(), store, service=_StoppedService())
        with running(app) as base:
            import httpx

            response = httpx.get(base + "/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": True, "migrations": True, "scheduler": False}


@pytest.mark.postgres
def test_the_api_on_postgresql(pg_site: Site) -> None:
    clusters = walk(pg_site, "/api/clusters", limit=5)
    assert len(clusters) == 12
    assert len(walk(pg_site, "/api/clusters", limit=5, sort="largest")) == 12
    outlet = clusters[0]["outlets"][0]
    assert all(outlet in c["outlets"] for c in walk(pg_site, "/api/clusters", outlet=outlet))
    assert walk(pg_site, "/api/clusters", label="ownership:private")
    hits = walk(pg_site, "/api/articles", q="Trump")
    assert hits and all(a["id"] for a in hits)
    assert walk(pg_site, "/api/clusters", q='"NEAR( OR -* Trump') is not None
    detail = pg_site.client.get(f"/api/clusters/{clusters[0]['id']}").json()
    assert detail["comparison"]["version"]
    for path in ("/", f"/clusters/{clusters[0]['id']}", "/outlets", "/audit"):
        assert pg_site.client.get(path).status_code == 200
    error = pg_site.client.get("/api/clusters", params={"outlet": "a\x00b"})
    assert error.status_code == 400 and error_of(error)["code"] == "bad_request"


def test_basil_through_newsagg_import(imported_site: Site) -> None:
    """The real pipeline's output (``newsagg import``): every article in one story, the story
    counts add up, and every story page renders with its comparison and explanations."""
    clusters = walk(imported_site, "/api/clusters", limit=25)
    assert sum(c["article_count"] for c in clusters) == 180
    articles = walk(imported_site, "/api/articles", limit=100)
    assert len(articles) == 180 and all(a["story_cluster"] for a in articles)
    assert {a["story_cluster"] for a in articles} == {c["id"] for c in clusters}
    for cluster in clusters:
        page = imported_site.client.get(f"/clusters/{cluster['id']}")
        assert page.status_code == 200, cluster["id"]
        assert page.text.count("Why is this here?") == cluster["article_count"]
        assert "cannot draw" not in page.text
    detail = imported_site.client.get(f"/api/clusters/{clusters[0]['id']}").json()
    assert detail["comparison"] is not None and all(a["why"]["rule"] for a in detail["articles"])
