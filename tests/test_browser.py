"""The web UI in a real Chromium (Debian's /usr/bin/chromium through Playwright; never a
downloaded browser): an editor filters stories, opens one, sees the comparison, logs in, merges
and splits; and script planted in every field never runs. Screenshots go to tests/artifacts/."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storage.db import migrate
from storage.store import Store
from tests.support.webdata import EVIL_OUTLET, PAYLOADS, fill_hostile
from tests.support.webkit import EDITOR_TOKEN, Site, serve

pytest_plugins = ["tests.support.webfixtures"]

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run",
        "--disable-quic"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is required under CI=true (apt-get install chromium)")
        pytest.skip("/usr/bin/chromium is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    try:
        yield tab
    finally:
        context.close()


def shot(tab: Any, name: str) -> None:
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_an_editor_filters_opens_merges_and_splits(page: Any, imported_site: Site) -> None:
    """On BASIL imported through ``newsagg import`` (real clustering and comparison)."""
    site = imported_site
    page.goto(site.base + "/")
    assert page.locator("#stories > li").count() == 50
    assert page.locator("#next-page").is_visible()
    shot(page, "01-stories")

    page.fill("input[name=q]", "Mueller")
    page.select_option("#outlet", ["nyt"])
    page.click("#apply")
    page.wait_for_url("**q=Mueller**")
    titles = page.locator("#stories .story-title")
    assert 0 < titles.count() < 50
    shot(page, "02-filtered")

    titles.first.click()
    page.wait_for_selector("#comparison")
    articles = page.locator("#articles > li").count()
    outlets = len(set(page.locator("#articles > li .badge").all_inner_texts()))
    for part in ("timeline", "similarity", "headlines", "sentences", "terms"):
        assert page.locator(f"#part-{part}").is_visible()
    assert page.locator("#part-timeline svg.timeline circle").count() == articles
    assert page.locator("#part-similarity table.heat").first.is_visible()
    assert page.locator("#part-sentences .col").count() == outlets
    page.locator("#articles details.why").first.locator("summary").click()
    assert page.locator("#articles details.why dl").first.is_visible()
    shot(page, "03-story")
    story_url = page.url
    story_id = int(story_url.rsplit("/", 1)[1])

    page.click("text=Log in as an editor")
    page.fill("#token", EDITOR_TOKEN)
    page.fill("#name", "Ann Editor")
    page.click("#login-submit")
    page.wait_for_url(story_url)
    assert page.locator("#editor").is_visible()

    other = next(cid for cid in site.data.clusters.values() if cid != story_id)
    others = len(site.client.get(f"/api/clusters/{other}").json()["articles"])
    page.fill("#merge-by-id input[name=other]", str(other))
    page.click("#merge-by-id button")
    page.wait_for_selector("#merge-notice")
    merged = articles + others
    assert page.locator("#articles > li").count() == merged
    shot(page, "04-merged")

    page.locator("#split-form input[type=checkbox]").nth(0).check()
    page.locator("#split-form input[type=checkbox]").nth(1).check()
    page.fill("#split-form input[name=note]", "two different events")
    page.click("#split-submit")
    page.wait_for_selector("#split-notice")
    assert page.locator("#articles > li").count() == merged - 2
    shot(page, "05-split")

    page.click("#split-notice a")
    page.wait_for_selector("#story")
    assert page.locator("#articles > li").count() == 2
    page.goto(site.base + "/audit")
    assert page.locator("#audit tr").count() == 3  # header, split, merge
    assert "editor:Ann Editor" in page.locator("#audit").inner_text()
    shot(page, "06-audit")


@pytest.fixture
def hostile_site(tmp_path: Path) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    migrate(url)
    with Store.open(url) as store:
        data = fill_hostile(store)
    with serve(url, data) as running:
        yield running


def assert_inert(page: Any, path: str) -> None:
    """Nothing planted ran, and nothing planted became live markup."""
    assert page.evaluate("window.__xss") is None, path
    live = page.evaluate(
        """() => {
            const found = [];
            for (const el of document.querySelectorAll('*')) {
                for (const attr of el.attributes) {
                    if (attr.name.startsWith('on')) found.push(el.tagName + ' ' + attr.name);
                    if (/^\\s*javascript:/i.test(attr.value)) found.push(el.tagName + ' href');
                }
            }
            for (const tag of ['script', 'iframe', 'img', 'object', 'embed']) {
                if (document.getElementsByTagName(tag).length) found.push(tag);
            }
            return found;
        }"""
    )
    assert live == [], (path, live)


def test_planted_scripts_never_run(browser: Any, page: Any, hostile_site: Site) -> None:
    control = browser.new_page()
    control.set_content('<img src="x" onerror="window.__xss = 1">')
    control.wait_for_function("window.__xss === 1")  # the detector works where nothing protects
    control.close()

    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = hostile_site.base
    page.goto(base + "/login")
    page.fill("#token", EDITOR_TOKEN)
    page.fill("#name", PAYLOADS[1][:60])
    page.click("#login-submit")
    first, second = sorted(hostile_site.data.clusters.values())
    page.goto(f"{base}/clusters/{first}")
    page.fill("#merge-by-id input[name=other]", str(second))
    page.click("#merge-by-id button")
    page.wait_for_selector("#merge-notice")

    article = min(a for ids in hostile_site.data.by_story.values() for a in ids)
    paths = [
        "/",
        f"/?q=harbour&outlet={EVIL_OUTLET}",
        f"/?since={PAYLOADS[0]}",
        f"/clusters/{first}",
        f"/articles/{article}",
        "/outlets",
        "/audit",
        "/docs",
        f"/login?next={PAYLOADS[3]}",
        f"/nothing/{PAYLOADS[2]}",
    ]
    for path in paths:
        page.goto(base + path)
        page.wait_for_load_state("load")
        assert_inert(page, path)
    page.goto(f"{base}/clusters/{first}")
    shot(page, "07-hostile-story")
    text = page.locator("body").inner_text()
    assert "<script>window.__xss=1" in text and "{{7*7}}" in text
    page.goto(f"{base}/articles/{article}")
    assert page.locator("#summary").inner_text().count("click me") == 1
    assert_inert(page, "summary")
    assert dialogs == []
