"""Kill tests (RELIABILITY.md, Data safety, "process killed mid-poll"): the service is SIGKILLed
at random points of its work 20 times over a local news site whose feeds keep changing, and
restarted each time; then a last run completes. Every article must be stored exactly once,
nothing may be left pending, and the clusters must equal those of a clean, uninterrupted run.

The processes are the real CLI: even cycles run the service (``newsagg run --no-web``, ticking
every half second), odd cycles ``newsagg poll --once --all``, each killed after a random
number of its requests to the site (``kill_moment``) or, in half the cycles of each command,
just after it stored the feeds' new entries (``stored_more``), plus a random delay, so kills
land in feed polls, page fetches, extraction and clustering transactions alike.

Comparing clusters honestly: the clusterer assigns articles in the order they become ready,
and kills change that order, so two runs over arbitrary input may legitimately differ. The
input is therefore built so that order should not matter: each story is one real page of the
extraction benchmark published verbatim by three outlets (under three URLs), and different
pages are different real articles. The checks: copy groups are exactly the pages (verbatim
copies and only they); story clusters never split a page's copies and number at least the
pages minus 3 (the benchmark holds a few pairs of pages that report one story, e.g. TechCrunch
and VentureBeat on the New York attorney general's WeWork inquiry, which the clean run joins);
the killed-and-restarted database's partitions equal the clean run's; and ``newsagg
recluster`` of the killed database reproduces the clean story partition. Articles are keyed by
(outlet, page) across databases, since ids differ.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from storage.store import Store
from tests.support.figures import count
from tests.support.httpserver import LocalServer, Request, Response, serve
from tests.support.newsite import Page, benchmark_pages
from tests.test_poll_e2e import cli_env, run_cli

pytest_plugins = ["tests.support.figureplugin"]

OUTLETS = 3
PAGES = int(os.environ.get("NEWSAGG_KILL_PAGES", "30"))
CYCLES = int(os.environ.get("NEWSAGG_KILL_CYCLES", "20"))
LEASE_S = 1.0
START = datetime(2026, 11, 27, 12, tzinfo=UTC)


@dataclass
class Site:
    """Three outlets publishing the same pages; feeds reveal more entries as cycles pass."""

    server: LocalServer
    pages: Sequence[Page]
    visible: int = 0
    requests: int = 0  # a process that asked for a feed or a page has started working

    def publish(self) -> list[str]:
        self.server.route("/robots.txt", "User-agent: *\nAllow: /\n")
        for n in range(OUTLETS):
            for page in self.pages:
                self.server.route(f"/o{n}/a/{page.id}.html", handler=self._page(page))
            self.server.route(f"/o{n}/feed.xml", handler=self._feed(n))
        return self.feed_urls()

    def feed_urls(self) -> list[str]:
        return [self.server.url(f"/o{n}/feed.xml") for n in range(OUTLETS)]

    def _page(self, page: Page):  # type: ignore[no-untyped-def]
        def handle(_r: Request, _h: BaseHTTPRequestHandler) -> Response:
            self.requests += 1
            time.sleep(0.02)  # spread the work, so that kills land inside it
            return Response(200, page.html, {"Content-Type": "text/html"})

        return handle

    def _feed(self, n: int):  # type: ignore[no-untyped-def]
        def handle(_r: Request, _h: BaseHTTPRequestHandler) -> Response:
            self.requests += 1
            items = []
            for i, page in enumerate(self.pages[: self.visible]):
                when = (START - timedelta(minutes=3 * i + n)).strftime(
                    "%a, %d %b %Y %H:%M:%S +0000"
                )
                link = self.server.url(f"/o{n}/a/{page.id}.html")
                items.append(
                    f"<item><title>Article {page.id[:10]}</title><link>{link}</link>"
                    f"<guid isPermaLink='false'>o{n}-{page.id}</guid><pubDate>{when}</pubDate>"
                    f"<description>Summary {page.id[:10]}</description></item>"
                )
            body = f"<rss version='2.0'><channel><title>Outlet {n}</title>{''.join(items)}"
            return Response(200, (body + "</channel></rss>").encode())

        return handle


def outlets_toml(feeds: Sequence[str]) -> str:
    return "\n".join(
        f'[[outlet]]\nid = "outlet{n}"\nname = "Outlet {n}"\nlanguage = "en"\nfeeds = ["{url}"]\n'
        for n, url in enumerate(feeds)
    )


def environment(db_url: str, folder: Path, feeds: Sequence[str]) -> dict[str, str]:
    outlets = folder / "outlets.toml"
    outlets.write_text(outlets_toml(feeds), encoding="utf-8")
    env = cli_env(db_url, outlets)
    env.update(
        {
            "NEWSAGG_POLL_LEASE_SECONDS": str(LEASE_S),
            "NEWSAGG_POLL_FEED_WORKERS": "2",
            "NEWSAGG_POLL_TICK_SECONDS": "0.5",
            "NEWSAGG_EXTRACT_WORKERS": "2",
        }
    )
    return env


COMMANDS = (
    ["run", "--no-web"],
    ["poll", "--once", "--all", "--no-progress"],
)


def progress(db_url: str) -> tuple[int, int]:
    """(articles stored, articles clustered) so far."""
    with Store.open(db_url) as store:
        return store.articles.count(), store.articles.count(state="clustered")


def kill_cycles(
    env: dict[str, str], folder: Path, site: Site, cycles: int, seed: int
) -> tuple[int, list[tuple[int, int]]]:
    """Start, SIGKILL at a random moment, repeat. Returns how many processes were killed while
    running, and (stored, clustered) after each cycle."""
    rng = random.Random(seed)
    killed = 0
    steps = []
    for cycle in range(cycles):
        site.visible = len(site.pages) * (cycle + 1) // cycles  # the feeds keep changing
        asked = site.requests
        proc = subprocess.Popen(
            [sys.executable, "-m", "aggregator", *COMMANDS[cycle % 2]],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if cycle % 2 == (cycle // 2) % 2:  # half the cycles of each command
            stored_more(env["NEWSAGG_DATABASE_URL"], steps[-1][0] if steps else 0, proc)
        else:
            kill_moment(site, asked + rng.randint(1, 6), proc)
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is None:
            killed += 1
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        steps.append(progress(env["NEWSAGG_DATABASE_URL"]))
    return killed, steps


def kill_moment(site: Site, requests: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the site has answered ``requests`` requests in all (or the process exited, or
    10 s passed). A cycle asks for 3 feeds and its 4 or 5 new pages, so a kill after the 1st
    to 6th of them, plus up to 0.15 s, lands at a random point of the work whatever the
    machine's speed: fixed delays after start missed the work on a slow day (imports take 4 s)
    and after it on a quiet one (a cycle's work takes well under a second)."""
    deadline = time.monotonic() + 10
    while site.requests < requests and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)


