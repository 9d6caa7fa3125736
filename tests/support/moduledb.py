"""A real database for a whole test module (SQLite file or a fresh PostgreSQL database), for
scenario tests that run the pipeline once and check many rows of RELIABILITY.md on it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def module_database(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    """The database named by ``request.param`` ("sqlite" or "postgres"), dropped afterwards.
    PostgreSQL comes from the session's ``pg_server_url`` (skipped when it is down, except
    under CI=true, as everywhere)."""
    if request.param == "sqlite":
        yield f"sqlite:///{folder / 'newsagg.db'}"
        return
    import psycopg

    server = str(request.getfixturevalue("pg_server_url"))
    admin = server.replace("postgresql+psycopg://", "postgresql://")
    name = f"newsagg_m_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server.rsplit('/', 1)[0]}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
