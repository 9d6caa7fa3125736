"""Headers, authentication, CSRF, sessions and secrets, against a real server."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregator.web.security import CSP, Auth
from aggregator.web.views import clean_html, safe_href
from tests.support.webkit import (
    CSRF_RE,
    EDITOR_TOKEN,
    READ_TOKEN,
    Site,
    error_of,
    serve,
    settings,
)

pytest_plugins = ["tests.support.webfixtures"]


@pytest.fixture
def closed_site(basil_url: str, basil_template: tuple[Path, Any]) -> Iterator[Site]:
    config = settings(read_token=READ_TOKEN)
    with serve(basil_url, basil_template[1], config) as running:
        yield running


def cluster_ids(site: Site) -> list[int]:
    return sorted(site.data.clusters.values())


def test_security_headers_on_every_kind_of_response(site: Site) -> None:
    for path in ("/", "/api/clusters", "/static/style.css", "/nope", "/api/exports/clusters.csv"):
        response = site.client.get(path)
        assert response.headers["content-security-policy"] == CSP, path
        assert "script-src" not in CSP and "unsafe-inline" not in CSP
        assert "frame-ancestors 'none'" in CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"


def test_pages_carry_no_script_and_no_inline_style(site: Site) -> None:
    for path in ("/", f"/clusters/{cluster_ids(site)[0]}", "/outlets", "/articles/1", "/docs"):
        html = site.client.get(path).text.lower()
        assert "<script" not in html and "style=" not in html and "<style" not in html, path


def test_a_read_token_closes_pages_api_and_metrics(closed_site: Site) -> None:
    client = closed_site.client
    assert error_of(client.get("/api/clusters"))["code"] == "unauthorized"
    assert client.get("/api/clusters").status_code == 401
    assert client.get("/metrics").status_code == 401
    assert client.get("/api/exports/articles.csv").status_code == 401
    page = client.get("/outlets")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=%2Foutlets"
    assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200
    for token in (READ_TOKEN, EDITOR_TOKEN):
        ok = client.get("/api/clusters", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
    wrong = client.get("/api/clusters", headers={"Authorization": f"Bearer {READ_TOKEN}x"})
    assert wrong.status_code == 401
    assert closed_site.login(READ_TOKEN).status_code == 303
    assert client.get("/outlets").status_code == 200


def test_a_reader_cannot_edit(closed_site: Site) -> None:
    closed_site.login(READ_TOKEN)
    first, second = cluster_ids(closed_site)[:2]
    csrf = closed_site.csrf("/")
    response = closed_site.client.post(
        f"/clusters/{first}/merge", data={"csrf": csrf, "other": str(second)}
    )
    assert response.status_code == 401


def editor_post(site: Site, path: str, data: dict[str, Any], **headers: str) -> httpx.Response:
    return site.client.post(path, data=data, headers=headers)


def test_every_editor_action_needs_a_login_and_a_csrf_token(site: Site) -> None:
    first, second = cluster_ids(site)[:2]
    article = site.data.by_story[next(iter(site.data.clusters))][0]
    actions = [
        (f"/clusters/{first}/merge", {"other": str(second)}),
        (f"/clusters/{first}/split", {"article": str(article)}),
        (f"/articles/{article}/move", {"to": str(second)}),
    ]
    for path, data in actions:
        assert editor_post(site, path, {**data, "csrf": "x"}).status_code == 401, path
    site.login()
    csrf = site.csrf(f"/clusters/{first}")
    for path, data in actions:
        assert editor_post(site, path, data).status_code == 403, path
        assert editor_post(site, path, {**data, "csrf": csrf + "x"}).status_code == 403, path
        assert editor_post(site, path, {**data, "csrf": ""}).status_code == 403, path
        cross = editor_post(site, path, {**data, "csrf": csrf}, origin="https://evil.example")
        assert cross.status_code == 403, path
        fetched = editor_post(
            site, path, {**data, "csrf": csrf}, **{"sec-fetch-site": "cross-site"}
        )
        assert fetched.status_code == 403, path
    assert site.client.get("/api/audit").json()["items"] == []


def test_a_csrf_token_belongs_to_its_session(site: Site) -> None:
    first, second = cluster_ids(site)[:2]
    site.login(name="ann")
    stolen = site.csrf("/")
    site.client.cookies.clear()
    site.login(name="bob")
    response = site.client.post(f"/clusters/{first}/merge", data={"csrf": stolen, "other": second})
    assert response.status_code == 403


def test_editing_is_off_without_an_editor_token(
    basil_url: str, basil_template: tuple[Path, Any]
) -> None:
    with serve(basil_url, basil_template[1], settings(editor_token=None)) as running:
        response = running.client.post("/clusters/1/merge", data={"other": "2", "csrf": "x"})
        assert response.status_code == 403
        assert running.login(EDITOR_TOKEN).status_code == 401
        assert "Editor log in" not in running.client.get("/").text


def test_login_cookie_and_failures(site: Site) -> None:
    failed = site.login("not-the-token")
    assert failed.status_code == 401 and 'id="login-failed"' in failed.text
    assert "newsagg_session" not in failed.headers.get("set-cookie", "")
    form = site.client.get("/login").text
    no_csrf = site.client.post("/login", data={"token": EDITOR_TOKEN})
    assert no_csrf.status_code == 403
    csrf = CSRF_RE.search(form)
    assert csrf is not None
    evil = site.client.post(
        "/login", data={"csrf": csrf.group(1), "token": EDITOR_TOKEN, "next": "//evil.example/x"}
    )
    assert evil.status_code == 303 and evil.headers["location"] == "/"
    cookie = evil.headers["set-cookie"]
    assert "newsagg_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie and EDITOR_TOKEN not in cookie


def test_a_tampered_session_cookie_is_refused() -> None:
    auth = Auth("editor-token", None)
    _session, cookie = auth.new_session("editor", "ann")
    assert auth.session(cookie) is not None
    body, mac = cookie.split(".")
    forged = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + mac
    assert auth.session(forged) is None
    assert auth.session(cookie + "x") is None
    assert auth.session("garbage") is None
    assert Auth("another-token", None).session(cookie) is None
    reader_only = Auth(None, "read")
    _s, reader_cookie = reader_only.new_session("editor", "x")
    assert reader_only.session(reader_cookie) is None  # no editing without an editor token
    assert auth.role_of("editor-token") == "editor" and auth.role_of("editor-token ") is None
    assert "editor-token" not in repr(auth)


def test_secrets_never_reach_the_logs(
    basil_url: str, basil_template: tuple[Path, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = settings(read_token=READ_TOKEN)
    with serve(basil_url, basil_template[1], config) as running:
        running.login("wrong-" + EDITOR_TOKEN)
        running.login(EDITOR_TOKEN)
        running.client.get("/api/clusters", headers={"Authorization": f"Bearer {READ_TOKEN}"})
        running.client.get("/api/clusters", headers={"Authorization": "Bearer nope"})
        first, second = cluster_ids(running)[:2]
        running.client.post(f"/clusters/{first}/merge", data={"csrf": "bad", "other": second})
        pages = [running.client.get(p).text for p in ("/", "/login", "/docs", "/outlets")]
    logged = " ".join(
        f"{r.getMessage()} {getattr(r, 'newsagg_fields', '')} {r.args}" for r in caplog.records
    )
    assert "web.login" in logged
    for secret in (EDITOR_TOKEN, READ_TOKEN):
        assert secret not in logged
        assert all(secret not in html for html in pages)
    assert EDITOR_TOKEN not in str(config.redacted())


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.com/a?b=1", True),
        ("http://example.com", True),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("&#106;avascript:alert(1)", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("vbscript:msgbox(1)", False),
        ("//evil.example/x", False),
        ("/relative", False),
        ("https://", False),
        ("http://exa mple.com", False),
        ("", False),
        (None, False),
    ],
)
def test_only_http_links_are_rendered(url: str | None, safe: bool) -> None:
    assert (safe_href(url) is not None) is safe


def test_stored_html_is_sanitised_at_render_time() -> None:
    html = clean_html(
        '<p onclick="x()">Hi <script>alert(1)</script><img src=x onerror=alert(1)>'
        '<a href="javascript:alert(1)">j</a><a href="&#106;avascript:alert(1)">e</a>'
        '<a href="https://ok.example/">ok</a><form action="/x"><input></form></p>'
    )
    lowered = str(html).lower()
    for bad in ("<script", "onerror", "onclick", "javascript:", "<img", "<form", "<input"):
        assert bad not in lowered
    assert 'href="https://ok.example/"' in lowered and "nofollow" in lowered
