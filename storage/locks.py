"""Locks that make a job run in one process only, however many workers share the database.

On PostgreSQL a ``SingletonLock`` is a session-level ``pg_try_advisory_lock`` held on a
connection of its own: when the holder dies its connection drops and the server releases the
lock, so another worker takes the job over. On SQLite (one machine) it is an ``flock`` on a
file next to the database, released by the kernel when the holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import StorageError


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for an advisory lock name."""
    return int.from_bytes(
        hashlib.sha256(f"newsagg:{name}".encode()).digest()[:8], "big", signed=True
    )


class SingletonLock:
    """Try to become the one process that runs job ``name``; never blocks."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self._conn: Any = None
        self._file: IO[bytes] | None = None
        self.generation = 0  # counts acquisitions: a change means the lock was lost meanwhile

    def acquire(self) -> bool:
        """True when this process holds the lock (it may have held it already)."""
        if self.engine.dialect.name == "postgresql":
            return self._acquire_pg()
        return self._acquire_file()

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key(self.name)}
                )
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def _acquire_pg(self) -> bool:
        if self._conn is not None:
            try:  # still ours as long as our connection is alive
                self._conn.execute(text("SELECT 1"))
                return True
            except SQLAlchemyError:
                self._drop_connection()
        try:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = conn.execute(
                text("SELECT pg_try_advisory_lock(:k)"), {"k": lock_key(self.name)}
            ).scalar()
        except SQLAlchemyError as exc:
            raise StorageError(
                f"cannot take lock {self.name!r}: {exc}", resource="database"
            ) from exc
        if got:
            self._conn = conn
            self.generation += 1
            return True
        conn.close()
        return False

    def _drop_connection(self) -> None:
        with contextlib.suppress(SQLAlchemyError):
            self._conn.invalidate()
        self._conn = None

    def _acquire_file(self) -> bool:
        if self._file is not None:
            return True
        path = lock_path(self.engine, self.name)
        handle = path.open("ab")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n".encode())
        handle.flush()
        self._file = handle
        self.generation += 1
        return True


def lock_path(engine: Engine, name: str) -> Path:
    """``<database file>.<name>.lock`` (in the temp dir for an in-memory database)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return Path(os.environ.get("TMPDIR", "/tmp")) / f"newsagg-memory.{name}.lock"  # noqa: S108
    return Path(f"{database}.{name}.lock")


def holder_pid(engine: Engine, name: str) -> int | None:
    """The pid written by the holder of a SQLite file lock, if any."""
    try:
        content = lock_path(engine, name).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return int(content) if content.isdigit() else None
