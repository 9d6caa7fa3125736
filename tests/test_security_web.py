"""Security review of the web UI and API, by enumeration rather than by example: every route
the app declares is found in ``app.routes`` and checked, so a route added later is covered
too. RELIABILITY.md, Web and API: mutating actions need authentication and CSRF protection;
with a read token nothing but health checks and the login form is open; search syntax and
SQL-looking input are data, never syntax (SQLite and PostgreSQL); export names never become
paths. test_web_security.py has the example-based tests these extend."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.web.app import create_app
from tests.support.webkit import READ_TOKEN, Site, error_of, serve, settings

pytest_plugins = ["tests.support.webfixtures"]

# With a read token only these answer; the OpenAPI schema describes the API and holds no data.
OPEN_WHEN_CLOSED = {"/healthz", "/readyz", "/login", "/openapi.json"}
STATIC = "/static"


def routes(site: Site) -> list[tuple[str, str]]:
    """(method, path template) of every route the app declares, included routers too."""
    return sorted(set(_walk(create_app(settings(), site.store).routes)))


def _walk(found: Iterable[Any]) -> Iterator[tuple[str, str]]:
    for route in found:
        inner = getattr(route, "original_router", None)  # FastAPI's included routers
        if inner is not None:  # (their routes' paths already carry the router's prefix)
            yield from _walk(inner.routes)
            continue
        methods = getattr(route, "methods", None) or {"GET"}  # a Mount (static files)
        yield from ((m, str(getattr(route, "path", ""))) for m in methods if m != "HEAD")


def concrete(path: str, site: Site) -> str:
    cluster = min(site.data.clusters.values())
    article = min(a for ids in site.data.by_story.values() for a in ids)
    values = {"cluster_id": cluster, "article_id": article, "name": "articles.csv"}
    values["path"] = "style.css"
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: str(values[m.group(1)]), path)


@pytest.fixture
def closed(basil_url: str, basil_template: tuple[Path, Any]) -> Iterator[Site]:
    with serve(basil_url, basil_template[1], settings(read_token=READ_TOKEN)) as running:
        yield running


def test_every_route_is_known_to_this_review(site: Site) -> None:
    """The inventory: a new route fails here until someone decides how it is protected."""
    found = {f"{m} {p}" for m, p in routes(site)}
    assert {"GET /api/clusters", "GET /api/exports/{name}", "GET /clusters/{cluster_id}"} <= found
    posts = {r for r in found if r.startswith("POST ")}
    assert posts == {
        "POST /login",
        "POST /logout",
        "POST /clusters/{cluster_id}/merge",
        "POST /clusters/{cluster_id}/split",
        "POST /articles/{article_id}/move",
    }
    assert not {r for r in found if r.split()[0] in ("PUT", "PATCH", "DELETE")}


def test_every_mutating_route_needs_a_session_and_a_csrf_token(site: Site) -> None:
    actions = [concrete(p, site) for m, p in routes(site) if m == "POST" and p != "/login"]
    data = {"other": "2", "article": "1", "to": "2", "note": "x"}
    for path in actions:  # no session at all
        response = site.client.post(path, data={**data, "csrf": "x"})
        assert response.status_code in (401, 403), path
    site.login()
    good = site.csrf(f"/clusters/{min(site.data.clusters.values())}")
    for path in actions:
        for token in (None, "", "x", good + "x", good[:-1]):
            form = dict(data) if token is None else {**data, "csrf": token}
            assert site.client.post(path, data=form).status_code == 403, (path, token)
        cross = site.client.post(
            path, data={**data, "csrf": good}, headers={"origin": "https://evil.example"}
        )
        assert cross.status_code == 403 or path == "/logout", path
    assert site.client.get("/api/audit").json()["items"] == []  # nothing was changed


def test_with_a_read_token_every_route_but_health_and_login_is_closed(closed: Site) -> None:
    client = closed.client
    checked = 0
    for method, template in routes(closed):
        if method != "GET" or template.startswith(STATIC):
            continue
        path = concrete(template, closed)
        response = client.get(path)
        checked += 1
        if template in OPEN_WHEN_CLOSED:
            assert response.status_code == 200, path
            continue
        if path.startswith(("/api/", "/metrics", "/openapi.json")):
            assert response.status_code == 401, (path, response.status_code)
            error_of(response)
        else:
            assert response.status_code == 303, (path, response.status_code)
            assert response.headers["location"].startswith("/login?next="), path
        assert "Harbour" not in response.text and "Trump" not in response.text, path
    assert checked >= 15


SQLISH = ["' OR '1'='1", "' OR 1=1 --", '" OR ""="', "1; DROP TABLE articles; --",
          "x' UNION SELECT password FROM users --", "%", "_", "%%", "%_%", "\\", "\\%",
          "') OR ('a'='a", "*) OR (1=1", "$1", ":param", "?", "NULL", "title:x OR 1"]  # fmt: skip


@pytest.mark.parametrize("q", SQLISH)
def test_sql_and_wildcards_in_search_are_searched_as_text(any_site: Site, q: str) -> None:
    everything = any_site.client.get("/api/articles", params={"limit": 500}).json()["items"]
    for path in ("/api/articles", "/api/clusters"):
        response = any_site.client.get(path, params={"q": q, "limit": 500})
        assert response.status_code in (200, 400), (q, response.text[:300])
        if response.status_code == 400:
            assert error_of(response)["code"] in ("bad_search", "bad_request")
            continue
        items = response.json()["items"]
        if path == "/api/articles":
            assert len(items) < len(everything), (q, "matched every article")
    page = any_site.client.get("/", params={"q": q})
    assert page.status_code in (200, 400)
    assert any_site.client.get("/api/articles", params={"limit": 500}).json()["items"] == everything


TRAVERSALS = [
    "../../../../etc/passwd", "..%2F..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%252F..%252Fetc%252Fpasswd", "....//....//etc/passwd", "..\\..\\etc\\passwd",
    "%2Fetc%2Fpasswd", "articles.csv%00.txt", "articles.csv/../../../etc/passwd",
    "articles.csv%2F..%2F..%2Fetc%2Fpasswd", "file:%2F%2F%2Fetc%2Fpasswd", ".", "..",
    "articles.csv.zip%2F..%2Fmanifest.json", "%c0%ae%c0%ae/etc/passwd", "~/.ssh/id_rsa",
]  # fmt: skip


@pytest.mark.parametrize("name", TRAVERSALS)
def test_export_names_never_become_paths(shared_site: Site, name: str) -> None:
    response = shared_site.client.get("/api/exports/" + name)
    assert response.status_code in (400, 404), (name, response.status_code)
    assert b"root:" not in response.content and b"PRIVATE KEY" not in response.content
    if response.headers.get("content-type", "").startswith("application/json"):
        error_of(response)


def test_a_zip_export_holds_exactly_its_file_and_manifest(shared_site: Site) -> None:
    response = shared_site.client.get(
        "/api/exports/articles.csv.zip", params={"outlet": "../../etc/passwd"}
    )
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == ["articles.csv", "manifest.json"]
    disposition = response.headers.get("content-disposition", "")
    assert "/" not in disposition.split("filename=")[-1] and ".." not in disposition
