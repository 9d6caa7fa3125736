"""The comparison job at shutdown: it stops between two stories when asked (one story of
hundreds of articles takes seconds, and a job of 200 of them held ``newsagg run`` past the
soak's 120 s grace after SIGTERM); the stories it did not reach stay stale for the next run."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aggregator import comparing, editing
from aggregator.clustering import build_cluster_stage
from aggregator.compare import CompareJob
from aggregator.jobs import Jobs
from aggregator.settings import Settings
from aggregator.workpool import WorkPool
from storage.models import StoryClusterRow, StoryComparisonRow
from storage.store import Store
from tests.support.runtime import runtime
from tests.support.webdata import NOW, filled
from tests.support.webkit import basil_path


def _stale(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        query = select(StoryClusterRow.id).where(StoryClusterRow.comparison_stale)
        return sorted(conn.scalars(query))


def test_refreshing_comparisons_stops_between_stories_and_leaves_the_rest_stale(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'compare.db'}"
    data = filled(url, basil_path(), stories=6)
    with Store.open(url) as store:
        with store.engine.begin() as conn:
            conn.execute(StoryClusterRow.__table__.update().values(comparison_stale=True))
        stage = build_cluster_stage(Settings(), store, clock=lambda: NOW)
        asked = 0

        def stop() -> bool:  # asked before each story: "stop" from the third on
            nonlocal asked
            asked += 1
            return asked > 2

        assert stage.refresh(10, stop) == 2
        stories = sorted(data.clusters.values())
        assert _stale(store) == stories[2:]  # the first two (by id) were compared
        assert stage.refresh(10, lambda: True) == 0 and _stale(store) == stories[2:]
        assert stage.refresh(10) == 4 and _stale(store) == []


def _comparisons(store: Store) -> dict[int, Any]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(StoryComparisonRow.cluster_id, StoryComparisonRow.comparison))
        return {row.cluster_id: row.comparison for row in rows}


def _count_tasks(pool: WorkPool, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The tasks handed to ``pool`` from now on (it still runs them)."""
    submitted: list[object] = []
    submit = pool.submit

    def counted(*args: Any, timeout: float) -> Any:
        submitted.append(args[0])
        return submit(*args, timeout=timeout)

    monkeypatch.setattr(pool, "submit", counted)
    return submitted


def _all_stale(store: Store) -> None:
    with store.engine.begin() as conn:
        conn.execute(StoryClusterRow.__table__.update().values(comparison_stale=True))


@pytest.mark.parametrize("limit_s", [comparing.POOL_TIMEOUT_S, 1e-9])
def test_comparisons_made_in_worker_processes_are_those_made_here(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    limit_s: float,
) -> None:
    """``poll --once`` lends its idle extraction workers to the comparisons; what they store
    is what the job computes in its own process. A worker that fails one (here: every one
    over its time limit) leaves it to be computed here, nothing lost."""
    url = f"sqlite:///{tmp_path / 'compare.db'}"
    data = filled(url, basil_path(), stories=6)
    with Store.open(url) as store:
        _all_stale(store)
        stage = build_cluster_stage(Settings(), store, clock=lambda: NOW)
        assert stage.refresh(10) == 6
        here = _comparisons(store)
        _all_stale(store)
        monkeypatch.setattr(comparing, "POOL_TIMEOUT_S", limit_s)
        with WorkPool(2, name="compare-test") as pool:
            submitted = _count_tasks(pool, monkeypatch)
            assert stage.refresh(10, pool=pool) == 6
        assert len(submitted) == 6  # every story went to the workers
        assert _stale(store) == []
        assert _comparisons(store) == here
        assert sorted(here) == sorted(data.clusters.values())
    failed = [r for r in caplog.records if "comparison.pool_failed" in r.getMessage()]
    assert len(failed) == (6 if limit_s < 1 else 0)


@pytest.mark.parametrize("pooled", [False, True])
def test_a_story_changed_while_it_is_compared_stays_stale(db_url: str, pooled: bool) -> None:
    """An editor moves an article out of the first story after the job read that story's
    members and before it stored the comparison (here: when the job reads its clock for the
    comparison). The comparison is stored, but both stories stay stale; the next run compares
    them as they are now (on both databases: the pooled comparisons come back as JSON text)."""
    data = filled(db_url, basil_path(), stories=3)
    with Store.open(db_url) as store:
        _all_stale(store)
        first, second, _ = sorted(data.clusters.values())
        moved = store.clusters.members(first)[0][0]
        calls = 0

        def clock() -> datetime:
            nonlocal calls
            calls += 1
            if calls == 1:  # inside the first story's preparation, its members read
                editing.move(store, moved, second, actor="ed", note="other story", now=NOW)
            return NOW

        stage = build_cluster_stage(Settings(), store, clock=clock)
        with WorkPool(2, name="compare-test") if pooled else nullcontext() as pool:
            assert stage.refresh(10, pool=pool) == 3
            assert str(moved) in _article_ids(_comparisons(store)[first])
            assert _stale(store) == [first, second]
            assert stage.refresh(10, pool=pool) == 2
        assert _stale(store) == []
        compared = _comparisons(store)
        assert str(moved) not in _article_ids(compared[first])
        assert str(moved) in _article_ids(compared[second])


def test_a_story_whose_comparison_fails_stays_stale_and_the_others_are_compared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug that makes one story's comparison raise (injected: nothing real raises on
    purpose) is logged and leaves that story stale; the job goes on with the others."""
    url = f"sqlite:///{tmp_path / 'compare.db'}"
    data = filled(url, basil_path(), stories=3)
    with Store.open(url) as store:
        _all_stale(store)
        first = sorted(data.clusters.values())[0]
        broken = {str(article_id) for article_id, _ in store.clusters.members(first)}
        run = CompareJob.run

        def failing(job: CompareJob) -> dict[str, Any]:
            if {a.id for a in job.articles} & broken:
                raise RuntimeError("injected")
            return run(job)

        monkeypatch.setattr(CompareJob, "run", failing)
        stage = build_cluster_stage(Settings(), store, clock=lambda: NOW)
        assert stage.refresh(10) == 2
        assert _stale(store) == [first]
    assert any("comparison.failed" in r.getMessage() for r in caplog.records)


def _article_ids(comparison: dict[str, Any]) -> set[str]:
    return {a["id"] for a in comparison["articles"]}


def test_the_compare_job_does_nothing_once_the_service_is_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'compare.db'}"
    data = filled(url, basil_path(), stories=3)
    with runtime(url, []) as rt:
        with rt.store.engine.begin() as conn:
            conn.execute(StoryClusterRow.__table__.update().values(comparison_stale=True))
        rt.pipeline.clusterer = build_cluster_stage(rt.settings, rt.store, clock=lambda: NOW)
        jobs = Jobs(rt.settings, rt.store, rt.pipeline, "test", "run", lambda: NOW, Held(), NOW)
        jobs.stopping.set()  # as `newsagg run` does before it stops the scheduler
        jobs.compare()
        assert _stale(rt.store) == sorted(data.clusters.values())
        jobs.stopping.clear()
        assert rt.pipeline.compare_pool is not None
        submitted = _count_tasks(rt.pipeline.compare_pool, monkeypatch)
        jobs.compare()
        assert _stale(rt.store) == []
        assert len(submitted) == len(data.clusters)  # computed in the extraction workers


class Held:
    def acquire(self) -> bool:
        return True
