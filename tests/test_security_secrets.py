"""Secrets never reach the logs or the pages (RELIABILITY.md, Web and API, "secrets"): feed
URLs that carry credentials (user:password@, api_key=, token=, signature=), the database
password, the editor and read tokens given in the environment or in ``*_FILE`` files.

The real CLI polls a local server with JSON logs at DEBUG level; every line it writes is
searched for each secret. test_web_security.py covers the web tokens inside the app and
test_fetch.py the fetcher's own error messages; this module covers the rest of the way.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from aggregator.errors import ConfigError
from aggregator.settings import DatabaseSettings, Settings, WebSettings, load_settings
from aggregator.web.app import create_app
from storage.store import Store
from tests.support.cli import local_env, run_cli
from tests.support.faults import Item, article_page, rss, story_text
from tests.support.httpserver import LocalServer
from tests.support.paths import REPO
from tests.support.webserver import running

FEED_PASSWORD = "s3cr3t-feed-pw"
API_KEY = "K3Y-api-123"
TOKEN = "T0K-query-456"
SIGNATURE = "SIG-000-abc"
HOP_SECRET = "AUTH-hop-111"
PAGE_TOKEN = "ART-page-789"
ROBOTS_TOKEN = "ROB-page-222"
DB_PASSWORD = "DBPASS-333-xyz"
EDITOR = "editor-file-token-9c1e"
READER = "reader-env-token-77aa"
SECRETS = (FEED_PASSWORD, API_KEY, TOKEN, SIGNATURE, HOP_SECRET, PAGE_TOKEN, ROBOTS_TOKEN)


def cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(list(args), env, cwd, timeout=300)


def base_env(db_url: str, outlets: Path) -> dict[str, str]:
    return local_env(db_url, outlets, LOG_FORMAT="json", LOG_LEVEL="DEBUG")


def secret_site(server: LocalServer) -> str:
    """An outlets file whose feeds carry credentials; feeds and pages that succeed and fail."""
    server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n")
    port = server.port
    page = server.route("/a/1.html", article_page("One", story_text("one")))
    items = [
        Item("Token page", f"{page}?access_token={PAGE_TOKEN}", "one", None, "s"),
        Item(
            "Robots page",
            f"http://127.0.0.1:{port}/private/2.html?session_token={ROBOTS_TOKEN}",
            "two",
            None,
            "s",
        ),
        Item(
            "Gone page", f"http://127.0.0.1:{port}/missing.html?api_key={API_KEY}", "3", None, "s"
        ),
    ]
    server.route("/feed.xml", rss(items))
    server.route("/broken.xml", "oops", status=500)
    server.route(
        "/hop.xml", status=302, headers={"Location": f"/nowhere.xml?auth={HOP_SECRET}&x=1"}
    )
    creds = f"reader:{FEED_PASSWORD}@127.0.0.1:{port}"
    feeds = {
        "good": f"http://{creds}/feed.xml?api_key={API_KEY}&token={TOKEN}",
        "broken": f"http://{creds}/broken.xml?X-Amz-Signature={SIGNATURE}",
        "hop": f"http://127.0.0.1:{port}/hop.xml?token={TOKEN}",
    }
    return "\n".join(
        f'[[outlet]]\nid = "{oid}"\nname = "{oid}"\nfeeds = ["{url}"]\n'
        for oid, url in feeds.items()
    )


def poll_secret_site(
    server: LocalServer, db_url: str, folder: Path
) -> subprocess.CompletedProcess[str]:
    """``migrate`` and one ``poll --once --all`` of ``secret_site`` (JSON logs at DEBUG)."""
    outlets = folder / "outlets.toml"
    outlets.write_text(secret_site(server), encoding="utf-8")
    env = base_env(db_url, outlets)
    assert cli(env, folder, "migrate").returncode == 0
    done = cli(env, folder, "poll", "--once", "--all", "--no-progress")
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_credentials_in_feed_and_page_urls_never_reach_the_logs(
    http_server: LocalServer, sqlite_url: str, tmp_path: Path
) -> None:
    done = poll_secret_site(http_server, sqlite_url, tmp_path)
    logged = done.stdout + done.stderr
    assert '"event": "feed.error"' in logged and '"event": "page.robots_disallowed"' in logged
    assert "/private/2.html" in logged  # the events name their URLs ...
    leaked = [secret for secret in SECRETS if secret in logged]
    assert leaked == [], leaked  # ... with the credentials masked
    # the server did get the credentials: they were masked, not dropped
    auth = [r.headers.get("Authorization", "") for r in http_server.requests]
    assert any(a.startswith("Basic ") for a in auth)
    assert any(API_KEY in r.path for r in http_server.requests)


def test_credentials_in_feed_urls_are_not_shown_on_the_outlets_page_or_api(
    http_server: LocalServer, sqlite_url: str, tmp_path: Path
) -> None:
    poll_secret_site(http_server, sqlite_url, tmp_path)
    with Store.open(sqlite_url) as store:
        app = create_app(Settings(), store)
        with running(app) as base:
            page = httpx.get(base + "/outlets", timeout=30).text
            api = httpx.get(base + "/api/outlets", timeout=30).text
    assert "hop.xml" in page and "broken.xml" in api
    for secret in (FEED_PASSWORD, API_KEY, SIGNATURE):
        assert secret not in page, secret
        assert secret not in api, secret


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://newsagg:{DB_PASSWORD}@127.0.0.1:1/newsagg",
        f"postgresql+psycopg://postgres:{DB_PASSWORD}@127.0.0.1:5432/no_such_db_for_newsagg",
        f"postgresql://newsagg:{DB_PASSWORD}@[::1/broken",
    ],
    ids=["refused", "no-such-database", "malformed"],
)
def test_the_database_password_is_not_in_error_messages(url: str, tmp_path: Path) -> None:
    outlets = tmp_path / "outlets.toml"
    outlets.write_text("", encoding="utf-8")
    env = base_env(url, outlets)
    for command in (["poll", "--once", "--all", "--no-progress"], ["migrate"]):
        done = cli(env, tmp_path, *command)
        assert done.returncode == 1, (command, done.stderr[-2000:])
        assert DB_PASSWORD not in done.stdout + done.stderr, (command, done.stderr)
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        assert done.stderr.strip().count("\n") == 0  # one line, as INTERFACES.md asks


def test_redacted_settings_hide_every_secret() -> None:
    settings = Settings(
        database=DatabaseSettings(url=f"postgresql+psycopg://u:{DB_PASSWORD}@db/newsagg"),
        web=WebSettings(editor_token=EDITOR, read_token=READER),
    )
    shown = str(settings.redacted())
    for secret in (EDITOR, READER, DB_PASSWORD):
        assert secret not in shown, secret
    assert "db/newsagg" in shown  # the rest is still there to read


def test_web_tokens_from_files_and_env_work_and_are_never_logged(
    tmp_path: Path, sqlite_url: str
) -> None:
    token_file = tmp_path / "editor_token"
    token_file.write_text(EDITOR + "\n", encoding="utf-8")
    env = {
        "NEWSAGG_WEB_EDITOR_TOKEN_FILE": str(token_file),
        "NEWSAGG_WEB_READ_TOKEN": READER,
        "NEWSAGG_DATABASE_URL": sqlite_url,
    }
    settings = load_settings(REPO / "config" / "settings.toml", env=env)
    assert settings.web.editor_token == EDITOR and settings.web.read_token == READER
    missing = {**env, "NEWSAGG_WEB_EDITOR_TOKEN_FILE": str(tmp_path / "nope")}
    with pytest.raises(ConfigError) as caught:
        load_settings(REPO / "config" / "settings.toml", env=missing)
    assert "NEWSAGG_WEB_EDITOR_TOKEN_FILE" in str(caught.value)

    outlets = tmp_path / "outlets.toml"
    outlets.write_text("", encoding="utf-8")
    full = {**base_env(sqlite_url, outlets), **env}
    assert cli(full, tmp_path, "migrate").returncode == 0
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "serve", "--port", str(port)],
        env=full,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(base)
        with httpx.Client(base_url=base, timeout=30) as client:
            assert client.get("/api/clusters").status_code == 401
            ok = client.get("/api/clusters", headers={"Authorization": f"Bearer {READER}"})
            assert ok.status_code == 200
            form = client.get("/login").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            wrong = client.post("/login", data={"csrf": csrf, "token": "x" + EDITOR})
            assert wrong.status_code == 401
            form = client.get("/login").text
            csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            good = client.post("/login", data={"csrf": csrf, "token": EDITOR, "next": "/"})
            assert good.status_code == 303
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=60)
    assert "web.login" in out
    for secret in (EDITOR, READER):
        assert secret not in out, secret


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait(base: str) -> None:
    import time

    for _ in range(200):
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the app did not start")
