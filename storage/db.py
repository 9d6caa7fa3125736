"""Engines and schema migrations.

SQLite (the default) gets WAL, a busy timeout and foreign keys on every connection;
PostgreSQL goes through psycopg 3. ``migrate()`` upgrades either to the Alembic head.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from aggregator.errors import ConfigError, StorageError
from aggregator.types import JsonText, json_dumps

MIGRATIONS = Path(__file__).parent / "migrations"


def json_text(value: Any) -> str:
    """JSON columns' text: orjson, not the standard library's encoder, which took 60 % of the
    thread that stores ``poll --once``'s comparisons (documents of hundreds of kilobytes);
    see ``json_dumps``. A ``JsonText`` is already encoded: written as it is (a plain str for
    the driver)."""
    if isinstance(value, JsonText):
        return str.__str__(value)
    return json_dumps(value)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, *, busy_timeout_ms: int = 10_000, pool_size: int = 5) -> Engine:
    """An engine for ``url`` with the connection settings newsagg relies on."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"invalid database URL: {exc}", resource="database.url") from exc
    except ValueError as exc:  # urllib's own complaints (a broken IPv6 literal, a bad port)
        raise ConfigError(
            f"invalid database URL: {type(exc).__name__}: {exc}", resource="database.url"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database, busy_timeout_ms)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed,
            pool_size=pool_size,
            pool_pre_ping=True,
            max_overflow=pool_size,
            json_serializer=json_text,
            # pg_stat_activity names the process: which worker holds which lock
            connect_args={"application_name": f"newsagg:{os.getpid()}"},
        )
    raise ConfigError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql",
        resource="database.url",
    )


def _sqlite_engine(url: str, database: str | None, busy_timeout_ms: int) -> Engine:
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    # A pool of connections kept open: opening one costs the PRAGMAs below, and closing the
    # last connection to a WAL database checkpoints it, which per short session adds up.
    engine = create_engine(
        url,
        connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False},
        pool_size=8,
        max_overflow=8,
        pool_pre_ping=False,
        json_serializer=json_text,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Autocommit at the driver level so SQLAlchemy's BEGIN below is the only one.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Write transactions take the write lock up front (BEGIN IMMEDIATE): a deferred
        # transaction that reads and then writes gets SQLITE_BUSY at once, without waiting,
        # when another writer committed in between. In WAL mode readers are not blocked.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction for schema changes. On SQLite, foreign keys are off while it runs and
    checked before it commits: Alembic's batch mode rebuilds a table by copying it and dropping
    the old one, and with foreign keys on SQLite deletes every row that points at the dropped
    table through ON DELETE CASCADE (rebuilding ``story_clusters`` emptied ``memberships``).
    This is SQLite's own procedure: https://www.sqlite.org/lang_altertable.html#otheralter"""
    with engine.connect() as conn:
        driver = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if driver is not None:
            driver.execute("PRAGMA foreign_keys=OFF")  # a no-op inside a transaction
        try:
            with conn.begin():
                before = _revision(conn)
                yield conn
                if driver is not None and _revision(conn) != before:  # a migration ran
                    _check_foreign_keys(conn)
        finally:
            if driver is not None:
                driver.execute("PRAGMA foreign_keys=ON")


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        table, rowid, parent, _ = broken[0]
        raise StorageError(
            f"after the migration {len(broken)} rows point at nothing "
            f"(first: {table} row {rowid} -> {parent}); the migration was rolled back",
            resource="migration",
        )


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision``."""
    engine = make_engine(url)
    try:
        with schema_transaction(engine) as conn:
            config = alembic_config(url)
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StorageError(f"migration failed: {exc}", resource=_safe_url(url)) from exc
    finally:
        engine.dispose()


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # ValueError: urllib's, as in make_engine
        return "<invalid database URL>"
