"""story coverage: each story's articles per 16th of its time span, stored with the story

The stories page drew each story's sparkline from every member's time: for a page of stories
of hundreds of articles that was half the page's time under the soak's load. The counts are now
kept with the story (``storage.coverage``, recomputed with the story's other statistics). This
migration adds the column and fills it for the stories already stored; a story it leaves NULL
is counted from its members when a page shows it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 21:00:00
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUCKETS, BATCH = 16, 500
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
clusters = sa.table(
    "story_clusters", sa.column("id", sa.BigInteger), sa.column("article_count", sa.Integer),
    sa.column("coverage", JSON),
)  # fmt: skip
memberships = sa.table(
    "memberships", sa.column("cluster_id", sa.BigInteger), sa.column("article_id", sa.BigInteger)
)
articles = sa.table(
    "articles", sa.column("id", sa.BigInteger), sa.column("published", sa.DateTime),
    sa.column("first_seen", sa.DateTime),
)  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("story_clusters", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coverage", JSON, nullable=True))
    bind = op.get_bind()
    ids = list(bind.scalars(sa.select(clusters.c.id).where(clusters.c.article_count > 0)))
    for start in range(0, len(ids), BATCH):
        _fill(bind, ids[start : start + BATCH])


def downgrade() -> None:
    with op.batch_alter_table("story_clusters", schema=None) as batch_op:
        batch_op.drop_column("coverage")


def _fill(bind: sa.Connection, ids: list[int]) -> None:
    """The coverage of these stories, counted as ``storage.coverage`` did at revision 0005
    (a migration keeps its own copy: it must not change when the application does)."""
    times: dict[int, list[datetime]] = defaultdict(list)
    query = (
        sa.select(memberships.c.cluster_id, articles.c.published, articles.c.first_seen)
        .join(articles, articles.c.id == memberships.c.article_id)
        .where(memberships.c.cluster_id.in_(ids))
    )
    for cluster_id, published, first_seen in bind.execute(query):
        times[cluster_id].append(published or first_seen)
    bind.execute(
        sa.update(clusters).where(clusters.c.id == sa.bindparam("cid")),
        [{"cid": cid, "coverage": _counts(t)} for cid, t in times.items()],
    )


def _counts(times: list[datetime]) -> list[int]:
    start, end = min(times), max(times)
    span = (end - start).total_seconds()
    counts = [0] * BUCKETS
    for moment in times:
        offset = (moment - start).total_seconds()
        counts[0 if span <= 0 else min(BUCKETS - 1, int(offset / span * BUCKETS))] += 1
    return counts
