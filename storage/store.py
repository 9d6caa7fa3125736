"""The storage facade the application is given: one engine, one repository per concern."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import StorageError
from storage.articles import ArticleRepo
from storage.assignments import AssignmentRepo
from storage.clusters import ClusterRepo
from storage.corrections import CorrectionRepo
from storage.db import current_revision, head_revision, make_engine
from storage.feeds import FeedRepo
from storage.workers import WorkerRepo


class Store:
    """Open with ``Store.open(url)``; close with ``close()`` (or use it as a context manager)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.feeds = FeedRepo(engine)
        self.articles = ArticleRepo(engine)
        self.clusters = ClusterRepo(engine)
        self.assignments = AssignmentRepo(engine)
        self.corrections = CorrectionRepo(engine)
        self.workers = WorkerRepo(engine)

    @classmethod
    def open(cls, url: str, *, busy_timeout_ms: int = 10_000, pool_size: int = 5) -> Store:
        return cls(make_engine(url, busy_timeout_ms=busy_timeout_ms, pool_size=pool_size))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def at_head(self) -> bool:
        """True when the schema is migrated to the latest revision."""
        try:
            return current_revision(self.engine) == head_revision()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the schema revision: {exc}") from exc
