"""What every repository shares: the engine, dialect-aware inserts, error translation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from aggregator.errors import ConflictError, StorageError
from storage.writegate import gate_of


class Repo:
    """Base of the repositories: opens short sessions and turns driver errors into ours."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._gate = gate_of(engine) if self.dialect == "sqlite" else None

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error.
        ``write=False`` marks a read-only transaction (on SQLite it takes no write lock)."""
        bind = self._writer if write else self.engine
        try:
            with (
                self._queued(write),
                Session(bind, expire_on_commit=False) as session,
                session.begin(),
            ):
                yield session
        except IntegrityError as exc:
            raise ConflictError(f"constraint violated: {exc.orig}", resource="database") from exc
        except OperationalError as exc:
            raise StorageError(f"database unavailable: {exc.orig}", resource="database") from exc
        except SQLAlchemyError as exc:
            raise StorageError(f"database error: {exc}", resource="database") from exc

    def _queued(self, write: bool) -> AbstractContextManager[None]:
        """A write on SQLite waits its turn behind this process's other writers first."""
        return self._gate.held() if write and self._gate is not None else nullcontext()

    def insert(self, table: Any) -> Any:
        """``INSERT`` with ``ON CONFLICT`` support for the current dialect."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @property
    def skip_locked(self) -> bool:
        """Whether ``FOR UPDATE SKIP LOCKED`` exists (PostgreSQL); SQLite serialises writers."""
        return self.dialect == "postgresql"
