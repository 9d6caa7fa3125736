"""A process pool whose tasks have a time limit that cannot stall the caller.

``concurrent.futures.ProcessPoolExecutor`` cannot stop a task that hangs (feedparser's
super-linear regexes, an extractor stuck in a pathological page). Here each worker is one
process behind a pipe, driven by one thread; a task over its limit gets its worker killed and
replaced, and its future fails with ``TaskTimeout``. A worker that dies (segfault, OOM kill)
fails its task with ``TaskCrashed`` and is replaced too. Other tasks are unaffected: one
posted behind the failed task is posted again to the new process, with its whole limit.

Functions and arguments must be picklable (module-level functions). Workers start with the
``forkserver`` method, so a pool is safe to create from a process that already runs threads.
``preload`` names modules the fork server imports once, before it forks any worker, so that
each worker (and each replacement after a timeout) starts with them imported instead of
importing them itself: trafilatura and lxml take about 0.25 s of CPU a process.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from aggregator.errors import NewsaggError

_STOP = None
_FORKSERVER = "forkserver"
_DEPTH = 2  # tasks posted to a worker at once: the running one and the next


class TaskTimeout(NewsaggError):
    default_code = "task_timeout"


class TaskCrashed(NewsaggError):
    default_code = "task_crashed"


@dataclass(slots=True)
class _Task:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float
    future: Future[Any]


def preload(*modules: str) -> None:
    """Have the fork server import ``modules`` before it forks workers. Takes effect only
    when called before the process starts its first pool (the fork server lives as long as
    the process); the composition root calls it once, naming every pool's task modules."""
    multiprocessing.get_context(_FORKSERVER).set_forkserver_preload(list(modules))


def _worker_main(conn: Connection, nice: int = 0) -> None:
    """Run tasks received on ``conn`` in order until told to stop; send back (ok, value).

    A reader thread takes each message off the pipe as soon as it arrives, so the parent can
    post the next task while this one runs (and never blocks on a full pipe while a result
    is on its way back)."""
    if nice > 0:
        os.nice(nice)  # background work yields the CPU to the web UI when both want it
    inbox: queue.SimpleQueue[Any] = queue.SimpleQueue()
    threading.Thread(target=_read_into, args=(conn, inbox), daemon=True).start()
    while (message := inbox.get()) is not _STOP:
        fn, args = message
        try:
            result: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:  # any failure of the task goes back to the caller
            result = (False, exc)
        try:
            _reply(conn, result)
        except OSError:  # the parent is gone
            return


def _reply(conn: Connection, result: tuple[bool, Any]) -> None:
    try:
        conn.send(result)
    except OSError:
        raise
    except Exception as exc:  # the value did not pickle: report that instead
        conn.send((False, TaskCrashed(f"result could not be sent back: {exc!r}")))


def _read_into(conn: Connection, inbox: queue.SimpleQueue[Any]) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            message = _STOP
        except Exception as exc:  # read whole but does not unpickle here: the task fails
            message = (_raise, (exc,))
        inbox.put(message)
        if message is _STOP:
            return


def _raise(exc: Exception) -> None:
    raise exc


