"""Migrations: from an empty database to head and back, and models agree with them."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import alembic_config, current_revision, head_revision, make_engine, migrate
from storage.models import Base


def _not_search(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """The full-text search objects are created by raw SQL in the migration."""
    return not (name or "").startswith(("articles_fts", "ix_articles_fts"))


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
