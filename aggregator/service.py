"""APScheduler wiring only: a tick job that runs a bounded slice of the pipeline.

What is due lives in the database (``feeds.next_check_at``); the scheduler only ticks. Jobs
never stack: ``max_instances=1`` and ``coalesce=True`` skip a run while the previous one is
still going, and ``misfire_grace_time`` drops runs that are too late to matter.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from aggregator.log import event

log = logging.getLogger("newsagg.service")


class Service:
    """Runs ``jobs`` (name -> (function, interval seconds)) on a background scheduler."""

    def __init__(self, jobs: dict[str, tuple[Callable[[], Any], float]], *, nice: int = 0) -> None:
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=max(2, len(jobs)))},
            job_defaults={"coalesce": True, "max_instances": 1},
            timezone=UTC,
        )
        self._jobs = jobs
        self._nice = nice
        self._niced = threading.local()
        self.last_tick: dict[str, datetime] = {}
        self._lock = threading.Lock()
        self._scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)

    def start(self) -> None:
        now = datetime.now(UTC)
        for name, (func, seconds) in self._jobs.items():
            self._scheduler.add_job(
                self._wrap(name, func),
                "interval",
                seconds=seconds,
                id=name,
                name=name,
                next_run_time=now,
                misfire_grace_time=max(1, int(seconds)),
            )
        self._scheduler.start()
        event(log, "service.started", jobs=",".join(self._jobs))

    def stop(self, wait: bool = True) -> None:
        """Stop ticking; with ``wait`` the running jobs finish first (graceful shutdown)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=wait)
            event(log, "service.stopped")

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def alive(self, max_age_s: float) -> bool:
        """True when every job has run within ``max_age_s`` (or is running now)."""
        if not self.running:
            return False
        now = datetime.now(UTC)
        with self._lock:
            ticks = dict(self.last_tick)
        return all(
            (now - ticks[name]).total_seconds() <= max(max_age_s, 3 * seconds)
            for name, (_, seconds) in self._jobs.items()
            if name in ticks
        )

    def _wrap(self, name: str, func: Callable[[], Any]) -> Callable[[], None]:
        def job() -> None:
            with self._lock:
                self.last_tick[name] = datetime.now(UTC)
            self._lower_priority()
            func()
            with self._lock:
                self.last_tick[name] = datetime.now(UTC)

        return job

    def _lower_priority(self) -> None:
        """The job threads (and the threads and processes they start) run ``nice`` steps below
        the rest, so the web UI's process gets the CPU first; once per pool thread. Linux only:
        elsewhere the priority of a thread cannot be set apart from its process."""
        if not self._nice or getattr(self._niced, "done", False) or sys.platform != "linux":
            return
        self._niced.done = True
        thread = threading.get_native_id()
        try:
            current = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, current + self._nice))
        except OSError as exc:  # a sandbox that forbids it: run at the same priority
            event(log, "service.nice_failed", level=logging.WARNING, error=str(exc))

    def _on_event(self, job_event: Any) -> None:
        if job_event.code == EVENT_JOB_MAX_INSTANCES:
            event(log, "job.skipped", level=logging.INFO, job=job_event.job_id, why="still running")
            return
        event(
            log,
            "job.failed",
            level=logging.ERROR,
            job=job_event.job_id,
            error=repr(job_event.exception),
        )