class _Worker:
    """One process plus the pipe to it; restarted after a timeout or a crash.

    Holds up to ``_DEPTH`` tasks: the one running and the next, posted while it runs, so the
    process starts the next as soon as it sends a result instead of waiting for the parent's
    thread to be scheduled (it waits for the GIL of a busy parent: in the end-to-end benchmark
    both cores stood idle for 0.59-0.69 ms an article with one task a worker, 0.27-0.41
    with two). Results come back in the order the tasks were posted; a task's time limit
    counts from when the one before it finished."""

    def __init__(self, context: Any, nice: int = 0) -> None:
        self._context = context
        self._nice = nice
        self._process: Any = None
        self._conn: Connection | None = None
        self.posted: deque[_Task] = deque()
        self.start()

    def start(self) -> None:
        parent, child = self._context.Pipe()
        self._process = self._context.Process(
            target=_worker_main, args=(child, self._nice), daemon=True
        )
        self._process.start()
        child.close()
        self._conn = parent

    def post(self, task: _Task) -> None:
        """Send ``task`` behind those already posted. A process found dead died running the
        first of those (which fails, as in ``finish_first``), or idle: either way it is
        replaced and ``task`` sent again, once; dead again, ``task`` fails with TaskCrashed."""
        for attempt in range(2):
            try:
                assert self._conn is not None
                self._conn.send((task.fn, task.args))
                self.posted.append(task)
                return
            except OSError as exc:  # BrokenPipeError among them
                died = TaskCrashed(f"worker process died: {exc!r}")
                if attempt:
                    task.future.set_exception(died)
                elif self.posted:
                    self._fail_first(died)
                else:
                    self._replace()
            except Exception as exc:  # the task did not pickle: nothing was sent
                task.future.set_exception(exc)
                return

    def finish_first(self) -> None:
        """Wait for the first posted task's result (within its limit) and settle its future."""
        task = self.posted[0]
        assert self._conn is not None
        try:
            if not self._conn.poll(task.timeout):
                self._fail_first(TaskTimeout(f"task exceeded {task.timeout:g}s"))
                return
            ok, value = self._conn.recv()
        except (EOFError, OSError) as exc:
            self._fail_first(TaskCrashed(f"worker process died: {exc!r}"))
            return
        except Exception as exc:  # the whole result was read but does not unpickle
            ok, value = False, TaskCrashed(f"result could not be read back: {exc!r}")
        self.posted.popleft()
        if ok:
            task.future.set_result(value)
        else:
            task.future.set_exception(value)

    def _fail_first(self, error: Exception) -> None:
        """The first task hung or killed its process: fail it, start a new process and post
        the tasks behind it there again (each with its whole limit)."""
        self.posted.popleft().future.set_exception(error)
        self._replace()

    def _replace(self) -> None:
        self.kill()
        self.start()
        waiting, self.posted = list(self.posted), deque()
        for task in waiting:
            self.post(task)

    def kill(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.kill()
        if self._process is not None:
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()

    def stop(self) -> None:
        try:
            if self._conn is not None:
                self._conn.send(_STOP)
            if self._process is not None:
                self._process.join(timeout=2)
        except (OSError, BrokenPipeError):
            pass
        self.kill()


class WorkPool:
    """``workers`` processes running tasks with per-task time limits, at niceness ``nice``
    (0: the caller's)."""

    def __init__(self, workers: int = 0, *, name: str = "pool", nice: int = 0) -> None:
        count = workers if workers > 0 else (os.cpu_count() or 1)
        context = multiprocessing.get_context(_FORKSERVER)
        self.name = name
        self.size = count
        self._tasks: queue.Queue[_Task | None] = queue.Queue()
        self._workers = [_Worker(context, nice) for _ in range(count)]
        self._threads = [
            threading.Thread(target=self._drive, args=(w,), name=f"{name}-{i}", daemon=True)
            for i, w in enumerate(self._workers)
        ]
        self._closed = False
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Future[Any]:
        if self._closed:
            raise RuntimeError(f"work pool {self.name} is closed")
        future: Future[Any] = Future()
        self._tasks.put(_Task(fn, args, timeout, future))
        return future

    def run(self, fn: Callable[..., Any], *args: Any, timeout: float) -> Any:
        """Run one task and wait for it (the wait itself is bounded by the task's limit)."""
        return self.submit(fn, *args, timeout=timeout).result()

    def pending(self) -> int:
        return self._tasks.qsize()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._tasks.put(_STOP)
        for thread in self._threads:
            thread.join(timeout=30)
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> WorkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _drive(self, worker: _Worker) -> None:
        """Feed one worker: a task when it has none; a second behind the running one only
        while at least as many tasks wait as there are workers (so a task queues behind
        another only when every worker has work: near the end of a batch, an idle worker
        takes it instead); each result as it comes. Stops after the tasks it holds when it
        takes the stop mark."""
        stopping = False
        while True:
            if not worker.posted:
                if stopping:
                    return
                stopping = self._post_next(worker, block=True)
            if not stopping and len(worker.posted) < _DEPTH and self.pending() >= self.size:
                stopping = self._post_next(worker, block=False)
            if worker.posted:
                worker.finish_first()

    def _post_next(self, worker: _Worker, *, block: bool) -> bool:
        """Post the next queued task to ``worker``; True when the stop mark came instead."""
        try:
            task = self._tasks.get(block=block)
        except queue.Empty:
            return False
        if task is None:
            return True
        if task.future.set_running_or_notify_cancel():
            worker.post(task)
        return False
