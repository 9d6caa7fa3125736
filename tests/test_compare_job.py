"""The comparison job at shutdown: it stops between two stories when asked (one story of
hundreds of articles takes seconds, and a job of 200 of them held ``newsagg run`` past the
soak's 120 s grace after SIGTERM); the stories it did not reach stay stale for the next run."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from aggregator.clustering import build_cluster_stage
from aggregator.jobs import Jobs
from aggregator.settings import Settings
from storage.models import StoryClusterRow
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


def test_the_compare_job_does_nothing_once_the_service_is_stopping(tmp_path: Path) -> None:
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
        jobs.compare()
        assert _stale(rt.store) == []


class Held:
    def acquire(self) -> bool:
        return True
