"""Migrations: from an empty database to head and back, and models agree with them."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from aggregator.errors import StorageError
from storage.db import alembic_config, current_revision, head_revision, make_engine, migrate
from storage.models import Base
from storage.store import Store
from tests.support.webdata import filled
from tests.support.webkit import basil_path
from tests.test_storage import NOW, draft, outlet


def _not_search(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """The full-text search objects are created by raw SQL in the migrations."""
    return not (name or "").startswith(
        ("articles_fts", "ix_articles_fts", "article_search", "ix_article_search")
    )


def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision()
        assert "articles" in inspect(engine).get_table_names()
        command.downgrade(alembic_config(db_url), "base")
        assert "articles" not in inspect(engine).get_table_names()
        migrate(db_url)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_models_and_migrations_agree(db_url: str) -> None:
    migrate(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _not_search}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_rebuilding_a_table_on_sqlite_keeps_the_rows_that_point_at_it(sqlite_url: str) -> None:
    """Batch mode rebuilds ``story_clusters`` (0005's downgrade) by copy and drop: with
    foreign keys on, SQLite would delete every membership through ON DELETE CASCADE."""
    filled(sqlite_url, basil_path(), stories=4)
    engine = make_engine(sqlite_url)
    try:
        before = _count(engine, "memberships")
        comparisons = _comparisons(engine, "SELECT cluster_id, comparison FROM story_comparisons")
        assert before == 12 and len(comparisons) == 4
        command.downgrade(alembic_config(sqlite_url), "0004")
        assert "coverage" not in {c["name"] for c in inspect(engine).get_columns("story_clusters")}
        assert _count(engine, "memberships") == before
        assert comparisons == _comparisons(
            engine, "SELECT id, comparison FROM story_clusters WHERE comparison IS NOT NULL"
        )
        migrate(sqlite_url)
        assert _count(engine, "memberships") == before
        assert comparisons == _comparisons(
            engine, "SELECT cluster_id, comparison FROM story_comparisons"
        )
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1  # on again
    finally:
        engine.dispose()


def test_a_migration_leaving_broken_references_is_rolled_back(sqlite_url: str) -> None:
    filled(sqlite_url, basil_path(), stories=2)
    command.downgrade(alembic_config(sqlite_url), "0004")
    with sqlite3.connect(sqlite_url.removeprefix("sqlite:///")) as raw:  # foreign keys off
        raw.execute("UPDATE memberships SET cluster_id = 999999 WHERE rowid = 1")
    with pytest.raises(StorageError, match=r"1 rows point at nothing.*memberships"):
        migrate(sqlite_url)
    engine = make_engine(sqlite_url)
    try:
        assert current_revision(engine) == "0004"
        migrate(sqlite_url, "0004")  # nothing to migrate: no scan of the whole database
        assert current_revision(engine) == "0004"
    finally:
        engine.dispose()


def _count(engine: Any, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())


def _comparisons(engine: Any, sql: str) -> dict[int, Any]:
    with engine.connect() as conn:
        return {int(cid): json.loads(doc) for cid, doc in conn.exec_driver_sql(sql)}


def test_postgres_search_moves_to_its_table_with_every_article(pg_url: str) -> None:
    """0006 writes the words of the articles stored before it, and its downgrade puts the
    expression index back."""
    command.upgrade(alembic_config(pg_url), "0005")
    store = Store.open(pg_url)
    try:
        store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
        store.articles.insert_drafts([draft("old", title="Lighthouse keepers strike")], NOW)
        migrate(pg_url)
        with store.engine.connect() as conn:
            documents = conn.execute(text("SELECT document::text FROM article_search")).all()
            assert len(documents) == 1 and "'lighthouse'" in documents[0][0]
            assert "ix_articles_fts" not in _pg_indexes(conn)
        command.downgrade(alembic_config(pg_url), "0005")
        with store.engine.connect() as conn:
            assert "ix_articles_fts" in _pg_indexes(conn)
            assert "article_search" not in inspect(conn).get_table_names()
    finally:
        store.close()


def _pg_indexes(conn: Any) -> set[str]:
    return set(conn.scalars(text("SELECT indexname FROM pg_indexes WHERE tablename = 'articles'")))


def test_postgres_texts_are_compressed_with_lz4_after_0008(pg_url: str) -> None:
    """0008 makes PostgreSQL compress long article texts and their search words with lz4
    (pglz before it); its downgrade goes back to the server's default."""
    long_text = max(
        (json.loads(line)["text"] for line in basil_path().read_text().splitlines()), key=len
    )
    assert len(long_text) > 8000  # well over the ~2 KB at which PostgreSQL compresses
    migrate(pg_url)
    store = Store.open(pg_url)
    try:
        with store.engine.connect() as conn:
            offered = conn.scalar(
                text("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
            )
        if "lz4" not in offered:
            pytest.skip("this PostgreSQL was built without lz4 (0008 changes nothing)")
        store.feeds.sync_outlets([outlet()], default_interval=15, now=NOW)
        store.articles.insert_drafts([draft("lz4", title="Beck")], NOW)
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE articles SET text = :t"), {"t": long_text})
        assert _compression(store, "articles", "text") == "lz4"
        assert _compression(store, "article_search", "document") == "lz4"
        command.downgrade(alembic_config(pg_url), "0007")
        with store.engine.begin() as conn:
            conn.execute(text("UPDATE articles SET text = :t"), {"t": long_text + " again"})
        assert _compression(store, "articles", "text") == "pglz"
        with store.engine.connect() as conn:
            assert conn.scalar(text("SELECT text FROM articles")) == long_text + " again"
    finally:
        store.close()


def _compression(store: Store, table: str, column: str) -> str:
    with store.engine.connect() as conn:
        return str(conn.scalar(text(f"SELECT pg_column_compression({column}) FROM {table}")))
