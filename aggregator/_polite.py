"""Per-host politeness and per-request deadlines (private to ``aggregator.fetch``)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], None]


@dataclass
class _HostState:
    slots: threading.BoundedSemaphore
    next_start: float = float("-inf")


Shared = Callable[[str, float], float]  # (host, delay) -> seconds to wait, across processes


class HostGate:
    """At most ``concurrency`` requests in flight per host, and request starts on one host at
    least ``delay_s`` apart. Thread-safe; start times are handed out in arrival order. With
    ``shared`` (a schedule in the database) the delay also holds across worker processes."""

    def __init__(
        self,
        delay_s: float,
        concurrency: int,
        clock: Clock,
        sleep: Sleep,
        shared: Shared | None = None,
    ) -> None:
        self._delay_s = max(0.0, delay_s)
        self._concurrency = max(1, concurrency)
        self._clock = clock
        self._sleep = sleep
        self._shared = shared
        self._lock = threading.Lock()
        self._hosts: dict[str, _HostState] = {}
        self._paused_until: dict[str, float] = {}

    def pause(self, origin: str, seconds: float) -> None:
        """No request to ``origin`` for ``seconds`` (a server's Retry-After); a longer pause
        already in force is kept."""
        if seconds <= 0:
            return
        until = self._clock() + seconds
        with self._lock:
            self._paused_until[origin] = max(until, self._paused_until.get(origin, until))

    def paused_for(self, origin: str) -> float:
        """Seconds left of ``origin``'s pause (0: none)."""
        with self._lock:
            until = self._paused_until.get(origin)
            if until is None:
                return 0.0
            left = until - self._clock()
            if left <= 0:
                del self._paused_until[origin]
                return 0.0
            return left

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[float]:
        """Hold one of the host's slots for one request; yields the seconds spent waiting."""
        state = self._state(host)
        asked = self._clock()
        state.slots.acquire()
        try:
            wait = self._reserve(host, state)
            if wait > 0:
                self._sleep(wait)
            yield max(0.0, self._clock() - asked)
        finally:
            state.slots.release()

    def _reserve(self, host: str, state: _HostState) -> float:
        """Seconds until this request's start. With a shared schedule, that schedule alone:
        it holds this process's requests too, and taking a slot in each of two schedules
        lets two threads take them in opposite orders and wait for the same time (each
        waiting for the later of its two slots)."""
        if self._shared is not None and self._delay_s > 0:
            return self._shared(host, self._delay_s)
        with self._lock:
            start = max(self._clock(), state.next_start)
            state.next_start = start + self._delay_s
        return start - self._clock()

    def _state(self, host: str) -> _HostState:
        with self._lock:
            state = self._hosts.get(host)
            if state is None:
                state = _HostState(threading.BoundedSemaphore(self._concurrency))
                self._hosts[host] = state
            return state


@dataclass
class Budget:
    """The wall-clock deadline of one request, redirects included. Time spent waiting for the
    politeness gate is not counted against it (``extend``)."""

    clock: Clock
    deadline: float

    def remaining(self) -> float:
        return self.deadline - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def extend(self, seconds: float) -> None:
        self.deadline += seconds


class _Current(threading.local):
    budget: Budget | None = None


class Budgets:
    """The budget of the request running on the current thread, for the network backend."""

    def __init__(self) -> None:
        self._current = _Current()

    @contextlib.contextmanager
    def running(self, budget: Budget) -> Iterator[Budget]:
        previous = self._current.budget
        self._current.budget = budget
        try:
            yield budget
        finally:
            self._current.budget = previous

    def remaining(self) -> float | None:
        budget = self._current.budget
        return None if budget is None else budget.remaining()
