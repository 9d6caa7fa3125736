"""A killed poll loses nothing and duplicates nothing; four polls at once store each article
once. Real CLI processes, a real local server, real SQLite and PostgreSQL."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from storage.store import Store
from tests.support.httpserver import LocalServer, Request, Response
from tests.support.newsite import benchmark_pages, outlets_toml, publish
from tests.test_poll_e2e import cli_env, run_cli

PAGES = 90


def slow_pages(server: LocalServer, delay: float) -> None:
    """Make every article page answer after ``delay`` seconds, so a kill lands mid-poll."""
    for path, route in list(server.routes.items()):
        if path.startswith("/articles/") and isinstance(route, Response):

            def handler(_r: Request, _h: object, route: Response = route) -> Response:
                time.sleep(delay)
                return route

            server.routes[path] = handler


def site(
    server: LocalServer, shared: Path, tmp: Path, db_url: str
) -> tuple[dict[str, str], list[str]]:
    pages = benchmark_pages(shared, PAGES)
    outlets = tmp / "outlets.toml"
    outlets.write_text(outlets_toml(publish(server, pages, outlets=6)), encoding="utf-8")
    env = cli_env(db_url, outlets)
    env["NEWSAGG_POLL_LEASE_SECONDS"] = "1"
    env["NEWSAGG_POLL_FEED_WORKERS"] = "2"
    assert run_cli(["migrate"], env, tmp).returncode == 0
    return env, [p.id for p in pages]


def stored_once(db_url: str, ids: list[str]) -> None:
    with Store.open(db_url) as store:
        articles = store.articles.get_many(list(range(1, 10 * len(ids))))
        assert store.articles.count(state="pending") == 0
    names = Counter(a.canonical_url.rsplit("/", 1)[-1].removesuffix(".html") for a in articles)
    assert sorted(names) == sorted(ids)
    assert set(names.values()) == {1}
    assert all(a.text for a in articles)


@pytest.mark.slow
def test_killed_polls_lose_nothing_and_duplicate_nothing(
    shared_data: Path, http_server: LocalServer, db_url: str, tmp_path: Path
) -> None:
    env, ids = site(http_server, shared_data, tmp_path, db_url)
    slow_pages(http_server, 0.05)
    rng = random.Random(7)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "poll", "--once", "--all", "--no-progress"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(1.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        time.sleep(1.2)  # the dead process's leases expire
    final = run_cli(["poll", "--once", "--all", "--no-progress"], env, tmp_path)
    assert final.returncode == 0, final.stderr[-2000:]
    stored_once(db_url, ids)


@pytest.mark.slow
def test_four_polls_at_once_store_each_article_once(
    shared_data: Path, http_server: LocalServer, db_url: str, tmp_path: Path
) -> None:
    env, ids = site(http_server, shared_data, tmp_path, db_url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "aggregator", "poll", "--once", "--all", "--no-progress"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    time.sleep(1.2)
    final = run_cli(["poll", "--once", "--all", "--no-progress"], env, tmp_path)
    assert final.returncode == 0
    assert "new articles: 0" in final.stdout
    stored_once(db_url, ids)
    assert os.path.exists(tmp_path)
