"""The feed comparison bench: which clusters a change joins or splits, on the real feeds."""

from __future__ import annotations

from bench.dedup_feeds import FEEDS, feed_records, joins, main
from tests.support.paths import require_shared_data


def test_joins_names_the_clusters_the_other_run_splits() -> None:
    before = {"a": 1, "b": 1, "c": 2, "d": 3, "e": 4}
    after = {"a": 7, "b": 7, "c": 7, "d": 8, "e": 8}
    assert joins(after, before) == [["a", "b", "c"], ["d", "e"]]
    assert joins(before, after) == []  # nothing before is split after
    assert joins(before, before) == []


def test_every_feed_of_the_month_is_read_with_titles_and_dates() -> None:
    records = feed_records(require_shared_data() / FEEDS)
    assert len({r.outlet for r in records}) >= 25 and len(records) > 1000
    assert all(r.title for r in records)
    assert sum(r.published is not None for r in records) > 0.9 * len(records)
    assert len({r.id for r in records}) == len(records)


def test_the_same_parameters_twice_change_nothing() -> None:
    require_shared_data()
    lines: list[str] = []
    assert main(["--show", "3"], lines.append) == 0
    assert "\n0 clusters joined by the change:" in lines
    assert "\n0 clusters kept apart by the change:" in lines