def stored_more(db_url: str, stored: int, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the process has stored more than ``stored`` articles (or exited, or 10 s
    passed): a kill then lands among the pages and the clustering of entries it has just
    stored. Kills by requests alone left half the cycles of a slow day (a parse pool takes a
    second to start) killed before the feeds' entries were stored, with no progress at all."""
    deadline = time.monotonic() + 10
    with Store.open(db_url) as store:
        while store.articles.count() <= stored and proc.poll() is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)


def export_articles(env: dict[str, str], folder: Path, name: str) -> list[dict[str, object]]:
    out = folder / f"{name}.jsonl"
    done = run_cli(["export", "articles", "--format", "jsonl", "--out", str(out)], env, folder)
    assert done.returncode == 0, done.stderr[-2000:]
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def key(row: dict[str, object]) -> tuple[str, str]:
    """(outlet, page id) of an exported article."""
    return str(row["outlet"]), str(row["url"]).rsplit("/", 1)[-1].removesuffix(".html")


def partition(rows: Sequence[dict[str, object]], column: str) -> set[frozenset[tuple[str, str]]]:
    groups: dict[object, set[tuple[str, str]]] = {}
    for row in rows:
        assert row[column] is not None, (column, key(row))
        groups.setdefault(row[column], set()).add(key(row))
    return {frozenset(g) for g in groups.values()}


