"""Editor actions through the web forms: merge, split, move, with the audit log; on SQLite and
on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.webdata import filled, pg_database
from tests.support.webkit import Site, basil_path, serve

pytest_plugins = ["tests.support.webfixtures"]


def members(site: Site, cluster_id: int) -> set[int]:
    body = site.client.get(f"/api/clusters/{cluster_id}").json()
    return {a["id"] for a in body["articles"]}


def act(site: Site, path: str, **data: Any) -> Any:
    csrf = site.csrf("/")
    return site.client.post(path, data={"csrf": csrf, **data})


def run_editor_flow(site: Site) -> None:
    """Merge two stories, split one article off, move it back; check the audit log."""
    assert site.login(name="ann <b>").status_code == 303
    first, second = sorted(site.data.clusters.values())[:2]
    before = members(site, first) | members(site, second)

    merged = act(site, f"/clusters/{first}/merge", other=str(second), note="same event")
    assert merged.status_code == 303 and merged.headers["location"] == f"/clusters/{first}?merged=1"
    assert members(site, first) == before
    gone = site.client.get(f"/clusters/{second}")
    assert gone.status_code == 303 and gone.headers["location"] == f"/clusters/{first}"
    assert site.client.get(f"/api/clusters/{second}").json()["merged_into"] == first

    article = min(before)
    split = act(site, f"/clusters/{first}/split", article=str(article), note="different angle")
    assert split.status_code == 303
    new_id = int(split.headers["location"].split("split=")[1])
    assert members(site, new_id) == {article}
    assert members(site, first) == before - {article}
    page = site.client.get(split.headers["location"]).text
    assert 'id="split-notice"' in page

    moved = act(site, f"/articles/{article}/move", to=str(first), back=str(new_id))
    assert moved.status_code == 303 and moved.headers["location"] == f"/clusters/{new_id}"
    assert members(site, first) == before

    audit = site.client.get("/api/audit").json()["items"]
    assert [e["action"] for e in audit] == ["cluster.move", "cluster.split", "cluster.merge"]
    assert {e["actor"] for e in audit} == {"editor:ann <b>"}
    story_audit = site.client.get("/api/audit", params={"cluster": first}).json()["items"]
    assert len(story_audit) == 3
    html = site.client.get(f"/clusters/{first}").text
    assert "editor:ann &lt;b&gt;" in html and "same event" in html
    assert "editor:ann &lt;b&gt;" in site.client.get("/audit").text


def test_merge_split_move_and_audit(site: Site) -> None:
    run_editor_flow(site)


def test_editor_mistakes_are_4xx(site: Site) -> None:
    site.login()
    first, second = sorted(site.data.clusters.values())[:2]
    same = act(site, f"/clusters/{first}/merge", other=str(first))
    assert same.status_code == 400 and "different" in same.text
    missing = act(site, f"/clusters/{first}/merge", other="123456789")
    assert missing.status_code == 404
    not_a_number = act(site, f"/clusters/{first}/merge", other="two")
    assert not_a_number.status_code == 400
    everyone = [str(a) for a in members(site, first)]
    csrf = site.csrf("/")
    all_out = site.client.post(f"/clusters/{first}/split", data={"csrf": csrf, "article": everyone})
    assert all_out.status_code == 400
    foreign = act(site, f"/clusters/{first}/split", article=str(min(members(site, second))))
    assert foreign.status_code == 400
    nothing = act(site, f"/clusters/{first}/split")
    assert nothing.status_code == 400
    already = act(site, f"/articles/{min(members(site, first))}/move", to=str(first))
    assert already.status_code == 400
    assert site.client.get("/api/audit").json()["items"] == []


def test_editor_forms_show_only_to_editors(site: Site) -> None:
    first = min(site.data.clusters.values())
    anonymous = site.client.get(f"/clusters/{first}").text
    assert 'id="merge-form"' not in anonymous and "Log in as an editor" in anonymous
    site.login()
    html = site.client.get(f"/clusters/{first}").text
    assert 'id="merge-form"' in html and 'id="split-form"' in html and "Move to story" in html
    assert site.client.get(f"/clusters/{first}").headers["cache-control"] == "no-store"
    csrf = site.csrf("/")
    out = site.client.post("/logout", data={"csrf": csrf})
    assert out.status_code == 303
    assert 'id="merge-form"' not in site.client.get(f"/clusters/{first}").text


@pytest.fixture
def pg_site(pg_server_url: str) -> Iterator[Site]:
    with pg_database(pg_server_url) as url:
        data = filled(url, basil_path(), stories=4)
        with serve(url, data) as running:
            yield running


@pytest.mark.postgres
def test_merge_split_move_on_postgresql(pg_site: Site) -> None:
    run_editor_flow(pg_site)
