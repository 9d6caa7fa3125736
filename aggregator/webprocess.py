"""The web UI in a process of its own under ``newsagg run``.

Why: the service's jobs (clustering, comparisons) are CPU-bound Python. In one interpreter a
web request made of many small database calls waits for the GIL at each of them: the soak
measured a stories-page p95 of 2.3 s that way, where the same page answers in tens of
milliseconds alone. So ``run`` starts the web app in a child process (``spawn``: no inherited
threads or locks) and keeps one pipe to it, on which the web process asks and the service
answers:

- ``("alive", max_age_s)`` -> bool: the scheduler check of ``/readyz``;
- ``("metrics",)`` -> bytes: the service's pipeline counters, shown by ``/metrics``;
- ``("corrected",)``: an editor stored a correction; the clusterer learns it now rather than at
  its next tick;
- ``("started",)``: the web app listens.

The service supervises the child: if it dies it is started again (backoff 1 s doubling to
60 s); if it cannot start the first time (the port is taken), ``run`` fails with a clear
error. The child stops on SIGTERM from the service, and on its own when the service is gone
(its parent process changed), so a killed service never leaves a web process holding the
port and the database. It ignores SIGINT: a Ctrl-C in a terminal reaches the whole process
group, and the service decides the order of the shutdown.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from aggregator.allocator import tune_allocator
from aggregator.errors import ConfigError
from aggregator.log import configure, event
from aggregator.metrics import Metrics
from aggregator.settings import Settings
from aggregator.web.server import serve_web
from aggregator.wiring import open_store

log = logging.getLogger("newsagg.web")

START_TIMEOUT_S = 60.0  # the first start: imports, database, socket
START_RETRY_S = 10.0  # the port may still be held by a web process that is shutting down
STOP_TIMEOUT_S = 30.0  # graceful shutdown before SIGKILL
ASK_TIMEOUT_S = 5.0  # a question to the service
BACKOFF_S = (1.0, 60.0)
STEADY_S = 60.0  # a child that lived this long resets the backoff


class WebProcess:
    """Starts, supervises and stops the web child; answers its questions."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str | None,
        port: int | None,
        service: Any,
        metrics: Metrics,
        on_correction: Callable[[], None],
    ) -> None:
        self._args = (settings, host, port)
        self._service = service
        self._metrics = metrics
        self._on_correction = on_correction
        self._stopping = threading.Event()
        self._started = threading.Event()
        self._corrected = threading.Event()
        self._process: BaseProcess | None = None
        self._threads: list[threading.Thread] = []
        # Only one thread reaps the child (waitpid), under this lock: when two threads wait
        # for one child, the one that loses the race takes the dead child for a live one (the
        # soak's false "web.killed" at shutdown).
        self._reaping = threading.Lock()

    def start(self) -> None:
        """Start the child and return once it listens; ``ConfigError`` when it cannot."""
        deadline = time.monotonic() + START_TIMEOUT_S
        retry_until = time.monotonic() + START_RETRY_S
        while True:
            process, link = self._spawn()
            status = self._await_start(process, deadline)
            if status is None:
                break
            link.join()
            if time.monotonic() >= retry_until:
                raise ConfigError(
                    f"the web UI could not start (its process exited with status {status}); "
                    "the reason is in the log above (is the port taken?)",
                    resource="web",
                )
            time.sleep(1.0)
        for target, args in ((self._supervise, (process, link)), (self._learn, ())):
            thread = threading.Thread(target=target, args=args, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """SIGTERM to the child (it finishes its requests), SIGKILL after a grace period."""
        self._stopping.set()
        process = self._process
        if process is not None:
            self._signal(process, process.terminate)
            if not _exited(process, STOP_TIMEOUT_S):
                event(log, "web.killed", level=logging.WARNING, after_s=STOP_TIMEOUT_S)
                self._signal(process, process.kill)
        for thread in self._threads:
            thread.join(STOP_TIMEOUT_S)
        if process is not None:
            with self._reaping:  # the supervisor has stopped (or never ran): reap it here
                process.join(STOP_TIMEOUT_S)

    def _signal(self, process: BaseProcess, send: Callable[[], None]) -> None:
        """Signal the child only while it has not exited: once reaped, its pid may belong to
        another process."""
        with self._reaping:
            if not _exited(process):
                send()

    # -- the child's lifetime ---------------------------------------------------------------

    def _spawn(self) -> tuple[BaseProcess, threading.Thread]:
        """A new child, and the thread answering its questions."""
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        process = context.Process(
            target=web_main, args=(*self._args, theirs, os.getpid()), name="newsagg-web"
        )
        process.start()
        theirs.close()
        self._process = process
        event(log, "web.spawned", pid=process.pid)
        link = threading.Thread(target=self._answer, args=(process, ours), daemon=True)
        link.start()
        return process, link

    def _await_start(self, process: BaseProcess, deadline: float) -> int | None:
        """None once the child listens; its exit status if it died first. Runs before the
        supervisor exists: the only thread that reaps this child."""
        while not self._started.wait(0.2):
            if process.exitcode is not None:
                return process.exitcode
            if time.monotonic() > deadline:
                process.kill()
                process.join()
                raise ConfigError(
                    f"the web UI did not start within {START_TIMEOUT_S:.0f} s", resource="web"
                )
        return None

    def _supervise(self, process: BaseProcess, link: threading.Thread) -> None:
        delay = BACKOFF_S[0]
        while True:
            born = time.monotonic()
            link.join()
            _exited(process, None)
            with self._reaping:
                process.join()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - born
            delay = BACKOFF_S[0] if lived >= STEADY_S else min(delay * 2, BACKOFF_S[1])
            event(
                log,
                "web.exited",
                level=logging.ERROR,
                status=process.exitcode,
                lived_s=round(lived, 1),
                restart_in_s=delay,
            )
            if self._stopping.wait(delay):
                return
            process, link = self._spawn()

    # -- answering the child ----------------------------------------------------------------

    def _answer(self, process: BaseProcess, conn: Connection) -> None:
        """Answer the child's questions until it is gone."""
        with conn:
            while not _exited(process) or conn.poll(0):
                try:
                    if not conn.poll(0.5):
                        continue
                    seq, question, args = conn.recv()
                    conn.send((seq, self._reply(question, args)))
                except (EOFError, OSError):
                    return

    def _reply(self, question: str, args: tuple[Any, ...]) -> Any:
        if question == "alive":
            return bool(self._service.alive(*args))
        if question == "metrics":
            return self._metrics.render_pipeline()
        if question == "corrected":
            self._corrected.set()
        elif question == "started":
            self._started.set()
        return None

    def _learn(self) -> None:
        """Editors' corrections reach the clusterer here, off the pipe's thread: the clusterer
        may be busy with a batch, and the web's other questions must not wait for it."""
        while not self._stopping.is_set():
            if not self._corrected.wait(1.0):
                continue
            self._corrected.clear()
            try:
                self._on_correction()
            except Exception as exc:  # the next cluster job learns it anyway
                event(log, "web.correction_unlearned", level=logging.WARNING, error=repr(exc))


class ServiceLink:
    """The child's side of the pipe: one question at a time, each with a deadline; a late
    answer to an earlier question is skipped by its sequence number."""

    def __init__(self, conn: Connection, timeout_s: float = ASK_TIMEOUT_S) -> None:
        self._conn = conn
        self._timeout_s = timeout_s
        self._lock = threading.Lock()
        self._seq = 0

    def ask(self, question: str, *args: Any) -> Any:
        with self._lock:
            self._seq += 1
            self._conn.send((self._seq, question, args))
            deadline = time.monotonic() + self._timeout_s
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not self._conn.poll(left):
                    raise TimeoutError(f"the service did not answer {question!r} in time")
                seq, answer = self._conn.recv()
                if seq == self._seq:
                    return answer

    def alive(self, max_age_s: float) -> bool:
        try:
            return bool(self.ask("alive", max_age_s))
        except (OSError, EOFError, TimeoutError):
            return False

    def pipeline_metrics(self) -> bytes:
        answer = self.ask("metrics")
        return answer if isinstance(answer, bytes) else b""

    def corrected(self) -> None:
        try:
            self.ask("corrected")
        except (OSError, EOFError, TimeoutError) as exc:  # the next cluster job learns it
            event(log, "web.correction_unsent", level=logging.WARNING, error=repr(exc))

    def started(self) -> None:
        self.ask("started")


def _exited(process: BaseProcess, timeout: float | None = 0) -> bool:
    """Whether the child has exited (waiting up to ``timeout``), without reaping it."""
    return bool(wait([process.sentinel], timeout))


def web_main(
    settings: Settings, host: str | None, port: int | None, conn: Connection, parent: int
) -> None:
    """The child process: the web app until SIGTERM or until the service is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure(settings.log.format, settings.log.level)
    tune_allocator(settings)
    link = ServiceLink(conn)
    store = open_store(settings)
    try:
        serve_web(
            settings,
            store,
            service=link,
            host=host,
            port=port,
            metrics=Metrics(pipeline_from=link.pipeline_metrics),
            on_correction=link.corrected,
            signals=(signal.SIGTERM,),
            on_started=link.started,
            stop_when=lambda: os.getppid() != parent,
        )
    finally:
        store.close()
