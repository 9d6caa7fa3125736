"""Batches written by a thread of their own, in order, while the caller goes on.

The page stage stores what it extracted in batches (``ArticleRepo.finish_pages``); on
PostgreSQL a batch takes the server ~0.1-0.3 s of wall time while the extraction workers
share the cores with it, and the thread that stored it is the one that hands pages to the
extraction pool, so the pool ran dry while it waited (measured: 15 gaps over 5 ms between two
pages of a worker in one pass, together 0.8 s, every one during a store). Here the store runs
in a thread of its own and the caller only waits when ``depth`` batches are already waiting
to be written.

    with WriteBehind(store_batch, name="page-store") as writer:
        for batch in batches:
            writer.put(batch)       # raises the error of an earlier batch, if one failed
    # leaving the block waited for every batch; raises the first error if one failed

Errors: the first exception ``write`` raises is raised again in the caller, at its next
``put`` or when the block ends; batches after a failed one are not written (as when the
caller stored them itself and stopped at the first failure).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")


class _Stop:
    """Put after the last batch: the thread ends."""


class WriteBehind(Generic[T]):
    def __init__(
        self, write: Callable[[T], object], *, depth: int = 2, name: str = "write-behind"
    ) -> None:
        self._write = write
        self._queue: queue.Queue[T | _Stop] = queue.Queue(max(1, depth))
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, batch: T) -> None:
        """Queue ``batch`` (waits while ``depth`` batches wait already)."""
        self._raise_error()
        self._queue.put(batch)

    def close(self) -> None:
        """Wait until every batch queued is written (or dropped after an error), then raise
        the first error."""
        if self._thread.is_alive():
            self._queue.put(_Stop())
            self._thread.join()
        self._raise_error()

    def __enter__(self) -> WriteBehind[T]:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.close()
            return
        with contextlib.suppress(BaseException):  # the caller's own error wins
            self.close()

    def _raise_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while not isinstance(batch := self._queue.get(), _Stop):
            if self._error is not None:
                continue  # dropped: an earlier batch failed
            try:
                self._write(batch)
            except BaseException as exc:  # handed to the caller's thread
                self._error = exc
