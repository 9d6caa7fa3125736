"""A story's coverage over time, as counts of articles per equal slice of its time span.

The stories page draws them as a sparkline. They are computed where a story's statistics are
(``refresh_clusters``, which already reads every member's time) and stored with the story, so a
page of stories of hundreds of articles reads 16 numbers a story instead of every member's
time (the soak's stories page spent half its time there).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

BUCKETS = 16


def coverage_counts(times: Sequence[datetime], buckets: int = BUCKETS) -> list[int]:
    """Articles per slice of ``[min(times), max(times)]``, cut in ``buckets`` equal slices;
    the last slice holds the end. One slice holds everything when all times are equal, and
    no times give an empty list."""
    if not times:
        return []
    start, end = min(times), max(times)
    span = (end - start).total_seconds()
    counts = [0] * buckets
    for moment in times:
        offset = (moment - start).total_seconds()
        counts[0 if span <= 0 else min(buckets - 1, int(offset / span * buckets))] += 1
    return counts
