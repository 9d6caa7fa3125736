from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from aggregator.errors import ConfigError
from aggregator.settings import ExtractSettings
from aggregator.workpool import TaskCrashed, TaskTimeout, WorkPool
from tests.support import tasks


@pytest.fixture(scope="module")
def pool() -> WorkPool:
    with WorkPool(2, name="test") as p:
        yield p


def test_runs_a_task_and_returns_its_value(pool: WorkPool) -> None:
    assert pool.run(tasks.add, 2, 3, timeout=10) == 5


def test_exception_of_a_task_reaches_the_caller(pool: WorkPool) -> None:
    with pytest.raises(ValueError, match="boom"):
        pool.run(tasks.fail, "boom", timeout=10)


def test_hanging_task_is_cut_at_its_limit_and_the_worker_replaced(pool: WorkPool) -> None:
    start = time.monotonic()
    with pytest.raises(TaskTimeout):
        pool.run(tasks.sleep_then, 30, "late", timeout=0.5)
    assert time.monotonic() - start < 5
    assert pool.run(tasks.add, 1, 1, timeout=10) == 2


def test_crashed_worker_fails_only_its_task(pool: WorkPool) -> None:
    with pytest.raises(TaskCrashed):
        pool.run(tasks.die, timeout=10)
    assert pool.run(tasks.add, 4, 4, timeout=10) == 8


def test_tasks_run_in_parallel_processes(pool: WorkPool) -> None:
    futures = [pool.submit(tasks.sleep_then, 0.5, str(i), timeout=10) for i in range(4)]
    assert sorted(f.result() for f in futures) == ["0", "1", "2", "3"]


def test_a_slow_task_does_not_block_a_fast_one_on_the_other_worker(pool: WorkPool) -> None:
    slow = pool.submit(tasks.sleep_then, 4, "slow", timeout=10)
    time.sleep(0.1)
    assert pool.run(tasks.add, 1, 2, timeout=10) == 3
    assert not slow.done()
    assert slow.result() == "slow"


@pytest.mark.parametrize(
    ("failing", "args", "timeout", "error"),
    [
        (tasks.sleep_then, (30, "late"), 0.5, TaskTimeout),  # hangs: its process is killed
        (tasks.die, (), 10, TaskCrashed),  # kills its own process
    ],
    ids=["hang", "crash"],
)
def test_tasks_posted_behind_a_failing_one_run_on_the_replacement_worker(
    failing: Callable[..., object], args: tuple[object, ...], timeout: float, error: type
) -> None:
    # one worker: while the first task runs, the failing one is posted behind it, and while
    # that one runs, the next is posted behind it to the same process, which then dies
    with WorkPool(1, name="behind") as p:
        first = p.submit(tasks.sleep_then, 0.3, "first", timeout=10)
        doomed = p.submit(failing, *args, timeout=timeout)
        behind = [p.submit(tasks.add, i, 1, timeout=10) for i in range(3)]
        assert first.result(timeout=10) == "first"
        with pytest.raises(error):
            doomed.result(timeout=10)
        assert [f.result(timeout=10) for f in behind] == [1, 2, 3]


def test_a_worker_killed_while_idle_fails_no_task() -> None:
    with WorkPool(1, name="idle-death") as p:
        pid = p.run(tasks.pid, timeout=10)
        os.kill(pid, 9)
        time.sleep(0.2)
        assert p.run(tasks.add, 2, 2, timeout=10) == 4
        assert p.run(tasks.pid, timeout=10) != pid


def test_results_come_back_for_every_task_of_a_long_queue_in_order_of_posting() -> None:
    with WorkPool(2, name="long-queue") as p:
        futures = [p.submit(tasks.add, i, 0, timeout=10) for i in range(200)]
        assert [f.result(timeout=30) for f in futures] == list(range(200))


