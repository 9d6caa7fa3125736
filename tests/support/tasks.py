"""Module-level task functions for work-pool tests (they must pickle by reference)."""

from __future__ import annotations

import os
import signal
import time


def add(a: int, b: int) -> int:
    return a + b


def sleep_then(seconds: float, value: str) -> str:
    time.sleep(seconds)
    return value


def fail(message: str) -> None:
    raise ValueError(message)


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class Unreadable:
    """Pickles, but unpickling it raises (as a result object of a broken class would)."""

    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_refuse, ())


def _refuse() -> None:
    raise ValueError("refused to unpickle")


def unreadable() -> Unreadable:
    return Unreadable()


def length(value: object) -> int:
    return len(str(value))


def pid() -> int:
    return os.getpid()


def niceness() -> int:
    return os.nice(0)


def imported(module: str) -> bool:
    """Whether ``module`` was already imported in this worker before the task ran."""
    import sys

    return module in sys.modules
