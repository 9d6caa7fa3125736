"""One queue for the writers of a process on SQLite.

SQLite lets one writer in at a time; the others wait in its busy handler, which sleeps and
tries again (up to 100 ms between tries) and gives up after the busy timeout. Under load, with
a dozen threads taking short write transactions (feed polls, page stores, clustering, the
heartbeat), a waiting thread can lose every race for the free lock to threads that arrive
while it sleeps, and fail with ``database is locked`` although every transaction is short:
the soak saw 32 such failures after 26 minutes. The gate queues a process's writers first, in
arrival order, so SQLite's busy handler only meets other processes (the web process, a
command run beside the service).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from aggregator.errors import StorageError

WAIT_S = 120.0  # far past any sane transaction: something is stuck


class WriteGate:
    """A first-come, first-served lock, re-entrant for the thread that holds it."""

    def __init__(self, wait_s: float = WAIT_S) -> None:
        self._wait_s = wait_s
        self._mutex = threading.Lock()
        self._queue: deque[threading.Event] = deque()
        self._owner: int | None = None
        self._depth = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        self._acquire()
        try:
            yield
        finally:
            self._release()

    def _acquire(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None and not self._queue:
                self._owner, self._depth = me, 1
                return
            turn = threading.Event()
            self._queue.append(turn)
        if not turn.wait(self._wait_s):
            with self._mutex:
                if not turn.is_set():  # not handed over in the meantime: leave the queue
                    self._queue.remove(turn)
                    raise StorageError(
                        f"database busy: waited {self._wait_s:.0f} s behind this process's "
                        "other writers",
                        resource="database",
                    )
        with self._mutex:
            self._owner, self._depth = me, 1

    def _release(self) -> None:
        with self._mutex:
            self._depth -= 1
            if self._depth:
                return
            self._owner = None
            if self._queue:
                self._queue.popleft().set()  # the next in line; nobody barges in meanwhile
                self._owner = -1  # reserved until the woken thread takes it


_GATES: WeakKeyDictionary[Engine, WriteGate] = WeakKeyDictionary()
_GATES_LOCK = threading.Lock()


def gate_of(engine: Engine) -> WriteGate:
    """The gate of ``engine`` (one per engine, so per database and process)."""
    with _GATES_LOCK:
        gate = _GATES.get(engine)
        if gate is None:
            gate = _GATES[engine] = WriteGate()
        return gate