def test_a_fast_task_submitted_right_after_a_slow_one_goes_to_the_idle_worker() -> None:
    # fewer tasks wait than there are workers: none is posted behind the slow one
    with WorkPool(2, name="no-queue") as p:
        slow = p.submit(tasks.sleep_then, 3, "slow", timeout=10)
        fast = p.submit(tasks.add, 1, 2, timeout=10)
        assert fast.result(timeout=2) == 3
        assert not slow.done()
        assert slow.result(timeout=10) == "slow"


def test_closing_runs_what_was_submitted_first() -> None:
    p = WorkPool(2, name="draining")
    futures = [p.submit(tasks.sleep_then, 0.05, str(i), timeout=10) for i in range(10)]
    p.close()
    assert [f.result(timeout=0) for f in futures] == [str(i) for i in range(10)]


def test_a_task_that_does_not_pickle_fails_alone(pool: WorkPool) -> None:
    with pytest.raises(Exception, match="pickle"):
        pool.submit(tasks.add, lambda: 1, 2, timeout=10).result(timeout=10)
    assert pool.run(tasks.add, 5, 6, timeout=10) == 11


def test_a_result_that_does_not_unpickle_fails_alone(pool: WorkPool) -> None:
    with pytest.raises(TaskCrashed, match="refused to unpickle"):
        pool.submit(tasks.unreadable, timeout=10).result(timeout=10)
    assert pool.run(tasks.add, 7, 8, timeout=10) == 15


def test_a_task_that_does_not_unpickle_in_the_worker_fails_alone(pool: WorkPool) -> None:
    future = pool.submit(tasks.length, tasks.Unreadable(), timeout=30)
    with pytest.raises(ValueError, match="refused to unpickle"):
        future.result(timeout=10)  # at once, not at the task's limit
    assert pool.run(tasks.add, 1, 8, timeout=10) == 9


def test_closed_pool_refuses_work() -> None:
    p = WorkPool(1, name="closing")
    p.close()
    with pytest.raises(RuntimeError):
        p.submit(tasks.add, 1, 1, timeout=1)


def test_workers_run_at_the_niceness_asked_for_and_keep_it_after_a_restart() -> None:
    base = os.nice(0)
    with WorkPool(1, name="nice", nice=5) as nice_pool:
        assert nice_pool.run(tasks.niceness, timeout=10) == min(19, base + 5)
        with pytest.raises(TaskTimeout):
            nice_pool.run(tasks.sleep_then, 5.0, "late", timeout=0.5)  # the worker is replaced
        assert nice_pool.run(tasks.niceness, timeout=10) == min(19, base + 5)


def test_extraction_settings_refuse_a_niceness_out_of_range() -> None:
    with pytest.raises(ConfigError, match="nice"):
        ExtractSettings(nice=25)


_PRELOAD_PROBE = """
import sys
from aggregator.workpool import WorkPool, preload
from tests.support import tasks
if sys.argv[1] == "preload":
    preload("colorsys")
with WorkPool(1, name="probe") as pool:
    print(pool.run(tasks.imported, "colorsys", timeout=30))
"""


@pytest.mark.parametrize(("mode", "expected"), [("preload", "True"), ("none", "False")])
def test_preloaded_modules_are_imported_before_a_task_runs(mode: str, expected: str) -> None:
    """In a fresh process (the fork server lives as long as the process that started it)."""
    done = subprocess.run(
        [sys.executable, "-c", _PRELOAD_PROBE, mode],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    assert done.stdout.strip() == expected


def test_the_cli_module_imports_little() -> None:
    """A worker started from the ``newsagg`` script runs the script again as its main module
    (see ``aggregator.cli.dispatch``): importing ``aggregator.cli`` must stay cheap."""
    probe = "import sys, aggregator.cli; print(sorted(set(sys.modules) & set(sys.argv[1:])))"
    heavy = ["sqlalchemy", "trafilatura", "lxml", "httpx", "fastapi", "numpy", "feedparser"]
    done = subprocess.run(
        [sys.executable, "-c", probe, *heavy], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