def check_complete(db_url: str, rows: Sequence[dict[str, object]], pages: Sequence[Page]) -> None:
    """Every (outlet, page) stored exactly once, with text, nothing pending or unclustered."""
    keys = Counter(key(r) for r in rows)
    expected = {(f"outlet{n}", p.id) for n in range(OUTLETS) for p in pages}
    assert set(keys) == expected, set(keys) ^ expected
    assert set(keys.values()) == {1}, [k for k, v in keys.items() if v > 1]
    assert all(r["text"] for r in rows)
    with Store.open(db_url) as store:
        assert store.articles.count() == len(expected)
        assert store.articles.count(state="pending") == 0
        assert store.articles.count(state="ready") == 0


def settle(env: dict[str, str], folder: Path) -> None:
    time.sleep(LEASE_S + 0.3)  # the last killed process's leases expire
    final = run_cli(["poll", "--once", "--all", "--no-progress"], env, folder)
    assert final.returncode == 0, final.stderr[-3000:]


@dataclass
class Clean:
    site: Site
    pages: Sequence[Page]
    rows: list[dict[str, object]]
    url: str


@pytest.fixture(scope="module")
def clean(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clean]:
    """The local site, and one clean uninterrupted run over it (SQLite), shared by the tests."""
    pages = benchmark_pages(shared_data, PAGES)
    folder = tmp_path_factory.mktemp("clean")
    with serve("127.0.0.1") as server:
        site = Site(server, pages)
        feeds = site.publish()
        site.visible = len(pages)
        env = environment(f"sqlite:///{folder / 'clean.db'}", folder, feeds)
        assert run_cli(["migrate"], env, folder).returncode == 0
        settle(env, folder)
        rows = export_articles(env, folder, "clean")
        check_complete(env["NEWSAGG_DATABASE_URL"], rows, pages)
        yield Clean(site, pages, rows, env["NEWSAGG_DATABASE_URL"])


def test_twenty_kills_lose_nothing_duplicate_nothing_and_cluster_as_a_clean_run(
    clean: Clean, db_url: str, tmp_path: Path
) -> None:
    site, pages = clean.site, clean.pages
    by_page = {frozenset((f"outlet{n}", p.id) for n in range(OUTLETS)) for p in pages}
    stories = partition(clean.rows, "story_cluster")
    assert partition(clean.rows, "copy_group") == by_page  # verbatim copies, and only they
    assert all(any(page <= story for story in stories) for page in by_page)  # never split
    assert len(stories) >= PAGES - 3  # a few pages of the benchmark report one story

    env = environment(db_url, tmp_path, site.feed_urls())
    assert run_cli(["migrate"], env, tmp_path).returncode == 0
    killed, steps = kill_cycles(env, tmp_path, site, CYCLES, seed=20261128)
    site.visible = len(pages)
    settle(env, tmp_path)
    after_kills = export_articles(env, tmp_path, "killed")

    assert killed >= CYCLES * 3 // 4, f"only {killed} of {CYCLES} processes were killed running"
    # the killed processes did real work between kills (feeds polled, entries stored), and
    # left some undone: pages unextracted or articles unclustered, for the last run to finish
    stored = [a for a, _ in steps]
    assert sum(b > a for a, b in itertools.pairwise(stored)) >= CYCLES // 3, steps
    assert steps[-1][1] < len(by_page) * OUTLETS, steps
    backend = db_url.split(":", maxsplit=1)[0].split("+", maxsplit=1)[0]
    count("kill", f"cycles-{backend}", CYCLES)
    count("kill", f"killed-while-running-{backend}", killed)
    check_complete(db_url, after_kills, pages)
    assert partition(after_kills, "story_cluster") == stories
    assert partition(after_kills, "copy_group") == by_page

    reclustered = run_cli(["recluster"], env, tmp_path)
    assert reclustered.returncode == 0, reclustered.stderr[-2000:]
    again = export_articles(env, tmp_path, "reclustered")
    assert partition(again, "story_cluster") == stories
