"""Exports: every table in every format from the CLI and over HTTP, manifests, filters,
spreadsheet-safe CSV, no row cap, and the same bytes on both paths."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import InputError
from aggregator.exports import COLUMNS, _iso_array, _json_text, export_command, safe_cell
from storage.exportrows import export_columns
from storage.store import Store
from tests.support.webdata import NOW, filled, insert_articles, outlet, pg_database
from tests.support.webkit import Site, basil_path

pytest_plugins = ["tests.support.webfixtures"]

TABLES = ("articles", "clusters", "memberships", "comparisons")
FORMATS = ("csv", "jsonl", "parquet")
ARTICLE_COLUMNS = {
    "id",
    "outlet",
    "url",
    "title",
    "text",
    "published",
    "story_cluster",
    "copy_group",
}


def run_export(url: str, out: Path, table: str, fmt: str, **filters: Any) -> str:
    args = argparse.Namespace(
        table=table,
        format=fmt,
        out=out,
        since=filters.get("since"),
        until=filters.get("until"),
        outlet=filters.get("outlet"),
    )
    with Store.open(url) as store:
        return export_command(store, None, args)


def read_rows(path: Path, fmt: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return list(pq.read_table(path).to_pylist())


def manifest_of(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_name(path.name + ".manifest.json").read_text())
    return data


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_table_with_its_manifest(basil_url: str, tmp_path: Path, fmt: str) -> None:
    counts = {}
    for table in TABLES:
        out = tmp_path / f"{table}.{fmt}"
        message = run_export(basil_url, out, table, fmt)
        assert str(out) in message
        rows = read_rows(out, fmt)
        manifest = manifest_of(out)
        assert manifest["table"] == table and manifest["format"] == fmt
        assert manifest["param_version"] == "gold-test"
        assert manifest["params"] == {"grouping": "gold story label"}
        assert manifest["extractors"] == {"none": 180}
        assert manifest["exported_at"].endswith("Z")
        assert manifest["filters"] == {"since": None, "until": None, "outlets": []}
        assert sum(manifest["rows"].values()) == len(rows)
        assert set(manifest["columns"]) == set(rows[0])
        counts[table] = manifest["rows"]
    assert counts["articles"] == {"total": 180} and counts["memberships"] == {"total": 180}
    assert counts["clusters"] == {"total": 60}
    assert counts["comparisons"]["outlet"] == 180 and counts["comparisons"]["term"] > 1000


def test_query_columns_match_the_export_schema() -> None:
    for table in ("articles", "clusters", "memberships"):
        assert export_columns(table) == [name for name, _ in COLUMNS[table]]


def test_article_rows_carry_the_contract_columns(basil_url: str, tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    run_export(basil_url, out, "articles", "jsonl")
    rows = read_rows(out, "jsonl")
    assert set(rows[0]) >= ARTICLE_COLUMNS
    source = {row["id"] for row in map(json.loads, basil_path().read_text().splitlines())}
    assert {row["id"] for row in rows} <= source | {"empty~2"}
    assert all(isinstance(row["story_cluster"], int) for row in rows)
    assert all(row["published"].endswith("Z") for row in rows)
    table = pq.read_table(_parquet(basil_url, tmp_path))
    assert str(table.schema.field("published").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("flags").type).startswith("list<")


def _parquet(url: str, tmp_path: Path) -> Path:
    out = tmp_path / "a.parquet"
    run_export(url, out, "articles", "parquet")
    return out


def test_comparison_rows_per_outlet_and_term(basil_url: str, tmp_path: Path) -> None:
    out = tmp_path / "c.csv"
    run_export(basil_url, out, "comparisons", "csv", outlet=["nyt"])
    rows = read_rows(out, "csv")
    assert {row["outlet"] for row in rows} == {"nyt"}
    kinds = {row["row_kind"] for row in rows}
    assert kinds == {"outlet", "term"}
    terms = [row for row in rows if row["row_kind"] == "term"]
    assert "variant" in {row["term_kind"] for row in terms}
    assert all(row["term"] for row in terms)
    outlet_rows = [row for row in rows if row["row_kind"] == "outlet"]
    assert all(row["headline"] and row["label_ownership"] == "private" for row in outlet_rows)
    assert manifest_of(out)["compare_versions"] == ["newsagg-compare/1"]


def test_filters_select_the_same_rows_as_the_api(site: Site, tmp_path: Path) -> None:
    url = f"sqlite:///{site.store.engine.url.database}"
    out = tmp_path / "f.jsonl"
    run_export(
        url, out, "articles", "jsonl", since="2018-01-01", until="2019-01-01", outlet=["fox"]
    )
    exported = {row["article_id"] for row in read_rows(out, "jsonl")}
    listed = site.client.get(
        "/api/articles",
        params={"since": "2018-01-01", "until": "2019-01-01", "outlet": "fox", "limit": 500},
    ).json()["items"]
    assert exported == {a["id"] for a in listed} and exported
    manifest = manifest_of(out)
    assert manifest["filters"]["outlets"] == ["fox"]
    assert manifest["filters"]["since"] == "2018-01-01T00:00:00Z"
    assert sum(manifest["extractors"].values()) == len(exported)


FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def test_csv_cells_cannot_start_formulas(basil_url: str, tmp_path: Path) -> None:
    rows = [
        {"id": f"evil-{i}", "outlet": "=cmd", "title": value, "text": value,
         "published": "2026-11-01", "url": f"https://e.example/{i}"}
        for i, value in enumerate(FORMULAS)
    ]  # fmt: skip
    with Store.open(basil_url) as store:
        insert_articles(store, rows, [outlet("=cmd", name="=cmd")])
    out = tmp_path / "evil.csv"
    run_export(basil_url, out, "articles", "csv", outlet=["=cmd"])
    exported = read_rows(out, "csv")
    assert len(exported) == len(FORMULAS)
    for row in exported:
        for column in ("title", "text", "outlet"):
            assert row[column].startswith("'"), row[column]
    assert safe_cell("-3") == "'-3" and safe_cell(-3) == -3 and safe_cell("plain") == "plain"
    as_json = read_rows(_jsonl(basil_url, tmp_path), "jsonl")
    assert {row["title"] for row in as_json} == set(FORMULAS)


def _jsonl(url: str, tmp_path: Path) -> Path:
    out = tmp_path / "evil.jsonl"
    run_export(url, out, "articles", "jsonl", outlet=["=cmd"])
    return out


def test_bad_arguments_and_failures_leave_no_file(
    basil_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "exports"
    with pytest.raises(InputError):
        run_export(basil_url, target / "x.csv", "articles", "csv", since="last week")
    target.mkdir()
    with pytest.raises(InputError):
        run_export(basil_url, target, "articles", "csv")

    def broken(job: Any, engine: Any) -> Iterator[list[dict[str, Any]]]:
        yield []
        raise OSError("disk full")

    monkeypatch.setattr("aggregator.exports.rows_of", broken)
    with pytest.raises(OSError, match="disk full"):
        run_export(basil_url, target / "half.csv", "articles", "csv")
    assert list(target.iterdir()) == []


def test_the_http_export_streams_the_same_bytes(site: Site, tmp_path: Path) -> None:
    url = f"sqlite:///{site.store.engine.url.database}"
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"articles.{fmt}"
        run_export(url, out, "articles", fmt, outlet=["hpo"])
        with site.client.stream("GET", f"/api/exports/articles.{fmt}?outlet=hpo") as response:
            assert response.status_code == 200
            assert response.headers.get("transfer-encoding") == "chunked"
            assert "content-length" not in response.headers
            assert (
                response.headers["content-disposition"] == f'attachment; filename="articles.{fmt}"'
            )
            body = response.read()
        assert body == out.read_bytes()


def test_the_zip_bundle_holds_the_file_and_its_manifest(site: Site) -> None:
    response = site.client.get(
        "/api/exports/memberships.parquet.zip", params={"since": "2019-01-01"}
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "memberships.parquet"]
        manifest = json.loads(archive.read("manifest.json"))
        table = pq.read_table(io.BytesIO(archive.read("memberships.parquet")))
    assert manifest["rows"] == {"total": table.num_rows} and table.num_rows > 0
    assert manifest["filters"]["since"] == "2019-01-01T00:00:00Z"
    why = json.loads(table.column("why")[0].as_py())
    assert why["rule"] == "gold"


def test_newsagg_export_command_line(basil_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out" / "clusters.csv"
    env = {**os.environ, "NEWSAGG_DATABASE_URL": basil_url, "NEWSAGG_SETTINGS": ""}
    env.pop("NEWSAGG_SETTINGS")
    done = subprocess.run(
        [sys.executable, "-m", "aggregator", "export", "clusters", "--format", "csv",
         "--out", str(out), "--since", "2019-01-01"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "total: 7" in done.stdout
    assert len(read_rows(out, "csv")) == 7 and manifest_of(out)["rows"] == {"total": 7}


@pytest.fixture
def pg_url_filled(pg_server_url: str) -> Iterator[str]:
    with pg_database(pg_server_url) as url:
        filled(url, basil_path(), stories=5)
        yield url


@pytest.mark.postgres
def test_exports_on_postgresql(pg_url_filled: str, tmp_path: Path) -> None:
    for table in TABLES:
        for fmt in FORMATS:
            out = tmp_path / f"{table}.{fmt}"
            run_export(pg_url_filled, out, table, fmt)
            assert sum(manifest_of(out)["rows"].values()) == len(read_rows(out, fmt))
    assert len(read_rows(tmp_path / "articles.parquet", "parquet")) == 15
    assert NOW.year == 2026


# -- the fast cell writers against the standard library's answers ----------------------------

UTC_TIMES = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), UTC_TIMES), max_size=30))
def test_csv_times_are_isoformat_with_z(values: list[datetime | None]) -> None:
    expected = [None if v is None else v.isoformat().replace("+00:00", "Z") for v in values]
    assert _iso_array(values).to_pylist() == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=())), max_size=8))
def test_string_lists_are_the_json_module_text(values: list[str]) -> None:
    assert _json_text(values) == json.dumps(values, ensure_ascii=False, sort_keys=True)
