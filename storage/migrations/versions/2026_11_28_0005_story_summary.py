"""story summary: comparisons in a table of their own, coverage counts with the story

A story's row is read by every list of stories and rewritten each time the clusterer adds an
article. It held the story's comparison, a JSON document that grows with the story (megabytes
for hundreds of articles): in SQLite every column after it is read by walking its overflow
pages, and every refresh of the story's statistics decoded it. The comparisons move to
``story_comparisons`` (one row per story, deleted with it).

The stories page drew each story's sparkline from every member's time. Each story now keeps
its coverage (``storage.coverage``: articles per 16th of its time span), recomputed with its
other statistics; this migration fills it for the stories already stored, and a story it
leaves NULL is counted from its members when a page shows it.

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
JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
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
    op.create_table(
        "story_comparisons",
        sa.Column("cluster_id", ID, nullable=False),
        sa.Column("comparison", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["story_clusters.id"],
            name=op.f("fk_story_comparisons_cluster_id_story_clusters"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("cluster_id", name=op.f("pk_story_comparisons")),
    )
    op.execute(
        "INSERT INTO story_comparisons (cluster_id, comparison) "
        "SELECT id, comparison FROM story_clusters WHERE comparison IS NOT NULL"
    )
    with op.batch_alter_table("story_clusters", schema=None) as batch_op:
        batch_op.drop_column("comparison")
        batch_op.add_column(sa.Column("coverage", JSON, nullable=True))
    bind = op.get_bind()
    ids = list(bind.scalars(sa.select(clusters.c.id).where(clusters.c.article_count > 0)))
    for start in range(0, len(ids), BATCH):
        _fill(bind, ids[start : start + BATCH])


def downgrade() -> None:
    with op.batch_alter_table("story_clusters", schema=None) as batch_op:
        batch_op.drop_column("coverage")
        batch_op.add_column(sa.Column("comparison", JSON, nullable=True))
    op.execute(
        "UPDATE story_clusters SET comparison = (SELECT s.comparison FROM story_comparisons AS s "
        "WHERE s.cluster_id = story_clusters.id)"
    )
    op.drop_table("story_comparisons")


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
