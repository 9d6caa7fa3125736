from __future__ import annotations

import os
import subprocess
import sys
import time
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
